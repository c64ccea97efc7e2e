"""Settings validation, backoff bounds, scrubbing and raw-body storage."""

from __future__ import annotations

import json
import random
import zlib
from typing import Any

import pytest

from processor.logic import backoff_ms
from spillway_core.alerts import MAX_ERROR_CHARS, scrub
from spillway_core.domain import parse_time_ms
from spillway_core.errors import EventTooLarge
from spillway_core.event_store import (
    BODY_COMPRESSED_LIMIT,
    body_attributes,
    decode_raw_body,
    stored_normalised_json,
)
from spillway_core.settings import IngestSettings
from tests.support.environment import stack_with

VALID_DIGEST = "a" * 64


BINDING = '{"provider": "emailbison", "workspaces": [12]}'


@pytest.mark.parametrize(
    "env",
    [
        {"INGEST_TOKEN_BINDINGS": f'{{"{VALID_DIGEST}": {BINDING}}}'},  # no table
        {"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": ""},
        {"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": "{}"},
        {"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": f'{{"not-a-digest": {BINDING}}}'},
        {"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": f'{{"{VALID_DIGEST}": {{"provider": "emailbison"}}}}'},
        {"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": f'{{"{VALID_DIGEST}": {{"provider": "x", "workspaces": []}}}}'},
        {"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": f'{{"{VALID_DIGEST}": {{"workspaces": ["1"]}}}}'},
    ],
)
def test_settings_need_table_and_valid_bindings(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        IngestSettings.from_env(stack_with(env))


def test_settings_parse_several_bindings() -> None:
    settings = IngestSettings.from_env(
        stack_with(
            {
                "EVENTS_TABLE": "t",
                "INGEST_TOKEN_BINDINGS": f'{{" {VALID_DIGEST} ": {BINDING}, "{"B" * 64}": '
                '{"provider": "inboxxia", "workspaces": ["7", 8], "instances": ["App.Inboxxia.example"]}}',
            }
        )
    )

    assert settings.token_sha256s == (VALID_DIGEST, "b" * 64)
    assert settings.token_bindings["b" * 64].allows("inboxxia", "app.inboxxia.example", "8")
    assert not settings.token_bindings["b" * 64].allows("inboxxia", "other.example", "8")
    assert settings.token_bindings[VALID_DIGEST].allows("emailbison", "", "12")
    assert not settings.token_bindings[VALID_DIGEST].allows("inboxxia", "", "12")
    assert settings.max_body_bytes == 256 * 1024
    assert settings.retry_after_seconds == 5


def test_backoff_is_full_jitter_within_the_exponential_ceiling() -> None:
    rng = random.Random(7)
    for attempts, ceiling_s in [(1, 2), (2, 4), (3, 8), (9, 512), (10, 900), (30, 900)]:
        delays = [backoff_ms(attempts, 2.0, 900.0, rng) for _ in range(300)]
        assert all(0 <= d <= ceiling_s * 1000 for d in delays)
        assert max(delays) > ceiling_s * 1000 * 0.8  # jitter spans the range, not a constant


def test_scrub_removes_addresses_and_secrets_and_bounds_length() -> None:
    message = "lead Jane.Doe@Prospect.example failed; token=abc123 password: hunter2 " + "x" * 1000

    cleaned = scrub(message)

    assert "Prospect.example" not in cleaned
    assert "abc123" not in cleaned
    assert "hunter2" not in cleaned
    assert len(cleaned) == MAX_ERROR_CHARS


def test_parse_time_accepts_provider_formats_and_rejects_naive() -> None:
    assert parse_time_ms("2026-11-28T09:14:07.000000Z") == parse_time_ms("2026-11-28T09:14:07+00:00")
    assert parse_time_ms("2026-11-28 09:14:00") is None
    assert parse_time_ms("yesterday") is None
    assert parse_time_ms(None) is None


NORMALISED = '{"provider":"emailbison","event_type":"EMAIL_SENT","subject":"Hi\\nthere"}'


def test_the_normalised_event_and_the_raw_body_are_stored_as_one_compressed_stream() -> None:
    body = b'{"a": "\xc3\xa9",\n "b": "two\nlines"}'  # the raw body's own newlines stay its own

    attributes = body_attributes(NORMALISED, body)

    assert attributes.keys() == {"bodyZlib"}
    assert stored_normalised_json(attributes) == NORMALISED
    assert decode_raw_body(attributes) == body


def test_an_empty_raw_body_is_kept_as_empty_not_as_trimmed() -> None:
    attributes = body_attributes(NORMALISED, b"")

    assert decode_raw_body(attributes) == b""


def test_one_stream_is_smaller_than_the_event_and_the_body_compressed_apart() -> None:
    body = json.dumps(
        {"subject": "Quick question about hiring", "email": "jane.doe@prospect.example"}
        | {"html": "<p>Hi Jane, quick question about your SDR hiring plans for Q4.</p>" * 20}
    ).encode()
    normalised = json.dumps({"subject": "Quick question about hiring", "lead_email": "jane.doe@prospect.example"})

    together = len(body_attributes(normalised, body)["bodyZlib"]["B"])

    assert together < len(zlib.compress(body, 6)) + len(normalised)


def test_large_html_body_is_compressed_under_the_item_limit() -> None:
    html = ("<p>" + "Lorem ipsum dolor sit amet, " * 20 + "</p>\n") * 500
    body = f'{{"html": "{html}"}}'.encode()
    assert len(body) > 256 * 1024

    attributes = body_attributes(NORMALISED, body)

    assert len(attributes["bodyZlib"]["B"]) <= BODY_COMPRESSED_LIMIT
    assert decode_raw_body(attributes) == body


def test_incompressible_body_is_dropped_with_a_flag_and_the_normalised_event_kept() -> None:
    body = random.Random(1).randbytes(380 * 1024)
    assert len(zlib.compress(body)) > BODY_COMPRESSED_LIMIT

    attributes = body_attributes(NORMALISED, body)

    assert attributes["rawTrimmed"] == {"BOOL": True}
    assert stored_normalised_json(attributes) == NORMALISED
    assert decode_raw_body(attributes) is None


def test_a_body_that_fits_the_limit_but_not_the_room_left_is_dropped_too() -> None:
    body = json.dumps({"html": "<p>hello</p>" * 2000}).encode()
    fitted = len(body_attributes(NORMALISED, body)["bodyZlib"]["B"]) + len("bodyZlib")

    assert body_attributes(NORMALISED, body, room_bytes=fitted).keys() == {"bodyZlib"}
    assert body_attributes(NORMALISED, body, room_bytes=fitted - 1)["rawTrimmed"] == {"BOOL": True}


def test_a_normalised_event_is_too_large_when_it_would_not_fit_uncompressed() -> None:
    """Its fields become domain items, which DynamoDB limits by their plain size."""
    normalised = json.dumps({"subject": "a" * 2000})  # compresses to a few dozen bytes
    fits = len("bodyZlib") + len(normalised) + len("rawTrimmed") + 1

    assert body_attributes(normalised, b"{}", room_bytes=fits).keys() == {"bodyZlib"}
    with pytest.raises(EventTooLarge):
        body_attributes(normalised, b"{}", room_bytes=fits - 1)


def test_a_normalised_event_with_a_raw_newline_is_refused_rather_than_stored_ambiguously() -> None:
    with pytest.raises(ValueError, match="compact"):
        body_attributes('{"a":\n1}', b"{}")


@pytest.mark.parametrize(
    ("record", "raw"),
    [
        ({"raw": {"S": '{"a": 1}'}}, b'{"a": 1}'),
        ({"rawZlib": {"B": zlib.compress(b'{"a": 2}')}}, b'{"a": 2}'),
        ({"rawTrimmed": {"BOOL": True}}, None),
    ],
)
def test_records_written_before_the_one_stream_are_still_read(record: dict[str, Any], raw: bytes | None) -> None:
    item = {"normalised": {"S": NORMALISED}, **record}

    assert stored_normalised_json(item) == NORMALISED
    assert decode_raw_body(item) == raw


def test_a_record_without_a_body_has_no_normalised_event() -> None:
    assert decode_raw_body({}) is None
    with pytest.raises(KeyError):
        stored_normalised_json({})
