"""Normalisation of real-shaped EmailBison payloads and the dedupe key rules."""

from __future__ import annotations

from typing import Any

import pytest

from spillway_core.payloads import PayloadRejected, dedupe_key, normalise, parse_payload
from tests.conftest import load_fixture


def normalised(document: dict[str, Any], provider: str = "emailbison") -> Any:
    return normalise(provider, parse_payload(document))


def test_numeric_ids_become_strings_and_email_is_normalised() -> None:
    event = normalised(load_fixture("email_sent.json"))

    assert event.event_type == "EMAIL_SENT"
    assert event.workspace_id == "12"
    assert event.scheduled_email_id == "884512"
    assert event.campaign_id == "311"
    assert event.lead_id == "40211"
    assert event.lead_email == "jane.doe@prospect.example"
    assert event.lead_first_name == "Jane"
    assert event.sender_email_id == "77"
    assert event.sender_email == "alex@outbound.example"
    assert event.sent_at == "2026-11-28T09:14:07.000000Z"


def test_string_ids_and_null_lead_names() -> None:
    event = normalised(load_fixture("email_sent_string_ids.json"), provider="inboxxia")

    assert event.provider == "inboxxia"
    assert event.scheduled_email_id == "990001"
    assert event.workspace_id == "5"
    assert event.lead_first_name is None
    assert event.lead_last_name is None
    assert event.sender_name is None


def test_missing_sender_null_campaign_and_blank_names() -> None:
    event = normalised(load_fixture("email_sent_no_sender.json"))

    assert event.sender_email_id is None
    assert event.sender_email is None
    assert event.campaign_id is None
    assert event.lead_email == "carlos@example.com"
    assert event.lead_last_name is None  # "" means absent
    assert event.sent_at is None


def test_normalised_event_carries_no_body() -> None:
    event = normalised(load_fixture("email_sent.json"))

    assert "email_body" not in event.model_dump_json()
    assert "Saw your team" not in event.model_dump_json()


@pytest.mark.parametrize(
    ("provider", "scheduled_id", "expected"),
    [
        ("emailbison", 884512, "emailbison:EMAIL_SENT:884512"),
        ("emailbison", "884512", "emailbison:EMAIL_SENT:884512"),
        ("inboxxia", " 77 ", "inboxxia:EMAIL_SENT:77"),
    ],
)
def test_dedupe_key_is_provider_type_and_scheduled_email_id(provider: str, scheduled_id: Any, expected: str) -> None:
    document = load_fixture("email_sent.json")
    document["data"]["scheduled_email"]["id"] = scheduled_id

    assert dedupe_key(normalised(document, provider)) == expected


def test_same_occurrence_with_other_details_has_the_same_key() -> None:
    first = load_fixture("email_sent.json")
    second = load_fixture("email_sent.json")
    second["data"]["lead"]["first_name"] = "Janet"

    assert dedupe_key(normalised(first)) == dedupe_key(normalised(second))


def test_lowercase_event_type_is_accepted() -> None:
    document = load_fixture("email_sent.json")
    document["event"]["type"] = "email_sent"

    assert normalised(document).event_type == "EMAIL_SENT"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: d["data"]["scheduled_email"].pop("id"), "missing_dedupe_id"),
        (lambda d: d["data"]["scheduled_email"].update(id=""), "missing_dedupe_id"),
        (lambda d: d["data"]["scheduled_email"].update(id=None), "missing_dedupe_id"),
        (lambda d: d["data"].update(scheduled_email=None), "missing_dedupe_id"),
        (lambda d: d["data"]["scheduled_email"].update(id=True), "invalid_payload"),
        (lambda d: d["data"]["scheduled_email"].update(id={"nested": 1}), "invalid_payload"),
        (lambda d: d["data"].update(lead="not an object"), "invalid_payload"),
        (lambda d: d["event"].pop("type"), "missing_event_type"),
        (lambda d: d.pop("event"), "missing_event_type"),
        (lambda d: d["event"].update(type="TAG_ATTACHED"), "unsupported_event_type"),
    ],
)
def test_rejections_are_422_with_a_code(mutate: Any, code: str) -> None:
    document = load_fixture("email_sent.json")
    mutate(document)

    with pytest.raises(PayloadRejected) as rejected:
        normalised(document)

    assert rejected.value.status == 422
    assert rejected.value.code == code


def test_validation_errors_name_fields_not_values() -> None:
    document = load_fixture("email_sent.json")
    document["data"]["lead"] = "jane.doe@prospect.example"

    with pytest.raises(PayloadRejected) as rejected:
        normalised(document)

    assert "data.lead" in rejected.value.message
    assert "prospect.example" not in rejected.value.message
