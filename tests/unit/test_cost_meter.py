"""The size rules the cost model bills by, and the meter on real writes against moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench.ddb_meter import (
    DynamoMeter,
    IndexDefinition,
    item_size,
    number_size,
    read_units,
    write_units,
    write_units_for_change,
)
from bench.ddb_meter import index_write_units as index_writes

KB = 1024


def s(text: str) -> dict[str, str]:
    return {"S": text}


def test_item_size_counts_names_and_values_by_type() -> None:
    assert item_size({"pk": s("abc")}) == 2 + 3
    assert item_size({"name": s("Zoë")}) == 4 + 4  # UTF-8 bytes, not characters
    assert item_size({"b": {"B": b"\x00" * 10}}) == 1 + 10
    assert item_size({"ok": {"BOOL": True}, "no": {"NULL": True}}) == (2 + 1) + (2 + 1)
    # A list: 3 bytes + 1 per element + the elements; a map also counts its members' names.
    assert item_size({"l": {"L": [s("ab"), s("c")]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"M": {"k": s("v")}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"ss": {"SS": ["a", "bc"]}}) == 2 + 3
    assert item_size(None) == 0


@pytest.mark.parametrize(
    ("number", "size"), [("0", 2), ("7", 2), ("12", 2), ("123", 3), ("12345", 4), ("100", 2), ("-12", 3), ("1.5", 2)]
)
def test_numbers_take_about_one_byte_per_two_significant_digits_plus_one(number: str, size: int) -> None:
    assert number_size(number) == size


def test_writes_are_billed_per_started_kilobyte_of_the_larger_image_and_at_least_one_unit() -> None:
    small, big = {"pk": s("x" * 100)}, {"pk": s("x" * (KB + 1))}
    assert write_units(0) == 1 and write_units(KB) == 1 and write_units(KB + 1) == 2
    assert write_units_for_change(None, small, succeeded=True) == 1
    assert write_units_for_change(big, small, succeeded=True) == 2  # shrinking pays for the old size
    assert write_units_for_change(small, big, succeeded=True) == 2
    # A failed conditional write still consumes capacity: the size of the item that is there.
    assert write_units_for_change(big, {"pk": s("y")}, succeeded=False) == 2
    assert write_units_for_change(None, big, succeeded=False) == 1


def test_reads_are_billed_per_4_kb_by_consistency() -> None:
    assert read_units(100) == 1 and read_units(4 * KB + 1) == 2
    assert read_units(100, "eventual") == 0.5
    assert read_units(5 * KB, "transactional") == 4


SWEEP = IndexDefinition("sweep", key=("shard", "dueAt"), projection="INCLUDE", include=("status",))
TABLE_KEY = ("pk",)


def event(**attrs: Any) -> dict[str, Any]:
    item = {"pk": s("e1"), "body": s("x" * 2000)}
    item |= {k: {"N": str(v)} if isinstance(v, int) else s(v) for k, v in attrs.items()}
    return item


def test_index_writes_follow_the_index_key_and_its_projection() -> None:
    out, due, due_later = event(), event(shard="01", dueAt=5), event(shard="01", dueAt=9)
    assert index_writes(SWEEP, TABLE_KEY, None, out) == (0, 0)  # sparse: not in the index
    assert index_writes(SWEEP, TABLE_KEY, out, due) == (1, 1)  # enters
    assert index_writes(SWEEP, TABLE_KEY, due, out) == (1, 1)  # leaves
    assert index_writes(SWEEP, TABLE_KEY, due, due_later) == (2, 2)  # key change: delete + put
    projected = event(shard="01", dueAt=5, status="RUNNING")
    assert index_writes(SWEEP, TABLE_KEY, projected, projected | {"status": s("PENDING")}) == (1, 1)
    assert index_writes(SWEEP, TABLE_KEY, due, due | {"body": s("other")}) == (0, 0)  # not projected
    # The index entry is the projection, not the item: a 2 KB body does not make it 2 units.
    everything = IndexDefinition("all", key=("shard", "dueAt"), projection="ALL")
    assert index_writes(everything, TABLE_KEY, out, due) == (1, 2)


# --- the meter on real calls ---------------------------------------------------------------------------


@pytest.fixture
def metered() -> Iterator[tuple[Any, DynamoMeter]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        side = boto3.client("dynamodb", region_name="us-east-1")
        side.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "shard", "AttributeType": "S"},
                {"AttributeName": "dueAt", "AttributeType": "N"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "sweep",
                    "KeySchema": [
                        {"AttributeName": "shard", "KeyType": "HASH"},
                        {"AttributeName": "dueAt", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
                }
            ],
        )
        yield client, DynamoMeter(client.meta.events, side)


def test_the_meter_bills_a_real_put_update_and_failed_conditional_put(metered: tuple[Any, DynamoMeter]) -> None:
    client, meter = metered
    with meter.measure() as put:
        client.put_item(TableName="t", Item=event(shard="01", dueAt=5))  # 2 KB item, enters the index
    assert (put.table_wru, put.index_writes, put.index_wru, put.wru) == (2, 1, 1, 3)
    assert put.calls == {"PutItem": 1} and put.reported_capacity > 0  # moto answered ConsumedCapacity

    with meter.measure() as update:  # moves the index key: the index deletes and puts the entry
        client.update_item(
            TableName="t",
            Key={"pk": s("e1")},
            UpdateExpression="SET dueAt = :d",
            ExpressionAttributeValues={":d": {"N": "9"}},
        )
    assert (update.table_wru, update.index_writes, update.wru) == (2, 2, 4)

    with meter.measure() as duplicate, pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName="t", Item=event(), ConditionExpression="attribute_not_exists(pk)")
    assert (duplicate.wru, duplicate.failed_writes, duplicate.index_writes) == (2, 1, 0)

    with meter.measure() as read:
        client.get_item(TableName="t", Key={"pk": s("e1")}, ConsistentRead=True)
        client.get_item(TableName="t", Key={"pk": s("missing")})
    assert read.rru == 1 + 0.5 and read.wru == 0


def test_a_transaction_costs_twice_its_writes_and_a_cancelled_one_still_pays(metered: tuple[Any, DynamoMeter]) -> None:
    client, meter = metered
    small = {"pk": s("a"), "v": s("x" * 1500)}  # 2 units as a plain write
    with meter.measure() as plain:
        client.put_item(TableName="t", Item=small)
    with meter.measure() as transaction:
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": small | {"pk": s("b")}}}])
    assert (plain.wru, transaction.wru) == (2, 4)

    with meter.measure() as cancelled, pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": small, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": "t", "Item": {"pk": s("c")}}},
            ]
        )
    assert (cancelled.wru, cancelled.failed_writes) == (2 * 2 + 2 * 1, 2)
    assert client.get_item(TableName="t", Key={"pk": s("c")}).get("Item") is None


def test_nothing_is_billed_outside_a_measurement_and_the_side_channel_is_free(metered: tuple[Any, DynamoMeter]) -> None:
    client, meter = metered
    client.put_item(TableName="t", Item={"pk": s("unbilled")})
    with meter.measure() as bill:
        client.put_item(TableName="t", Item={"pk": s("billed")})
    assert bill.calls == {"PutItem": 1} and bill.wru == 1 and bill.rru == 0


def test_a_server_error_is_counted_as_a_call_and_billed_nothing(metered: tuple[Any, DynamoMeter]) -> None:
    # The cost model injects a DynamoDB 5xx before the call is sent; such a call wrote nothing.
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    client, meter = metered

    def server_error(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://dynamodb", 500, HTTPHeaders(), None), {"Error": {"Code": "InternalServerError"}}

    client.meta.events.register("before-call.dynamodb.PutItem", server_error)
    with meter.measure() as bill, pytest.raises(client.exceptions.InternalServerError):
        client.put_item(TableName="t", Item=event())
    assert bill.calls == {"PutItem": 1} and (bill.wru, bill.failed_writes, bill.reported_capacity) == (0, 0, 0)


def test_a_session_meter_bills_the_clients_the_session_creates_later_and_not_the_side() -> None:
    # How the cost model meters the functions' own clients, which their handlers build.
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        side = session.client("dynamodb")  # created before the session is hooked: unmetered
        side.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        meter = DynamoMeter(session.events, side)
        later = session.client("dynamodb")
        with meter.measure() as bill:
            later.put_item(TableName="t", Item={"pk": s("by-a-later-client")})
            side.put_item(TableName="t", Item={"pk": s("by-the-side")})
        assert bill.calls == {"PutItem": 1} and bill.wru == 1
