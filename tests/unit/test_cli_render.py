"""The CLI's JSON views (`spillway events --json`, `spillway status --json`): names and values pinned,
since operators' scripts read them."""

from __future__ import annotations

from spillway_cli.operations import StatusReport
from spillway_cli.render import status_json, summary_json
from spillway_core.event_store import EventSummary


def test_an_event_summary_shows_camel_case_names_and_iso_times() -> None:
    event = EventSummary(
        dedupe_key="emailbison:x:1:EMAIL_SENT:9",
        status="FAILED",
        provider="emailbison",
        event_type="EMAIL_SENT",
        workspace="1",
        received_at_ms=1_795_000_000_000,
        updated_at_ms=1_795_000_060_500,
        attempts=3,
        error_class="TransientStoreError",
        expires_at_s=1_796_209_600,
    )
    assert summary_json(event) == {
        "dedupeKey": "emailbison:x:1:EMAIL_SENT:9",
        "status": "FAILED",
        "type": "EMAIL_SENT",
        "provider": "emailbison",
        "workspace": "1",
        "receivedAt": "2026-11-18T11:06:40Z",
        "updatedAt": "2026-11-18T11:07:40Z",
        "attempts": 3,
        "errorClass": "TransientStoreError",
        "expiresAt": "2026-12-02T11:06:40Z",
    }
    unknown = EventSummary("k", "PENDING", "emailbison", "EMAIL_SENT", None, 0, 0, 0, None, None)
    assert (summary_json(unknown)["receivedAt"], summary_json(unknown)["expiresAt"]) == ("", "")


def test_a_status_report_shows_camel_case_names_seconds_and_mappings() -> None:
    report = StatusReport(
        by_status={"PENDING": 2},
        by_lane={"PENDING": {"interactive": 1, "bulk": 1}},
        oldest_pending_age_s=12.5,
        dlq_depths={"processor": 0},
        duplicates=None,
        processing=[("spillway-processor-bulk", "Disabled")],
    )
    assert status_json(report) == {
        "byStatus": {"PENDING": 2},
        "byLane": {"PENDING": {"interactive": 1, "bulk": 1}},
        "oldestPendingAgeSeconds": 12.5,
        "dlqDepths": {"processor": 0},
        "duplicates": None,
        "processing": [{"function": "spillway-processor-bulk", "state": "Disabled"}],
        "paused": True,
    }
