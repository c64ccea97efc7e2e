"""Data access for the events table. The only module that speaks DynamoDB for events."""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from spillway_core.errors import DuplicateEvent, EventTooLarge, StoreRejected, StoreUnavailable
from spillway_core.lanes import Lane, probe_key, watermark_key
from spillway_core.status import STATUS_INDEX, EventStatus
from spillway_core.status import EventAttr as A

# DynamoDB items are limited to 400 KB. The raw body is kept verbatim when small, zlib-compressed
# when that fits, and otherwise dropped with a flag (the normalised fields are always kept).
RAW_INLINE_LIMIT = 1024  # small: every later update of the event (claim, outcome) is billed by item size
RAW_COMPRESSED_LIMIT = 300 * 1024
# The item budget at ingest: DynamoDB's 400 KB item limit, less room for what the processor and the
# sweeper add later (lease, error class and message, alert flags, wake count).
ITEM_BUDGET_BYTES = 390 * 1024
# Errors that retrying can never fix: the ingest answers 4xx and logs a bug signal. Everything else
# (throttling, unavailability, a missing table or permission while a deploy settles) is a 503.
PERMANENT_ERROR_CODES = frozenset({"ValidationException", "SerializationException"})


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
    workspace: str | None = None
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
    failed_at_ms: int  # its completedAt: which failure an alert is for (a replay can fail it again)


@dataclass(frozen=True)
class EventSummary:
    """One row of an operator's listing: what the status index holds (no payload, no lead data)."""

    dedupe_key: str
    status: str
    provider: str
    event_type: str
    workspace: str | None
    received_at_ms: int
    updated_at_ms: int
    attempts: int
    error_class: str | None
    expires_at_s: int | None


@dataclass(frozen=True)
class EventFilter:
    status: str
    event_types: tuple[str, ...] = ()
    workspace: str | None = None
    since_ms: int | None = None  # last change at or after
    until_ms: int | None = None  # last change at or before


@dataclass(frozen=True)
class DueEvent:
    dedupe_key: str
    status: str
    due_at_ms: int


def _summary(item: dict[str, Any]) -> EventSummary:
    def text(attr: str) -> str | None:
        return str(item[attr]["S"]) if attr in item else None

    def number(attr: str) -> int | None:
        return int(item[attr]["N"]) if attr in item else None

    return EventSummary(
        dedupe_key=item[A.PK]["S"],
        status=item[A.STATUS]["S"],
        provider=text(A.PROVIDER) or "",
        event_type=text(A.EVENT_TYPE) or "",
        workspace=text(A.WORKSPACE),
        received_at_ms=number(A.RECEIVED_AT) or 0,
        updated_at_ms=number(A.UPDATED_AT) or 0,
        attempts=number(A.ATTEMPTS) or 0,
        error_class=text(A.ERROR_CLASS),
        expires_at_s=number(A.EXPIRES_AT),
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _store_error(exc: ClientError) -> Exception:
    code = _error_code(exc) or "ClientError"
    return StoreRejected(code) if code in PERMANENT_ERROR_CODES else StoreUnavailable(code)


def raw_body_attributes(raw_body: bytes, room_bytes: int = RAW_COMPRESSED_LIMIT) -> dict[str, Any]:
    """The raw body as attributes that take at most ``room_bytes`` (a flag when it cannot fit)."""
    if len(raw_body) <= RAW_INLINE_LIMIT and len(raw_body) + len(A.RAW) <= room_bytes:
        return {A.RAW: {"S": raw_body.decode("utf-8", errors="replace")}}
    compressed = zlib.compress(raw_body, 6)
    if len(compressed) <= RAW_COMPRESSED_LIMIT and len(compressed) + len(A.RAW_ZLIB) <= room_bytes:
        return {A.RAW_ZLIB: {"B": compressed}}
    return {A.RAW_TRIMMED: {"BOOL": True}}


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers counted as their text, an upper bound)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for type_code, content in value.items():
            if type_code == "B":
                size += len(content)
            elif type_code == "BOOL":
                size += 1
            else:
                size += len(str(content).encode())
    return size


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
        }
        if event.workspace:
            item[A.WORKSPACE] = {"S": event.workspace}
        if event.sweep_shard is not None and event.pending_due_at_ms is not None:
            item[A.SWEEP_SHARD] = {"S": event.sweep_shard}
            item[A.DUE_AT] = {"N": str(event.pending_due_at_ms)}
        if event.lane is not None:
            item[A.LANE] = {"S": event.lane}
        # The size budget is checked before the write: an item DynamoDB would refuse is not a 503.
        room = ITEM_BUDGET_BYTES - item_bytes(item) - len(A.RAW_TRIMMED) - 1
        if room < 0:
            raise EventTooLarge(f"the event's normalised fields exceed {ITEM_BUDGET_BYTES} bytes")
        item.update(raw_body_attributes(event.raw_body, room))
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
            raise _store_error(exc) from exc
        except ParamValidationError as exc:
            raise StoreRejected(type(exc).__name__) from exc
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

    def alert_sent(self, dedupe_key: str, failed_at_ms: int) -> bool:
        """The alert of the failure recorded at ``failed_at_ms`` is out. Tied to that failure: a late
        confirmation of an earlier failure (the event was replayed and failed again since) must not
        clear the alert the new failure still owes."""
        response = self._update(
            Key={A.PK: {"S": dedupe_key}},
            ConditionExpression="#pending = :true AND #completed = :failedAt",
            UpdateExpression="REMOVE #pending, #shard, #due",
            ExpressionAttributeNames={
                "#pending": A.ALERT_PENDING,
                "#completed": A.COMPLETED_AT,
                "#shard": A.SWEEP_SHARD,
                "#due": A.DUE_AT,
            },
            ExpressionAttributeValues={":true": {"BOOL": True}, ":failedAt": {"N": str(failed_at_ms)}},
        )
        return response is not None

    def failed_event(self, dedupe_key: str) -> FailedEvent | None:
        """What an alert needs to say about a FAILED event (safe metadata only)."""
        try:
            item = self._ddb.get_item(
                TableName=self._table,
                Key={A.PK: {"S": dedupe_key}},
                ConsistentRead=True,
                ProjectionExpression="#k, #p, #t, #a, #c, #e, #s, #f",
                ExpressionAttributeNames={
                    "#k": A.PK,
                    "#p": A.PROVIDER,
                    "#t": A.EVENT_TYPE,
                    "#a": A.ATTEMPTS,
                    "#c": A.ERROR_CLASS,
                    "#e": A.LAST_ERROR,
                    "#s": A.STATUS,
                    "#f": A.COMPLETED_AT,
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
            failed_at_ms=int(item[A.COMPLETED_AT]["N"]),
        )

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

    def replay(
        self,
        dedupe_key: str,
        now_ms: int,
        sweep_shard: str,
        pending_due_at_ms: int,
        expires_at_s: int | None = None,
        from_statuses: tuple[EventStatus, ...] = (EventStatus.FAILED,),
        max_attempts: int | None = None,
    ) -> bool:
        """FAILED (or, when asked, SUCCEEDED) -> PENDING with fresh attempts, after a fix.

        The effect still applies at most once: the domain's effect marker turns a replayed SUCCEEDED
        event into a no-op. ``expires_at_s`` moves the TTL so the event is not deleted mid-flight
        (the caller chooses it; replay keeps the later of a new retention and the old expiry).
        """
        names = {
            "#status": A.STATUS, "#attempts": A.ATTEMPTS, "#shard": A.SWEEP_SHARD, "#due": A.DUE_AT,
            "#updated": A.UPDATED_AT, "#run": A.RUN_AT, "#pending": A.ALERT_PENDING, "#completed": A.COMPLETED_AT,
        }  # fmt: skip
        values: dict[str, Any] = {
            ":pending": {"S": EventStatus.PENDING.value},
            ":zero": {"N": "0"},
            ":shard": {"S": sweep_shard},
            ":due": {"N": str(pending_due_at_ms)},
            ":now": {"N": str(now_ms)},
        }
        allowed = []
        for index, status in enumerate(from_statuses):
            values[f":from{index}"] = {"S": status.value}
            allowed.append(f"#status = :from{index}")
        sets = "#status = :pending, #attempts = :zero, #shard = :shard, #due = :due, #updated = :now, #run = :now"
        condition = f"({' OR '.join(allowed)})"
        if expires_at_s is not None:
            names["#expires"] = A.EXPIRES_AT
            values[":expires"] = {"N": str(expires_at_s)}
            sets += ", #expires = :expires"
        if max_attempts is not None:  # the attempts the stack gives an event now, not those it had at ingest
            names["#max"] = A.MAX_ATTEMPTS
            values[":max"] = {"N": str(max_attempts)}
            sets += ", #max = :max"
        response = self._update(
            Key={A.PK: {"S": dedupe_key}},
            ConditionExpression=condition,
            UpdateExpression=f"SET {sets} REMOVE #pending, #completed",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return response is not None

    def get(self, dedupe_key: str) -> dict[str, Any] | None:
        """The stored item as DynamoDB returns it (operators' `inspect`)."""
        try:
            item: dict[str, Any] | None = self._ddb.get_item(
                TableName=self._table, Key={A.PK: {"S": dedupe_key}}, ConsistentRead=True
            ).get("Item")
        except ClientError as exc:
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return item

    def _query_status(self, flt: EventFilter, newest_first: bool = True, **kwargs: Any) -> dict[str, Any]:
        names = {"#status": A.STATUS}
        values: dict[str, Any] = {":status": {"S": flt.status}}
        key = "#status = :status"
        if flt.since_ms is not None or flt.until_ms is not None:
            names["#updated"] = A.UPDATED_AT
        if flt.since_ms is not None and flt.until_ms is not None:
            key += " AND #updated BETWEEN :since AND :until"
            values.update({":since": {"N": str(flt.since_ms)}, ":until": {"N": str(flt.until_ms)}})
        elif flt.since_ms is not None:
            key += " AND #updated >= :since"
            values[":since"] = {"N": str(flt.since_ms)}
        elif flt.until_ms is not None:
            key += " AND #updated <= :until"
            values[":until"] = {"N": str(flt.until_ms)}
        filters = []
        if flt.event_types or "ProjectionExpression" in kwargs:  # projections name the type only
            names["#type"] = A.EVENT_TYPE
        if flt.event_types:
            placeholders = []
            for index, event_type in enumerate(flt.event_types):
                values[f":type{index}"] = {"S": event_type}
                placeholders.append(f":type{index}")
            filters.append(f"#type IN ({', '.join(placeholders)})")
        if flt.workspace is not None:
            names["#ws"] = A.WORKSPACE
            values[":ws"] = {"S": flt.workspace}
            filters.append("#ws = :ws")
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        try:
            response: dict[str, Any] = self._ddb.query(
                TableName=self._table,
                IndexName=STATUS_INDEX,
                KeyConditionExpression=key,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ScanIndexForward=not newest_first,
                **kwargs,
            )
        except ClientError as exc:
            raise StoreUnavailable(_error_code(exc) or "ClientError") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return response

    def list_events(
        self, flt: EventFilter, limit: int, cursor: dict[str, Any] | None = None
    ) -> tuple[list[EventSummary], dict[str, Any] | None]:
        """Up to ``limit`` events matching ``flt``, newest change first, and the cursor of the next page
        (None at the end). Reads only the status index: one query per page, never a scan."""
        found: list[EventSummary] = []
        while len(found) < limit:
            kwargs: dict[str, Any] = {"Limit": limit - len(found)}
            if cursor:
                kwargs["ExclusiveStartKey"] = cursor
            response = self._query_status(flt, **kwargs)
            found.extend(_summary(item) for item in response.get("Items", []))
            cursor = response.get("LastEvaluatedKey")
            if not cursor:
                break
        return found, cursor

    def count_status(self, flt: EventFilter) -> int:
        """How many events match (a COUNT query on the status index: index reads, no table scan)."""
        total, cursor = 0, None
        while True:
            kwargs: dict[str, Any] = {"Select": "COUNT"}
            if cursor:
                kwargs["ExclusiveStartKey"] = cursor
            response = self._query_status(flt, **kwargs)
            total += int(response["Count"])
            cursor = response.get("LastEvaluatedKey")
            if not cursor:
                return total

    def count_by_type(self, flt: EventFilter) -> Counter[str]:
        """How many events match ``flt``, per event type (one paged query on the status index,
        reading only the type: index reads, no table scan)."""
        counts: Counter[str] = Counter()
        cursor = None
        while True:
            kwargs: dict[str, Any] = {"ProjectionExpression": "#type"}
            if cursor:
                kwargs["ExclusiveStartKey"] = cursor
            response = self._query_status(flt, **kwargs)
            counts.update(str(item.get(A.EVENT_TYPE, {}).get("S", "")) for item in response.get("Items", []))
            cursor = response.get("LastEvaluatedKey")
            if not cursor:
                return counts

    def oldest_update_ms(self, status: str) -> int | None:
        """The earliest last-change time among events in ``status`` (the oldest stuck one)."""
        response = self._query_status(EventFilter(status=status), newest_first=False, Limit=1)
        items = response.get("Items", [])
        return int(items[0][A.UPDATED_AT]["N"]) if items else None

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
