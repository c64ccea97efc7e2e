"""Normalisation of real-shaped EmailBison payloads and the dedupe key rules."""

from __future__ import annotations

from typing import Any

import pytest

from spillway_core.payloads import PayloadRejected, dedupe_key, event_type_of, normalise, parse_payload, stored_json
from tests.conftest import load_fixture


def normalised(document: dict[str, Any], provider: str = "emailbison") -> Any:
    return normalise(provider, parse_payload(document))


def key_of(document: dict[str, Any], provider: str = "emailbison") -> str:
    return dedupe_key(normalised(document, provider), document)


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

    assert "email_body" not in stored_json(event)
    assert "Saw your team" not in stored_json(event)


@pytest.mark.parametrize(
    ("provider", "scheduled_id", "expected"),
    [
        ("emailbison", 884512, "emailbison:send.example-outreach.com:12:EMAIL_SENT:884512"),
        ("emailbison", "884512", "emailbison:send.example-outreach.com:12:EMAIL_SENT:884512"),
        ("inboxxia", " 77 ", "inboxxia:send.example-outreach.com:12:EMAIL_SENT:77"),
    ],
)
def test_dedupe_key_is_provider_type_and_scheduled_email_id(provider: str, scheduled_id: Any, expected: str) -> None:
    document = load_fixture("email_sent.json")
    document["data"]["scheduled_email"]["id"] = scheduled_id

    assert key_of(document, provider) == expected


def test_same_occurrence_with_other_details_has_the_same_key() -> None:
    first = load_fixture("email_sent.json")
    second = load_fixture("email_sent.json")
    second["data"]["lead"]["first_name"] = "Janet"

    assert key_of(first) == key_of(second)


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
        (lambda d: d["event"].update(type="  "), "missing_event_type"),
        (lambda d: d.pop("event"), "missing_event_type"),
    ],
)
def test_rejections_are_422_with_a_code(mutate: Any, code: str) -> None:
    document = load_fixture("email_sent.json")
    mutate(document)

    with pytest.raises(PayloadRejected) as rejected:
        event_type_of(document)
        key_of(document)

    assert rejected.value.status == 422
    assert rejected.value.code == code


def test_validation_errors_name_fields_not_values() -> None:
    document = load_fixture("email_sent.json")
    document["data"]["lead"] = "jane.doe@prospect.example"

    with pytest.raises(PayloadRejected) as rejected:
        normalised(document)

    assert "data.lead" in rejected.value.message
    assert "prospect.example" not in rejected.value.message


@pytest.mark.parametrize(
    ("fixture", "expected_key"),
    [
        ("email_sent.json", "emailbison:send.example-outreach.com:12:EMAIL_SENT:884512"),
        ("manual_email_sent.json", "emailbison:send.example-outreach.com:12:MANUAL_EMAIL_SENT:reply-5530100"),
        ("lead_replied.json", "emailbison:send.example-outreach.com:12:LEAD_REPLIED:5530021"),
        ("lead_interested.json", "emailbison:send.example-outreach.com:12:LEAD_INTERESTED:reply-5530021"),
        ("untracked_reply_received.json", "emailbison:send.example-outreach.com:12:UNTRACKED_REPLY_RECEIVED:5530200"),
        ("email_opened.json", "emailbison:send.example-outreach.com:12:EMAIL_OPENED:event-9912250"),
        ("email_bounced.json", "emailbison:send.example-outreach.com:12:EMAIL_BOUNCED:scheduled_email-884600"),
        ("lead_unsubscribed.json", "emailbison:send.example-outreach.com:12:LEAD_UNSUBSCRIBED:lead-40300"),
    ],
)
def test_every_supported_type_has_its_dedupe_key(fixture: str, expected_key: str) -> None:
    assert key_of(load_fixture(fixture)) == expected_key


def test_interested_marking_is_a_different_event_from_the_reply() -> None:
    assert key_of(load_fixture("lead_replied.json")) != key_of(load_fixture("lead_interested.json"))


@pytest.mark.parametrize(
    ("fixture", "remove", "fallback_key"),
    [
        ("manual_email_sent.json", ("reply",), None),
        ("lead_interested.json", ("reply",), "emailbison:send.example-outreach.com:12:LEAD_INTERESTED:lead-40211"),
        (
            "email_bounced.json",
            ("scheduled_email",),
            "emailbison:send.example-outreach.com:12:EMAIL_BOUNCED:reply-5530300",
        ),
        ("lead_unsubscribed.json", ("lead", "id"), "emailbison:send.example-outreach.com:12:LEAD_UNSUBSCRIBED:email-"),
    ],
)
def test_fallback_ids(fixture: str, remove: tuple[str, ...], fallback_key: str | None) -> None:
    document = load_fixture(fixture)
    target = document["data"]
    for step in remove[:-1]:
        target = target[step]
    target.pop(remove[-1])

    if fallback_key is None:
        with pytest.raises(PayloadRejected) as rejected:
            key_of(document)
        assert rejected.value.code == "missing_dedupe_id"
    else:
        assert key_of(document).startswith(fallback_key)


@pytest.mark.parametrize(
    ("fixture", "member"),
    [
        ("lead_replied.json", "reply"),
        ("untracked_reply_received.json", "reply"),
        ("lead_interested.json", "reply"),
        ("email_bounced.json", "reply"),
    ],
)
def test_types_without_any_id_are_422(fixture: str, member: str) -> None:
    document = load_fixture(fixture)
    document["data"][member] = None
    for other in ("lead", "scheduled_email"):
        document["data"][other] = None

    with pytest.raises(PayloadRejected) as rejected:
        key_of(document)

    assert rejected.value.code == "missing_dedupe_id"


def test_open_without_event_id_is_keyed_by_content() -> None:
    document = load_fixture("email_opened.json")
    document["data"]["campaign_event"] = None
    later = load_fixture("email_opened.json")
    later["data"]["campaign_event"] = None
    later["data"]["scheduled_email"]["opens"] = 2

    key = key_of(document)

    assert key.startswith("emailbison:send.example-outreach.com:12:EMAIL_OPENED:sha256-")
    assert key == key_of(load_fixture("email_opened.json") | {"data": document["data"]})
    assert key != key_of(later)


def test_untracked_reply_normalises_the_sender_address_and_unicode_names() -> None:
    event = normalised(load_fixture("untracked_reply_received.json"))

    assert event.lead_email is None
    assert event.reply_from_email == "zoe.angstrom@newprospect.example"
    assert event.reply_id == "5530200"
