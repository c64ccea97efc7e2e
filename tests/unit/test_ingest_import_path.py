"""The ingest's cold start imports only what it needs: pydantic (the payload models) waits for the
first authenticated request, and the settings are read without it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from spillway_core.plain_settings import IngestSettings, SettingsError
from tests.support.environment import STACK, stack_with

DIGEST = "a" * 64
BINDINGS = json.dumps({DIGEST: {"provider": "emailbison", "workspaces": ["1"]}})


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    bindings = {hashlib.sha256(b"t").hexdigest(): {"provider": "emailbison", "workspaces": ["1"]}}
    environment = {**os.environ, **STACK, "EVENTS_TABLE": "events", "INGEST_TOKEN_BINDINGS": json.dumps(bindings)}
    done = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_ingest_init_does_not_load_pydantic() -> None:
    loaded = _modules_after("import ingest.handler\ningest.handler._dependencies()")

    assert "ingest.handler" in loaded
    assert {name for name in loaded if name.split(".")[0] in {"pydantic", "pydantic_core"}} == set()
    assert "spillway_core.payloads" not in loaded
    assert "spillway_core.settings" not in loaded


def test_an_unauthenticated_cold_request_does_not_load_the_payload_models() -> None:
    loaded = _modules_after(
        "import ingest.handler\n"
        "ingest.handler.lambda_handler({'body': '{}', 'headers': {'x-spillway-token': 'wrong'},"
        " 'pathParameters': {'provider': 'emailbison'}}, None)"
    )

    assert "spillway_core.payloads" not in loaded


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BODY_BYTES", "0"),
        ("MAX_BODY_BYTES", "lots"),
        ("SWEEP_SHARDS", "257"),
        ("SWEEP_SHARDS", "0"),
        ("AWS_MAX_ATTEMPTS", "11"),
        ("AWS_CALL_TIMEOUT_SECONDS", "0"),
        ("AWS_CALL_TIMEOUT_SECONDS", "nan"),
        ("MAX_BODY_BYTES", "5.5"),
        ("PENDING_GRACE_SECONDS", "9"),
        ("RETRY_AFTER_SECONDS", "0"),
        ("MAX_ATTEMPTS", "0"),
        ("EVENT_RETENTION_DAYS", "0"),
        ("IGNORED_RETENTION_DAYS", "0"),
        ("EVENTS_TABLE", ""),
    ],
)
def test_light_ingest_settings_keep_the_bounds(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        IngestSettings.from_env(stack_with({"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": BINDINGS, name: value}))


def test_light_ingest_settings_read_overrides_and_the_stacks_values() -> None:
    settings = IngestSettings.from_env(
        stack_with(
            {
                "EVENTS_TABLE": "t",
                "INGEST_TOKEN_BINDINGS": BINDINGS,
                "SWEEP_SHARDS": "256.0",
                "AWS_CALL_TIMEOUT_SECONDS": "0.5",
            }
        )
    )

    assert (settings.sweep_shards, settings.aws_timeout_seconds, settings.aws_max_attempts) == (256, 0.5, 2)
    assert (settings.pending_grace_seconds, settings.retention_days, settings.ignored_retention_days) == (300, 14, 1)


@pytest.mark.parametrize(
    "entry",
    [
        {"provider": "emailbison", "workspaces": ["1"], "extra": 1},  # unknown field
        {"provider": "emailbison", "workspaces": "1"},  # not a list
        {"provider": "emailbison", "workspaces": {"1": 1}},
        {"provider": "emailbison", "workspaces": None},
        {"provider": 5, "workspaces": ["1"]},  # provider not text
        {"provider": "", "workspaces": ["1"]},
        {"provider": "emailbison", "workspaces": ["1"], "instances": "app.example"},
        ["emailbison", ["1"]],  # not an object
    ],
)
def test_light_ingest_settings_refuse_malformed_bindings_like_the_pydantic_model(entry: object) -> None:
    with pytest.raises(SettingsError):
        IngestSettings.from_env(stack_with({"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": json.dumps({DIGEST: entry})}))


def test_light_ingest_settings_normalise_bindings_like_the_pydantic_model() -> None:
    entry = {"provider": "inboxxia", "workspaces": [" 7 ", 8, "e\u0301"], "instances": [" App.Example "]}
    settings = IngestSettings.from_env(
        stack_with({"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": json.dumps({DIGEST: entry})})
    )

    binding = settings.token_bindings[DIGEST]
    assert binding.workspaces == frozenset({"7", "8", "\u00e9"})  # stripped, numbers as text, NFC
    assert binding.instances == frozenset({"app.example"})
    assert binding.allows("inboxxia", "app.example", "8")
    assert not binding.allows("inboxxia", "other.example", "8")
    with pytest.raises(SettingsError):
        IngestSettings.from_env(stack_with({"EVENTS_TABLE": "t", "INGEST_TOKEN_BINDINGS": "{not json"}))
