"""The tables in moto: their definitions (``bench.tables``), emptied between examples, read back whole."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.tables import DOMAIN_TABLE, DOMAIN_TABLE_NAME, EVENTS_TABLE, EVENTS_TABLE_NAME, create_tables
from spillway_core.event_store import EventStore, body_attributes, event_views, stored_body

__all__ = ["DOMAIN_TABLE", "DOMAIN_TABLE_NAME", "EVENTS_TABLE", "EVENTS_TABLE_NAME", "create_tables"]


def recreate_tables(dynamodb: Any) -> None:
    """Empty tables for the next example, without restarting moto (much faster than a new mock).

    Tables that exist are emptied in moto's memory: the same empty tables as a delete and a create
    (moto derives its indexes from the items), for a fraction of the time. The property, fault and
    interleaving suites start thousands of examples this way."""
    if empty_moto_tables(dynamodb.meta.region_name):
        return
    existing = set(dynamodb.list_tables()["TableNames"])
    for name in (EVENTS_TABLE_NAME, DOMAIN_TABLE_NAME):
        if name in existing:
            dynamodb.delete_table(TableName=name)
    create_tables(dynamodb)


def moto_backend(region: str = "us-east-1") -> Any:
    """moto's DynamoDB in memory, for the harnesses' look-ups that should cost no API call."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def empty_moto_tables(region: str = "us-east-1") -> bool:
    """Empties both tables (items and stream records) in moto's memory; False if either is missing."""
    backend = moto_backend(region)
    if not {EVENTS_TABLE_NAME, DOMAIN_TABLE_NAME} <= set(backend.tables):
        return False
    for name in (EVENTS_TABLE_NAME, DOMAIN_TABLE_NAME):
        table = backend.get_table(name)
        table.items = defaultdict(dict)
        if (shard := table.stream_shard) is not None:
            shard.items = []
    return True


def scan_events(dynamodb: Any, table: str = EVENTS_TABLE_NAME) -> dict[str, dict[str, Any]]:
    """Every event in the events table as one item, by dedupe key (a consistent scan)."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += page["Items"]
    return event_views(items)


def event_item(dynamodb: Any, key: str, table: str = EVENTS_TABLE_NAME) -> dict[str, Any] | None:
    """One event as one item (consistent reads), or None."""
    return EventStore(dynamodb, table).get(key)


def replace_normalised(dynamodb: Any, key: str, document: str, table: str = EVENTS_TABLE_NAME) -> str:
    """Replaces the normalised event stored in ``key``'s event record (its raw body kept), as a test
    that plants a poison event or its fix needs; returns the one it replaced."""
    record = dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]
    stored = stored_body(record)
    assert stored is not None
    normalised, raw = stored
    assert raw is not None, "a record whose raw body was kept"
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": key}},
        UpdateExpression="SET bodyZlib = :body",
        ExpressionAttributeValues={":body": body_attributes(document, raw)["bodyZlib"]},
    )
    return normalised
