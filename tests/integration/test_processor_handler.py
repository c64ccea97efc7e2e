"""The processor Lambda given stream-shaped records, against moto tables."""

from __future__ import annotations

import copy
import json
import shlex
import zlib
from typing import Any

import ingest.handler
import processor.handler
from spillway_core.event_store import stored_normalised_json
from spillway_core.keys import Tenant, lead_pk, message_pk
from tests.conftest import load_fixture
from tests.integration.conftest import TOKEN, Aws
from tests.support.keys import key_of
from tests.support.lambda_events import FakeContext, api_request, stream_event, stream_record
from tests.support.scenario import EVENTS
from tests.support.tables import EVENTS_TABLE_NAME, replace_normalised

KEY = key_of(load_fixture("email_sent.json"))


def ingest_event(payload: dict[str, Any]) -> str:
    response = ingest.handler.lambda_handler(api_request(payload, token=TOKEN), FakeContext())
    return str(json.loads(response["body"])["id"])


def record_for(aws: Aws, key: str) -> dict[str, Any]:
    item = aws.event_item(key)
    assert item is not None
    return stream_record(item)


def process(*records: dict[str, Any], context: FakeContext | None = None) -> dict[str, Any]:
    return processor.handler.lambda_handler(stream_event(*records), context or FakeContext())


def domain_by_sk(aws: Aws) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in aws.domain_items():
        grouped.setdefault(item["sk"]["S"], []).append(item)
    return grouped


def test_email_sent_effect_is_applied_and_event_succeeds(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = ingest_event(email_sent)

    response = process(record_for(aws, key))

    assert response == {"batchItemFailures": []}
    event = aws.event_item(key)
    assert event is not None
    assert event["status"]["S"] == "SUCCEEDED"
    assert "sweepShard" not in event and "dueAt" not in event  # left the sweep index
    domain = domain_by_sk(aws)
    [message] = domain["MESSAGE"]
    tenant = Tenant("emailbison", "send.example-outreach.com", "12")
    assert message["pk"]["S"] == message_pk(tenant, "OUT", "SE", "884512")
    assert message["pk"]["S"] == "WS#emailbison:send.example-outreach.com:12#MSG#OUT#SE#884512"
    [lead] = domain["LEAD"]
    assert lead["pk"]["S"] == lead_pk(tenant, "jane.doe@prospect.example")
    assert lead["email"]["S"] == "jane.doe@prospect.example"
    assert lead["outboundCount"]["N"] == "1"
    assert lead["providerLeadId"]["S"] == "40211"
    [follow_up] = domain["FOLLOWUP#NO_RESPONSE"]
    assert follow_up["state"]["S"] == "ACTIVE"
    assert domain["CAMPAIGN"][0]["name"]["S"] == "Q4 SDR hiring"


def test_a_record_stored_before_the_one_compressed_stream_is_still_processed(
    aws: Aws, email_sent: dict[str, Any]
) -> None:
    """Records written by the ingest before a deploy (normalised JSON and raw body apart) are read by
    the new processor for as long as they are kept."""
    key = ingest_event(email_sent)
    stored = aws.event_item(key)
    assert stored is not None
    aws.dynamodb.update_item(
        TableName=EVENTS_TABLE_NAME,
        Key={"pk": {"S": key}},
        UpdateExpression="SET normalised = :normalised, rawZlib = :raw REMOVE bodyZlib",
        ExpressionAttributeValues={
            ":normalised": {"S": stored_normalised_json(stored)},
            ":raw": {"B": zlib.compress(json.dumps(email_sent).encode())},
        },
    )

    response = process(record_for(aws, key))

    assert response == {"batchItemFailures": []}
    event = aws.event_item(key)
    assert event is not None and event["status"]["S"] == "SUCCEEDED"
    assert "bodyZlib" not in event
    assert len(domain_by_sk(aws)["MESSAGE"]) == 1


def test_duplicate_delivery_gives_one_message_one_increment_one_follow_up(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = ingest_event(email_sent)
    record = record_for(aws, key)

    # Given the same record twice in one batch, then again in a later invocation
    first = process(record, copy.deepcopy(record))
    second = process(copy.deepcopy(record))

    assert first == second == {"batchItemFailures": []}
    domain = domain_by_sk(aws)
    assert len(domain["MESSAGE"]) == 1
    assert len(domain["FOLLOWUP#NO_RESPONSE"]) == 1
    assert domain["LEAD"][0]["outboundCount"]["N"] == "1"


def test_effect_already_applied_before_a_crash_is_not_applied_again(aws: Aws, email_sent: dict[str, Any]) -> None:
    # Given the domain effect was applied but the processor died before marking the event
    key = ingest_event(email_sent)
    process(record_for(aws, key))
    aws.update_event(key, "SET #status = :p", p="PENDING")

    # When it is processed again
    process(record_for(aws, key))

    # Then the state is as if it ran once
    event = aws.event_item(key)
    assert event is not None and event["status"]["S"] == "SUCCEEDED"
    assert domain_by_sk(aws)["LEAD"][0]["outboundCount"]["N"] == "1"


def test_two_emails_to_one_lead_count_twice_and_keep_the_latest_time(aws: Aws) -> None:
    first = load_fixture("email_sent.json")
    second = copy.deepcopy(first)
    second["data"]["scheduled_email"]["id"] = 884599
    second["data"]["scheduled_email"]["sent_at"] = "2026-11-27T08:00:00Z"  # older, delivered later

    for payload in (first, second):
        process(record_for(aws, ingest_event(payload)))

    lead = domain_by_sk(aws)["LEAD"][0]
    assert lead["outboundCount"]["N"] == "2"
    assert int(lead["lastOutboundAt"]["N"]) == 1795857247000  # 2026-11-28T09:14:07Z, the maximum
    assert len(domain_by_sk(aws)["FOLLOWUP#NO_RESPONSE"]) == 1


def test_two_events_about_one_reply_count_it_once_on_the_lead_of_its_workspace(aws: Aws) -> None:
    # A reply, then the "interested" event about that same reply: one inbound message.
    for name in ("replied", "interested"):
        process(record_for(aws, ingest_event(EVENTS[name])))

    [message] = domain_by_sk(aws)["MESSAGE"]
    [lead] = domain_by_sk(aws)["LEAD"]
    assert lead["inboundCount"]["N"] == "1"
    assert lead["workspaceId"]["S"] == "12"
    assert message["leadPk"] == lead["pk"]
    # The reply as the first event wrote it, and what the second one added to it.
    assert (message["direction"], message["kind"], message["replyId"]) == (
        {"S": "INBOUND"},
        {"S": "REPLY"},
        {"S": "5001"},
    )
    assert message["interested"] == {"BOOL": True}
    assert int(lead["createdAt"]["N"]) <= int(lead["updatedAt"]["N"])  # created by the first, kept by the second


def test_a_campaign_first_seen_without_its_name_takes_the_name_a_later_event_gives(aws: Aws) -> None:
    nameless = copy.deepcopy(EVENTS["open_a1"])
    nameless["data"]["campaign"] = {"id": 311}
    for payload in (nameless, EVENTS["sent_a"]):
        process(record_for(aws, ingest_event(payload)))

    [campaign] = domain_by_sk(aws)["CAMPAIGN"]
    assert (campaign["campaignId"], campaign["name"]) == ({"S": "311"}, {"S": "Q4 SDR hiring"})
    [opens] = domain_by_sk(aws)["OPENS"]  # the open counted on its message
    assert opens["openCount"] == {"N": "1"}


def test_event_without_lead_records_message_only(aws: Aws) -> None:
    payload = load_fixture("email_sent.json")
    payload["data"]["lead"] = None

    process(record_for(aws, ingest_event(payload)))

    domain = domain_by_sk(aws)
    assert len(domain["MESSAGE"]) == 1
    assert "LEAD" not in domain and "FOLLOWUP#NO_RESPONSE" not in domain


def test_record_not_claimable_is_skipped_without_failure(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = ingest_event(email_sent)
    record = record_for(aws, key)
    process(record)
    aws.counter.reset()

    response = process(record)

    assert response == {"batchItemFailures": []}
    assert aws.counter.calls == {"UpdateItem": 1}  # one failed claim, nothing else


def test_transient_domain_failure_goes_to_retry_wait_with_backoff(
    aws: Aws, email_sent: dict[str, Any], monkeypatch: Any
) -> None:
    key = ingest_event(email_sent)
    monkeypatch.setenv("DOMAIN_TABLE", "missing-domain-table")
    processor.handler._dependencies.cache_clear()

    response = process(record_for(aws, key))

    assert response == {"batchItemFailures": []}  # the failure is recorded on the event itself
    event = aws.event_item(key)
    assert event is not None
    assert event["status"]["S"] == "RETRY_WAIT"
    assert event["attempts"]["N"] == "1"
    assert int(event["runAt"]["N"]) == int(event["dueAt"]["N"])
    assert 0 <= int(event["runAt"]["N"]) - int(event["updatedAt"]["N"]) <= 2000
    assert event["errorClass"]["S"] == "RetryableProcessingError"
    assert aws.alerts() == []


def test_poison_event_fails_with_one_safe_alert(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = ingest_event(email_sent)
    replace_normalised(aws.dynamodb, key, '{"provider": "emailbison", "unexpected": "jane@x.example"}')
    record = record_for(aws, key)

    process(record)
    process(record)  # a redelivery must not alert again

    event = aws.event_item(key)
    assert event is not None and event["status"]["S"] == "FAILED"
    alerts = aws.alerts()
    assert len(alerts) == 1
    assert alerts[0]["dedupe_key"] == key
    assert alerts[0]["error_class"] == "PermanentProcessingError"
    assert shlex.split(alerts[0]["inspect_command"]) == ["spillway", "inspect", key]
    assert "@" not in json.dumps(alerts[0])


def test_exhausted_attempts_fail_without_running_the_effect(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = ingest_event(email_sent)
    aws.update_event(key, "SET attempts = maxAttempts")

    process(record_for(aws, key))

    event = aws.event_item(key)
    assert event is not None and event["status"]["S"] == "FAILED"
    assert event["errorClass"]["S"] == "AttemptsExhausted"
    assert aws.domain_items() == []
    assert len(aws.alerts()) == 1


def test_near_deadline_records_are_reported_not_claimed(aws: Aws, email_sent: dict[str, Any]) -> None:
    key = ingest_event(email_sent)
    record = record_for(aws, key)

    response = process(record, context=FakeContext(remaining_ms=5_000))

    assert response == {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    event = aws.event_item(key)
    assert event is not None and event["status"]["S"] == "PENDING"


def test_an_alert_that_cannot_be_published_stays_owed(aws: Aws, email_sent: dict[str, Any], monkeypatch: Any) -> None:
    key = ingest_event(email_sent)
    aws.update_event(key, "SET attempts = maxAttempts")
    monkeypatch.setenv("ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    processor.handler._dependencies.cache_clear()

    response = process(record_for(aws, key))

    # The failure is recorded; the lost alert is the record's failure, and the event still owes it.
    assert response["batchItemFailures"]
    event = aws.event_item(key)
    assert event is not None
    assert event["status"]["S"] == "FAILED"
    assert event["alertPending"]["BOOL"] is True
    assert "dueAt" in event and "sweepShard" in event


def test_failed_event_reaches_slack_as_one_message(aws: Aws, email_sent: dict[str, Any], monkeypatch: Any) -> None:
    """Processor -> SNS -> (queue) -> notifier (its digest, then the flush) -> a local Slack stand-in,
    with the URL from Secrets Manager."""
    import boto3

    import notifier.handler
    from tests.support.digests import QUIET_S, DigestWorld, alert_record
    from tests.support.slack import SlackStandIn

    key = ingest_event(email_sent)
    aws.update_event(key, "SET attempts = maxAttempts")
    process(record_for(aws, key))
    [alert] = aws.alerts()
    digests = DigestWorld(monkeypatch)

    with SlackStandIn() as slack:
        secret_arn = boto3.client("secretsmanager").create_secret(Name="slack", SecretString=slack.url)["ARN"]
        monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", secret_arn)
        notifier.handler._secrets.cache_clear()
        record = alert_record(alert, digests.now_ms, "m-1")
        joined = notifier.handler.lambda_handler({"Records": [record]}, FakeContext())
        digests.advance(QUIET_S + 10)  # no other failure: the digest is due
        result = notifier.handler.lambda_handler({"Records": digests.due_flushes()}, FakeContext())
        [message] = slack.wait_for_messages(1, timeout_s=5)

    assert joined == result == {"batchItemFailures": []}
    assert key in json.dumps(message)
    assert "jane" not in json.dumps(message).lower()
    notifier.handler._secrets.cache_clear()
    digests.close()
