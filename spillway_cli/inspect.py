"""`spillway inspect`: one stored event, decoded for a human."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from spillway_cli.target import Target
from spillway_core.event_store import decode_raw_body
from spillway_core.status import EventAttr as A


def inspect_event(target: Target, dedupe_key: str, show_raw: bool = False) -> dict[str, Any] | None:
    response = target.client("dynamodb").get_item(
        TableName=target.events_table, Key={A.PK: {"S": dedupe_key}}, ConsistentRead=True
    )
    item = response.get("Item")
    if not item:
        return None
    raw = decode_raw_body(item)
    deserializer = TypeDeserializer()
    view = {k: deserializer.deserialize(v) for k, v in item.items() if k not in {A.RAW, A.RAW_ZLIB}}
    view[A.NORMALISED] = json.loads(view[A.NORMALISED])
    view["rawBytes"] = len(raw) if raw is not None else None
    if show_raw and raw is not None:
        view["raw"] = json.loads(raw)
    return view
