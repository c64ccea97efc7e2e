"""Settings validation, backoff bounds, scrubbing and raw-body storage."""

from __future__ import annotations

import random
import zlib

import pytest

from processor.logic import backoff_ms
from spillway_core.alerts import MAX_ERROR_CHARS, scrub
from spillway_core.domain import parse_time_ms
from spillway_core.event_store import RAW_COMPRESSED_LIMIT, decode_raw_body, raw_body_attributes
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


def test_small_raw_body_is_kept_verbatim() -> None:
    body = b'{"a": "\xc3\xa9"}'

    attributes = raw_body_attributes(body)

    assert decode_raw_body(attributes) == body


def test_large_html_body_is_compressed_under_the_item_limit() -> None:
    html = ("<p>" + "Lorem ipsum dolor sit amet, " * 20 + "</p>\n") * 500
    body = f'{{"html": "{html}"}}'.encode()
    assert len(body) > 256 * 1024

    attributes = raw_body_attributes(body)

    assert "rawZlib" in attributes
    assert len(attributes["rawZlib"]["B"]) <= RAW_COMPRESSED_LIMIT
    assert decode_raw_body(attributes) == body


def test_incompressible_body_is_dropped_with_a_flag() -> None:
    body = random.Random(1).randbytes(380 * 1024)
    assert len(zlib.compress(body)) > RAW_COMPRESSED_LIMIT

    attributes = raw_body_attributes(body)

    assert attributes == {"rawTrimmed": {"BOOL": True}}
    assert decode_raw_body(attributes) is None
