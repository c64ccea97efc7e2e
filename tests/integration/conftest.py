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
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, create_tables

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
        return self.dynamodb.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": key}}, ConsistentRead=True).get(
            "Item"
        )

    def update_event(self, key: str, expression: str, **values: str) -> None:
        """Puts an event into a state a test needs (crash leftovers, corrupt payloads...)."""
        self.dynamodb.update_item(
            TableName=EVENTS_TABLE_NAME,
            Key={"pk": {"S": key}},
            UpdateExpression=expression,
            **({"ExpressionAttributeValues": {f":{k}": {"S": v} for k, v in values.items()}} if values else {}),
            **({"ExpressionAttributeNames": {"#status": "status"}} if "#status" in expression else {}),
        )

    def domain_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=DOMAIN_TABLE_NAME, ConsistentRead=True)["Items"]

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


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
