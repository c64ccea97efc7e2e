"""Lambda entry point for the alerts queue: one Slack message per batch."""

from __future__ import annotations

import json
import os
import urllib.request
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from notifier.logic import NOT_CONFIGURED, parse_alert, slack_message
from spillway_core.aws import client
from spillway_core.settings import NotifierSettings

logger = Logger(service="spillway-notifier")
metrics = Metrics(namespace="Spillway", service="spillway-notifier")


@cache
def _webhook_url() -> str:
    # Read once per container: the URL lives in Secrets Manager, never in the template or env.
    settings = NotifierSettings.from_env(os.environ)
    secrets = client("secretsmanager", settings)
    return str(secrets.get_secret_value(SecretId=settings.slack_webhook_secret_arn)["SecretString"]).strip()


@cache
def _runbook_base_url() -> str:
    return NotifierSettings.from_env(os.environ).runbook_base_url


def _queued_at_ms(record: dict[str, Any]) -> int | None:
    sent = record.get("attributes", {}).get("SentTimestamp")
    return int(sent) if sent and str(sent).isdigit() else None


def post_to_slack(url: str, message: dict[str, Any], timeout_s: float = 5.0) -> None:
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's Slack webhook
        url, data=json.dumps(message).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        if response.status >= 300:
            raise RuntimeError(f"Slack answered {response.status}")


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    alerts = [parse_alert(record["body"], _queued_at_ms(record)) for record in event.get("Records", [])]
    metrics.add_metric(name="AlertsReceived", unit=MetricUnit.Count, value=len(alerts))
    if not alerts:
        return {"sent": 0}
    url = _webhook_url()
    if not url or url == NOT_CONFIGURED:
        # Alarms and failures still reach the topic's other subscribers; don't retry forever.
        logger.warning("Slack webhook URL not configured; alerts not posted", extra={"alerts": len(alerts)})
        metrics.add_metric(name="SlackNotConfigured", unit=MetricUnit.Count, value=1)
        return {"sent": 0}
    # A failure raises: the whole batch is retried by SQS, then parked in the notifier's DLQ.
    post_to_slack(url, slack_message(alerts, _runbook_base_url()))
    logger.info("posted to Slack", extra={"alerts": len(alerts)})
    return {"sent": 1, "alerts": len(alerts)}
