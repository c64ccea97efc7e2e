"""Issue 12's layout rule, on the writes the code really makes: after the ingest's put, no write pays
for the payload. Every lifecycle write (claim, retry, wake, outcome, replay, failure, alert) costs the
same for a reply of a few hundred bytes and one of more than 100 KB, billed by the meter from the
items as they are before and after each call (bench/ddb_meter.py), not from constants."""

from __future__ import annotations

import base64
import random
from collections import Counter
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.ddb_meter import DynamoMeter, item_size
from processor.logic import process_event
from spillway_core.alerts import AlertPublisher
from spillway_core.event_store import EventRecord, EventStore
from spillway_core.lanes import Lane
from spillway_core.lifecycle import lifecycle_key, sweep_shard
from spillway_core.settings import SweeperSettings
from spillway_core.status import EventStatus
from sweeper.logic import sweep
from tests.support.environment import stack_with
from tests.support.pipeline import InProcessPipeline, processor_deps
from tests.support.scenario import EVENTS
from tests.support.tables import EVENTS_TABLE_NAME, create_tables

KB = 1024


class FailingCalls:
    """The processor's DynamoDB client, failing the named operations while they are listed."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failing: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name in self.failing:

            def fail(**_: Any) -> Any:
                raise ClientError({"Error": {"Code": "InternalServerError"}}, name)

            return fail
        return getattr(self._client, name)


class _Alerts(AlertPublisher):
    def __init__(self) -> None:
        self.sent = 0

    def publish(self, alert: Any) -> None:
        self.sent += 1


def reply_with_body(body_bytes: int) -> dict[str, Any]:
    """The scenario's reply, its html body padded with text that compresses no better than real mail."""
    document: dict[str, Any] = {**EVENTS["replied"], "data": dict(EVENTS["replied"]["data"])}
    filler = base64.b64encode(random.Random(7).randbytes(body_bytes * 3 // 4)).decode()
    document["data"]["reply"] = {**document["data"]["reply"], "html_body": f"<p>{filler}</p>"}
    return document


def lifecycle_writes(body_bytes: int) -> tuple[int, list[tuple[str, str, float]], Counter[str]]:
    """The event record's size, then every events-table write from the claim on: a failed attempt, the
    sweeper's wake, success, a replay, and a replay that fails and alerts."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        side = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(side)
        meter = DynamoMeter(client.meta.events, side)
        pipeline = InProcessPipeline(client)
        flaky = FailingCalls(client)
        alerts = _Alerts()
        pipeline.deps = processor_deps(flaky, alerts, pipeline.tick, seed=0)
        status, body = pipeline.post(reply_with_body(body_bytes))
        assert status == 200, body
        key = body["id"]
        record_item = side.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": key}})["Item"]
        store = EventStore(client, EVENTS_TABLE_NAME)
        settings = SweeperSettings.from_env(
            stack_with({"EVENTS_TABLE": EVENTS_TABLE_NAME, "ALERTS_TOPIC_ARN": "arn:x"})
        )
        outcomes: Counter[str] = Counter()

        def lifecycle() -> dict[str, Any]:
            item: dict[str, Any] = side.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": lifecycle_key(key)}})[
                "Item"
            ]
            return item

        with meter.measure() as bill:
            flaky.failing = {"transact_write_items"}
            # The stream record of the new event carries its record: no read.
            outcomes[process_event(key, "first", pipeline.deps, EventRecord.from_item(record_item))] += 1
            flaky.failing = set()
            due = int(lifecycle()["dueAt"]["N"])
            for lane in Lane:
                store.advance_watermark(lane, due)
            report = sweep(store, alerts, settings, due)
            assert report.woken == Counter({EventStatus.RETRY_WAIT.value: 1}), report
            outcomes[pipeline.process(key, "second")] += 1
            now = pipeline.tick()
            shard = sweep_shard(key, Lane.INTERACTIVE, settings.sweep_shards)
            assert store.replay(key, now, shard, now + 300_000, from_statuses=(EventStatus.SUCCEEDED,))
            outcomes[pipeline.process(key, "third")] += 1
            now = pipeline.tick()
            assert store.replay(key, now, shard, now + 300_000, (EventStatus.SUCCEEDED,), max_attempts=1)
            flaky.failing = {"batch_get_item"}
            outcomes[pipeline.process(key, "fourth")] += 1
        assert alerts.sent == 1
        writes = [
            (str(w["operation"]), str(w["pk"]), float(w["table_wru"] + w["index_wru"]))
            for w in bill.writes
            if w["table"] == EVENTS_TABLE_NAME
        ]
        return item_size(record_item), writes, outcomes


def test_no_write_after_the_ingest_pays_for_the_payload() -> None:
    small_record, small, small_outcomes = lifecycle_writes(200)
    big_record, big, big_outcomes = lifecycle_writes(140 * KB)

    assert small_record < 2 * KB and big_record > 100 * KB  # the stored record really is that large
    expected = Counter({"retry": 1, "succeeded": 1, "succeeded_already_applied": 1, "failed": 1})
    assert small_outcomes == big_outcomes == expected
    # The same writes, each costing the same: a lifecycle item of a few hundred bytes is one unit.
    assert [(op, units) for op, _, units in big] == [(op, units) for op, _, units in small]
    assert all(units_big <= units_small for (_, _, units_big), (_, _, units_small) in zip(big, small, strict=True))
    key = small[0][1].removeprefix("STATE#")
    assert not [w for w in small + big if w[1] == key], "the event record was written again"
    ops = Counter(op for op, _, _ in big)
    assert ops["UpdateItem"] >= 10  # 4 claims, 4 outcomes, a wake, 2 replays, the alert (and probes)
    # At most a table unit and a key change in both indexes (each a delete and a put).
    assert max(units for _, _, units in big) <= 5
