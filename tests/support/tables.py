"""Table definitions for moto, mirroring the stack (tests/infra checks they match the template)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from spillway_core.event_store import EventStore, event_views
from spillway_core.status import STATUS_INDEX, STATUS_INDEX_ATTRIBUTES, SWEEP_INDEX, EventAttr

EVENTS_TABLE_NAME = "spillway-events-test"
DOMAIN_TABLE_NAME = "spillway-domain-test"

EVENTS_TABLE: dict[str, Any] = {
    "KeySchema": [{"AttributeName": EventAttr.PK, "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": EventAttr.PK, "AttributeType": "S"},
        {"AttributeName": EventAttr.SWEEP_SHARD, "AttributeType": "S"},
        {"AttributeName": EventAttr.DUE_AT, "AttributeType": "N"},
        {"AttributeName": EventAttr.STATUS, "AttributeType": "S"},
        {"AttributeName": EventAttr.UPDATED_AT, "AttributeType": "N"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": SWEEP_INDEX,
            "KeySchema": [
                {"AttributeName": EventAttr.SWEEP_SHARD, "KeyType": "HASH"},
                {"AttributeName": EventAttr.DUE_AT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [EventAttr.STATUS]},
        },
        {
            "IndexName": STATUS_INDEX,
            "KeySchema": [
                {"AttributeName": EventAttr.STATUS, "KeyType": "HASH"},
                {"AttributeName": EventAttr.UPDATED_AT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(STATUS_INDEX_ATTRIBUTES)},
        },
    ],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}

DOMAIN_TABLE: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
}


def create_tables(dynamodb: Any) -> None:
    dynamodb.create_table(TableName=EVENTS_TABLE_NAME, BillingMode="PAY_PER_REQUEST", **EVENTS_TABLE)
    dynamodb.create_table(TableName=DOMAIN_TABLE_NAME, BillingMode="PAY_PER_REQUEST", **DOMAIN_TABLE)


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
