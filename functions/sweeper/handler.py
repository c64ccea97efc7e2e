"""Lambda entry point for the sweeper's schedule."""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from spillway_core.alerts import AlertPublisher
from spillway_core.aws import client
from spillway_core.event_store import EventStore
from spillway_core.metrics import NAMESPACE, Metric, Service
from spillway_core.settings import SweeperSettings
from sweeper.logic import sweep

logger = Logger(service=Service.SWEEPER)
metrics = Metrics(namespace=NAMESPACE, service=Service.SWEEPER)


@cache
def _dependencies() -> tuple[SweeperSettings, EventStore, AlertPublisher]:
    # Built at the first invocation and reused while the environment is warm.
    settings = SweeperSettings.from_env(os.environ)
    store = EventStore(client("dynamodb", settings), settings.events_table)
    return settings, store, AlertPublisher(client("sns", settings), settings.alerts_topic_arn)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, store, alerts = _dependencies()
    now_ms = int(time.time() * 1000)
    report = sweep(store, alerts, settings, now_ms=now_ms)
    woken = sum(report.woken.values())
    metrics.add_metric(name=Metric.WOKEN_TOTAL, unit=MetricUnit.Count, value=woken)
    metrics.add_metric(name=Metric.WOKEN_PENDING, unit=MetricUnit.Count, value=report.woken["PENDING"])
    metrics.add_metric(name=Metric.RELEASED_RUNNING, unit=MetricUnit.Count, value=report.woken["RUNNING"])
    metrics.add_metric(name=Metric.RETRIES_DUE, unit=MetricUnit.Count, value=report.woken["RETRY_WAIT"])
    metrics.add_metric(name=Metric.ALERTS_RESENT, unit=MetricUnit.Count, value=report.alerts_resent)
    metrics.add_metric(name=Metric.BACKLOG_REMAINING, unit=MetricUnit.Count, value=report.remaining_due)
    metrics.add_metric(name=Metric.OLDEST_DUE_AGE, unit=MetricUnit.Milliseconds, value=report.oldest_due_age_ms)
    # How far the slowest lane is behind (about one sweep period when idle; none before its first probe).
    lanes_behind_ms = now_ms - report.lanes_caught_up_to_ms if report.lanes_caught_up_to_ms else None
    if lanes_behind_ms is not None:
        metrics.add_metric(name=Metric.LANES_BEHIND, unit=MetricUnit.Milliseconds, value=lanes_behind_ms)
    summary = {
        "woken": dict(report.woken),
        "alertsResent": report.alerts_resent,
        "lostRaces": report.lost_races,
        "budgetExhausted": report.budget_exhausted,
        "remainingDue": report.remaining_due,
        "oldestDueAgeMs": report.oldest_due_age_ms,
        "lanesBehindMs": lanes_behind_ms,
    }
    logger.info("sweep finished", extra=summary)
    return summary
