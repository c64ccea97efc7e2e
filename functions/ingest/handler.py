"""Lambda entry point for POST /webhooks/{provider}: parse, call the logic, shape the response."""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ingest.logic import ingest_webhook
from spillway_core.aws import client
from spillway_core.event_store import EventStore
from spillway_core.http import WebhookRequest
from spillway_core.metrics import NAMESPACE, Service, WebhookOutcome, webhook_metric
from spillway_core.plain_settings import IngestSettings

logger = Logger(service=Service.INGEST)
metrics = Metrics(namespace=NAMESPACE, service=Service.INGEST)


@cache
def _dependencies() -> tuple[IngestSettings, EventStore]:
    # Settings and the client are built at the first invocation (not at import) and reused warm.
    settings = IngestSettings.from_env(os.environ)
    return settings, EventStore(client("dynamodb", settings), settings.events_table)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, store = _dependencies()
    request = WebhookRequest.from_api_gateway(event)
    result = ingest_webhook(request, settings, store, now_ms=int(time.time() * 1000))
    # Set on every request (None for rejects): a warm container must not log the previous key.
    logger.set_correlation_id(result.dedupe_key)
    metrics.add_metric(name=webhook_metric(result.outcome), unit=MetricUnit.Count, value=1)
    # Only the outcome, status and key: never the token, the body or the lead's address.
    details = {"outcome": result.outcome, "status": result.response.status, "provider": request.provider}
    if result.outcome == WebhookOutcome.STORE_REJECTED:
        # The checks before the write should make this impossible: a bug signal, not a client error.
        logger.error("the events table refused a checked event", extra=details)
    else:
        logger.info(f"{result.outcome} webhook", extra=details)
    return result.response.to_api_gateway()
