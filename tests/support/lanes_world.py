"""The lanes in virtual time: real ingest, processor and sweeper logic over moto, with the stream
played as one FIFO queue per lane.

Every successful write to the events table is read back and, like the stream and the lanes' filters
(tests/infra/test_lanes.py checks the filters), queued on the lane it belongs to: a PENDING image
on its event's lane, a probe on its own lane, anything else nowhere. Each lane reads its queue one
record at a time, an event costing ``ms_per_event`` of virtual time; the sweeper runs every period.
A record can be lost on purpose (``lose``), as a DLQ'd batch or a broken mapping would lose it.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from processor.logic import process_record
from spillway_core.alerts import AlertPublisher
from spillway_core.event_store import EventStore
from spillway_core.lanes import Lane, lane_of_probe
from spillway_core.lifecycle import dedupe_key_of
from spillway_core.settings import SweeperSettings
from spillway_core.status import EventAttr, EventStatus
from sweeper.logic import sweep
from tests.support.environment import stack_with
from tests.support.pipeline import CapturedAlerts, InProcessPipeline, processor_deps
from tests.support.tables import EVENTS_TABLE_NAME, scan_events

SWEEP_PERIOD_MS = 60_000
GRACE_MS = 300_000
START_MS = 1_795_000_000_000
SWEEP_SHARDS = 2


def sent(n: int, lead: int) -> dict[str, Any]:
    person = {"id": 10_000 + lead, "email": f"lane.lead{lead}@prospect.example"}
    data = {
        "scheduled_email": {"id": n, "email_subject": "Hi", "sent_at": "2026-11-28T10:00:00Z"},
        "lead": person,
        "sender_email": {"id": 5, "email": "sdr@outbound.example"},
    }
    return {"event": {"type": "EMAIL_SENT", "workspace_id": 3}, "data": data}


def replied(n: int, lead: int) -> dict[str, Any]:
    person = {"id": 10_000 + lead, "email": f"lane.lead{lead}@prospect.example"}
    reply = {
        "id": n,
        "email_subject": "Re: Hi",
        "from_email_address": person["email"],
        "date_received": "2026-11-28T10:05:00Z",
    }
    return {"event": {"type": "LEAD_REPLIED", "workspace_id": 3}, "data": {"reply": reply, "lead": person}}


@dataclass(frozen=True)
class StreamRecord:
    key: str
    written_at: int
    probe_at: int | None = None


class StreamingClient:
    """A DynamoDB client whose successful writes to the events table become stream records."""

    def __init__(self, real: Any, world: LanesWorld, fault: Callable[[str], None] | None = None) -> None:
        self._real = real
        self._world = world
        self._fault = fault
        self.exceptions = real.exceptions
        self.meta = real.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._fault is not None:
                self._fault(name)
            result = method(*args, **kwargs)
            if name in {"put_item", "update_item"} and kwargs.get("TableName") == EVENTS_TABLE_NAME:
                key = (kwargs.get("Item") or kwargs["Key"])[EventAttr.PK]["S"]
                self._world.record_written(key, inserted=name == "put_item")
            return result

        return call


class SweeperFault(Exception):
    pass


@dataclass
class LanesWorld:
    dynamodb: Any
    ms_per_event: dict[Lane, int]
    clock: int = START_MS
    queues: dict[Lane, deque[StreamRecord]] = field(default_factory=lambda: {lane: deque() for lane in Lane})
    lose_next: bool = False
    wakes: list[tuple[str, int]] = field(default_factory=list)  # (key, virtual time of the wake)
    reads: list[tuple[Lane, int, str]] = field(default_factory=list)  # events read: lane, when, key
    sweeps: int = 0
    sweeper_faults: set[tuple[int, int]] = field(default_factory=set)  # (sweep run, call number) that fail
    _sweeper_calls: int = 0

    def __post_init__(self) -> None:
        self.pipeline = InProcessPipeline(StreamingClient(self.dynamodb, self), workspaces=(3,))
        # Few sweep shards: moto answers each query slowly, and the rule does not depend on them.
        self.pipeline.ingest_settings = self.pipeline.ingest_settings.model_copy(update={"sweep_shards": SWEEP_SHARDS})
        self.deps = processor_deps(StreamingClient(self.dynamodb, self), CapturedAlerts(), self.now, seed=1)
        self.sweeper_store = EventStore(StreamingClient(self.dynamodb, self, self._sweeper_fault), EVENTS_TABLE_NAME)
        self.sweeper_settings = SweeperSettings.from_env(
            stack_with(
                {
                    "EVENTS_TABLE": EVENTS_TABLE_NAME,
                    "ALERTS_TOPIC_ARN": "arn:x",
                    "PENDING_GRACE_SECONDS": str(GRACE_MS // 1000),
                    "SWEEP_SHARDS": str(SWEEP_SHARDS),
                }
            )
        )
        self.lane_free_at = {lane: self.clock for lane in Lane}
        self.next_sweep_at = self.clock + SWEEP_PERIOD_MS

    def now(self) -> int:
        return self.clock

    # --- the stream ---------------------------------------------------------------------------

    def record_written(self, key: str, inserted: bool) -> None:
        """A write's stream record, through the lanes' filters (infra.constructs.processing)."""
        item = self.dynamodb.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]
        probe_lane = lane_of_probe(key)
        if probe_lane is not None:
            self.queues[probe_lane].append(StreamRecord(key, self.clock, int(item[EventAttr.PROBE_AT]["N"])))
            return
        new_event = inserted and item.get(EventAttr.INTAKE, {}).get("S") == EventStatus.PENDING
        if (
            not (new_event or item.get(EventAttr.STATUS, {}).get("S") == EventStatus.PENDING)
            or EventAttr.LANE not in item
        ):
            return
        if int(item.get(EventAttr.WAKES, {"N": "0"})["N"]) > 0:
            self.wakes.append((dedupe_key_of(key) or key, self.clock))
        if self.lose_next:
            self.lose_next = False
            return
        self.queues[Lane(item[EventAttr.LANE]["S"])].append(StreamRecord(key, self.clock))

    def lose(self) -> None:
        """The next event record written never reaches its lane (as a DLQ'd batch would lose it)."""
        self.lose_next = True

    def last_read_at(self, lane: Lane, before: int | None = None) -> int:
        return max(t for read_lane, t, _ in self.reads if read_lane is lane and (before is None or t < before))

    # --- actors -------------------------------------------------------------------------------

    def ingest(self, payload: dict[str, Any]) -> str:
        self.pipeline.clock = self.clock - 7  # the pipeline ticks 7 ms before each write
        status, body = self.pipeline.post(payload)
        assert status == 200, body
        return str(body["id"])

    def _sweeper_fault(self, operation: str) -> None:
        self._sweeper_calls += 1
        if (self.sweeps, self._sweeper_calls) in self.sweeper_faults:
            raise SweeperFault(operation)

    def run_sweeper(self) -> None:
        self.sweeps += 1
        self._sweeper_calls = 0
        with contextlib.suppress(SweeperFault, ClientError):  # the run died; the next one carries on
            sweep(self.sweeper_store, _NoAlerts(), self.sweeper_settings, self.clock)

    def _read_one(self, lane: Lane) -> None:
        """The lane reads its next record now, and is busy for the event's processing time."""
        record = self.queues[lane].popleft()
        process_record(record.key, record.probe_at, f"{lane}-reader", self.deps)
        self.lane_free_at[lane] = self.clock
        if record.probe_at is None:
            self.lane_free_at[lane] += self.ms_per_event[lane]
            self.reads.append((lane, self.lane_free_at[lane], record.key))

    def run_until(self, end_ms: int) -> None:
        """Advances virtual time: each lane reads when free, the sweeper runs every period."""
        while True:
            ready = [(max(self.lane_free_at[lane], q[0].written_at), lane) for lane, q in self.queues.items() if q]
            next_read = min(ready) if ready else None
            if next_read is not None and next_read[0] < self.next_sweep_at and next_read[0] <= end_ms:
                self.clock = max(self.clock, next_read[0])
                self._read_one(next_read[1])
            elif self.next_sweep_at <= end_ms:
                self.clock = max(self.clock, self.next_sweep_at)
                self.next_sweep_at += SWEEP_PERIOD_MS
                self.run_sweeper()
            else:
                self.clock = max(self.clock, end_ms)
                return

    def statuses(self) -> dict[str, str]:
        return {key: view[EventAttr.STATUS]["S"] for key, view in scan_events(self.dynamodb).items()}

    def backlog(self, lane: Lane) -> int:
        return sum(1 for record in self.queues[lane] if record.probe_at is None)


class _NoAlerts(AlertPublisher):
    def __init__(self) -> None:
        pass

    def publish(self, alert: Any) -> None:
        raise AssertionError(f"no event should fail here: {json.dumps(alert.__dict__, default=str)}")
