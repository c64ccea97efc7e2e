"""`spillway inspect` shows a stored event without lead addresses, names, subjects or bodies unless
asked with --show-pii."""

from __future__ import annotations

import json
from typing import Any

import ingest.handler
from spillway_cli.operations import inspect as inspect_event
from spillway_cli.render import REDACTED, redact
from spillway_cli.target import Target
from tests.integration.conftest import TOKEN, Aws
from tests.support.lambda_events import FakeContext, api_request
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME

PII = (
    "jane.doe@prospect.example",
    "Jane",
    "Doe",
    "alex@outbound.example",
    "Alex Seller",
    "Quick question",
    "Saw your team",
)


class MotoTarget(Target):
    @property
    def events_table(self) -> str:
        return EVENTS_TABLE_NAME

    @property
    def domain_table(self) -> str:
        return DOMAIN_TABLE_NAME


def stored_key(email_sent: dict[str, Any]) -> str:
    email_sent["data"]["scheduled_email"]["email_body"] = "<p>Saw your team is hiring</p>" * 50  # compressed raw
    response = ingest.handler.lambda_handler(api_request(email_sent, token=TOKEN), FakeContext())
    return str(json.loads(response["body"])["id"])


def test_inspect_redacts_personal_data_by_default(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = stored_key(email_sent)

    shown = inspect_event(MotoTarget(stack_name="Spillway-test"), key, show_raw=True)

    assert shown is not None
    view = redact(shown)  # what `spillway inspect` prints without --show-pii
    text = json.dumps(view, default=str)
    for value in PII:
        assert value not in text, value
    assert view["normalised"]["lead_email"] == REDACTED
    assert view["normalised"]["scheduled_email_id"] == "884512"  # ids stay: they are how ops find things
    assert view["rawBytes"] > 0


def test_show_pii_shows_everything(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = stored_key(email_sent)

    view = inspect_event(MotoTarget(stack_name="Spillway-test"), key, show_raw=True)  # --show-pii: not redacted

    assert view is not None
    assert view["normalised"]["lead_email"] == "jane.doe@prospect.example"
    assert view["raw"]["data"]["lead"]["first_name"] == "Jane"
