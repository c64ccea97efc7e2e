"""Lambda entry point for the alerts queue: one Slack summary per burst of failed events.

Failed-event alerts join a digest of their group (notifier/digests.py) and are acknowledged once they
are members; the digest's flush message, when due, posts one summary. Alarms (and unreadable alerts)
are posted at once, one message per batch. A flush or an alarm is acknowledged only once Slack took its
message: while the webhook URL secret is not configured (or not a Slack URL), or Slack refuses, it is
reported as failed, stays in the queue and, after its receives run out, waits in the notifier's DLQ.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from notifier.digests import DIGEST_DUE, DigestStore
from notifier.logic import Alert, is_slack_webhook_url, parse_alert, slack_message
from spillway_core.aws import client
from spillway_core.environment import NOT_CONFIGURED
from spillway_core.errors import StoreUnavailable
from spillway_core.metrics import NAMESPACE, Metric, Service
from spillway_core.settings import NotifierSettings

logger = Logger(service=Service.NOTIFIER)
metrics = Metrics(namespace=NAMESPACE, service=Service.NOTIFIER)
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


@cache
def _digests() -> DigestStore:
    settings = NotifierSettings.from_env(os.environ)
    return DigestStore(
        client("dynamodb", settings),
        client("sqs", settings),
        settings.digest_table,
        settings.alert_queue_url,
        settings.digest_quiet_seconds,
        settings.digest_max_seconds,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


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


def _failures(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}


def _join_digests(pairs: list[tuple[dict[str, Any], Alert]], now_ms: int) -> list[dict[str, Any]]:
    """Adds each failed-event alert to its digest; returns the records that could not be added."""
    digests, failed = _digests(), []
    for record, alert in pairs:
        try:
            digests.add(record["body"], json.loads(record["body"]), alert.queued_at_ms or now_ms, now_ms)
        except StoreUnavailable as exc:
            logger.warning("alert not added to a digest; left on the queue", extra={"reason": str(exc)})
            failed.append(record)
    return failed


def _post(url: str, alerts: list[Alert]) -> bool:
    try:
        post_to_slack(url, slack_message(alerts, _runbook_base_url()))
    except SlackRejected as exc:
        logger.warning("Slack did not take the alerts; left on the queue", extra={"reason": str(exc)})
        metrics.add_metric(name=Metric.SLACK_REJECTED, unit=MetricUnit.Count, value=1)
        return False
    logger.info("posted to Slack", extra={"alerts": len(alerts)})
    return True


def _flush(url: str, digest_id: str, now_ms: int) -> bool:
    """A due flush: closes a quiet digest and posts its summary; True once nothing is left to do now."""
    digests = _digests()
    try:
        closed = digests.close_if_quiet(digest_id, now_ms)
    except StoreUnavailable as exc:
        logger.warning("digest not read; its flush is left on the queue", extra={"reason": str(exc)})
        return False
    if closed is None:
        return True  # the burst goes on: the flush was sent again for later
    if closed.already_posted or not closed.members:
        return True  # a redelivered flush, or one that lost the race to open its digest
    alerts = [parse_alert(m.body, m.queued_at_ms) for m in closed.members]
    if not _post(url, alerts):
        return False
    metrics.add_metric(name=Metric.ALERTS_SUMMARISED, unit=MetricUnit.Count, value=len(alerts))
    try:
        digests.mark_posted(digest_id, now_ms)
    except StoreUnavailable as exc:  # posted: a redelivered flush would post it again, so acknowledge
        logger.warning("digest posted but not marked", extra={"reason": str(exc)})
    return True


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    parsed = [(record, parse_alert(record["body"], _queued_at_ms(record))) for record in records]
    metrics.add_metric(name=Metric.ALERTS_RECEIVED, unit=MetricUnit.Count, value=len(parsed))
    now_ms = _now_ms()
    failed = _join_digests([(r, a) for r, a in parsed if a.kind == "event_failed"], now_ms)
    flushes = [(r, a) for r, a in parsed if a.kind == DIGEST_DUE]
    immediate = [(r, a) for r, a in parsed if a.kind not in {"event_failed", DIGEST_DUE}]
    if not flushes and not immediate:
        return _failures(failed)
    url = webhook_url()
    if url is None:
        logger.warning(
            "Slack webhook URL not configured; alerts left on the queue", extra={"alerts": len(flushes + immediate)}
        )
        metrics.add_metric(name=Metric.SLACK_NOT_CONFIGURED, unit=MetricUnit.Count, value=1)
        return _failures(failed + [r for r, _ in flushes + immediate])
    if immediate and not _post(url, [a for _, a in immediate]):
        failed += [r for r, _ in immediate]
    failed += [r for r, a in flushes if not _flush(url, str(a.digest_id), now_ms)]
    return _failures(failed)
