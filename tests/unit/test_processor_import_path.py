"""The processor's cold start and its events do without pydantic and Powertools' batch utility: its
settings are read plainly, and the stored event the ingest wrote is read field by field, with the
pydantic model deciding anything else (so the outcome is the model's, whatever is stored)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from spillway_core import payloads, stored_event
from spillway_core.plain_settings import ProcessorSettings, SettingsError
from tests.support.environment import STACK, stack_with

TABLES = {"EVENTS_TABLE": "events", "DOMAIN_TABLE": "domain", "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:alerts"}
WRITTEN = payloads.stored_json(
    stored_event.NormalisedEvent(
        provider="emailbison",
        event_type="LEAD_REPLIED",
        workspace_id="12",
        lead_email="jos\u00e9@prospect.example",
        subject='quotes " and a\nnewline',
        reply_automated=False,
    )
)


HEAVY = ("pydantic", "pydantic_core", "spillway_core.payloads", "aws_lambda_powertools.utilities.batch", "asyncio")


def _heavy_modules_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    environment = {**os.environ, **STACK, **TABLES}
    done = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return [name for name in loaded if any(name == heavy or name.startswith(f"{heavy}.") for heavy in HEAVY)]


def test_processor_init_and_its_reading_of_a_stored_event_load_no_pydantic_nor_powertools_batch() -> None:
    loaded = _heavy_modules_after(
        "import processor.handler\n"
        "processor.handler._dependencies()\n"
        "from processor.logic import NormalisedEvent, plan_effect\n"
        f"plan_effect('k', NormalisedEvent.model_validate_json({WRITTEN!r}), 0)"
    )

    assert loaded == []


@pytest.mark.parametrize(
    "text",
    [
        WRITTEN,
        WRITTEN.encode(),
        '{"provider":"p","event_type":"E"}',
        ' {"provider":"p","event_type":"E","lead_id":null,"reply_automated":true} ',
        '{"provider":"p"}',
        '{"provider":1,"event_type":"E"}',
        '{"provider":"p","event_type":null}',
        '{"provider":"p","event_type":"E","extra":1}',
        '{"provider":"p","event_type":"E","reply_automated":1}',
        '{"provider":"p","event_type":"E","reply_automated":"true"}',
        '{"provider":"p","event_type":"E","lead_id":5}',
        '{"provider":"p","event_type":"E","lead_id":1.5}',
        '{"provider":"p","event_type":"E","subject":"\\ud800"}',
        '{"provider":"p","event_type":"E","subject":"\\u00e9"}',
        '{"provider":"p","event_type":"E","provider":"q"}',
        '{"provider":"p","event_type":"E"}x',
        "[]",
        "null",
        "{bad",
        "",
        b"\xff{}",
    ],
)
def test_reading_a_stored_event_ends_as_the_payload_model_does(text: str | bytes) -> None:
    def outcome(read: object) -> object:
        try:
            event = read(text)  # type: ignore[operator]
        except ValueError as exc:
            return type(exc).__name__
        return dataclasses.asdict(event)

    assert outcome(stored_event.NormalisedEvent.model_validate_json) == outcome(payloads.STORED_EVENT.validate_json)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVENTS_TABLE", ""),
        ("DOMAIN_TABLE", ""),
        ("ALERTS_TOPIC_ARN", ""),
        ("LEASE_SECONDS", "4"),
        ("LEASE_SECONDS", "1e2"),
        ("DEADLINE_MARGIN_SECONDS", "-1"),
        ("BACKOFF_BASE_SECONDS", "0"),
        ("BACKOFF_CAP_SECONDS", "nan"),
        ("ALERT_RETRY_SECONDS", "0"),
        ("AWS_MAX_ATTEMPTS", "11"),
    ],
)
def test_plain_processor_settings_keep_the_bounds(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        ProcessorSettings.from_env(stack_with({**TABLES, name: value}))


def test_plain_processor_settings_read_overrides_and_the_stacks_values() -> None:
    settings = ProcessorSettings.from_env(
        stack_with({**TABLES, "LEASE_SECONDS": "5.0", "DEADLINE_MARGIN_SECONDS": "0"})
    )

    assert (settings.lease_seconds, settings.deadline_margin_seconds, settings.domain_table) == (5, 0.0, "domain")
    assert (settings.backoff_base_seconds, settings.backoff_cap_seconds, settings.alert_retry_seconds) == (2.0, 900, 60)
    assert settings.model_copy(update={"lease_seconds": 9}).lease_seconds == 9
