"""Lambda entry point for the alerts queue: one Slack message per batch.

A batch is acknowledged only once Slack took its message. While the webhook URL secret is not
configured (or not a Slack URL), or Slack refuses, every message of the batch is reported as failed:
it stays in the buffer queue and, after its receives run out, waits in the notifier's DLQ.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from notifier.logic import NOT_CONFIGURED, is_slack_webhook_url, parse_alert, slack_message
from spillway_core.aws import client
from spillway_core.settings import NotifierSettings

logger = Logger(service="spillway-notifier")
metrics = Metrics(namespace="Spillway", service="spillway-notifier")
# The secret is read again after this long, so a URL set (or rotated) after deploy is picked up by
# warm containers too.
SECRET_MAX_AGE_SECONDS = 60


class SlackRejected(Exception):
    """Slack did not take the message (the reason holds a status or an error class, never the URL)."""


@cache
def _secrets() -> tuple[NotifierSettings, SecretsProvider]:
    settings = NotifierSettings.from_env(os.environ)
    return settings, SecretsProvider(boto3_client=client("secretsmanager", settings))


def webhook_url() -> str | None:
    """The Slack webhook URL, or None while it is not configured or not a Slack webhook URL."""
    settings, provider = _secrets()
    value = provider.get(settings.slack_webhook_secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    url = value.decode() if isinstance(value, bytes) else str(value or "")
    url = url.strip()
    if not url or url == NOT_CONFIGURED:
        return None
    if not is_slack_webhook_url(url):
        logger.warning("the Slack webhook secret does not hold an https Slack incoming-webhook URL")
        return None
    return url


@cache
def _runbook_base_url() -> str:
    return NotifierSettings.from_env(os.environ).runbook_base_url


def _queued_at_ms(record: dict[str, Any]) -> int | None:
    sent = record.get("attributes", {}).get("SentTimestamp")
    return int(sent) if sent and str(sent).isdigit() else None


def post_to_slack(url: str, message: dict[str, Any], timeout_s: float = 5.0) -> None:
    """Posts, or raises SlackRejected; no exception it raises carries the URL."""
    request = urllib.request.Request(  # noqa: S310 - a validated Slack webhook URL
        url, data=json.dumps(message).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SlackRejected(type(exc).__name__) from None  # `from None`: the cause names the URL
    if status >= 300:
        raise SlackRejected(f"HTTP {status}")


def _all_failed(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    alerts = [parse_alert(record["body"], _queued_at_ms(record)) for record in records]
    metrics.add_metric(name="AlertsReceived", unit=MetricUnit.Count, value=len(alerts))
    if not alerts:
        return {"batchItemFailures": []}
    url = webhook_url()
    if url is None:
        logger.warning("Slack webhook URL not configured; alerts left on the queue", extra={"alerts": len(alerts)})
        metrics.add_metric(name="SlackNotConfigured", unit=MetricUnit.Count, value=1)
        return _all_failed(records)
    try:
        post_to_slack(url, slack_message(alerts, _runbook_base_url()))
    except SlackRejected as exc:
        logger.warning("Slack did not take the alerts; left on the queue", extra={"reason": str(exc)})
        metrics.add_metric(name="SlackRejected", unit=MetricUnit.Count, value=1)
        return _all_failed(records)
    logger.info("posted to Slack", extra={"alerts": len(alerts)})
    return {"batchItemFailures": []}
