"""Slack notifier: turns a batch of alerts (failed events, CloudWatch alarms) into one Slack message.

A batch arrives from the alerts queue (SNS -> SQS, collected for up to a minute), so a burst of 500
failures becomes one summarising message rather than 500. What it formats is metadata (dedupe keys,
types, counts, error classes, alarm names), but all of it is treated as untrusted text: escaped for
Slack's mrkdwn, mentions neutralised, every field cut to Block Kit's limits, and the commands it
suggests are built with ``shlex.quote`` from a key that passed validation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from spillway_core.alerts import inspect_command, replay_command
from spillway_core.keys import is_valid_key

MAX_EXAMPLES = 5
NOT_CONFIGURED = "not-configured"
# Block Kit limits: header text 150, section text 3,000, a field 2,000, 10 fields a section.
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
FALLBACK_TEXT_CHARS = 3000
_SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # the local run's Slack stand-in
_MENTION = re.compile(r"@(?=\w)")
_PLAIN_LOOKALIKES = str.maketrans({"<": "\u2039", ">": "\u203a", "&": "\uff06"})  # look-alikes


@dataclass(frozen=True)
class Alert:
    kind: str  # event_failed | alarm | unknown
    title: str
    fields: dict[str, str]
    dedupe_key: str | None = None  # only a key that passed validation


def slack_text(text: str, limit: int) -> str:
    """Untrusted text made safe for mrkdwn: & < > escaped (no <!channel>, no fake links), @mentions
    broken with a zero-width space, and cut to ``limit`` characters without splitting an escape."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _MENTION.sub("@\u200b", escaped).replace("`", "'")
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # do not leave half an entity
    return cut + "…"


def is_slack_webhook_url(url: str) -> bool:
    """An https Slack incoming-webhook URL (or, for the local run, a loopback stand-in)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if not url.isascii() or any(c.isspace() for c in url) or parts.username or parts.password:
        return False
    if parts.scheme == "https" and host in _SLACK_HOSTS:
        return parts.path.startswith("/services/")
    return parts.scheme in {"http", "https"} and host in _LOCAL_HOSTS


def parse_alert(body: str) -> Alert:
    try:
        message = json.loads(body)
    except ValueError:
        return Alert("unknown", "Unreadable alert", {})
    if isinstance(message, dict) and message.get("kind") == "event_failed":
        key = str(message.get("dedupe_key"))
        valid_key = key if is_valid_key(key) else None
        return Alert(
            kind="event_failed",
            title=f"{message.get('event_type')} event FAILED",
            fields={
                "Dedupe key": key if valid_key else "(not shown: not a valid key)",
                "Provider": str(message.get("provider")),
                "Attempts": str(message.get("attempts")),
                "Error": f"{message.get('error_class')}: {message.get('message')}",
            },
            dedupe_key=valid_key,
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
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_CHARS]}}


def _header(text: str) -> dict[str, Any]:
    # plain_text shows entities literally, so the markup characters are swapped for look-alikes.
    plain = _MENTION.sub("@\u200b", text.translate(_PLAIN_LOOKALIKES))
    return {"type": "header", "text": {"type": "plain_text", "text": plain[:HEADER_CHARS]}}


def _code(text: str, limit: int) -> str:
    return f"`{slack_text(text, limit - 2)}`"


def slack_message(alerts: list[Alert]) -> dict[str, Any]:
    """Block Kit: details for a single alert, a summary for a burst."""
    if len(alerts) == 1:
        alert = alerts[0]
        fields = [(k, v) for k, v in alert.fields.items() if v][:MAX_FIELDS]
        blocks: list[dict[str, Any]] = [_header(f"Spillway: {alert.title}")]
        if fields:
            blocks.append({
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_text(k, 100)}*\n{slack_text(v, FIELD_CHARS - 110)}"}
                    for k, v in fields
                ],
            })  # fmt: skip
        if alert.dedupe_key:
            # Each command is at most ~2,030 characters (a key is at most 2,000 bytes): two fit in 3,000
            # only when short, so each gets its own section.
            blocks.append(_section(f"Inspect: {_code(inspect_command(alert.dedupe_key), SECTION_CHARS - 20)}"))
            blocks.append(_section(f"After a fix: {_code(replay_command(alert.dedupe_key), SECTION_CHARS - 20)}"))
        return {"text": slack_text(f"Spillway: {alert.title}", FALLBACK_TEXT_CHARS), "blocks": blocks}

    by_title = Counter(a.title for a in alerts)
    failed = [a for a in alerts if a.kind == "event_failed"]
    lines = [f"• {count} x {slack_text(title, 200)}" for title, count in by_title.most_common(10)]
    blocks = [_header(f"Spillway: {len(alerts)} alerts in one burst"), _section("\n".join(lines))]
    if failed:
        errors = Counter(a.fields.get("Error", "").split(":", 1)[0] for a in failed)
        classes = ", ".join(f"{slack_text(k, 100)} ({v})" for k, v in errors.most_common(5))
        blocks.append(_section(f"*Error classes:* {classes}"))
        keyed = [a.dedupe_key for a in failed if a.dedupe_key][:MAX_EXAMPLES]
        # Five keys of up to 2,000 bytes would not fit a section: each example is cut, and only
        # shown in full (with its command) when it fits.
        examples = ", ".join(_code(key, 400) for key in keyed)
        blocks.append(_section(f"*Examples:* {examples}\nSee all: `spillway status` · `spillway inspect <key>`"))
    return {"text": f"Spillway: {len(alerts)} alerts", "blocks": blocks}
