"""The on-call commands (`spillway events | replay | pause | resume | dlq | status | inspect`) against moto.

DynamoDB, SQS and DynamoDB Streams are moto's; the stack's view (outputs, resources, the functions'
environments, event source mappings) is a small stand-in, since moto's Lambda needs a container runtime.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

import spillway_cli.main as cli_main
from processor import logic as processor_logic
from spillway_cli.target import Target
from spillway_core.errors import PermanentProcessingError
from spillway_core.event_store import EventStore
from spillway_core.lanes import Lane, lane_of
from spillway_core.lifecycle import lifecycle_key, sweep_shard, sweep_shards
from spillway_core.status import SWEEP_INDEX
from tests.support.pipeline import InProcessPipeline
from tests.support.scenario import EVENTS, LEAD_EMAIL
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, create_tables

DEPLOYED_SHARDS = 5  # not cdk.json's 16: replay must use the stack's value
DEPLOYED_RETENTION_DAYS = 3
DEPLOYED_MAX_ATTEMPTS = 6  # a replayed event gets the stack's attempts now, not those it was ingested with
PROCESSOR_DLQ = "processor-dlq"
NOTIFIER_DLQ = "notifier-dlq"


class FakeLambda:
    """The Lambda API calls the CLI makes, over an in-memory stack."""

    def __init__(self, environments: dict[str, dict[str, str]], mappings: dict[str, dict[str, Any]]) -> None:
        self.environments = environments
        self.mappings = mappings

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return {"Environment": {"Variables": self.environments[FunctionName]}}

    def get_event_source_mapping(self, UUID: str) -> dict[str, Any]:
        return dict(self.mappings[UUID])

    def update_event_source_mapping(self, UUID: str, Enabled: bool) -> dict[str, Any]:
        self.mappings[UUID]["State"] = "Enabled" if Enabled else "Disabled"
        return dict(self.mappings[UUID])


class StackTarget(Target):
    def __init__(self, fake_lambda: FakeLambda, outputs: dict[str, str]) -> None:
        super().__init__(stack_name="Spillway-test", region="us-east-1")
        self._fake_lambda = fake_lambda
        self.__dict__["outputs"] = outputs

    def client(self, service: str) -> Any:
        return self._fake_lambda if service == "lambda" else boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]

    @cached_property
    def resources(self) -> list[dict[str, str]]:
        functions = [
            ("IngestFn", "ingest"),
            ("SweeperFn", "sweeper"),
            ("ProcessorFn", "processor"),
            ("BulkProcessorFn", "processor-bulk"),
            ("NotifierFn", "notifier"),
        ]
        rows = [
            {"LogicalResourceId": lid, "PhysicalResourceId": name, "ResourceType": "AWS::Lambda::Function"}
            for lid, name in functions
        ]
        rows += [
            {
                "LogicalResourceId": f"Mapping{uuid}",
                "PhysicalResourceId": uuid,
                "ResourceType": "AWS::Lambda::EventSourceMapping",
            }
            for uuid in self._fake_lambda.mappings
        ]
        return rows


class World:
    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(self.dynamodb)
        sqs = boto3.client("sqs", region_name="us-east-1")
        self.sqs = sqs
        self.processor_dlq = sqs.create_queue(QueueName=PROCESSOR_DLQ)["QueueUrl"]
        self.notifier_dlq = sqs.create_queue(QueueName=NOTIFIER_DLQ)["QueueUrl"]
        self.pipeline = InProcessPipeline(self.dynamodb, workspaces=(12, 13))  # the workspaces the tests write to
        # The operator commands run on the wall clock (replay checks an event's retention left).
        self.pipeline.clock = int(time.time() * 1000)
        self.pipeline.ingest_settings = self.pipeline.ingest_settings.model_copy(
            update={"sweep_shards": DEPLOYED_SHARDS}  # one deployment: the ingest writes where the CLI reads
        )
        stream = self.dynamodb.describe_table(TableName=EVENTS_TABLE_NAME)["Table"]["LatestStreamArn"]
        shared = {"EVENTS_TABLE": EVENTS_TABLE_NAME, "PENDING_GRACE_SECONDS": "300"}
        self.lambda_ = FakeLambda(
            environments={
                "ingest": {
                    **shared,
                    "SWEEP_SHARDS": str(DEPLOYED_SHARDS),
                    "EVENT_RETENTION_DAYS": str(DEPLOYED_RETENTION_DAYS),
                    "MAX_ATTEMPTS": str(DEPLOYED_MAX_ATTEMPTS),
                },
                "sweeper": {**shared, "SWEEP_SHARDS": str(DEPLOYED_SHARDS)},
                "processor": shared,
                "processor-bulk": shared,
                "notifier": {},
            },
            mappings={
                "uuid-interactive": {
                    "UUID": "uuid-interactive",
                    "EventSourceArn": stream,
                    "State": "Enabled",
                    "FunctionArn": "arn:aws:lambda:us-east-1:1:function:processor",
                },
                "uuid-bulk": {
                    "UUID": "uuid-bulk",
                    "EventSourceArn": stream,
                    "State": "Enabled",
                    "FunctionArn": "arn:aws:lambda:us-east-1:1:function:processor-bulk",
                },
                "uuid-notifier": {
                    "UUID": "uuid-notifier",
                    "State": "Enabled",
                    "EventSourceArn": "arn:aws:sqs:us-east-1:1:buffer",
                    "FunctionArn": "arn:aws:lambda:us-east-1:1:function:notifier",
                },
            },
        )
        self.target = StackTarget(
            self.lambda_,
            {
                "EventsTableName": EVENTS_TABLE_NAME,
                "DomainTableName": DOMAIN_TABLE_NAME,
                "ProcessorDlqUrl": self.processor_dlq,
                "NotifierDlqUrl": self.notifier_dlq,
                "AlertsTopicArn": "arn:aws:sns:us-east-1:123456789012:none",
            },
        )
        self.store = EventStore(self.dynamodb, EVENTS_TABLE_NAME)

    def cli(self, *args: str) -> Any:
        result = CliRunner().invoke(cli_main.cli, list(args), catch_exceptions=False)
        return result

    def ingest(self, payload: dict[str, Any]) -> str:
        status, body = self.pipeline.post(payload)
        assert status == 200, body
        return str(body["id"])

    def item(self, key: str) -> dict[str, Any]:
        item = self.store.get(key)
        assert item is not None
        return item


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        built = World()
        monkeypatch.setattr(cli_main, "make_target", lambda *a, **k: built.target)
        yield built


def sent(number: int, workspace: int = 12) -> dict[str, Any]:
    """An EMAIL_SENT for one lead, its own scheduled email id."""
    payload = json.loads(json.dumps(EVENTS["sent_a"]))
    payload["data"]["scheduled_email"]["id"] = 50_000 + number
    payload["event"]["workspace_id"] = workspace
    return payload


def fail_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    def poisoned(*_: Any) -> bool:
        raise PermanentProcessingError("the domain rejected it")

    monkeypatch.setattr(processor_logic, "apply_effect", poisoned)


def test_events_lists_by_status_type_workspace_and_window_newest_first_in_pages(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [world.ingest(sent(n, workspace=12 if n % 2 else 13)) for n in range(7)]
    reply_key = world.ingest(EVENTS["replied"])
    fail_everything(monkeypatch)
    for key in [*keys, reply_key]:
        world.pipeline.process(key)

    first = world.cli("events", "--status", "FAILED", "--type", "EMAIL_SENT", "--limit", "3", "--json")
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    cursor = first.stderr.split("--cursor '", 1)[1].rstrip("'\n") if "--cursor" in first.stderr else None

    assert [r["dedupeKey"] for r in rows] == keys[::-1][:3]  # newest change first
    assert cursor is not None
    rest = world.cli(
        "events", "--status", "FAILED", "--type", "EMAIL_SENT", "--limit", "10", "--json", "--cursor", cursor
    )
    assert [json.loads(line)["dedupeKey"] for line in rest.stdout.splitlines()] == keys[::-1][3:]
    workspace = world.cli("events", "--status", "FAILED", "--workspace", "13", "--json")
    assert {json.loads(line)["dedupeKey"] for line in workspace.stdout.splitlines()} == set(keys[0::2])
    replies = world.cli("events", "--status", "FAILED", "--type", "LEAD_REPLIED", "--json")
    assert [json.loads(line)["dedupeKey"] for line in replies.stdout.splitlines()] == [reply_key]
    window = world.cli("events", "--status", "FAILED", "--until", "2000-01-01T00:00:00Z", "--json")
    assert window.stdout == "" and rows[0]["updatedAt"].endswith("Z")  # ISO times
    assert world.cli("events", "--status", "PENDING", "--json").stdout == ""


def test_events_reads_the_status_index_and_never_scans(world: World) -> None:
    world.ingest(sent(1))
    calls: list[str] = []
    world.dynamodb.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    original = world.target.client
    world.target.client = lambda service: world.dynamodb if service == "dynamodb" else original(service)  # type: ignore[method-assign]

    output = world.cli("events", "--status", "PENDING").output

    assert "EMAIL_SENT" in output and "1 PENDING event(s)" in output
    # The status index, and for events whose processing has not begun, the intake shards past the
    # sweeper's checkpoints and the records found there: reads by key and index, never a scan.
    assert set(calls) == {"Query", "BatchGetItem"}


def _fail_burst(world: World, monkeypatch: pytest.MonkeyPatch, count: int) -> list[str]:
    keys = [world.ingest(sent(n)) for n in range(count)]
    with monkeypatch.context() as patch:
        fail_everything(patch)
        for key in keys:
            assert world.pipeline.process(key) == "failed"
    return keys


def test_dry_run_changes_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = _fail_burst(world, monkeypatch, 4)
    before = {k: world.item(k) for k in keys}

    result = world.cli("replay", "--status", "FAILED", "--dry-run")

    assert result.exit_code == 0
    assert "would replay 4; skipped: none" in result.output
    assert {k: world.item(k) for k in keys} == before


def test_bulk_replay_of_failed_events_ends_succeeded_with_effects_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _fail_burst(world, monkeypatch, 6)
    untouched = world.ingest(sent(99))  # PENDING: not a replay candidate
    assert world.pipeline.domain_state() == {}

    result = world.cli("replay", "--status", "FAILED", "--type", "EMAIL_SENT", "--rate", "1000")
    for key in keys:  # the stream delivers the PENDING images to the processor
        assert world.pipeline.process(key) == "succeeded"

    assert "replayed 6; skipped: none" in result.output
    assert {k: world.item(k)["status"]["S"] for k in keys} == dict.fromkeys(keys, "SUCCEEDED")
    assert world.item(untouched)["status"]["S"] == "PENDING"
    messages = [pk for pk, sk in world.pipeline.domain_state() if sk == "MESSAGE"]
    assert len(messages) == 6  # one message per event, once

    again = world.cli("replay", *keys[:2], "--include-succeeded", "--rate", "1000")
    state_before = world.pipeline.domain_state()
    outcomes = [world.pipeline.process(key) for key in keys[:2]]

    assert "replayed 2" in again.output
    assert outcomes == ["succeeded_already_applied"] * 2
    assert world.pipeline.domain_state() == state_before  # a replayed SUCCEEDED event changes nothing


def test_succeeded_events_are_not_replayed_without_the_flag(world: World) -> None:
    key = world.ingest(sent(1))
    world.pipeline.process(key)

    result = world.cli("replay", key)

    assert result.exit_code == 1
    assert "SUCCEEDED (add --include-succeeded)" in result.output
    assert world.item(key)["status"]["S"] == "SUCCEEDED"
    assert world.cli("replay", "--status", "SUCCEEDED").exit_code == 2  # usage: needs the flag


def test_replay_uses_the_deployed_shards_and_attempts_within_the_events_retention(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _fail_burst(world, monkeypatch, 12)
    expiry = {k: int(world.item(k)["expiresAt"]["N"]) for k in keys}
    expiring, replayed = keys[:2], keys[2:]
    for key in expiring:  # less than a day of its retention left: its payload could go mid-replay
        for pk in (key, lifecycle_key(key)):
            world.dynamodb.update_item(
                TableName=EVENTS_TABLE_NAME,
                Key={"pk": {"S": pk}},
                UpdateExpression="SET expiresAt = :soon",
                ExpressionAttributeValues={":soon": {"N": str(int(time.time()) + 3_600)}},
            )

    result = world.cli("replay", *keys, "--rate", "1000")

    assert "replayed 10; skipped: 2 expires within a day" in result.output
    assert {world.item(k)["status"]["S"] for k in expiring} == {"FAILED"}
    shards = {world.item(k)["sweepShard"]["S"] for k in replayed}
    # What the deployed sweeper queries, per lane.
    deployed_shards = {shard for lane in Lane for shard in sweep_shards(lane, DEPLOYED_SHARDS)}
    expected = {sweep_shard(k, lane_of(str(world.item(k)["eventType"]["S"])), DEPLOYED_SHARDS) for k in replayed}
    assert shards == expected and shards <= deployed_shards
    far_future = 2**62
    swept = sum(world.store.count_due(SWEEP_INDEX, shard, far_future) for shard in deployed_shards)
    assert swept == len(replayed)  # the deployed sweeper's shards hold every replayed event
    for key in replayed:
        assert world.item(key)["maxAttempts"] == {"N": str(DEPLOYED_MAX_ATTEMPTS)}
        assert world.item(key)["attempts"] == {"N": "0"}
        # The event record is written once: a replay runs within the retention it got at ingest.
        assert int(world.item(key)["expiresAt"]["N"]) == expiry[key]


def test_pause_and_resume_every_processor_lane_and_status_shows_it(world: World) -> None:
    paused = world.cli("pause")

    assert paused.exit_code == 0
    assert world.lambda_.mappings["uuid-interactive"]["State"] == "Disabled"
    assert world.lambda_.mappings["uuid-bulk"]["State"] == "Disabled"
    assert world.lambda_.mappings["uuid-notifier"]["State"] == "Enabled"  # not a processor
    key = world.ingest(sent(1))  # ingest keeps accepting
    status = json.loads(world.cli("status", "--json").stdout)
    assert status["paused"] is True and status["byStatus"]["PENDING"] == 1
    assert {p["function"] for p in status["processing"]} == {"processor", "processor-bulk"}

    world.cli("resume", "--function", "processor-bulk")
    assert world.lambda_.mappings["uuid-bulk"]["State"] == "Enabled"
    assert world.lambda_.mappings["uuid-interactive"]["State"] == "Disabled"
    world.cli("resume")
    assert json.loads(world.cli("status", "--json").stdout)["paused"] is False
    assert world.item(key)["status"]["S"] == "PENDING"


def test_status_counts_oldest_pending_and_dlq_depths(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_burst(world, monkeypatch, 3)
    world.ingest(sent(50))
    world.ingest(sent(51))
    world.ingest(EVENTS["replied"])
    world.sqs.send_message(QueueUrl=world.notifier_dlq, MessageBody=json.dumps({"kind": "event_failed"}))

    status = json.loads(world.cli("status", "--json").stdout)

    assert status["byStatus"]["FAILED"] == 3 and status["byStatus"]["PENDING"] == 3
    assert status["byStatus"]["SUCCEEDED"] == 0
    assert status["byLane"]["PENDING"] == {"interactive": 1, "bulk": 2}
    assert status["byLane"]["FAILED"] == {"interactive": 0, "bulk": 3}
    table = world.cli("status").stdout
    assert "PENDING" in table and "3 (interactive 1, bulk 2)" in table
    assert status["dlqDepths"] == {"processor": 0, "notifier": 1}
    assert status["oldestPendingAgeSeconds"] is not None


def test_status_counts_successes_over_its_window_and_the_rest_in_full(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_burst(world, monkeypatch, 2)
    done = world.ingest(sent(60))
    assert world.pipeline.process(done) == "succeeded"
    finished = int(world.item(done)["updatedAt"]["N"])

    def counts(since_ms: int) -> dict[str, int]:
        since = datetime.fromtimestamp(since_ms / 1000, tz=UTC).isoformat()
        return dict(json.loads(world.cli("status", "--json", "--since", since).stdout)["byStatus"])

    assert counts(finished - 1_000)["SUCCEEDED"] == 1
    after = counts(finished + 1_000)
    assert after["SUCCEEDED"] == 0 and after["FAILED"] == 2  # failures are counted whatever their age


class FakeStreams:
    """DynamoDB Streams for one shard (moto does not serve this API): records in write order, paged."""

    class exceptions:  # mirrors the boto3 client's attribute
        class TrimmedDataAccessException(Exception):
            pass

        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, keys: list[str], page: int = 2) -> None:
        self.records: list[dict[str, Any]] = [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(1000 + 10 * n), "Keys": {"pk": {"S": key}}}}
            for n, key in enumerate(keys)
        ]
        self.page = page

    def get_shard_iterator(self, ShardIteratorType: str, SequenceNumber: str, **_: Any) -> dict[str, Any]:
        assert ShardIteratorType == "AT_SEQUENCE_NUMBER"
        position = next(i for i, r in enumerate(self.records) if r["dynamodb"]["SequenceNumber"] == SequenceNumber)
        return {"ShardIterator": str(position)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        position = int(ShardIterator)
        batch = self.records[position : position + min(Limit, self.page)]
        following = position + len(batch)
        return {"Records": batch, "NextShardIterator": str(following) if following < len(self.records) else None}


def test_processor_dlq_maps_a_stream_batch_to_its_events_and_redrives_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _fail_burst(world, monkeypatch, 6)
    streams = FakeStreams(keys)
    original = world.target.client
    monkeypatch.setattr(
        world.target, "client", lambda service: streams if service == "dynamodbstreams" else original(service)
    )
    batch = streams.records[1:5]  # a batch of four new events, between others, over several pages
    batch_keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in batch]
    world.sqs.send_message(
        QueueUrl=world.processor_dlq,
        MessageBody=json.dumps(
            {
                "DDBStreamBatchInfo": {
                    "shardId": "shardId-1",
                    "streamArn": "arn:stream",
                    "batchSize": 4,
                    "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                    "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                }
            }
        ),
    )

    shown = world.cli("dlq", "show", "processor")
    listed = [line.split() for line in shown.output.splitlines() if line.startswith("  ")]
    assert [key for _, key in listed] == batch_keys == keys[1:5]
    assert {status for status, _ in listed} == {"FAILED"}

    redriven = world.cli("dlq", "redrive", "processor", "--rate", "1000")

    assert "replayed 4" in redriven.output and "deleted 1 of 1" in redriven.output
    assert {k: world.item(k)["status"]["S"] for k in keys} == {
        k: ("PENDING" if k in batch_keys else "FAILED") for k in keys
    }
    assert "0 message(s)" in world.cli("dlq", "show", "processor").output


def test_inspect_shows_the_effects_redacted_unless_asked(world: World) -> None:
    key = world.ingest(EVENTS["replied"])
    world.pipeline.process(key)

    redacted = world.cli("inspect", key).output
    shown = world.cli("inspect", key, "--show-pii").output

    view = json.loads(redacted)
    assert view["effects"]["applied"] is True
    assert view["effects"]["message"] is not None and view["effects"]["lead"] is not None
    assert LEAD_EMAIL not in redacted.lower() and "jane" not in redacted.lower()
    assert LEAD_EMAIL in shown.lower()


def test_errors_are_one_line_and_a_non_zero_exit(world: World) -> None:
    result = world.cli("inspect", "no-such-key")

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: no event 'no-such-key' in Spillway-test"]
