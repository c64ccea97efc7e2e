"""The ingest Lambda against a real (moto) table: one AWS call per request, none when rejected."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import ingest.handler
from ingest.logic import event_to_store
from spillway_core.errors import StoreUnavailable
from spillway_core.event_store import decode_raw_body, stored_normalised_json
from spillway_core.http import WebhookRequest
from spillway_core.metrics import WebhookOutcome, webhook_metric
from spillway_core.payloads import event_type_of, tenant_of
from tests.conftest import load_fixture
from tests.integration.conftest import TOKEN, Aws
from tests.support.keys import key_of
from tests.support.lambda_events import FakeContext, api_request

KEY = key_of(load_fixture("email_sent.json"))


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = ingest.handler.lambda_handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def webhook_request(payload: dict[str, Any]) -> WebhookRequest:
    return WebhookRequest(
        provider="emailbison", headers={"content-type": "application/json"}, query={}, body=json.dumps(payload).encode()
    )


def new_event_of(payload: dict[str, Any], settings: Any) -> Any:
    request = webhook_request(payload)
    event_type, tenant = event_type_of(payload), tenant_of(request.provider, payload)
    return event_to_store(request, payload, event_type, tenant, settings, 1_795_000_000_000)


def test_accepted_event_is_one_conditional_put(aws: Aws, email_sent: dict[str, Any]) -> None:
    status, body, _ = invoke(api_request(email_sent, token=TOKEN))

    assert (status, body["status"]) == (200, "accepted")
    assert aws.counter.calls == {"PutItem": 1}
    item = aws.event_item(KEY)
    assert item is not None
    assert item["status"]["S"] == "PENDING"  # as operators see it: its processing has not begun
    assert item["intake"]["S"] == "PENDING"  # what the processor's stream filter passes
    assert "attempts" not in item  # nothing but the event record exists yet
    assert item["maxAttempts"]["N"] == "8"
    assert item["provider"]["S"] == "emailbison"
    assert item["eventType"]["S"] == "EMAIL_SENT"
    assert item["sweepShard"]["S"].startswith("intake-bulk-")
    assert {"receivedAt", "dueAt", "expiresAt", "bodyZlib", "lane"} <= item.keys()
    raw = decode_raw_body(item)
    assert raw is not None and json.loads(raw) == email_sent
    assert json.loads(stored_normalised_json(item))["event_type"] == "EMAIL_SENT"


def test_duplicate_makes_no_second_write(aws: Aws, email_sent: dict[str, Any]) -> None:
    invoke(api_request(email_sent, token=TOKEN))
    first = aws.event_item(KEY)
    aws.counter.reset()

    status, body, _ = invoke(api_request(email_sent, token=TOKEN))

    assert (status, body) == (200, {"status": "duplicate", "id": KEY})
    assert aws.counter.calls == {"PutItem": 1}  # the conditional put, which wrote nothing
    assert aws.event_item(KEY) == first


def test_unauthenticated_request_makes_no_aws_call(aws: Aws, email_sent: dict[str, Any]) -> None:
    status, _, _ = invoke(api_request(email_sent, token="nope"))

    assert status == 401
    assert aws.counter.total == 0


def test_invalid_payload_makes_no_aws_call_and_stores_nothing(aws: Aws) -> None:
    payload = {"event": {"type": "EMAIL_SENT", "workspace_id": 12}, "data": {}}
    status, body, _ = invoke(api_request(payload, token=TOKEN))

    assert (status, body["error"]) == (422, "missing_dedupe_id")
    assert aws.counter.total == 0
    assert aws.dynamodb.scan(TableName="spillway-events-test")["Count"] == 0


def test_missing_table_is_503_not_200(aws: Aws, email_sent: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setenv("EVENTS_TABLE", "no-such-table")
    ingest.handler._dependencies.cache_clear()

    status, body, headers = invoke(api_request(email_sent, token=TOKEN))

    assert (status, body["error"]) == (503, "store_unavailable")
    assert headers["retry-after"] == "5"


def throttle(stubber: Stubber) -> None:
    # The stubber wants the client's method name: an operation name ("PutItem") matches nothing,
    # and the call then fails with a BotoCoreError, which would reach the other 503 branch.
    stubber.add_client_error(
        "put_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
    )


def test_throttled_put_is_503_with_retry_after(aws: Aws, email_sent: dict[str, Any]) -> None:
    settings, store = ingest.handler._dependencies()
    with Stubber(store._ddb) as stubber:
        throttle(stubber)
        status, _, headers = invoke(api_request(email_sent, token=TOKEN))
        stubber.assert_no_pending_responses()  # the put was answered by the throttling error
        # The same call through the store: the throttling branch itself, not the BotoCoreError one.
        throttle(stubber)
        with pytest.raises(StoreUnavailable) as raised:
            store.put_new(new_event_of(email_sent, settings))
        assert str(raised.value) == "ProvisionedThroughputExceededException"
        assert isinstance(raised.value.__cause__, ClientError)

    assert status == 503
    assert headers["retry-after"] == "5"
    assert aws.event_item(KEY) is None


def test_header_token_and_base64_body(aws: Aws, email_sent: dict[str, Any]) -> None:
    import base64

    event = api_request(email_sent, token=TOKEN, token_in_header=True)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    status, body, _ = invoke(event)

    assert (status, body["status"]) == (200, "accepted")


def test_a_256_kib_html_body_is_stored_compressed_under_the_item_limit(aws: Aws, email_sent: dict[str, Any]) -> None:
    paragraph = "<p>Hi Jane, here is the long newsletter you asked about: Ünïcødé ✓</p>\n"
    email_sent["data"]["scheduled_email"]["email_body"] = ""
    room = 256 * 1024 - len(json.dumps(email_sent).encode())
    email_sent["data"]["scheduled_email"]["email_body"] = paragraph * (
        room // len(json.dumps(paragraph)[1:-1].encode())
    )
    event = api_request(email_sent, token=TOKEN)
    assert 255 * 1024 < len(event["body"].encode()) <= 256 * 1024

    status, response, _ = invoke(event)

    assert (status, response["status"]) == (200, "accepted")
    item = aws.event_item(KEY)
    assert item is not None
    assert "rawTrimmed" not in item and decode_raw_body(item) == event["body"].encode()


def test_a_permanent_store_error_is_a_4xx_logged_as_a_bug_signal(aws: Aws, email_sent: dict[str, Any]) -> None:
    from tests.support.capture import function_output

    _, store = ingest.handler._dependencies()
    with Stubber(store._ddb) as stubber, function_output(ingest.handler.logger) as output:
        stubber.add_client_error("put_item", service_error_code="ValidationException", http_status_code=400)
        status, body, headers = invoke(api_request(email_sent, token=TOKEN))

    assert (status, body["error"]) == (422, "not_storable")
    assert "retry-after" not in headers
    assert '"level":"ERROR"' in output.getvalue() and "refused a checked event" in output.getvalue()
    assert webhook_metric(WebhookOutcome.STORE_REJECTED) in output.getvalue()


def test_an_event_over_the_item_budget_is_413_and_a_large_one_drops_its_raw_body(
    aws: Aws, email_sent: dict[str, Any], monkeypatch: Any
) -> None:
    import random

    monkeypatch.setenv("MAX_BODY_BYTES", str(600 * 1024))
    ingest.handler._dependencies.cache_clear()
    noise = random.Random(3).randbytes(200_000).hex()  # 400 KB of hex: compresses to about half

    email_sent["data"]["scheduled_email"]["email_subject"] = noise[:300_000]
    status, body, _ = invoke(api_request(email_sent, token=TOKEN))
    assert (status, body["status"]) == (200, "accepted"), body
    item = aws.event_item(KEY)
    assert item is not None and item.get("rawTrimmed") == {"BOOL": True} and decode_raw_body(item) is None
    assert json.loads(stored_normalised_json(item))["subject"] == noise[:300_000]

    email_sent["data"]["scheduled_email"]["id"] = 884599
    email_sent["data"]["scheduled_email"]["email_subject"] = noise  # the normalised event alone is over budget
    status, body, _ = invoke(api_request(email_sent, token=TOKEN))
    assert (status, body["error"]) == (413, "event_too_large")
    assert aws.dynamodb.scan(TableName="spillway-events-test")["Count"] == 1
