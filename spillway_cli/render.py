"""How the CLI shows things: ISO times, rich tables, and lead data redacted unless asked for."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from spillway_cli.operations import StatusReport
from spillway_core.event_store import EventSummary

REDACTED = "<redacted>"
# Attribute names (any case, any casing style) whose values are a lead's or a person's data: addresses,
# names, subjects, bodies. Over-redacting (a campaign's name) is the safe side.
_PII_MARKERS = ("email", "name", "subject", "text", "html", "body", "raw", "phone", "address", "identity")
_NOT_PII = frozenset({"eventtype", "event_type", "errorclass", "lasterror", "rawbytes"})


def _is_pii(key: str) -> bool:
    lowered = key.lower()
    if lowered in _NOT_PII or lowered.endswith(("id", "ids")):  # ids are how ops find things
        return False
    return any(marker in lowered for marker in _PII_MARKERS)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every lead-data field replaced: the one place that decides what is PII."""
    if isinstance(value, dict):
        return {k: REDACTED if _is_pii(str(k)) and v is not None else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def iso(epoch_ms: int | float | None) -> str:
    if not epoch_ms:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time_ms(text: str) -> int:
    """ISO 8601 (a date, or a time with or without zone, UTC assumed) or a relative age: 30m, 2h, 3d."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    if text[:-1].isdigit() and text[-1:] in units:
        return int((datetime.now(tz=UTC).timestamp() - int(text[:-1]) * units[text[-1]]) * 1000)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def json_view(record: Any, renames: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A dataclass as every JSON view of the CLI shows it: camelCase names; epoch times (``*_at_ms``,
    ``*_at_s``) in ISO 8601 UTC under their name without the unit; a duration in seconds (``*_s``)
    under ``…Seconds``. ``renames`` maps a field's JSON name to the one shown; ``extra`` adds fields."""
    view: dict[str, Any] = {}
    for field in fields(record):
        name, value = field.name, getattr(record, field.name)
        if name.endswith("_at_ms"):
            name, value = name.removesuffix("_ms"), iso(value)
        elif name.endswith("_at_s"):
            name, value = name.removesuffix("_s"), iso((value or 0) * 1000)
        elif name.endswith("_s"):
            name = name.removesuffix("_s") + "_seconds"
        first, *rest = name.split("_")
        camel = first + "".join(part.title() for part in rest)
        view[(renames or {}).get(camel, camel)] = value
    return view | extra


def summary_json(event: EventSummary) -> dict[str, Any]:
    return json_view(event, renames={"eventType": "type"})


def events_table(events: list[EventSummary]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    for column in ("updated (UTC)", "status", "type", "workspace", "attempts", "error", "dedupe key"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(
            iso(event.updated_at_ms),
            event.status,
            event.event_type,
            event.workspace or "",
            str(event.attempts),
            event.error_class or "",
            event.dedupe_key,
        )
    return table


def dumps(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def status_json(report: StatusReport) -> dict[str, Any]:
    processing = [{"function": function, "state": state} for function, state in report.processing]
    return json_view(report, processing=processing, paused=report.paused)


def status_table(report: StatusReport) -> Table:
    table = Table(title="Spillway", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for name, count in report.by_status.items():
        lanes = ", ".join(f"{lane} {n}" for lane, n in report.by_lane.get(name, {}).items() if n)
        table.add_row(name, f"{count} ({lanes})" if lanes else str(count))
    table.add_row("oldest pending", _age(report.oldest_pending_age_s))
    for which, depth in report.dlq_depths.items():
        table.add_row(f"{which} DLQ", "n/a" if depth is None else str(depth))
    table.add_row("duplicates", "n/a (no metrics here)" if report.duplicates is None else str(report.duplicates))
    for function, state in report.processing:
        shown = f"[red]PAUSED[/red] ({state})" if state in {"Disabled", "Disabling"} else state
        table.add_row(f"processing {function}", shown)
    return table
