"""`spillway inspect` and `spillway replay`: one stored event, for a human."""

from __future__ import annotations

import json
import time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ingest.logic import sweep_shard
from spillway_cli.target import Target, stack_config
from spillway_core.event_store import EventStore, decode_raw_body
from spillway_core.status import EventAttr as A

# Normalised fields that identify a person or carry message content: redacted unless --show-pii.
PII_FIELDS = frozenset({
    "lead_email", "lead_first_name", "lead_last_name", "sender_email", "sender_name",
    "reply_from_email", "subject", "reply_subject",
})  # fmt: skip
REDACTED = "<redacted: --show-pii>"


def redact(normalised: dict[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if k in PII_FIELDS and v not in (None, "") else v) for k, v in normalised.items()}


def inspect_event(
    target: Target, dedupe_key: str, show_raw: bool = False, show_pii: bool = False
) -> dict[str, Any] | None:
    response = target.client("dynamodb").get_item(
        TableName=target.events_table, Key={A.PK: {"S": dedupe_key}}, ConsistentRead=True
    )
    item = response.get("Item")
    if not item:
        return None
    raw = decode_raw_body(item)
    deserializer = TypeDeserializer()
    view = {k: deserializer.deserialize(v) for k, v in item.items() if k not in {A.RAW, A.RAW_ZLIB}}
    normalised = json.loads(view[A.NORMALISED])
    view[A.NORMALISED] = normalised if show_pii else redact(normalised)
    view["rawBytes"] = len(raw) if raw is not None else None
    if show_raw and raw is not None:
        # The raw payload is the provider's whole message (bodies, addresses): only on request.
        view["raw"] = json.loads(raw) if show_pii else REDACTED
    return view


def replay_event(target: Target, dedupe_key: str) -> bool:
    config = stack_config()
    now_ms = int(time.time() * 1000)
    store = EventStore(target.client("dynamodb"), target.events_table)
    shard = sweep_shard(dedupe_key, config.sweep_shards)
    return store.replay(dedupe_key, now_ms, shard, now_ms + config.pending_grace_seconds * 1000)
