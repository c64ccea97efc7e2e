"""Lambda entry point for the sweeper's schedule."""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from spillway_core.aws import client
from spillway_core.event_store import EventStore
from spillway_core.settings import SweeperSettings
from sweeper.logic import sweep

logger = Logger(service="spillway-sweeper")
metrics = Metrics(namespace="Spillway", service="spillway-sweeper")


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = SweeperSettings.from_env(os.environ)
    store = EventStore(client("dynamodb", settings), settings.events_table)
    report = sweep(store, settings, now_ms=int(time.time() * 1000))
    for status, count in report.woken.items():
        metrics.add_metric(name=f"Woken_{status}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="WokenTotal", unit=MetricUnit.Count, value=sum(report.woken.values()))
    summary = {
        "woken": dict(report.woken),
        "lostRaces": report.lost_races,
        "budgetExhausted": report.budget_exhausted,
    }
    logger.info("sweep finished", extra=summary)
    return summary
