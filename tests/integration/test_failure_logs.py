"""The failure paths through the real handlers say nothing personal: every log line, metric and alert
they write while an event retries, fails and is alerted is free of the lead's data and the token."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ingest.handler
import processor.handler
from tests.integration.conftest import TOKEN, Aws
from tests.support.capture import function_output
from tests.support.lambda_events import FakeContext, api_request, stream_event, stream_record
from tests.support.tables import DOMAIN_TABLE_NAME, replace_normalised

# What the fixture's lead and message carry, and the token: none of it may leave the tables.
SECRETS = (
    "Jane.Doe@Prospect.example",
    "jane.doe@prospect.example",
    "Jane",
    "Doe",
    "Quick question",
    "Saw your team",
    TOKEN,
)


def test_a_retried_then_poisoned_event_logs_and_alerts_no_personal_data(
    aws: Aws, email_sent: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with function_output(ingest.handler.logger, processor.handler.logger) as output:
        response = ingest.handler.lambda_handler(api_request(email_sent, token=TOKEN), FakeContext())
        key = json.loads(response["body"])["id"]

        # A transient failure (the domain table is missing): RETRY_WAIT, with its error logged.
        monkeypatch.setenv("DOMAIN_TABLE", "missing-domain-table")
        processor.handler._dependencies.cache_clear()
        item = aws.event_item(key)
        assert item is not None
        processor.handler.lambda_handler(stream_event(stream_record(item)), FakeContext())
        assert aws.event_item(key)["status"]["S"] == "RETRY_WAIT"  # type: ignore[index]

        # Then a permanent one, with the lead's address inside the failing data: FAILED and alerted.
        monkeypatch.setenv("DOMAIN_TABLE", DOMAIN_TABLE_NAME)
        processor.handler._dependencies.cache_clear()
        poison = json.dumps({"provider": "emailbison", "unexpected": SECRETS[0]})  # quoted in the error
        replace_normalised(aws.dynamodb, key, poison)
        aws.update_event(key, "SET #status = :p", p="PENDING")
        item = aws.event_item(key)
        assert item is not None
        processor.handler.lambda_handler(stream_event(stream_record(item)), FakeContext())

    assert aws.event_item(key)["status"]["S"] == "FAILED"  # type: ignore[index]
    alerts = aws.alerts()  # read once: a received message stays hidden from the next read
    written = output.getvalue() + json.dumps(alerts)
    assert "event failed" in written and "accepted webhook" in written  # the capture saw the functions write
    assert len(alerts) == 1
    for secret in SECRETS:
        assert secret not in written, secret
