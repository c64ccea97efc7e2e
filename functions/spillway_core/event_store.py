"""Data access for the events table. The only module that speaks DynamoDB for events."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from spillway_core.errors import DuplicateEvent, StoreUnavailable
from spillway_core.lanes import Lane, probe_key, watermark_key
from spillway_core.status import EventAttr as A
from spillway_core.status import EventStatus

# DynamoDB items are limited to 400 KB. The raw body is kept verbatim when small, zlib-compressed
# when that fits, and otherwise dropped with a flag (the normalised fields are always kept).
RAW_INLINE_LIMIT = 1024  # small: every later update of the event (claim, outcome) is billed by item size
RAW_COMPRESSED_LIMIT = 300 * 1024


@dataclass(frozen=True)
class NewEvent:
    dedupe_key: str
    provider: str
    event_type: str
    normalised_json: str
    raw_body: bytes
    received_at_ms: int
    max_attempts: int
    expires_at_s: int
    # Live events carry both (they enter the sweep index); IGNORED records carry neither.
    sweep_shard: str | None
    pending_due_at_ms: int | None
    status: EventStatus = EventStatus.PENDING
    lane: str | None = None  # live events only: the lane whose stream filter passes its records


@dataclass(frozen=True)
class ClaimedEvent:
    dedupe_key: str
    provider: str
    event_type: str
    received_at_ms: int
    normalised_json: str
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class FailedEvent:
    dedupe_key: str
    provider: str
    event_type: str
    attempts: int
    error_class: str
    message: str


@dataclass(frozen=True)
class DueEvent:
    dedupe_key: str
    status: str
    due_at_ms: int


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def raw_body_attributes(raw_body: bytes) -> dict[str, Any]:
    if len(raw_body) <= RAW_INLINE_LIMIT:
        return {A.RAW: {"S": raw_body.decode("utf-8", errors="replace")}}
    compressed = zlib.compress(raw_body, 6)
    if len(compressed) <= RAW_COMPRESSED_LIMIT:
        return {A.RAW_ZLIB: {"B": compressed}}
    return {A.RAW_TRIMMED: {"BOOL": True}}


def decode_raw_body(item: dict[str, Any]) -> bytes | None:
    if A.RAW in item:
        return str(item[A.RAW]["S"]).encode()
    if A.RAW_ZLIB in item:
        return zlib.decompress(item[A.RAW_ZLIB]["B"])
    return None


class EventStore:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self._table = table_name

    def _update(self, **kwargs: Any) -> dict[str, Any] | None:
        """UpdateItem; None when its condition failed, StoreUnavailable on any other error."""
        try:
            response: dict[str, Any] = self._ddb.update_item(TableName=self._table, **kwargs)
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return response

    # --- ingest ---------------------------------------------------------------------------------

    def put_new(self, event: NewEvent) -> None:
        """The ingest's single write: a conditional PutItem that fails on a known dedupe key."""
        item: dict[str, Any] = {
            A.PK: {"S": event.dedupe_key},
            A.PROVIDER: {"S": event.provider},
            A.EVENT_TYPE: {"S": event.event_type},
            A.STATUS: {"S": event.status.value},
            A.RECEIVED_AT: {"N": str(event.received_at_ms)},
            A.UPDATED_AT: {"N": str(event.received_at_ms)},
            A.RUN_AT: {"N": str(event.received_at_ms)},
            A.ATTEMPTS: {"N": "0"},
            A.MAX_ATTEMPTS: {"N": str(event.max_attempts)},
            A.NORMALISED: {"S": event.normalised_json},
            A.EXPIRES_AT: {"N": str(event.expires_at_s)},
            **raw_body_attributes(event.raw_body),
        }
        if event.sweep_shard is not None and event.pending_due_at_ms is not None:
            item[A.SWEEP_SHARD] = {"S": event.sweep_shard}
            item[A.DUE_AT] = {"N": str(event.pending_due_at_ms)}
        if event.lane is not None:
            item[A.LANE] = {"S": event.lane}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": A.PK},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise DuplicateEvent(event.dedupe_key) from exc
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    # --- processor ------------------------------------------------------------------------------

    def claim(self, dedupe_key: str, owner: str, now_ms: int, lease_ms: int) -> ClaimedEvent | None:
        """PENDING -> RUNNING under a lease; attempts are counted here. None if not claimable."""
        lease_expires = now_ms + lease_ms
        response = self._update(
            Key={A.PK: {"S": dedupe_key}},
            ConditionExpression="#status = :pending",
            UpdateExpression=(
                "SET #status = :running, #owner = :owner, #lease = :lease, #due = :lease, #updated = :now "
                "ADD #attempts :one"
            ),
            ExpressionAttributeNames={
                "#status": A.STATUS,
                "#owner": A.LEASE_OWNER,
                "#lease": A.LEASE_EXPIRES_AT,
                "#due": A.DUE_AT,
                "#updated": A.UPDATED_AT,
                "#attempts": A.ATTEMPTS,
            },
            ExpressionAttributeValues={
                ":pending": {"S": EventStatus.PENDING.value},
                ":running": {"S": EventStatus.RUNNING.value},
                ":owner": {"S": owner},
                ":lease": {"N": str(lease_expires)},
                ":now": {"N": str(now_ms)},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
        )
        if response is None:
            return None
        item = response["Attributes"]
        return ClaimedEvent(
            dedupe_key=dedupe_key,
            provider=item[A.PROVIDER]["S"],
            event_type=item[A.EVENT_TYPE]["S"],
            received_at_ms=int(item[A.RECEIVED_AT]["N"]),
            normalised_json=item[A.NORMALISED]["S"],
            attempts=int(item[A.ATTEMPTS]["N"]),
            max_attempts=int(item[A.MAX_ATTEMPTS]["N"]),
        )

    def _finish(
        self,
        dedupe_key: str,
        owner: str,
        now_ms: int,
        status: EventStatus,
        extra_set: dict[str, dict[str, Any]],
        remove_sweep: bool,
    ) -> bool:
        names = {
            "#status": A.STATUS,
            "#owner": A.LEASE_OWNER,
            "#lease": A.LEASE_EXPIRES_AT,
            "#updated": A.UPDATED_AT,
        }
        values: dict[str, Any] = {
            ":running": {"S": EventStatus.RUNNING.value},
            ":new": {"S": status.value},
            ":me": {"S": owner},
            ":now": {"N": str(now_ms)},
        }
        sets = ["#status = :new", "#updated = :now"]
        for index, (attr, value) in enumerate(extra_set.items()):
            names[f"#x{index}"] = attr
            values[f":x{index}"] = value
            sets.append(f"#x{index} = :x{index}")
        removes = ["#owner", "#lease"]
        if remove_sweep:
            # Terminal events leave the sparse sweep index, so it only ever holds live work.
            names.update({"#shard": A.SWEEP_SHARD, "#due": A.DUE_AT})
            removes += ["#shard", "#due"]
        response = self._update(
            Key={A.PK: {"S": dedupe_key}},
            ConditionExpression="#status = :running AND #owner = :me",
            UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return response is not None

    def mark_succeeded(self, dedupe_key: str, owner: str, now_ms: int) -> bool:
        return self._finish(
            dedupe_key, owner, now_ms, EventStatus.SUCCEEDED, {A.COMPLETED_AT: {"N": str(now_ms)}}, True
        )

    def mark_failed(
        self, dedupe_key: str, owner: str, now_ms: int, error_class: str, message: str, alert_due_ms: int
    ) -> bool:
        """FAILED with its alert still owed: the event stays in the sweep index until ``alert_sent``,
        so an alert lost to a crash or an SNS error is published again by the sweeper."""
        extra: dict[str, dict[str, Any]] = {
            A.COMPLETED_AT: {"N": str(now_ms)},
            A.ERROR_CLASS: {"S": error_class},
            A.LAST_ERROR: {"S": message},
            A.ALERT_PENDING: {"BOOL": True},
            A.DUE_AT: {"N": str(alert_due_ms)},
        }
        return self._finish(dedupe_key, owner, now_ms, EventStatus.FAILED, extra, False)

    def alert_sent(self, dedupe_key: str) -> bool:
        response = self._update(
            Key={A.PK: {"S": dedupe_key}},
            ConditionExpression="#pending = :true",
            UpdateExpression="REMOVE #pending, #shard, #due",
            ExpressionAttributeNames={"#pending": A.ALERT_PENDING, "#shard": A.SWEEP_SHARD, "#due": A.DUE_AT},
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )
        return response is not None

    def failed_event(self, dedupe_key: str) -> FailedEvent | None:
        """What an alert needs to say about a FAILED event (safe metadata only)."""
        try:
            item = self._ddb.get_item(
                TableName=self._table,
                Key={A.PK: {"S": dedupe_key}},
                ConsistentRead=True,
                ProjectionExpression="#k, #p, #t, #a, #c, #e, #s",
                ExpressionAttributeNames={
                    "#k": A.PK,
                    "#p": A.PROVIDER,
                    "#t": A.EVENT_TYPE,
                    "#a": A.ATTEMPTS,
                    "#c": A.ERROR_CLASS,
                    "#e": A.LAST_ERROR,
                    "#s": A.STATUS,
                },
            ).get("Item")
        except ClientError as exc:
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        if not item or item[A.STATUS]["S"] != EventStatus.FAILED.value:
            return None
        return FailedEvent(
            dedupe_key=dedupe_key,
            provider=item[A.PROVIDER]["S"],
            event_type=item[A.EVENT_TYPE]["S"],
            attempts=int(item[A.ATTEMPTS]["N"]),
            error_class=item.get(A.ERROR_CLASS, {}).get("S", "Unknown"),
            message=item.get(A.LAST_ERROR, {}).get("S", ""),
        )  # fmt: skip

    def mark_retry(
        self, dedupe_key: str, owner: str, now_ms: int, run_at_ms: int, error_class: str, message: str
    ) -> bool:
        extra = {
            A.RUN_AT: {"N": str(run_at_ms)},
            A.DUE_AT: {"N": str(run_at_ms)},
            A.ERROR_CLASS: {"S": error_class},
            A.LAST_ERROR: {"S": message},
        }
        return self._finish(dedupe_key, owner, now_ms, EventStatus.RETRY_WAIT, extra, False)

    # --- operators -------------------------------------------------------------------------------

    def replay(self, dedupe_key: str, now_ms: int, sweep_shard: str, pending_due_at_ms: int) -> bool:
        """FAILED -> PENDING with fresh attempts (after a fix). Its effect still applies at most once."""
        response = self._update(
            Key={A.PK: {"S": dedupe_key}},
            ConditionExpression="#status = :failed",
            UpdateExpression=(
                "SET #status = :pending, #attempts = :zero, #shard = :shard, #due = :due, #updated = :now, "
                "#run = :now REMOVE #pending, #completed"
            ),
            ExpressionAttributeNames={
                "#status": A.STATUS, "#attempts": A.ATTEMPTS, "#shard": A.SWEEP_SHARD, "#due": A.DUE_AT,
                "#updated": A.UPDATED_AT, "#run": A.RUN_AT, "#pending": A.ALERT_PENDING, "#completed": A.COMPLETED_AT,
            },
            ExpressionAttributeValues={
                ":failed": {"S": EventStatus.FAILED.value},
                ":pending": {"S": EventStatus.PENDING.value},
                ":zero": {"N": "0"},
                ":shard": {"S": sweep_shard},
                ":due": {"N": str(pending_due_at_ms)},
                ":now": {"N": str(now_ms)},
            },
        )  # fmt: skip
        return response is not None

    # --- sweeper --------------------------------------------------------------------------------

    def _query_due(
        self, index_name: str, shard: str, now_ms: int, pending_due_before_ms: int | None, **kwargs: Any
    ) -> dict[str, Any]:
        names = {"#shard": A.SWEEP_SHARD, "#due": A.DUE_AT}
        values: dict[str, Any] = {":shard": {"S": shard}, ":now": {"N": str(now_ms)}}
        if pending_due_before_ms is not None:
            # PENDING events still queued in their lane are held back (see sweeper.logic); the index
            # projects the status, so the filter reads no base-table item.
            kwargs["FilterExpression"] = "#status <> :pending OR #due < :pendingBound"
            names["#status"] = A.STATUS
            values[":pending"] = {"S": EventStatus.PENDING.value}
            values[":pendingBound"] = {"N": str(pending_due_before_ms)}
        try:
            response: dict[str, Any] = self._ddb.query(
                TableName=self._table,
                IndexName=index_name,
                KeyConditionExpression="#shard = :shard AND #due <= :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **kwargs,
            )
        except ClientError as exc:
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return response

    def count_due(self, index_name: str, shard: str, now_ms: int, pending_due_before_ms: int | None = None) -> int:
        return int(self._query_due(index_name, shard, now_ms, pending_due_before_ms, Select="COUNT")["Count"])

    def query_due(
        self, index_name: str, shard: str, now_ms: int, limit: int, pending_due_before_ms: int | None = None
    ) -> list[DueEvent]:
        """Up to ``limit`` due events of one sweep shard, oldest due first."""
        items: list[dict[str, Any]] = []
        start: dict[str, Any] = {}
        while len(items) < limit:
            # A filter applies after Limit, so a page of held events can come back empty: read on.
            response = self._query_due(index_name, shard, now_ms, pending_due_before_ms, Limit=limit, **start)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                break
            start = {"ExclusiveStartKey": response["LastEvaluatedKey"]}
        return [
            DueEvent(
                dedupe_key=item[A.PK]["S"],
                status=item[A.STATUS]["S"],
                due_at_ms=int(item[A.DUE_AT]["N"]),
            )
            for item in items[:limit]
        ]

    # --- lane probes (see spillway_core.lanes) -----------------------------------------------------

    def write_probe(self, lane: Lane, now_ms: int) -> None:
        """The sweeper's probe: its stream record queues behind everything the lane has not read yet."""
        self._update(
            Key={A.PK: {"S": probe_key(lane)}},
            UpdateExpression="SET #lane = :lane, #probe = :now",
            ExpressionAttributeNames={"#lane": A.LANE, "#probe": A.PROBE_AT},
            ExpressionAttributeValues={":lane": {"S": lane.value}, ":now": {"N": str(now_ms)}},
        )

    def advance_watermark(self, lane: Lane, probe_at_ms: int) -> bool:
        """The lane's processor reached a probe: it has read every record written before probe_at_ms.
        Only moves forward, so a redelivered old probe changes nothing."""
        response = self._update(
            Key={A.PK: {"S": watermark_key(lane)}},
            ConditionExpression="attribute_not_exists(#wm) OR #wm < :probe",
            UpdateExpression="SET #wm = :probe",
            ExpressionAttributeNames={"#wm": A.WATERMARK},
            ExpressionAttributeValues={":probe": {"N": str(probe_at_ms)}},
        )
        return response is not None

    def watermark(self, lane: Lane) -> int:
        """The lane's watermark (epoch ms); 0 while the lane has processed no probe yet."""
        try:
            item = self._ddb.get_item(
                TableName=self._table, Key={A.PK: {"S": watermark_key(lane)}}, ConsistentRead=True
            ).get("Item")
        except ClientError as exc:
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return int(item[A.WATERMARK]["N"]) if item and A.WATERMARK in item else 0

    def wake(self, due: DueEvent, now_ms: int, next_due_ms: int) -> bool:
        """Put a live event back to PENDING with a fresh stream record; safe if sweeps overlap.

        The condition on the status and due time we saw makes a second sweeper (or a processor that
        got there first) win cleanly: our update then simply does not apply.
        """
        response = self._update(
            Key={A.PK: {"S": due.dedupe_key}},
            ConditionExpression="#status = :seen AND #due = :seenDue",
            UpdateExpression=(
                "SET #status = :pending, #due = :nextDue, #updated = :now ADD #wakes :one REMOVE #owner, #lease"
            ),
            ExpressionAttributeNames={
                "#status": A.STATUS,
                "#due": A.DUE_AT,
                "#updated": A.UPDATED_AT,
                "#wakes": A.WAKES,
                "#owner": A.LEASE_OWNER,
                "#lease": A.LEASE_EXPIRES_AT,
            },
            ExpressionAttributeValues={
                ":seen": {"S": due.status},
                ":seenDue": {"N": str(due.due_at_ms)},
                ":pending": {"S": EventStatus.PENDING.value},
                ":nextDue": {"N": str(next_due_ms)},
                ":now": {"N": str(now_ms)},
                ":one": {"N": "1"},
            },
        )
        return response is not None
