"""DynamoDB capacity metered from the items a client actually writes and reads.

``DynamoMeter`` hooks botocore's events: those of one client, or those of a session, which every
client the session creates afterwards copies (so a function's own clients, built by its handler, are
metered too, and the code under test runs unchanged). Before each write it reads the items the call
touches, and after it reads them again, both through a second, unhooked client on the same backend
(the side channel is not billed). The call is then billed by DynamoDB's published rules, which this
module implements:

* Item size (``item_size``): UTF-8 bytes of every attribute name plus its value. Strings: UTF-8
  length. Numbers: ``(significant digits + 1) // 2 + 1`` bytes (+1 if negative). Binary: length.
  Booleans and null: 1 byte. Lists and maps: 3 bytes + 1 per element + the elements (a map's
  elements include their names). Sets: the sum of their members.
* Writes (PutItem, UpdateItem, DeleteItem): ``ceil(max(old, new) / 1 KB)`` write units, at least 1.
  A failed conditional write still consumes capacity: ``ceil(existing item / 1 KB)``, at least 1.
  A server error (5xx) wrote nothing and is billed nothing.
* Transactions (TransactWriteItems): 2x per action, sized as above; a ConditionCheck is billed like a
  write of the item it checks. A cancelled transaction bills every action 2x on the item as it is.
* Global secondary indexes, from the table's definition (``describe_table``): an item entering an
  index is 1 index write of its projected size, leaving is 1, a changed index key is 2 (delete +
  put), a change of a projected non-key attribute only is 1, anything else is 0. Index writes are
  billed at 1x even inside a transaction (they are applied asynchronously); failed writes write no
  index. The projected size is the table key + index key + projected attributes (no overhead bytes).
* Reads: 4 KB units; strong 1, eventual 0.5, transactional 2 per unit. GetItem / TransactGetItems /
  BatchGetItem round each item separately (a missing item still costs the minimum). Query and Scan
  round the sum of the returned items (the index's projection for an index), at least one unit; a
  FilterExpression's discarded items are not seen here, so filtered reads are a lower bound.
  Items returned by ``ReturnValues`` are free.

When the backend returns ``ConsumedCapacity`` (the meter asks for it with ``INDEXES``), it is kept
next to the model's figure. moto returns fixed figures per operation, so it confirms what was
called, not the sizes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT = 1024
READ_UNIT = 4096
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READ_OPS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


# --- size rules --------------------------------------------------------------------------------------


def number_size(text: str) -> int:
    """Numbers are stored as up to 38 significant digits, two per byte, plus one byte."""
    digits = text.lstrip("-").replace(".", "")
    mantissa, _, _exponent = digits.lower().partition("e")
    significant = mantissa.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1 + (1 if text.startswith("-") else 0)


def value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return len(raw)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """DynamoDB's size of an item in wire format (``{"name": {"S": "..."}}``); 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT))


def read_units(size: int, consistency: str = "strong") -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units * {"strong": 1.0, "eventual": 0.5, "transactional": 2.0}[consistency]


def write_units_for_change(old: dict[str, Any] | None, new: dict[str, Any] | None, succeeded: bool) -> int:
    """One item write: billed on the larger image; a failed conditional write on the existing item."""
    if not succeeded:
        return write_units(item_size(old))
    return write_units(max(item_size(old), item_size(new)))


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    key: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()

    def projected(self, item: dict[str, Any] | None, table_key: tuple[str, ...]) -> dict[str, Any] | None:
        """The index entry for an item, or None when the item is not in this (sparse) index."""
        if not item or any(k not in item for k in self.key):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = set(table_key) | set(self.key) | (set(self.include) if self.projection == "INCLUDE" else set())
        return {k: v for k, v in item.items() if k in names}


def index_write_units(
    index: IndexDefinition, table_key: tuple[str, ...], old: dict[str, Any] | None, new: dict[str, Any] | None
) -> tuple[int, int]:
    """(index writes, write units) that a change of one table item causes in one index."""
    before, after = index.projected(old, table_key), index.projected(new, table_key)
    if before is None and after is None:
        return 0, 0
    if before is None:
        return 1, write_units(item_size(after))
    if after is None:
        return 1, write_units(item_size(before))
    if any(before[k] != after[k] for k in index.key):
        return 2, write_units(item_size(before)) + write_units(item_size(after))
    if before != after:
        return 1, write_units(max(item_size(before), item_size(after)))
    return 0, 0


# --- the meter ---------------------------------------------------------------------------------------


@dataclass
class Bill:
    """What a stretch of code cost: model units, calls, and the backend's own figures."""

    wru: float = 0.0
    rru: float = 0.0
    table_wru: float = 0.0
    index_wru: float = 0.0
    index_writes: int = 0
    failed_writes: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    wru_by_op: Counter[str] = field(default_factory=Counter)
    reported_capacity: float = 0.0  # ConsumedCapacity as returned by the backend
    writes: list[dict[str, Any]] = field(default_factory=list)  # one row per item write

    def add(self, other: Bill) -> None:
        for name in ("wru", "rru", "table_wru", "index_wru", "index_writes", "failed_writes", "reported_capacity"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.calls.update(other.calls)
        self.wru_by_op.update(other.wru_by_op)
        self.writes.extend(other.writes)

    def summary(self) -> dict[str, Any]:
        return {
            "wru": self.wru,
            "rru": self.rru,
            "table_wru": self.table_wru,
            "index_wru": self.index_wru,
            "index_writes": self.index_writes,
            "failed_writes": self.failed_writes,
            "calls": dict(sorted(self.calls.items())),
            "wru_by_operation": dict(sorted(self.wru_by_op.items())),
            "moto_consumed_capacity": self.reported_capacity,
        }


@dataclass(frozen=True)
class TableDefinition:
    key: tuple[str, ...]
    indexes: tuple[IndexDefinition, ...]


def _consumed(parsed: dict[str, Any]) -> float:
    consumed = parsed.get("ConsumedCapacity")
    if isinstance(consumed, dict):
        consumed = [consumed]
    return float(sum(c.get("CapacityUnits", 0) for c in consumed or []))


class DynamoMeter:
    """Bills every DynamoDB call made while ``measure()`` is open, by the clients whose events it hooks.

    ``events``: a client's ``meta.events``, or a session's ``events`` before it creates the clients to
    meter. ``side`` must be a client on the same backend that these events do not reach (one created
    before the session's events were hooked); the meter reads through it, unbilled.
    """

    def __init__(self, events: Any, side: Any) -> None:
        assert events is not side.meta.events
        self._side = side
        self._tables: dict[str, TableDefinition] = {}
        self._bill: Bill | None = None
        events.register("before-parameter-build.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)

    @contextmanager
    def measure(self) -> Iterator[Bill]:
        outer, self._bill = self._bill, Bill()
        try:
            yield self._bill
        finally:
            if outer is not None:
                outer.add(self._bill)
            self._bill = outer

    def table(self, name: str) -> TableDefinition:
        if name not in self._tables:
            described = self._side.describe_table(TableName=name)["Table"]
            key = tuple(k["AttributeName"] for k in described["KeySchema"])
            indexes = tuple(
                IndexDefinition(
                    name=i["IndexName"],
                    key=tuple(k["AttributeName"] for k in i["KeySchema"]),
                    projection=i["Projection"]["ProjectionType"],
                    include=tuple(i["Projection"].get("NonKeyAttributes", ())),
                )
                for i in described.get("GlobalSecondaryIndexes", [])
            )
            self._tables[name] = TableDefinition(key, indexes)
        return self._tables[name]

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self._side.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(action, table, key) for every item a write touches."""
        if operation == "TransactWriteItems":
            targets = []
            for entry in params["TransactItems"]:
                ((action, spec),) = entry.items()
                targets.append((action, spec["TableName"], self._key_of(spec["TableName"], spec)))
            return targets
        if operation == "BatchWriteItem":
            targets = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    ((action, spec),) = request.items()
                    targets.append((action, table, self._key_of(table, spec)))
            return targets
        return [(operation, params["TableName"], self._key_of(params["TableName"], params))]

    def _key_of(self, table: str, spec: dict[str, Any]) -> dict[str, Any]:
        if "Key" in spec:
            return dict(spec["Key"])
        return {k: spec["Item"][k] for k in self.table(table).key}

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._bill is None or model.name not in WRITE_OPS | READ_OPS:
            return
        params.setdefault("ReturnConsumedCapacity", "INDEXES")
        if model.name == "BatchGetItem":
            requests = list(params.get("RequestItems", {}).values())
            context["meter_consistent"] = any(r.get("ConsistentRead") for r in requests)
            context["meter_keys"] = sum(len(r.get("Keys", [])) for r in requests)
        elif model.name in READ_OPS:
            context["meter_consistent"] = bool(params.get("ConsistentRead"))
        if model.name in WRITE_OPS:
            targets = self._targets(model.name, params)
            context["meter_before"] = [(a, t, k, self._read(t, k)) for a, t, k in targets]

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        bill = self._bill
        if bill is None or model.name not in WRITE_OPS | READ_OPS:
            return
        bill.calls[model.name] += 1
        if http_response.status_code >= 500:
            return  # the service failed the call: nothing was written or read
        bill.reported_capacity += _consumed(parsed)
        succeeded = http_response.status_code < 300
        if model.name in WRITE_OPS:
            self._bill_writes(bill, model.name, context.get("meter_before", []), succeeded, parsed)
        elif succeeded:
            bill.rru += self._read_cost(model.name, context, parsed)

    def _bill_writes(
        self, bill: Bill, operation: str, before: list[Any], succeeded: bool, parsed: dict[str, Any]
    ) -> None:
        multiplier = 2 if operation == "TransactWriteItems" else 1
        for action, table, key, old in before:
            new = self._read(table, key) if succeeded else old
            if action == "ConditionCheck":
                units, indexes = write_units(item_size(old)), (0, 0)
            else:
                units = write_units_for_change(old, new, succeeded)
                index_totals = [
                    index_write_units(i, self.table(table).key, old, new) for i in self.table(table).indexes
                ]
                indexes = (sum(n for n, _ in index_totals), sum(u for _, u in index_totals)) if succeeded else (0, 0)
            table_units = multiplier * units
            bill.table_wru += table_units
            bill.index_wru += indexes[1]
            bill.index_writes += indexes[0]
            bill.wru += table_units + indexes[1]
            bill.wru_by_op[operation] += table_units + indexes[1]
            bill.failed_writes += 0 if succeeded else 1
            bill.writes.append(
                {
                    "operation": operation,
                    "action": action,
                    "table": table,
                    "pk": next(iter(key.values()))["S"],
                    "succeeded": succeeded,
                    "old_bytes": item_size(old),
                    "new_bytes": item_size(new),
                    "table_wru": table_units,
                    "index_writes": indexes[0],
                    "index_wru": indexes[1],
                }
            )

    def _read_cost(self, operation: str, params_context: dict[str, Any], parsed: dict[str, Any]) -> float:
        if operation == "GetItem":
            consistency = "strong" if params_context.get("meter_consistent") else "eventual"
            return read_units(item_size(parsed.get("Item")), consistency)
        if operation == "TransactGetItems":
            return sum(read_units(item_size(r.get("Item")), "transactional") for r in parsed.get("Responses", []))
        if operation == "BatchGetItem":
            consistency = "strong" if params_context.get("meter_consistent") else "eventual"
            items = [i for table_items in parsed.get("Responses", {}).values() for i in table_items]
            found = sum(read_units(item_size(i), consistency) for i in items)
            missing = params_context.get("meter_keys", 0) - len(items)
            return found + max(0, missing) * read_units(0, consistency)
        consistency = "strong" if params_context.get("meter_consistent") else "eventual"
        return read_units(sum(item_size(i) for i in parsed.get("Items", [])), consistency)


def plain(value: Any) -> Any:
    """Decimal-free copies for JSON output."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
