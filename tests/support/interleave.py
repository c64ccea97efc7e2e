"""Deterministic interleavings of processor workers, the sweeper and replay, over moto.

Each actor runs the real product code in its own thread, but only one thread runs at a time: every
AWS call an actor makes on events (and every wait on virtual time) first hands control back to the
scheduler (the sweeper's lane probes, watermarks and checkpoints are its alone here, so their calls are not),
which picks the actor that takes the next step. A step is "make the call this actor is waiting to
make, then run on to its next call (or to its end)". So a schedule is a sequence of actor choices,
and replaying the same choices replays the same run exactly.

``explore`` enumerates every schedule of a scenario depth-first (a schedule is extended with the
first actor until the end, then the last choice that still has an alternative is advanced);
``random_schedule`` picks each step at random and can mix in faults from ``tests.support.faults``.

While a schedule runs, every write to the events table is checked as it happens:
* an outcome (SUCCEEDED, FAILED, RETRY_WAIT) is recorded only by the worker that holds the lease;
* a RUNNING event is due exactly at its lease expiry (so the sweeper looks at it then, not before);
* a RUNNING event goes back to PENDING only once its lease has expired.
After the actors, the pipeline is drained in virtual time (the stream hands every PENDING event to a
fresh worker, the sweeper runs every minute) and the end state is compared with a sequential run.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from processor.logic import ProcessorDeps, process_event
from spillway_core.alerts import AlertPublisher
from spillway_core.event_store import EventRecord, event_view, event_views
from spillway_core.lanes import Lane
from spillway_core.lifecycle import dedupe_key_of, lifecycle_key, sweep_shard
from spillway_core.settings import SweeperSettings
from spillway_core.status import LIVE_STATUSES, EventStatus
from sweeper.logic import sweep
from tests.support.environment import stack_with
from tests.support.faults import FaultPlan, FaultyClient, Killed
from tests.support.pipeline import InProcessPipeline, domain_view, processor_deps
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, moto_backend, recreate_tables

START_MS = 1_795_000_000_000
SWEEP_PERIOD_MS = 60_000
OUTCOMES = {EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.RETRY_WAIT}
# Picks the next actor to take a step, by its index among the names of the enabled ones.
Chooser = Callable[[list[str]], int]
# The processor's entry point: (dedupe key, lease owner, dependencies) -> outcome.
Processor = Callable[[str, str, ProcessorDeps, EventRecord | None], str]


class ScheduleOver(BaseException):
    """Unwinds an actor that is still paused when its schedule is abandoned."""


@dataclass
class Actor:
    name: str
    body: Callable[[], Any]
    # An actor that models a stream delivery starts only once its record exists (see World.when_pending).
    ready: Callable[[], bool] = lambda: True
    owner: str | None = None  # the lease owner, for workers
    started: bool = False
    done: bool = False
    result: Any = None
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    abandoned: bool = False
    thread: threading.Thread | None = None


class Scheduler:
    def __init__(self) -> None:
        self._local = threading.local()
        self._back = threading.Semaphore(0)
        self.trace: list[str] = []

    def current(self) -> Actor | None:
        return getattr(self._local, "actor", None)

    def pause(self, label: str) -> None:
        """Called by an actor before each step: wait until the scheduler picks it."""
        actor = self.current()
        if actor is None:
            return  # the harness's own calls (set-up, drain, checks) are not scheduled
        self._back.release()
        actor.go.acquire()
        if actor.abandoned:
            raise ScheduleOver
        self.trace.append(f"{actor.name}:{label}")

    def _run_actor(self, actor: Actor) -> None:
        self._local.actor = actor
        actor.go.acquire()
        try:
            actor.result = actor.body()
        except ScheduleOver:
            actor.result = "abandoned"
        except Killed:
            actor.result = "killed"
        except Exception as exc:  # a Lambda error: the stream retries the record, the sweeper repairs
            actor.result = f"error:{type(exc).__name__}"
        finally:
            actor.done = True
            self._back.release()

    def _step(self, actor: Actor) -> None:
        if not actor.started:
            actor.started = True
            actor.thread = threading.Thread(target=self._run_actor, args=(actor,), daemon=True)
            actor.thread.start()
            actor.go.release()
            self._back.acquire()  # ran up to its first call
            if actor.done:
                return
        actor.go.release()
        self._back.acquire()

    def run(self, actors: list[Actor], choose: Chooser) -> None:
        try:
            while True:
                enabled = [a for a in actors if not a.done and (a.started or a.ready())]
                if not enabled:
                    break  # actors never enabled model records that were never written
                self._step(enabled[choose([a.name for a in enabled])])
        finally:
            for actor in actors:
                if actor.started and not actor.done:
                    actor.abandoned = True
                    actor.go.release()
                    self._back.acquire()


def _bookkeeping_only(kwargs: dict[str, Any]) -> bool:
    """Whether a call touches only the sweeper's bookkeeping items (lane probes, watermarks, intake
    checkpoints): within a scenario only the sweeper reads and writes them, so interleaving these
    calls with other actors' steps changes nothing and only multiplies the schedules."""
    keys = [kwargs["Key"]] if "Key" in kwargs else []
    for request in kwargs.get("RequestItems", {}).values():
        keys += request.get("Keys", [])
    pks = [key.get("pk", {}).get("S", "") for key in keys]
    return bool(pks) and all(pk.startswith(("LANE#", "CHECKPOINT#")) for pk in pks)


class GatedClient:
    """A boto3 client (or a fake) whose every API call, but the sweeper's bookkeeping, is a scheduling
    point."""

    def __init__(self, real: Any, scheduler: Scheduler) -> None:
        self._real = real
        self._scheduler = scheduler
        self.exceptions = getattr(real, "exceptions", None)
        self.meta = getattr(real, "meta", None)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if not _bookkeeping_only(kwargs):
                self._scheduler.pause(name)
            return method(*args, **kwargs)

        return call


class ObservedClient:
    """The moto client under the faults: checks every events-table update that really happened."""

    def __init__(self, real: Any, world: World) -> None:
        self._real = real
        self._world = world
        self.exceptions = real.exceptions
        self.meta = real.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name != "update_item":
            return method

        def call(**kwargs: Any) -> Any:
            pk = kwargs["Key"]["pk"]["S"]
            key = dedupe_key_of(pk) or pk
            before = self._world.event(key)
            result = method(**kwargs)
            self._world.check_transition(before, self._world.event(key))
            return result

        return call


class MotoView:
    """Reads moto's tables in memory: the harness's own look-ups make no API call, so a
    schedule costs little more than the calls its actors make."""

    def __init__(self, region: str = "us-east-1") -> None:
        self._backend = moto_backend(region)

    def items(self, table: str) -> list[dict[str, Any]]:
        """The table's items; in the events table, the events only (not the lanes' probes and watermarks)."""
        items = [dict(item.to_json()["Attributes"]) for item in self._backend.get_table(table).all_items()]
        return list(event_views(items).values()) if table == EVENTS_TABLE_NAME else items

    def raw(self, key: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The event's record and lifecycle item as stored (None where absent)."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._backend.get_table(EVENTS_TABLE_NAME)
        record, lifecycle = (table.get_item(DynamoType({"S": pk})) for pk in (key, lifecycle_key(key)))
        return (
            dict(record.to_json()["Attributes"]) if record else None,
            dict(lifecycle.to_json()["Attributes"]) if lifecycle else None,
        )

    def event(self, key: str) -> dict[str, Any]:
        """The event as one item (its record with its lifecycle item over it); {} for other keys."""
        record, lifecycle = self.raw(key)
        if record is None and lifecycle is None:
            return {}
        view = event_view(key, record, lifecycle)
        return view if "status" in view else {}

    def domain(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every domain item, as ``domain_view`` shows it."""
        return domain_view(self.items(DOMAIN_TABLE_NAME))


class RecordingSns:
    exceptions = None
    meta = None

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.down = False

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        if self.down:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "SNS is down"}}, "Publish")
        self.published.append(kwargs)
        return {"MessageId": str(len(self.published))}


@dataclass
class Outcome:
    statuses: dict[str, str]
    domain: dict[tuple[str, str], dict[str, Any]]
    alerts_by_key: dict[str, int]
    violations: list[str]
    trace: list[str]
    results: dict[str, Any]


class World:
    """One schedule's world: fresh tables, a virtual clock, and actors over gated clients."""

    def __init__(self, dynamodb: Any, plan: FaultPlan | None = None, processor: Processor = process_event) -> None:
        self.view = MotoView()
        recreate_tables(dynamodb)
        self.dynamodb = dynamodb
        self.processor = processor
        self.scheduler = Scheduler()
        self.clock = START_MS
        self.violations: list[str] = []
        self.plan = plan or FaultPlan()
        # One sweep shard per lane, so that a sweep is one query per lane plus one call per due event.
        self.pipeline = InProcessPipeline(dynamodb)
        self.pipeline.ingest_settings = self.pipeline.ingest_settings.model_copy(update={"sweep_shards": 1})
        self.sns = RecordingSns()
        actor_ddb = GatedClient(FaultyClient(ObservedClient(dynamodb, self), self.plan), self.scheduler)
        self.alerts = AlertPublisher(GatedClient(FaultyClient(self.sns, self.plan), self.scheduler), "arn:alerts")
        self.deps = processor_deps(actor_ddb, self.alerts, self.now, seed=7)
        self.events = self.deps.events
        self.sweeper_settings = SweeperSettings.from_env(
            stack_with({"EVENTS_TABLE": EVENTS_TABLE_NAME, "ALERTS_TOPIC_ARN": "arn:alerts", "SWEEP_SHARDS": "1"})
        )
        # The drain runs with no gate and no faults: the system after the storm.
        self.quiet_alerts = AlertPublisher(self.sns, "arn:alerts")
        self.quiet_deps = processor_deps(ObservedClient(dynamodb, self), self.quiet_alerts, self.now, seed=11)
        self.drained_by = 0
        self.outside_owner = "set-up"  # the lease owner of the harness's own processor runs

    # --- time ---------------------------------------------------------------------------------------

    def now(self) -> int:
        self.clock += 1  # every reading moves time a little: no two writes share a timestamp
        return self.clock

    def wait(self, ms: int) -> None:
        """A wait on virtual time is a step of its own (a lease running out, a grace period, a backoff)."""
        self.scheduler.pause(f"wait {ms} ms")
        self.clock += ms

    # --- set-up helpers -------------------------------------------------------------------------------

    def ingest(self, payload: dict[str, Any]) -> str:
        self.pipeline.clock = self.clock
        status, body = self.pipeline.post(payload)
        assert status == 200 and body["status"] == "accepted", body
        self.clock = self.pipeline.clock
        return str(body["id"])

    def event(self, key: str) -> dict[str, Any]:
        return self.view.event(key)

    def status(self, key: str) -> str:
        return str(self.event(key).get("status", {}).get("S", ""))

    # --- actors ---------------------------------------------------------------------------------------

    def worker(self, name: str, key: str, ready: Callable[[], bool] = lambda: True) -> Actor:
        return Actor(name, lambda: self.processor(key, name, self.deps, self.delivered(key)), ready=ready, owner=name)

    def delivered(self, key: str) -> EventRecord | None:
        """What the stream record a worker gets carries: a new event's INSERT carries its record; the
        record of a lifecycle item put back to PENDING does not (the worker reads the event record)."""
        record, lifecycle = self.view.raw(key)
        return EventRecord.from_item(record) if record is not None and lifecycle is None else None

    def when_pending(self, key: str) -> Callable[[], bool]:
        """A stream delivery of the record a write to PENDING produced: it exists once the event is PENDING."""
        return lambda: self.status(key) == EventStatus.PENDING

    def when_pending_again(self, key: str) -> Callable[[], bool]:
        """The delivery of the record the sweeper's wake wrote (the ingest's record is another actor's)."""
        return lambda: self.status(key) == EventStatus.PENDING and "wakes" in self.event(key)

    def process_quietly(self, key: str) -> None:
        """One ungated, fault-free delivery (for set-ups); a Lambda error is left to the sweeper."""
        with contextlib.suppress(Exception):  # the state it leaves is what the set-up wants
            self.processor(key, self.outside_owner, self.quiet_deps, self.delivered(key))

    def sweeper(self, name: str, after_ms: int) -> Actor:
        def body() -> Any:
            self.wait(after_ms)
            return sweep(self.events, self.alerts, self.sweeper_settings, self.now())

        return Actor(name, body)

    def replay(self, name: str, key: str) -> Actor:
        def body() -> bool:
            now = self.now()
            shard = sweep_shard(key, Lane(self.event(key)["lane"]["S"]), self.sweeper_settings.sweep_shards)
            return self.events.replay(key, now, shard, now + self.pipeline.ingest_settings.pending_grace_seconds * 1000)

        return Actor(name, body)

    # --- invariants at every write ----------------------------------------------------------------------

    def check_transition(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        if not after or before == after or "status" not in after:  # lane probes and watermarks are not events
            return
        actor = self.scheduler.current()
        writer = actor.owner if actor else self.outside_owner
        old, new = before.get("status", {}).get("S"), after["status"]["S"]
        key = after["pk"]["S"]
        for name in ("updatedAt", "dueAt", "leaseExpiresAt", "runAt", "completedAt"):
            if name in after and not after[name].get("N", "").isdigit():
                self.violations.append(f"{key}: {name} is not a time: {after[name]}")
        if old == EventStatus.RUNNING and new in OUTCOMES and writer is not None:
            holder = before.get("leaseOwner", {}).get("S")
            if holder != writer:
                self.violations.append(f"{key}: {writer} recorded {new} while {holder} held the lease")
        if new == EventStatus.RUNNING and after.get("dueAt") != after.get("leaseExpiresAt"):
            self.violations.append(f"{key}: RUNNING but due at {after.get('dueAt')}, lease {after['leaseExpiresAt']}")
        if old == EventStatus.RUNNING and new == EventStatus.PENDING:
            expires = int(before["leaseExpiresAt"]["N"])
            if self.clock < expires:
                self.violations.append(f"{key}: a live lease was taken {expires - self.clock} ms before it expired")

    # --- running ------------------------------------------------------------------------------------------

    def run(self, actors: list[Actor], choose: Chooser) -> Outcome:
        self.scheduler.run(actors, choose)
        self.drain()
        alerts: dict[str, int] = {}
        for message in self.sns.published:
            key = json.loads(message["Message"])["dedupe_key"]
            alerts[key] = alerts.get(key, 0) + 1
        items = self.view.items(EVENTS_TABLE_NAME)
        return Outcome(
            statuses={i["pk"]["S"]: i["status"]["S"] for i in items},
            domain=self.view.domain(),
            alerts_by_key=alerts,
            violations=self.violations,
            trace=self.scheduler.trace,
            results={a.name: a.result for a in actors},
        )

    def drain(self, max_steps: int = 200) -> None:
        """The stream delivers every PENDING event; the sweeper runs once a minute; until nothing is owed."""
        store = self.quiet_deps.events
        for _ in range(max_steps):
            items = self.view.items(EVENTS_TABLE_NAME)
            pending = sorted(i["pk"]["S"] for i in items if i["status"]["S"] == EventStatus.PENDING)
            if pending:
                self.drained_by += 1
                self.outside_owner = f"drain-{self.drained_by}"
                with contextlib.suppress(Exception):  # the stream retries; the sweeper repairs
                    self.processor(pending[0], self.outside_owner, self.quiet_deps, self.delivered(pending[0]))
                continue
            if not any(i["status"]["S"] in LIVE_STATUSES or "alertPending" in i for i in items):
                return
            self.clock += SWEEP_PERIOD_MS
            sweep(store, self.quiet_alerts, self.sweeper_settings, self.now())
        raise AssertionError("the pipeline did not quiesce")


# --- schedules -----------------------------------------------------------------------------------------


class Replay:
    """Chooses by a prefix of earlier choices, then always the first enabled actor; records what it did."""

    def __init__(self, prefix: list[int]) -> None:
        self.prefix = prefix
        self.taken: list[tuple[int, int]] = []  # (choice, number of enabled actors)

    def __call__(self, enabled: list[str]) -> int:
        options = len(enabled)
        position = len(self.taken)
        choice = self.prefix[position] if position < len(self.prefix) else 0
        assert choice < options, "the scenario is not deterministic"
        self.taken.append((choice, options))
        return choice


def explore(run_one: Callable[[Chooser], None], limit: int = 20_000) -> int:
    """Runs every schedule once, depth first; returns how many there were."""
    prefix: list[int] = []
    for count in range(1, limit + 1):
        chooser = Replay(prefix)
        run_one(chooser)
        taken = chooser.taken
        while taken and taken[-1][0] == taken[-1][1] - 1:
            taken.pop()
        if not taken:
            return count
        prefix = [choice for choice, _ in taken[:-1]] + [taken[-1][0] + 1]
    raise AssertionError(f"more than {limit} schedules: make the scenario smaller")


def sequential(enabled: list[str]) -> int:
    """Always the first enabled actor: each actor runs to its end before the next starts."""
    return 0


def random_chooser(seed: int) -> Chooser:
    rng = random.Random(seed)
    return lambda enabled: rng.randrange(len(enabled))


def scripted(*names: str) -> Chooser:
    """Steps the named actors in this order, then runs whatever is left in order."""
    script = list(names)

    def choose(enabled: list[str]) -> int:
        if script:
            name = script.pop(0)
            assert name in enabled, f"{name} cannot take a step now (enabled: {enabled})"
            return enabled.index(name)
        return 0

    return choose
