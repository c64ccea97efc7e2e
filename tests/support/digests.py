"""The notifier's digest table and queue in moto, and a clock the test plays: the notifier's time is
``now_ms`` (moved by ``advance``), and flush messages are sent without their delay (the delay each asked
for is recorded), so a test delivers them when it chooses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import pytest
from moto import mock_aws

DIGEST_TABLE_NAME = "spillway-alert-digests"
QUIET_S = 60
MAX_S = 600


def create_digest_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=DIGEST_TABLE_NAME,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class DigestWorld:
    """Call inside ``mock_aws``: the table, the notifier's queue and its environment."""

    monkeypatch: pytest.MonkeyPatch
    secret_arn: str = ""  # the Slack webhook secret, when notifier_aws made one
    delays: list[int] = field(default_factory=list)  # what each flush asked for
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def __post_init__(self) -> None:
        import notifier.handler

        self.sqs = boto3.client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName="alerts-buffer")["QueueUrl"]
        create_digest_table(boto3.client("dynamodb"))
        self.monkeypatch.setenv("DIGEST_TABLE", DIGEST_TABLE_NAME)
        self.monkeypatch.setenv("ALERT_QUEUE_URL", self.queue_url)
        self.monkeypatch.setenv("ALERT_DIGEST_QUIET_SECONDS", str(QUIET_S))
        self.monkeypatch.setenv("ALERT_DIGEST_MAX_SECONDS", str(MAX_S))
        boto3._get_default_session().events.register("before-parameter-build.sqs.SendMessage", self._no_delay)
        self.monkeypatch.setattr(notifier.handler, "_now_ms", lambda: self.now_ms)
        notifier.handler._digests.cache_clear()

    def set_slack(self, url: str) -> None:
        boto3.client("secretsmanager").put_secret_value(SecretId=self.secret_arn, SecretString=url)

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)

    def _no_delay(self, params: dict[str, Any], **_: Any) -> None:
        self.delays.append(int(params.get("DelaySeconds", 0)))
        params["DelaySeconds"] = 0

    def due_flushes(self) -> list[dict[str, Any]]:
        """The flush messages on the queue, as the notifier's mapping would deliver them (then deleted)."""
        records: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                records.append({"messageId": message["MessageId"], "body": message["Body"]})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        assert all(json.loads(r["body"])["kind"] == "digest_due" for r in records)
        return records

    def close(self) -> None:
        import notifier.handler

        boto3._get_default_session().events.unregister("before-parameter-build.sqs.SendMessage", self._no_delay)
        notifier.handler._digests.cache_clear()


W = TypeVar("W", bound=DigestWorld)


@contextmanager
def notifier_aws(monkeypatch: pytest.MonkeyPatch, world_type: type[W]) -> Iterator[W]:
    """moto with the notifier's Slack secret (the deploy's placeholder; ``set_slack`` changes it) and its digests."""
    import notifier.handler

    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="slack", SecretString="not-configured")["ARN"]
        monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
        # A warm container reads the secret again after its max age; 0 here plays "later".
        monkeypatch.setattr(notifier.handler, "SECRET_MAX_AGE_SECONDS", 0)
        notifier.handler._secrets.cache_clear()
        world = world_type(monkeypatch, secret_arn=arn)
        try:
            yield world
        finally:
            world.close()
            notifier.handler._secrets.cache_clear()


def alert_record(alert: dict[str, Any], queued_at_ms: int, message_id: str) -> dict[str, Any]:
    """An alerts-queue record as the mapping hands it to the notifier."""
    return {"messageId": message_id, "body": json.dumps(alert), "attributes": {"SentTimestamp": str(queued_at_ms)}}
