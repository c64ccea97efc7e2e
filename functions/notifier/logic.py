"""Slack notifier: turns a batch of alerts (failed events, CloudWatch alarms) into one Slack message.

A batch arrives from the alerts queue (SNS -> SQS, collected for up to a minute), so a burst of 500
failures becomes one summarising message rather than 500. What it formats is metadata (dedupe keys,
types, counts, error classes, alarm names), but all of it is treated as untrusted text: escaped for
Slack's mrkdwn, mentions neutralised, every field cut to Block Kit's limits, and the commands it
suggests are built with ``shlex.quote`` from a key that passed validation.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from notifier.digests import DIGEST_DUE, group_of_key, is_digest_id
from spillway_core.alerts import inspect_command, replay_command
from spillway_core.keys import is_valid_key

MAX_EXAMPLES = 5
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
# A failure is published right after it is recorded, or re-published by the sweeper a little later
# (alertRetrySeconds): the "see all" window reaches back this far before the first alert was queued.
SEE_ALL_LOOKBACK_MS = 5 * 60 * 1000
RUNBOOK_PAGE = "operations.md"


@dataclass(frozen=True)
class Alert:
    kind: str  # event_failed | alarm | digest_due (a flush of a digest) | unknown
    title: str
    fields: dict[str, str]
    dedupe_key: str | None = None  # only a key that passed validation
    event_type: str | None = None
    queued_at_ms: int | None = None  # when the alert reached the notifier's queue (its SentTimestamp)
    digest_id: str | None = None  # a flush: the digest to summarise


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


def parse_alert(body: str, queued_at_ms: int | None = None) -> Alert:
    return dataclasses.replace(_parse(body), queued_at_ms=queued_at_ms)


def _parse(body: str) -> Alert:
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
            event_type=str(message.get("event_type")),
        )
    if isinstance(message, dict) and message.get("kind") == DIGEST_DUE and is_digest_id(message.get("digest")):
        return Alert(kind=DIGEST_DUE, title="Digest due", fields={}, digest_id=str(message["digest"]))
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


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def see_all_command(failed: list[Alert]) -> str:
    """The `spillway events` command that lists this alert's FAILED events: their types (and their
    workspace, when they share one, as a digest's do), failed within the window the alerts were queued
    in (a few minutes back, for alerts the sweeper re-published)."""
    parts = ["spillway", "events", "--status", "FAILED"]
    for event_type in sorted({a.event_type for a in failed if a.event_type}):
        parts += ["--type", event_type]
    workspaces = {group.workspace if (group := group_of_key(a.dedupe_key)) else None for a in failed}
    if len(workspaces) == 1 and (workspace := workspaces.pop()):
        parts += ["--workspace", workspace]
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
        fields = [(k, v) for k, v in alert.fields.items() if v][:MAX_FIELDS]
        blocks: list[dict[str, Any]] = [_header(f"Spillway: {alert.title}")]
        if fields:
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*{slack_text(k, 100)}*\n{slack_text(v, FIELD_CHARS - 110)}"}
                        for k, v in fields
                    ],
                }
            )
        if alert.dedupe_key:
            # Each command is at most ~2,030 characters (a key is at most 2,000 bytes): two fit in 3,000
            # only when short, so each gets its own section.
            blocks.append(_section(f"Inspect: {_code(inspect_command(alert.dedupe_key), SECTION_CHARS - 20)}"))
            blocks.append(_section(f"After a fix: {_code(replay_command(alert.dedupe_key), SECTION_CHARS - 20)}"))
        link = runbook_link(
            runbook_base_url, "runbook-failed-events" if alert.kind == "event_failed" else "runbook-alarms"
        )
        if link:
            blocks.append(_section(link))
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
        see_all = _code(see_all_command(failed), SECTION_CHARS - 100)
        blocks.append(_section(f"*Examples:* {examples}\nSee all: {see_all}"))
        blocks.append(
            _section("After the fix: the same command with `replay` instead of `events`, first with `--dry-run`")
        )
    link = runbook_link(runbook_base_url, "runbook-failed-events" if failed else "runbook-alarms")
    if link:
        blocks.append(_section(link))
    return {"text": f"Spillway: {len(alerts)} alerts", "blocks": blocks}
