"""Data access for the events table. The only module that speaks DynamoDB for events.

An event is two items, so that no write after the ingest's pays for the payload:

- the **event record**, at the dedupe key, written once by the ingest's single conditional put: the
  metadata, and the normalised event with the raw body in one zlib stream (``bodyZlib``). A live
  record carries ``intake`` = PENDING (its INSERT is what the processor's stream filter passes) and
  an entry in an intake shard of the sweep index; an IGNORED record carries ``status`` = IGNORED
  and nothing else to do. It is never updated: DynamoDB bills an update by the larger of the item's
  images, so every claim, outcome, retry, wake or replay of a 40 KB reply would pay for 40 KB.
- the **lifecycle item**, at ``STATE#<dedupe key>`` (``spillway_core.lifecycle``), a few hundred
  bytes whatever the payload: status, lease, attempts, due time, error and alert flags, and the small
  metadata a listing shows. The processor's claim creates it; the sweeper creates it as PENDING for
  an event whose stream record was lost.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from spillway_core.errors import DuplicateEvent, EventTooLarge, StoreRejected, StoreUnavailable
from spillway_core.lanes import Lane, probe_key, watermark_key
from spillway_core.lifecycle import checkpoint_key, dedupe_key_of, intake_shards, lifecycle_key, lifecycle_shard_of
from spillway_core.status import STATUS_INDEX, SWEEP_INDEX, EventStatus
from spillway_core.status import EventAttr as A

# DynamoDB items are limited to 400 KB, and the ingest's put is billed per KB of the record. The
# normalised event and the raw body are compressed as one stream: the normalised fields repeat the
# body's ids, subject and addresses, so together they take 290-570 bytes less than apart (a write unit
# for most EMAIL_SENTs, bench/results/cost.md). A raw body that cannot fit is dropped with a flag; the
# normalised event is always kept.
BODY_COMPRESSED_LIMIT = 300 * 1024
_BODY_SEPARATOR = b"\n"  # the normalised JSON is compact: a newline inside it is escaped
# The event record's budget: DynamoDB's 400 KB item limit, less a margin for attribute overheads.
ITEM_BUDGET_BYTES = 390 * 1024
# Errors that retrying can never fix: the ingest answers 4xx and logs a bug signal. Everything else
# (throttling, unavailability, a missing table or permission while a deploy settles) is a 503.
PERMANENT_ERROR_CODES = frozenset({"ValidationException", "SerializationException"})
# The event record's attributes the processor needs (what a stream image or a read gives it).
_RECORD_ATTRIBUTES = (
    A.PK,
    A.PROVIDER,
    A.EVENT_TYPE,
    A.RECEIVED_AT,
    A.BODY_ZLIB,
    A.NORMALISED,  # records written before bodyZlib
    A.MAX_ATTEMPTS,
    A.EXPIRES_AT,
    A.LANE,
    A.WORKSPACE,
    A.INTAKE,
    A.SWEEP_SHARD,
)
_BATCH_GET_LIMIT = 100
# A lane's checkpoint item holds, per intake shard, the last entry checked: "<shard>/due", "<shard>/pk".
_CHECKPOINT_DUE_SUFFIX = "/due"
_CHECKPOINT_PK_SUFFIX = "/pk"


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
    # Live events carry both (their intake entry in the sweep index); IGNORED records carry neither.
    intake_shard: str | None
    pending_due_at_ms: int | None
    status: EventStatus = EventStatus.PENDING
    workspace: str | None = None
    lane: str | None = None  # live events only: the lane whose stream filter passes its records


@dataclass(frozen=True)
class EventRecord:
    """A live event record: what the processor needs to claim and run it."""

    dedupe_key: str
    provider: str
    event_type: str
    received_at_ms: int
    normalised_json: str
    max_attempts: int
    expires_at_s: int
    lane: str
    lifecycle_shard: str
    workspace: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> EventRecord | None:
        """From the record as stored (a read, or a stream record's new image); None unless live."""
        if item.get(A.INTAKE, {}).get("S") != EventStatus.PENDING.value or A.SWEEP_SHARD not in item:
            return None
        return cls(
            dedupe_key=item[A.PK]["S"],
            provider=item[A.PROVIDER]["S"],
            event_type=item[A.EVENT_TYPE]["S"],
            received_at_ms=int(item[A.RECEIVED_AT]["N"]),
            normalised_json=stored_normalised_json(item),
            max_attempts=int(item[A.MAX_ATTEMPTS]["N"]),
            expires_at_s=int(item[A.EXPIRES_AT]["N"]),
            lane=item[A.LANE]["S"],
            lifecycle_shard=lifecycle_shard_of(item[A.SWEEP_SHARD]["S"]),
            workspace=item[A.WORKSPACE]["S"] if A.WORKSPACE in item else None,
        )


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


@dataclass
class SweepPositions:
    """What the sweeper reads first: each lane's watermark (0 before its first probe) and how far it has
    checked each intake shard."""

    watermarks: dict[Lane, int] = field(default_factory=dict)
    # Per intake shard, the last entry checked (sweep-index order: due time, then key): every entry up
    # to and including it has its lifecycle item. A shard not there has not been checked yet.
    checkpoints: dict[Lane, dict[str, IntakeEntry]] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeEntry:
    """A live event record's entry in its intake shard."""

    dedupe_key: str
    due_at_ms: int


def _summary(item: dict[str, Any]) -> EventSummary:
    def text(attr: str) -> str | None:
        return str(item[attr]["S"]) if attr in item else None

    def number(attr: str) -> int | None:
        return int(item[attr]["N"]) if attr in item else None

    pk = item[A.PK]["S"]
    return EventSummary(
        dedupe_key=dedupe_key_of(pk) or pk,
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


class _ConditionFailed(Exception):
    """A conditional write's condition did not hold; each caller says what that means."""


@contextmanager
def _aws_errors(*, rejections: bool = False) -> Iterator[None]:
    """The one mapping of AWS errors to the store's: a failed condition is _ConditionFailed; with
    ``rejections`` (the ingest's put, which answers 4xx), a request the store will always refuse is
    StoreRejected; anything else is StoreUnavailable (retry later)."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "")) or "ClientError"
        if code == "ConditionalCheckFailedException":
            raise _ConditionFailed(code) from exc
        if rejections and code in PERMANENT_ERROR_CODES:
            raise StoreRejected(code) from exc
        raise StoreUnavailable(code) from exc
    except ParamValidationError as exc:
        raise (StoreRejected if rejections else StoreUnavailable)(type(exc).__name__) from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(type(exc).__name__) from exc


def body_attributes(normalised_json: str, raw_body: bytes, room_bytes: int = BODY_COMPRESSED_LIMIT) -> dict[str, Any]:
    """The normalised event and the raw body as one compressed attribute of at most ``room_bytes``;
    when both cannot fit, the normalised event alone and a flag.

    EventTooLarge when the normalised event would not fit uncompressed: its fields become domain
    items, which DynamoDB limits by their plain size, so an event accepted is one that can succeed."""
    normalised = normalised_json.encode()
    if _BODY_SEPARATOR in normalised:
        raise ValueError("the normalised event's JSON must be compact (it is followed by a newline)")
    if len(A.BODY_ZLIB) + len(normalised) + len(A.RAW_TRIMMED) + 1 > room_bytes:
        raise EventTooLarge(f"the event's normalised fields exceed {ITEM_BUDGET_BYTES} bytes")
    both = zlib.compress(normalised + _BODY_SEPARATOR + raw_body, 6)
    if len(both) <= BODY_COMPRESSED_LIMIT and len(A.BODY_ZLIB) + len(both) <= room_bytes:
        return {A.BODY_ZLIB: {"B": both}}
    return {A.BODY_ZLIB: {"B": zlib.compress(normalised, 6)}, A.RAW_TRIMMED: {"BOOL": True}}


def stored_body(item: dict[str, Any]) -> tuple[str, bytes | None] | None:
    """An event record's normalised event JSON and raw body (None when trimmed), in either layout;
    None when the item holds no body (not a record, or one whose retention ran out)."""
    if A.BODY_ZLIB in item:
        body = zlib.decompress(_binary(item[A.BODY_ZLIB]))
        normalised, separator, raw = body.partition(_BODY_SEPARATOR)
        return normalised.decode(), (raw if separator else None)
    if A.NORMALISED not in item:
        return None
    if A.RAW in item:
        return item[A.NORMALISED]["S"], str(item[A.RAW]["S"]).encode()
    if A.RAW_ZLIB in item:
        return item[A.NORMALISED]["S"], zlib.decompress(_binary(item[A.RAW_ZLIB]))
    return item[A.NORMALISED]["S"], None


def _binary(value: dict[str, Any]) -> bytes:
    """A binary attribute's bytes: botocore gives bytes, and a stream record delivered to Lambda
    (JSON) gives them base64-encoded."""
    content = value["B"]
    return base64.b64decode(content) if isinstance(content, str) else bytes(content)


def stored_normalised_json(item: dict[str, Any]) -> str:
    """An event record's normalised event, as JSON (KeyError if the item has none)."""
    body = stored_body(item)
    if body is None:
        raise KeyError(A.BODY_ZLIB)
    return body[0]


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
    """An event record's raw body as received; None when it was too large to keep (or expired)."""
    body = stored_body(item)
    return body[1] if body else None


def event_view(dedupe_key: str, record: dict[str, Any] | None, lifecycle: dict[str, Any] | None) -> dict[str, Any]:
    """An event as one item: its record with its lifecycle item's attributes over it (once that exists,
    the record's intake entry says nothing more). An event whose processing has not begun shows as
    PENDING."""
    view = dict(record or {})
    if lifecycle is not None:
        for name in (A.INTAKE, A.SWEEP_SHARD, A.DUE_AT):
            view.pop(name, None)
    view.update({name: value for name, value in (lifecycle or {}).items() if name != A.PK})
    view[A.PK] = {"S": dedupe_key}
    if A.STATUS not in view and view.get(A.INTAKE, {}).get("S") == EventStatus.PENDING.value:
        view[A.STATUS] = {"S": EventStatus.PENDING.value}
    return view


def event_views(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every event among events-table ``items`` (a scan, say) as one item, as ``event_view`` makes
    it, by dedupe key. Lane probes, watermarks and checkpoints are not events."""
    records: dict[str, dict[str, Any]] = {}
    lifecycles: dict[str, dict[str, Any]] = {}
    for item in items:
        pk = item[A.PK]["S"]
        key = dedupe_key_of(pk)
        if key is not None:
            lifecycles[key] = item
        elif A.INTAKE in item or A.STATUS in item:
            records[pk] = item
    return {key: event_view(key, records.get(key), lifecycles.get(key)) for key in records.keys() | lifecycles.keys()}


def _checkpoints(item: dict[str, Any]) -> dict[str, IntakeEntry]:
    """A lane's checkpoint item, by intake shard."""
    found: dict[str, IntakeEntry] = {}
    for name, value in item.items():
        shard, suffix, rest = name.rpartition(_CHECKPOINT_DUE_SUFFIX)
        if shard and suffix and not rest:
            found[shard] = IntakeEntry(item[f"{shard}{_CHECKPOINT_PK_SUFFIX}"]["S"], int(value["N"]))
    return found


def _matches(summary: EventSummary, flt: EventFilter) -> bool:
    """``flt`` applied to a summary (what the status index query does with its key and filter)."""
    changed = summary.updated_at_ms
    return (
        (not flt.event_types or summary.event_type in flt.event_types)
        and (flt.workspace is None or summary.workspace == flt.workspace)
        and (flt.since_ms is None or changed >= flt.since_ms)
        and (flt.until_ms is None or changed <= flt.until_ms)
    )


def _names(*attrs: str) -> dict[str, str]:
    """Expression attribute names for ``attrs``: ``#<attr>`` stands for each (some are reserved words)."""
    return {f"#{attr}": attr for attr in attrs}


def _key(pk: str) -> dict[str, Any]:
    return {A.PK: {"S": pk}}


# A transition's placeholder values, by placeholder name (``:now`` -> ``"now"``).
Values = dict[str, str | int | bool]
_NAME = re.compile(r"#(\w+)")
_PLACEHOLDER = re.compile(r":(\w+)")


def _typed(value: str | int | bool) -> dict[str, Any]:
    """A value as DynamoDB types it: a bool (before int: a bool is an int), a number, a string."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


@dataclass(frozen=True)
class Transition:
    """One conditional change of an item, declared: the condition it needs, the attributes it sets
    (name -> value expression), adds to and removes. Expressions name attributes ``#<name>`` and
    values ``:<placeholder>``; ``request`` derives the expression names from the text and types the
    placeholders' values, so a transition is read as what it does."""

    condition: str
    sets: dict[str, str] = field(default_factory=dict)
    adds: dict[str, str] = field(default_factory=dict)
    removes: tuple[str, ...] = ()

    def also(
        self, *, sets: dict[str, str] | None = None, removes: tuple[str, ...] = (), condition: str | None = None
    ) -> Transition:
        """This transition with more set or removed, or another condition."""
        return Transition(
            condition=condition or self.condition,
            sets=self.sets | (sets or {}),
            adds=self.adds,
            removes=self.removes + removes,
        )

    def request(self, values: Values) -> dict[str, Any]:
        """The UpdateItem arguments, with ``values`` for the placeholders (exactly those it uses)."""
        if not self.condition:
            raise TypeError("a transition is conditional: it needs a condition")
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(f"#{name} = {value}" for name, value in self.sets.items()))
        if self.adds:
            clauses.append("ADD " + ", ".join(f"#{name} {value}" for name, value in self.adds.items()))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(f"#{name}" for name in self.removes))
        update = " ".join(clauses)
        text = f"{self.condition} {update}"
        placeholders = set(_PLACEHOLDER.findall(text))
        if placeholders != set(values):
            raise TypeError(f"values {sorted(values)} for placeholders {sorted(placeholders)}")
        return {
            "ConditionExpression": self.condition,
            "UpdateExpression": update,
            "ExpressionAttributeNames": _names(*sorted(set(_NAME.findall(text)))),
            "ExpressionAttributeValues": {f":{name}": _typed(value) for name, value in values.items()},
        }


# What an outcome removes: the lease, and for a terminal event with nothing owed its sweep entry too
# (the sparse sweep index then only ever holds live work).
_LEASE = (A.LEASE_OWNER, A.LEASE_EXPIRES_AT)
_SWEEP_ENTRY = (A.SWEEP_SHARD, A.DUE_AT)


# The lifecycle item's transitions (the diagram in docs/architecture.md). Each is conditional, so two
# writers racing on one event (workers, the sweeper, an operator) never both apply.
CLAIM = Transition(  # PENDING, or not yet begun -> RUNNING under a lease; attempts are counted here
    condition=f"attribute_not_exists(#{A.STATUS}) OR #{A.STATUS} = :pending",
    sets={
        A.STATUS: ":running",
        A.LEASE_OWNER: ":owner",
        A.LEASE_EXPIRES_AT: ":lease",
        A.DUE_AT: ":lease",
        A.SWEEP_SHARD: ":shard",
        A.UPDATED_AT: ":now",
        # A replay may have given the event a new limit and retention: those win over the record's.
        A.MAX_ATTEMPTS: f"if_not_exists(#{A.MAX_ATTEMPTS}, :max)",
        A.EXPIRES_AT: f"if_not_exists(#{A.EXPIRES_AT}, :expires)",
        A.PROVIDER: ":provider",
        A.EVENT_TYPE: ":type",
        A.RECEIVED_AT: ":received",
        A.LANE: ":lane",
    },
    adds={A.ATTEMPTS: ":one"},
)
_OUTCOME = Transition(  # RUNNING under our lease -> an outcome
    condition=f"#{A.STATUS} = :running AND #{A.LEASE_OWNER} = :owner",
    sets={A.STATUS: ":outcome", A.UPDATED_AT: ":now"},
)
SUCCEED = _OUTCOME.also(sets={A.COMPLETED_AT: ":now"}, removes=_LEASE + _SWEEP_ENTRY)
# FAILED with its alert owed: it stays in the sweep index, due when the alert should be resent.
FAIL = _OUTCOME.also(
    sets={
        A.COMPLETED_AT: ":now",
        A.ERROR_CLASS: ":errorClass",
        A.LAST_ERROR: ":message",
        A.ALERT_PENDING: ":true",
        A.DUE_AT: ":alertDue",
    },
    removes=_LEASE,
)
RETRY = _OUTCOME.also(
    sets={A.RUN_AT: ":runAt", A.DUE_AT: ":runAt", A.ERROR_CLASS: ":errorClass", A.LAST_ERROR: ":message"},
    removes=_LEASE,
)
ALERT_SENT = Transition(  # the alert of the failure recorded at :failedAt is out: nothing owed
    condition=f"#{A.ALERT_PENDING} = :true AND #{A.COMPLETED_AT} = :failedAt",
    removes=(A.ALERT_PENDING, *_SWEEP_ENTRY),
)
WAKE = Transition(  # live and due as the sweeper saw it -> PENDING with a fresh stream record
    condition=f"#{A.STATUS} = :seen AND #{A.DUE_AT} = :seenDue",
    sets={A.STATUS: ":pending", A.DUE_AT: ":nextDue", A.UPDATED_AT: ":now"},
    adds={A.WAKES: ":one"},
    removes=_LEASE,
)
REPLAY = Transition(  # FAILED (or as asked) -> PENDING with fresh attempts; the condition is per call
    condition="",
    sets={
        A.STATUS: ":pending",
        A.ATTEMPTS: ":zero",
        A.SWEEP_SHARD: ":shard",
        A.DUE_AT: ":due",
        A.UPDATED_AT: ":now",
        A.RUN_AT: ":now",
    },
    removes=(A.ALERT_PENDING, A.COMPLETED_AT),
)


class EventStore:
    def __init__(self, dynamodb_client: Any, table_name: str, intake_shards: int | None = None) -> None:
        """``intake_shards``: the deployment's shard count, for operators' PENDING listings and counts
        (which include events whose processing has not begun); the functions do not need it."""
        self._ddb = dynamodb_client
        self._table = table_name
        self._intake_shards = intake_shards

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One unconditional DynamoDB call on the events table; any AWS failure is StoreUnavailable."""
        with _aws_errors():
            response: dict[str, Any] = getattr(self._ddb, operation)(**kwargs)
        return response

    def _write(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """A conditional write; None when its condition failed, StoreUnavailable on any other error."""
        try:
            with _aws_errors():
                response: dict[str, Any] = getattr(self._ddb, operation)(TableName=self._table, **kwargs)
        except _ConditionFailed:
            return None
        return response

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        """Whether a conditional write applied."""
        return self._write(operation, **kwargs) is not None

    def _update(self, **kwargs: Any) -> dict[str, Any] | None:
        return self._write("update_item", **kwargs)

    def _transition(
        self, dedupe_key: str, transition: Transition, values: Values, *, returning: bool = False
    ) -> dict[str, Any] | None:
        """Applies ``transition`` to an event's lifecycle item: the response (with the item as it is
        now when ``returning``), or None when its condition did not hold."""
        extra = {"ReturnValues": "ALL_NEW"} if returning else {}
        return self._update(Key=_key(lifecycle_key(dedupe_key)), **transition.request(values), **extra)

    def _get(self, pk: str, consistent: bool = True, attrs: tuple[str, ...] = ()) -> dict[str, Any] | None:
        kwargs: dict[str, Any] = {"TableName": self._table, "Key": _key(pk), "ConsistentRead": consistent}
        if attrs:
            kwargs["ProjectionExpression"] = ", ".join(f"#{attr}" for attr in attrs)
            kwargs["ExpressionAttributeNames"] = _names(*attrs)
        item: dict[str, Any] | None = self._call("get_item", **kwargs).get("Item")
        return item

    # --- ingest ---------------------------------------------------------------------------------

    def put_new(self, event: NewEvent) -> None:
        """The ingest's single write: a conditional PutItem of the event record that fails on a known
        dedupe key. The record is never written again."""
        item: dict[str, Any] = {
            A.PK: {"S": event.dedupe_key},
            A.PROVIDER: {"S": event.provider},
            A.EVENT_TYPE: {"S": event.event_type},
            A.RECEIVED_AT: {"N": str(event.received_at_ms)},
            A.MAX_ATTEMPTS: {"N": str(event.max_attempts)},
            A.EXPIRES_AT: {"N": str(event.expires_at_s)},
        }
        if event.status == EventStatus.PENDING:
            item[A.INTAKE] = {"S": EventStatus.PENDING.value}
        else:  # terminal at once (IGNORED): listed by the status index, never processed
            item[A.STATUS] = {"S": event.status.value}
            item[A.UPDATED_AT] = {"N": str(event.received_at_ms)}
        if event.workspace:
            item[A.WORKSPACE] = {"S": event.workspace}
        if event.intake_shard is not None and event.pending_due_at_ms is not None:
            item[A.SWEEP_SHARD] = {"S": event.intake_shard}
            item[A.DUE_AT] = {"N": str(event.pending_due_at_ms)}
        if event.lane is not None:
            item[A.LANE] = {"S": event.lane}
        # The size budget is checked before the write: an item DynamoDB would refuse is not a 503.
        item.update(body_attributes(event.normalised_json, event.raw_body, ITEM_BUDGET_BYTES - item_bytes(item)))
        try:
            with _aws_errors(rejections=True):
                self._ddb.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": A.PK},
                )
        except _ConditionFailed as exc:
            raise DuplicateEvent(event.dedupe_key) from exc

    # --- processor ------------------------------------------------------------------------------

    def event_record(self, dedupe_key: str) -> EventRecord | None:
        """The live event record (for a woken or replayed event, whose stream record is its lifecycle
        item's); None when there is none (IGNORED, or expired)."""
        item = self._get(dedupe_key, consistent=False, attrs=_RECORD_ATTRIBUTES)
        if item is None:  # written moments ago and not yet on this replica: ask the leader
            item = self._get(dedupe_key, consistent=True, attrs=_RECORD_ATTRIBUTES)
        return EventRecord.from_item(item) if item else None

    def claim(self, record: EventRecord, owner: str, now_ms: int, lease_ms: int) -> ClaimedEvent | None:
        """PENDING (or not yet begun) -> RUNNING under a lease; attempts are counted here. None if not
        claimable. The first claim creates the lifecycle item with the event's listing metadata."""
        values: Values = {
            "pending": EventStatus.PENDING,
            "running": EventStatus.RUNNING,
            "owner": owner,
            "lease": now_ms + lease_ms,
            "shard": record.lifecycle_shard,
            "now": now_ms,
            "one": 1,
            "max": record.max_attempts,
            "provider": record.provider,
            "type": record.event_type,
            "received": record.received_at_ms,
            "lane": record.lane,
            "expires": record.expires_at_s,
        }
        claim = CLAIM
        if record.workspace:
            claim = CLAIM.also(sets={A.WORKSPACE: ":ws"})
            values["ws"] = record.workspace
        response = self._transition(record.dedupe_key, claim, values, returning=True)
        if response is None:
            return None
        item = response["Attributes"]
        return ClaimedEvent(
            dedupe_key=record.dedupe_key,
            provider=record.provider,
            event_type=record.event_type,
            received_at_ms=record.received_at_ms,
            normalised_json=record.normalised_json,
            attempts=int(item[A.ATTEMPTS]["N"]),
            max_attempts=int(item[A.MAX_ATTEMPTS]["N"]),
        )

    def mark_succeeded(self, dedupe_key: str, owner: str, now_ms: int) -> bool:
        return self._outcome(dedupe_key, SUCCEED, EventStatus.SUCCEEDED, owner, now_ms)

    def mark_failed(
        self, dedupe_key: str, owner: str, now_ms: int, error_class: str, message: str, alert_due_ms: int
    ) -> bool:
        """FAILED with its alert still owed: the event stays in the sweep index until ``alert_sent``,
        so an alert lost to a crash or an SNS error is published again by the sweeper."""
        return self._outcome(
            dedupe_key,
            FAIL,
            EventStatus.FAILED,
            owner,
            now_ms,
            errorClass=error_class,
            message=message,
            true=True,
            alertDue=alert_due_ms,
        )

    def mark_retry(
        self, dedupe_key: str, owner: str, now_ms: int, run_at_ms: int, error_class: str, message: str
    ) -> bool:
        return self._outcome(
            dedupe_key,
            RETRY,
            EventStatus.RETRY_WAIT,
            owner,
            now_ms,
            runAt=run_at_ms,
            errorClass=error_class,
            message=message,
        )

    def _outcome(
        self,
        dedupe_key: str,
        transition: Transition,
        outcome: EventStatus,
        owner: str,
        now_ms: int,
        **values: str | int | bool,
    ) -> bool:
        """An outcome of the attempt ``owner`` holds the lease for (a lost lease applies nothing)."""
        mine: Values = {"running": EventStatus.RUNNING, "owner": owner, "outcome": outcome, "now": now_ms}
        return self._transition(dedupe_key, transition, mine | values) is not None

    def alert_sent(self, dedupe_key: str, failed_at_ms: int) -> bool:
        """The alert of the failure recorded at ``failed_at_ms`` is out. Tied to that failure: a late
        confirmation of an earlier failure (the event was replayed and failed again since) must not
        clear the alert the new failure still owes."""
        return self._transition(dedupe_key, ALERT_SENT, {"true": True, "failedAt": failed_at_ms}) is not None

    def failed_event(self, dedupe_key: str) -> FailedEvent | None:
        """What an alert needs to say about a FAILED event (safe metadata only)."""
        item = self._get(
            lifecycle_key(dedupe_key),
            attrs=(A.PROVIDER, A.EVENT_TYPE, A.ATTEMPTS, A.ERROR_CLASS, A.LAST_ERROR, A.STATUS, A.COMPLETED_AT),
        )
        if not item or item.get(A.STATUS, {}).get("S") != EventStatus.FAILED.value:
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

    # --- operators -------------------------------------------------------------------------------

    def replay(
        self,
        dedupe_key: str,
        now_ms: int,
        sweep_shard: str,
        pending_due_at_ms: int,
        from_statuses: tuple[EventStatus, ...] = (EventStatus.FAILED,),
        max_attempts: int | None = None,
    ) -> bool:
        """FAILED (or, when asked, SUCCEEDED) -> PENDING with fresh attempts, after a fix.

        Only the lifecycle item changes: its new stream record brings the event back to the processor,
        which reads the event record. The effect still applies at most once: the domain's effect marker
        turns a replayed SUCCEEDED event into a no-op.
        """
        values: Values = {
            "pending": EventStatus.PENDING,
            "zero": 0,
            "shard": sweep_shard,
            "due": pending_due_at_ms,
            "now": now_ms,
        }
        allowed = []
        for index, status in enumerate(from_statuses):
            values[f"from{index}"] = status
            allowed.append(f"#{A.STATUS} = :from{index}")
        replay = REPLAY.also(condition=f"({' OR '.join(allowed)})")
        if max_attempts is not None:  # the attempts the stack gives an event now, not those it had at ingest
            replay = replay.also(sets={A.MAX_ATTEMPTS: ":max"})
            values["max"] = max_attempts
        return self._transition(dedupe_key, replay, values) is not None

    def get(self, dedupe_key: str) -> dict[str, Any] | None:
        """The event as operators see it (`inspect`, `replay`): its record with its lifecycle item's
        attributes over it, as DynamoDB returns items. An event whose processing has not begun shows
        as PENDING. None when neither item exists."""
        record = self._get(dedupe_key)
        lifecycle = self._get(lifecycle_key(dedupe_key))
        if record is None and lifecycle is None:
            return None
        return event_view(dedupe_key, record, lifecycle)

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
        return self._call(
            "query",
            TableName=self._table,
            IndexName=STATUS_INDEX,
            KeyConditionExpression=key,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=not newest_first,
            **kwargs,
        )

    def list_events(
        self, flt: EventFilter, limit: int, cursor: dict[str, Any] | None = None
    ) -> tuple[list[EventSummary], dict[str, Any] | None]:
        """Up to ``limit`` events matching ``flt``, newest change first, and the cursor of the next page
        (None at the end). Reads the status index: one query per page, never a scan. A PENDING listing
        starts with the events whose processing has not begun (``unbegun``)."""
        found: list[EventSummary] = []
        if cursor is None and flt.status == EventStatus.PENDING.value:
            found += self.unbegun(flt)[:limit]
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
                if flt.status != EventStatus.PENDING.value:
                    return total
                unfiltered = EventFilter(flt.status) == flt  # then the keys say enough: no record is read
                return total + (len(self._unbegun_keys()) if unfiltered else len(self.unbegun(flt)))

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
                if flt.status == EventStatus.PENDING.value:
                    counts.update(summary.event_type for summary in self.unbegun(flt))
                return counts

    def unbegun(self, flt: EventFilter) -> list[EventSummary]:
        """Live events whose processing has not begun (no lifecycle item yet): queued in their lane, or
        lost with their stream record until the sweeper gives them one. The status index cannot hold
        them (their record is written once), so this reads the intake shards past the sweeper's
        checkpoints, then their records: for operators only, and [] without ``intake_shards``."""
        summaries = []
        for item in self._records(
            self._unbegun_keys(), (A.PK, A.PROVIDER, A.EVENT_TYPE, A.WORKSPACE, A.RECEIVED_AT, A.EXPIRES_AT)
        ):
            summary = _summary({**item, A.STATUS: {"S": EventStatus.PENDING.value}, A.UPDATED_AT: item[A.RECEIVED_AT]})
            if _matches(summary, flt):
                summaries.append(summary)
        return sorted(summaries, key=lambda summary: summary.updated_at_ms, reverse=True)

    def _unbegun_keys(self) -> list[str]:
        if self._intake_shards is None:
            return []
        keys: list[str] = []
        positions = self.sweep_positions()
        for lane in Lane:
            checkpoints = positions.checkpoints[lane]
            for shard in intake_shards(lane, self._intake_shards):
                entries = self.query_intake(shard, checkpoints.get(shard), 2**62, 2**31)
                begun = self.begun(entry.dedupe_key for entry in entries)
                keys += [entry.dedupe_key for entry in entries if entry.dedupe_key not in begun]
        return keys

    def _records(self, keys: list[str], attrs: tuple[str, ...]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [_key(pk) for pk in keys[start : start + _BATCH_GET_LIMIT]],
                    "ProjectionExpression": ", ".join(f"#{attr}" for attr in attrs),
                    "ExpressionAttributeNames": _names(*attrs),
                }
            }
            while pending:
                response = self._call("batch_get_item", RequestItems=pending)
                items += response.get("Responses", {}).get(self._table, [])
                pending = response.get("UnprocessedKeys") or {}
        return items

    def oldest_update_ms(self, status: str) -> int | None:
        """The earliest last-change time among events in ``status`` (the oldest stuck one)."""
        response = self._query_status(EventFilter(status=status), newest_first=False, Limit=1)
        times = [int(item[A.UPDATED_AT]["N"]) for item in response.get("Items", [])]
        if status == EventStatus.PENDING.value:
            times += [summary.updated_at_ms for summary in self.unbegun(EventFilter(status=status))]
        return min(times, default=None)

    # --- sweeper: lifecycle shards ---------------------------------------------------------------

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
        return self._call(
            "query",
            TableName=self._table,
            IndexName=index_name,
            KeyConditionExpression="#shard = :shard AND #due <= :now",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            **kwargs,
        )

    def count_due(self, index_name: str, shard: str, now_ms: int, pending_due_before_ms: int | None = None) -> int:
        return int(self._query_due(index_name, shard, now_ms, pending_due_before_ms, Select="COUNT")["Count"])

    def query_due(
        self, index_name: str, shard: str, now_ms: int, limit: int, pending_due_before_ms: int | None = None
    ) -> list[DueEvent]:
        """Up to ``limit`` due lifecycle items of one sweep shard, oldest due first."""
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
                dedupe_key=dedupe_key_of(item[A.PK]["S"]) or item[A.PK]["S"],
                status=item[A.STATUS]["S"],
                due_at_ms=int(item[A.DUE_AT]["N"]),
            )
            for item in items[:limit]
        ]

    def wake(self, due: DueEvent, now_ms: int, next_due_ms: int) -> bool:
        """Put a live event back to PENDING with a fresh stream record; safe if sweeps overlap.

        The condition on the status and due time we saw makes a second sweeper (or a processor that
        got there first) win cleanly: our update then simply does not apply.
        """
        values: Values = {
            "seen": due.status,
            "seenDue": due.due_at_ms,
            "pending": EventStatus.PENDING,
            "nextDue": next_due_ms,
            "now": now_ms,
            "one": 1,
        }
        return self._transition(due.dedupe_key, WAKE, values) is not None

    # --- sweeper: intake shards --------------------------------------------------------------------

    def sweep_positions(self) -> SweepPositions:
        """Every lane's watermark and intake checkpoints, in one consistent read of their items."""
        keys = [key for lane in Lane for key in (watermark_key(lane), checkpoint_key(lane))]
        request = {self._table: {"Keys": [_key(key) for key in keys], "ConsistentRead": True}}
        items: dict[str, dict[str, Any]] = {}
        while request:
            response = self._call("batch_get_item", RequestItems=request)
            items.update({item[A.PK]["S"]: item for item in response.get("Responses", {}).get(self._table, [])})
            request = response.get("UnprocessedKeys") or {}
        positions = SweepPositions()
        for lane in Lane:
            watermark = items.get(watermark_key(lane), {})
            positions.watermarks[lane] = int(watermark[A.WATERMARK]["N"]) if A.WATERMARK in watermark else 0
            positions.checkpoints[lane] = _checkpoints(items.get(checkpoint_key(lane), {}))
        return positions

    def _query_intake(
        self, shard: str, after: IntakeEntry | None, up_to_ms: int, **kwargs: Any
    ) -> dict[str, Any] | None:
        """One page of an intake shard's entries past the entry ``after`` (from the start when None)
        and due at or before ``up_to_ms``, in index order; None when there can be none."""
        low = 0
        if after is not None:  # resume exactly after the last entry checked
            low = after.due_at_ms
            kwargs.setdefault(
                "ExclusiveStartKey",
                {A.SWEEP_SHARD: {"S": shard}, A.DUE_AT: {"N": str(low)}, A.PK: {"S": after.dedupe_key}},
            )
        if low > up_to_ms:
            return None
        return self._call(
            "query",
            TableName=self._table,
            IndexName=SWEEP_INDEX,
            KeyConditionExpression="#shard = :shard AND #due BETWEEN :low AND :high",
            ExpressionAttributeNames={"#shard": A.SWEEP_SHARD, "#due": A.DUE_AT},
            ExpressionAttributeValues={":shard": {"S": shard}, ":low": {"N": str(low)}, ":high": {"N": str(up_to_ms)}},
            **kwargs,
        )

    def query_intake(self, shard: str, after: IntakeEntry | None, up_to_ms: int, limit: int) -> list[IntakeEntry]:
        """Up to ``limit`` entries of an intake shard past ``after`` and due at or before ``up_to_ms``."""
        entries: list[IntakeEntry] = []
        kwargs: dict[str, Any] = {}
        while len(entries) < limit:
            response = self._query_intake(shard, after, up_to_ms, Limit=limit - len(entries), **kwargs)
            if response is None:
                break
            entries += [IntakeEntry(item[A.PK]["S"], int(item[A.DUE_AT]["N"])) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return entries

    def count_intake(self, shard: str, after: IntakeEntry | None, up_to_ms: int) -> int:
        """How many entries of an intake shard are past ``after`` and due (a COUNT query)."""
        total, kwargs = 0, dict[str, Any]()
        while True:
            response = self._query_intake(shard, after, up_to_ms, Select="COUNT", **kwargs)
            if response is None:
                return total
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            kwargs = {"ExclusiveStartKey": response["LastEvaluatedKey"]}

    def begun(self, dedupe_keys: Iterable[str]) -> set[str]:
        """Which of these events have a lifecycle item (their processing began). Eventually consistent
        reads are enough: a lifecycle item created meanwhile makes ``create_pending`` do nothing."""
        found = self._records([lifecycle_key(key) for key in dedupe_keys], (A.PK,))
        return {dedupe_key_of(item[A.PK]["S"]) or "" for item in found}

    def create_pending(self, record: EventRecord, now_ms: int, next_due_ms: int) -> bool:
        """The lifecycle item of an event whose stream record was lost, as PENDING: its INSERT is the
        fresh stream record the processor gets. False if its processing began meanwhile."""
        item: dict[str, Any] = {
            A.PK: {"S": lifecycle_key(record.dedupe_key)},
            A.STATUS: {"S": EventStatus.PENDING.value},
            A.LANE: {"S": record.lane},
            A.SWEEP_SHARD: {"S": record.lifecycle_shard},
            A.DUE_AT: {"N": str(next_due_ms)},
            A.UPDATED_AT: {"N": str(now_ms)},
            A.WAKES: {"N": "1"},
            A.PROVIDER: {"S": record.provider},
            A.EVENT_TYPE: {"S": record.event_type},
            A.RECEIVED_AT: {"N": str(record.received_at_ms)},
            A.MAX_ATTEMPTS: {"N": str(record.max_attempts)},
            A.EXPIRES_AT: {"N": str(record.expires_at_s)},
        }
        if record.workspace:
            item[A.WORKSPACE] = {"S": record.workspace}
        return self._conditional(
            "put_item",
            Item=item,
            ConditionExpression=f"attribute_not_exists(#{A.PK})",
            ExpressionAttributeNames=_names(A.PK),
        )

    def advance_intake_checkpoint(self, lane: Lane, shard: str, to: IntakeEntry) -> bool:
        """Moves the shard's checkpoint to the entry ``to``. Every entry a sweep writes there was checked
        by it, so an overlapping sweep could only make the next one check entries again; the condition
        keeps a slower sweep from moving the checkpoint back past a later due time anyway."""
        names = {"#due": f"{shard}{_CHECKPOINT_DUE_SUFFIX}", "#pk": f"{shard}{_CHECKPOINT_PK_SUFFIX}"}
        return self._conditional(
            "update_item",
            Key=_key(checkpoint_key(lane)),
            ConditionExpression="attribute_not_exists(#due) OR #due <= :due",
            UpdateExpression="SET #due = :due, #pk = :pk",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":due": {"N": str(to.due_at_ms)}, ":pk": {"S": to.dedupe_key}},
        )

    # --- lane probes (see spillway_core.lanes) -----------------------------------------------------

    def write_probe(self, lane: Lane, now_ms: int) -> None:
        """The sweeper's probe: its stream record queues behind everything the lane has not read yet."""
        self._update(
            Key=_key(probe_key(lane)),
            UpdateExpression="SET #lane = :lane, #probe = :now",
            ExpressionAttributeNames={"#lane": A.LANE, "#probe": A.PROBE_AT},
            ExpressionAttributeValues={":lane": {"S": lane.value}, ":now": {"N": str(now_ms)}},
        )

    def advance_watermark(self, lane: Lane, probe_at_ms: int) -> bool:
        """The lane's processor reached a probe: it has read every record written before probe_at_ms.
        Only moves forward, so a redelivered old probe changes nothing."""
        return self._conditional(
            "update_item",
            Key=_key(watermark_key(lane)),
            ConditionExpression="attribute_not_exists(#wm) OR #wm < :probe",
            UpdateExpression="SET #wm = :probe",
            ExpressionAttributeNames={"#wm": A.WATERMARK},
            ExpressionAttributeValues={":probe": {"N": str(probe_at_ms)}},
        )
