"""A webhook goes in, is stored once, processed once: over HTTP, on the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from spillway_cli.status import PipelineCounts, pipeline_counts
from tests.conftest import load_fixture
from tests.e2e.conftest import Deployed, wait_for
from tests.support.keys import key_of

pytestmark = pytest.mark.e2e


def test_same_email_sent_twice_is_stored_once_and_processed_once(deployed: Deployed) -> None:
    payload = load_fixture("email_sent.json")
    payload["data"]["scheduled_email"]["id"] = 700001
    key = key_of(payload)

    first = deployed.post(payload)
    second = deployed.post(payload)

    assert first == (200, {"status": "accepted", "id": key})
    assert second == (200, {"status": "duplicate", "id": key})
    event = wait_for(
        lambda: (e := deployed.event(key)) and e["status"]["S"] == "SUCCEEDED" and e,
        what=f"{key} to reach SUCCEEDED",
    )
    assert event["attempts"]["N"] == "1"
    items = deployed.domain_items()
    messages = [i for i in items if i["pk"]["S"].endswith("#MSG#OUT#SE#700001")]
    assert len(messages) == 1
    [lead] = [i for i in items if i["sk"]["S"] == "LEAD" and i["pk"]["S"] == messages[0]["leadPk"]["S"]]
    assert lead["outboundCount"]["N"] == "1"
    follow_ups = [i for i in items if i["pk"]["S"] == lead["pk"]["S"] and i["sk"]["S"] == "FOLLOWUP#NO_RESPONSE"]
    assert len(follow_ups) == 1


@pytest.mark.parametrize(
    ("token", "payload", "status", "error"),
    [
        ("wrong-token", load_fixture("email_sent.json"), 401, "unauthorized"),
        (None, load_fixture("email_sent_missing_id.json"), 422, "missing_dedupe_id"),
        (None, b"{broken", 400, "invalid_json"),
    ],
)
def test_bad_requests_get_json_errors_and_store_nothing(
    deployed: Deployed, token: str | None, payload: Any, status: int, error: str
) -> None:
    got_status, body = deployed.post(payload, token=token)

    assert (got_status, body["error"]) == (status, error)
    assert deployed.event(key_of(load_fixture("email_sent.json"))) is None


def test_status_counts_report_duplicates_and_processed(deployed: Deployed) -> None:
    payload = load_fixture("email_sent_string_ids.json")
    duplicates_before = pipeline_counts(deployed.target).duplicates
    deployed.post(payload, provider="inboxxia")
    deployed.post(payload, provider="inboxxia")

    def drained_with_duplicates() -> PipelineCounts | None:
        counts = pipeline_counts(deployed.target)
        return counts if counts.duplicates > duplicates_before and counts.in_flight == 0 else None

    counts = wait_for(drained_with_duplicates, what="duplicates to be logged and the backlog to drain")

    assert counts.by_status["SUCCEEDED"] >= 2
    assert counts.by_status["FAILED"] == 0
    assert "duplicates" in counts.line()
