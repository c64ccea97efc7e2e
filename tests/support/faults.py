"""Fault injection at every AWS call the processor and the sweeper make, and a driver that plays the
stream, the Lambda runtime and the schedule in virtual time until the pipeline is quiet.

Fault kinds, at the n-th AWS call of the run:
* ``error_before``: the call fails and does nothing (throttling, a 500, a refused connection);
* ``error_after``: the call succeeds but its response is lost (a read timeout);
* ``killed_before``: the process dies before the call (killed, or a Lambda timeout mid-flight);
* ``killed_after``: the process dies right after the call succeeded.
A killed process runs nothing more: no except, no finally of ours. The stream then redelivers its
record (bounded retries, as the event source mapping does), and the sweeper repairs the rest.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from processor.logic import process_record
from spillway_core.alerts import AlertPublisher
from spillway_core.domain import effect_marker_pk
from spillway_core.event_store import event_views
from spillway_core.lanes import Lane, lane_of_probe
from spillway_core.lifecycle import sweep_shards
from spillway_core.settings import SweeperSettings
from spillway_core.status import LIVE_STATUSES, SWEEP_INDEX
from sweeper.logic import sweep
from tests.support.environment import stack_with
from tests.support.pipeline import InProcessPipeline, processor_deps
from tests.support.tables import EVENTS_TABLE_NAME

FAULT_KINDS = ("error_before", "error_after", "killed_before", "killed_after")
SWEEP_PERIOD_MS = 60_000
STREAM_RETRY_ATTEMPTS = 3  # as the event source mapping (cdk.json: streamRetryAttempts)


class Killed(BaseException):
    """The process died. BaseException: the code under test must not be able to catch it."""


@dataclass
class FaultPlan:
    """Faults by call number (counted over the whole run, processor and sweeper alike)."""

    at: dict[int, str] = field(default_factory=dict)
    # Every domain write of these events fails: a fault that outlasts all retries.
    persistent_for: frozenset[str] = frozenset()
    calls: int = 0
    injected: int = 0

    def next(self) -> str | None:
        self.calls += 1
        kind = self.at.get(self.calls)
        if kind:
            self.injected += 1
        return kind


class FaultyClient:
    """Wraps a boto3 client; every API method goes through the plan."""

    def __init__(self, real: Any, plan: FaultPlan) -> None:
        self._real = real
        self._plan = plan
        self.exceptions = real.exceptions
        self.meta = real.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name.startswith("get_") and name in {"get_paginator", "get_waiter"}:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in {"transact_write_items", "put_item"} and self._targets_persistent(kwargs):
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, name)
            kind = self._plan.next()
            if kind == "error_before":
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, name)
            if kind == "killed_before":
                raise Killed
            result = method(*args, **kwargs)
            if kind == "error_after":
                raise ReadTimeoutError(endpoint_url="injected")
            if kind == "killed_after":
                raise Killed
            return result

        return call

    def _targets_persistent(self, kwargs: dict[str, Any]) -> bool:
        # The effect's write: a transaction led by the marker or by the message the event creates
        # (``createdBy``), or that item's own put when it is all.
        put = kwargs.get("TransactItems", [{}])[0].get("Put", {}) if "TransactItems" in kwargs else kwargs
        first = put.get("Item", {})
        pk, creator = first.get("pk", {}).get("S", ""), first.get("createdBy", {}).get("S")
        return any(pk == effect_marker_pk(key) or creator == key for key in self._plan.persistent_for)


class CapturedPublisher(AlertPublisher):
    """A real AlertPublisher over a faulty fake SNS client that records what was published."""

    def __init__(self, plan: FaultPlan) -> None:
        self.published: list[dict[str, Any]] = []
        super().__init__(FaultyClient(_RecordingSns(self.published), plan), "arn:aws:sns:us-east-1:1:alerts")


class _RecordingSns:
    exceptions = None
    meta = None

    def __init__(self, sink: list[dict[str, Any]]) -> None:
        self._sink = sink

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self._sink.append(kwargs)
        return {"MessageId": str(len(self._sink))}


@dataclass
class RunReport:
    statuses: dict[str, str]
    alert_pending: set[str]
    domain: dict[tuple[str, str], dict[str, Any]]
    alerts_by_key: dict[str, int]
    injected: int
    sweeps: int
    # For events hit by a kill: virtual time from the kill to the event's final state.
    recovery_ms: list[int]


class FaultyWorld:
    """One in-process pipeline over moto whose processor and sweeper calls go through a fault plan."""

    def __init__(self, dynamodb: Any, plan: FaultPlan, seed: int = 0) -> None:
        self.plan = plan
        self.pipeline = InProcessPipeline(dynamodb, seed=seed)
        self.dynamodb = dynamodb
        faulty = FaultyClient(dynamodb, plan)
        self.clock = 1_795_000_000_000
        self.publisher = CapturedPublisher(plan)
        self.deps = processor_deps(faulty, self.publisher, self.now, seed)
        self.events = self.deps.events
        self.sweeper_settings = SweeperSettings.from_env(
            stack_with({"EVENTS_TABLE": EVENTS_TABLE_NAME, "ALERTS_TOPIC_ARN": "arn:x"})
        )
        self.stream: deque[tuple[str, int]] = deque()  # (key, deliveries so far)
        self.invocations = 0
        self.sweeps = 0
        self.killed_at: dict[str, int] = {}

    def now(self) -> int:
        self.clock += 5  # every reading moves time a little: no two writes share a timestamp
        return self.clock

    def ingest(self, payload: dict[str, Any]) -> str:
        self.pipeline.clock = self.clock
        status, body = self.pipeline.post(payload)
        assert status == 200, body
        if body["status"] == "accepted":
            self.stream.append((body["id"], 0))  # the INSERT record
        return str(body["id"])

    def redeliver(self, key: str) -> None:
        self.stream.append((key, 0))

    def deliver_next(self) -> None:
        key, deliveries = self.stream.popleft()
        self.invocations += 1
        try:
            process_record(key, self._probe_at(key), f"invocation-{self.invocations}", self.deps)
        except Killed:
            self.killed_at.setdefault(key, self.clock)
            self._retry(key, deliveries)
        except Exception:  # reported as a batch item failure: the stream retries the record
            self._retry(key, deliveries)

    def _probe_at(self, key: str) -> int | None:
        """A lane probe's time, as its stream image carries it (no sweep runs while records are queued,
        so the item still holds the value its record was written with)."""
        if lane_of_probe(key) is None:
            return None
        item = self.dynamodb.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": key}}, ConsistentRead=True)
        return int(item["Item"]["probeAt"]["N"])

    def _retry(self, key: str, deliveries: int) -> None:
        if deliveries < STREAM_RETRY_ATTEMPTS:
            self.stream.append((key, deliveries + 1))
        # else: the record goes to the DLQ; the event itself is left for the sweeper

    def run_sweeper(self, overlapping: bool = False) -> None:
        """One scheduled run, a period after the last. ``overlapping``: a second run read the same due
        events before this one changed them, and acts on its stale view afterwards."""
        self.clock += SWEEP_PERIOD_MS
        self.sweeps += 1
        before = self._statuses_and_wakes()
        stale: list[Any] = []
        if overlapping:
            for lane in Lane:
                for shard in sweep_shards(lane, self.sweeper_settings.sweep_shards):
                    seen = self._safe(lambda shard=shard: self.events.query_due(SWEEP_INDEX, shard, self.clock, 100))
                    stale += seen or []
        self._safe(lambda: sweep(self.events, self.publisher, self.sweeper_settings, self.now()))
        for due in stale:
            self._safe(lambda due=due: self.events.wake(due, self.clock, self.clock + 300_000))
        after = self._statuses_and_wakes()
        for key, (status, wakes) in after.items():
            if (status == "PENDING" or lane_of_probe(key)) and before.get(key) != (status, wakes):
                # The MODIFY record of a wake, or of a lane probe: one FIFO plays both lanes here.
                self.stream.append((key, 0))

    def _safe(self, action: Any) -> Any:
        try:
            return action()
        except Killed:
            return None  # the sweeper died; the next scheduled run carries on
        except Exception:
            return None

    def _statuses_and_wakes(self) -> dict[str, tuple[str, str]]:
        """Events by (status, wakes); lane probes by (probe time, "")."""
        items = _scan(self.dynamodb)
        found = {i["pk"]["S"]: (i["probeAt"]["N"], "") for i in items if "probeAt" in i}
        for key, view in event_views(items).items():
            found[key] = (view["status"]["S"], view.get("wakes", {"N": "0"})["N"])
        return found

    def quiet(self) -> bool:
        items = _events(self.dynamodb)
        return not self.stream and not any(i["status"]["S"] in LIVE_STATUSES or "alertPending" in i for i in items)

    def run_to_quiescence(self, max_steps: int = 5_000) -> RunReport:
        finished_at: dict[str, int] = {}
        for _ in range(max_steps):
            if self.quiet():
                break
            if self.stream:
                self.deliver_next()
            else:
                self.run_sweeper()
            for key, (status, _) in self._statuses_and_wakes().items():
                if status in {"SUCCEEDED", "FAILED"} and key not in finished_at:
                    finished_at[key] = self.clock
        else:
            raise AssertionError("the pipeline did not quiesce")
        items = _events(self.dynamodb)
        alerts: dict[str, int] = {}
        for message in self.publisher.published:
            # Alerts carry safe metadata only: never the lead's address or message text.
            published = json.dumps(message).lower()
            assert "prospect.example" not in published and "sounds interesting" not in published, message
            key = json.loads(message["Message"])["dedupe_key"]
            alerts[key] = alerts.get(key, 0) + 1
        return RunReport(
            statuses={i["pk"]["S"]: i["status"]["S"] for i in items},
            alert_pending={i["pk"]["S"] for i in items if "alertPending" in i},
            domain=self.pipeline.domain_state(),
            alerts_by_key=alerts,
            injected=self.plan.injected,
            sweeps=self.sweeps,
            recovery_ms=[finished_at[k] - t for k, t in self.killed_at.items() if k in finished_at],
        )


def _scan(dynamodb: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=EVENTS_TABLE_NAME, ConsistentRead=True):
        items += page["Items"]
    return items


def _events(dynamodb: Any) -> list[dict[str, Any]]:
    """The events, each as one item (not the lanes' probe and watermark items)."""
    return list(event_views(_scan(dynamodb)).values())
