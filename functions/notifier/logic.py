"""Slack notifier: turns a batch of alerts (failed events, CloudWatch alarms) into one Slack message.

A batch arrives from the alerts queue (SNS -> SQS, collected for up to a minute), so a burst of 500
failures becomes one summarising message rather than 500. Everything it formats is already safe
metadata: dedupe keys, types, counts, error classes, alarm names; never payloads or addresses.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_EXAMPLES = 5
NOT_CONFIGURED = "not-configured"
# A failure is published right after it is recorded, or re-published by the sweeper a little later
# (alertRetrySeconds): the "see all" window reaches back this far before the first alert was queued.
SEE_ALL_LOOKBACK_MS = 5 * 60 * 1000
RUNBOOK_PAGE = "operations.md"


@dataclass(frozen=True)
class Alert:
    kind: str  # event_failed | alarm | unknown
    title: str
    fields: dict[str, str]
    command: str | None = None
    event_type: str | None = None
    queued_at_ms: int | None = None  # when the alert reached the notifier's queue (its SentTimestamp)


def parse_alert(body: str, queued_at_ms: int | None = None) -> Alert:
    alert = _parse(body)
    return Alert(alert.kind, alert.title, alert.fields, alert.command, alert.event_type, queued_at_ms)


def _parse(body: str) -> Alert:
    try:
        message = json.loads(body)
    except ValueError:
        return Alert("unknown", "Unreadable alert", {})
    if isinstance(message, dict) and message.get("kind") == "event_failed":
        return Alert(
            kind="event_failed",
            title=f"{message.get('event_type')} event FAILED",
            fields={
                "Dedupe key": str(message.get("dedupe_key")),
                "Provider": str(message.get("provider")),
                "Attempts": str(message.get("attempts")),
                "Error": f"{message.get('error_class')}: {message.get('message')}",
            },
            command=str(message.get("inspect_command")),
            event_type=str(message.get("event_type")),
        )
    if isinstance(message, dict) and "AlarmName" in message:
        return Alert(
            kind="alarm",
            title=f"Alarm {message.get('AlarmName')} is {message.get('NewStateValue')}",
            fields={
                "Reason": str(message.get("NewStateReason", ""))[:300],
                "Description": str(message.get("AlarmDescription") or ""),
            },
        )
    return Alert("unknown", "Unrecognised alert", {})


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def see_all_command(failed: list[Alert]) -> str:
    """The `spillway events` command that lists this alert's FAILED events: their types, failed within
    the window the alerts were queued in (a few minutes back, for alerts the sweeper re-published)."""
    parts = ["spillway", "events", "--status", "FAILED"]
    for event_type in sorted({a.event_type for a in failed if a.event_type}):
        parts += ["--type", event_type]
    times = [a.queued_at_ms for a in failed if a.queued_at_ms]
    if times:
        parts += ["--since", _iso(min(times) - SEE_ALL_LOOKBACK_MS), "--until", _iso(max(times) + 1000)]
    return shlex.join(parts)


def runbook_link(runbook_base_url: str, anchor: str) -> str:
    if not runbook_base_url:
        return ""
    return f"<{runbook_base_url.rstrip('/')}/{RUNBOOK_PAGE}#{anchor}|Runbook>"


def slack_message(alerts: list[Alert], runbook_base_url: str = "") -> dict[str, Any]:
    """Block Kit: details for a single alert, a summary for a burst."""
    if len(alerts) == 1:
        alert = alerts[0]
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": f"Spillway: {alert.title}"[:150]}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in alert.fields.items() if v],
            },
        ]
        if alert.command:
            key = alert.fields.get("Dedupe key", "<key>")
            blocks.append(_section(f"Inspect: `{alert.command}` · after a fix: `spillway replay '{key}'`"))
        link = runbook_link(
            runbook_base_url, "runbook-failed-events" if alert.kind == "event_failed" else "runbook-alarms"
        )
        if link:
            blocks.append(_section(link))
        return {"text": f"Spillway: {alert.title}", "blocks": blocks}

    by_title = Counter(a.title for a in alerts)
    failed = [a for a in alerts if a.kind == "event_failed"]
    lines = [f"• {count} x {title}" for title, count in by_title.most_common(10)]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Spillway: {len(alerts)} alerts in one burst"}},
        _section("\n".join(lines)),
    ]
    if failed:
        errors = Counter(a.fields.get("Error", "").split(":", 1)[0] for a in failed)
        examples = ", ".join(f"`{a.fields['Dedupe key']}`" for a in failed[:MAX_EXAMPLES])
        blocks.append(_section(f"*Error classes:* {', '.join(f'{k} ({v})' for k, v in errors.most_common(5))}"))
        blocks.append(_section(f"*Examples:* {examples}\nSee all: `{see_all_command(failed)}`"))
        blocks.append(
            _section("After the fix: the same command with `replay` instead of `events`, first with `--dry-run`")
        )
    link = runbook_link(runbook_base_url, "runbook-failed-events" if failed else "runbook-alarms")
    if link:
        blocks.append(_section(link))
    return {"text": f"Spillway: {len(alerts)} alerts", "blocks": blocks}
