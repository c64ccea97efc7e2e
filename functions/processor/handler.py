"""Lambda entry point for the events-table stream: one record per event, partial batch failures."""

from __future__ import annotations

import os
import random
import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from processor.logic import ProcessorDeps, process_record
from processor.stream_batch import StreamRecord, process_partial_response
from spillway_core.alerts import AlertPublisher
from spillway_core.aws import client
from spillway_core.domain_store import DomainStore
from spillway_core.event_store import EventStore
from spillway_core.lifecycle import dedupe_key_of
from spillway_core.metrics import NAMESPACE, Metric, Service, event_metric
from spillway_core.plain_settings import ProcessorSettings
from spillway_core.status import EventAttr

logger = Logger(service=Service.PROCESSOR)
metrics = Metrics(namespace=NAMESPACE, service=Service.PROCESSOR)


class DeadlineReached(Exception):
    """Too little time is left to process another event safely; the stream will redeliver it."""


def _now_ms() -> int:
    return int(time.time() * 1000)


@cache
def _dependencies() -> ProcessorDeps:
    settings = ProcessorSettings.from_env(os.environ)
    dynamodb = client("dynamodb", settings)
    return ProcessorDeps(
        settings=settings,
        events=EventStore(dynamodb, settings.events_table),
        domain=DomainStore(dynamodb, settings.domain_table),
        alerts=AlertPublisher(client("sns", settings), settings.alerts_topic_arn),
        clock_ms=_now_ms,
        rng=random.SystemRandom(),
    )


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = _dependencies()
    metrics.add_metric(name=Metric.STREAM_RECORDS, unit=MetricUnit.Count, value=len(event.get("Records", [])))
    margin_ms = deps.settings.deadline_margin_seconds * 1000

    def handle_record(record: StreamRecord) -> str:
        if context.get_remaining_time_in_millis() < margin_ms:
            raise DeadlineReached
        pk = record.key("pk")
        item_key = "" if pk is None else str(pk)  # an event record's, a lifecycle item's or a probe's
        logger.set_correlation_id(dedupe_key_of(item_key) or item_key)
        probe_at = record.new_image(EventAttr.PROBE_AT)
        probe_at_ms = int(probe_at) if probe_at is not None else None
        outcome = process_record(item_key, probe_at_ms, context.aws_request_id, deps, record.image())
        metrics.add_metric(name=event_metric(outcome), unit=MetricUnit.Count, value=1)
        logger.info(f"event {outcome}", extra={"outcome": outcome})
        return outcome

    # Failures are reported item by item even when every record failed, so the stream checkpoints precisely.
    return process_partial_response(event, handle_record)
