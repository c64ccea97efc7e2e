"""In-process integration tests against moto: real boto3 clients, real table definitions."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from spillway_cli.tokens import SAMPLE_WORKSPACE, binding, bindings_json
from spillway_core.event_store import EventStore
from spillway_core.lifecycle import lifecycle_key
from tests.support.environment import STACK
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, create_tables, event_item, recreate_tables

# Written once, by the ingest, into the event record (spillway_core.event_store).
RECORD_ATTRIBUTES = frozenset({"bodyZlib", "rawTrimmed", "normalised", "raw", "rawZlib"})

TOKEN = "integration-token-0123456789abcdef"


@dataclass
class CallCounter:
    """Counts AWS API operations through botocore's event hooks (one per logical call)."""

    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


@dataclass
class Aws:
    dynamodb: Any
    sns: Any
    sqs: Any
    alerts_topic_arn: str
    alerts_queue_url: str
    counter: CallCounter

    def event_item(self, key: str) -> dict[str, Any] | None:
        """The event as one item (its record with its lifecycle item over it), or None."""
        return event_item(self.dynamodb, key)

    def update_event(self, key: str, expression: str, **values: str) -> None:
        """Puts an event into a state a test needs (crash leftovers, corrupt payloads...). ``expression``
        is one SET of assignments: those of the event record's attributes go to the record (as if it
        had been written so), the others to the lifecycle item."""
        assert expression.startswith("SET "), expression
        by_item: dict[str, list[str]] = {}
        for assignment in expression.removeprefix("SET ").split(", "):
            target = assignment.split(" = ")[0].strip()
            pk = key if target in RECORD_ATTRIBUTES else lifecycle_key(key)
            by_item.setdefault(pk, []).append(assignment)
        for pk, assignments in by_item.items():
            if pk != key:
                self._begin(key)
            update = "SET " + ", ".join(assignments)
            used = {name: value for name, value in values.items() if f":{name}" in update}
            self.dynamodb.update_item(
                TableName=EVENTS_TABLE_NAME,
                Key={"pk": {"S": pk}},
                UpdateExpression=update,
                **({"ExpressionAttributeValues": {f":{k}": {"S": v} for k, v in used.items()}} if used else {}),
                **({"ExpressionAttributeNames": {"#status": "status"}} if "#status" in update else {}),
            )

    def _begin(self, key: str) -> None:
        """The event's lifecycle item, as PENDING, if its processing has not begun (as the sweeper
        creates it for a record whose stream record was lost)."""
        store = EventStore(self.dynamodb, EVENTS_TABLE_NAME)
        record = store.event_record(key)
        if record is not None:
            store.create_pending(record, record.received_at_ms, record.received_at_ms)

    def domain_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=DOMAIN_TABLE_NAME, ConsistentRead=True)["Items"]

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
    """One moto for a module's tests (tests that need fresh tables take ``dynamodb``)."""
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def dynamodb(moto_dynamodb: Any) -> Any:
    """The module's moto client over empty tables."""
    recreate_tables(moto_dynamodb)
    return moto_dynamodb


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_tables(dynamodb)
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-capture")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        for name, value in {
            **STACK,  # what the stack sets from cdk.json (the functions have no defaults for it)
            "EVENTS_TABLE": EVENTS_TABLE_NAME,
            "DOMAIN_TABLE": DOMAIN_TABLE_NAME,
            "ALERTS_TOPIC_ARN": topic_arn,
            "INGEST_TOKEN_BINDINGS": bindings_json(
                {hashlib.sha256(TOKEN.encode()).hexdigest(): binding("emailbison", [SAMPLE_WORKSPACE])}
            ),
        }.items():
            monkeypatch.setenv(name, value)
        counter = CallCounter()
        # Clients copy the session's event hooks when they are created, so every client the
        # handlers build from here on reports its calls.
        boto3._get_default_session().events.register("before-call.*.*", counter)
        _clear_handler_caches()
        yield Aws(dynamodb, sns, sqs, topic_arn, queue_url, counter)
        _clear_handler_caches()


def _clear_handler_caches() -> None:
    import ingest.handler
    import processor.handler

    ingest.handler._dependencies.cache_clear()
    processor.handler._dependencies.cache_clear()
