"""The two tables as moto needs them, mirroring the stack (tests/infra checks they match the template).

The benchmarks create them in moto; the tests do too, through ``tests.support.tables``.
"""

from __future__ import annotations

from typing import Any

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
