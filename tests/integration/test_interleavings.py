"""Every interleaving of small races, and random schedules with faults for larger ones.

Actors are the real processor, sweeper and replay code; their steps are their AWS calls and their
waits on virtual time (see tests/support/interleave.py). In every schedule:
* each effect happens exactly once, and the end state equals the sequential run's;
* no outcome is recorded by a worker that no longer holds the lease, and no live lease is taken;
* nothing is left live and no alert is left owed;
* every FAILED event was alerted, and no event is FAILED merely because of contention.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.faults import FAULT_KINDS, FaultPlan
from tests.support.interleave import Actor, Chooser, Outcome, World, explore, random_chooser, sequential
from tests.support.scenario import EVENTS
from tests.support.tables import replace_normalised

LEASE_MS = 45_000  # the processor's default lease (ProcessorSettings.lease_seconds)
ALERT_RETRY_MS = 60_000
RANDOM_SCHEDULES = 40
# A scenario: set-up on a fresh world, then the actors to interleave.
Scenario = Callable[[World], list[Actor]]
SCHEDULES_EXPLORED: dict[str, int] = {}


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def without_lead(name: str) -> dict[str, Any]:
    """The event with no lead: nothing but its effect marker guards its counters."""
    payload = copy.deepcopy(EVENTS[name])
    payload["data"]["lead"] = None
    return payload


def poison(world: World, key: str, document: str = "{}") -> str:
    """Replaces the stored event with one the processor can never plan; returns the original."""
    return replace_normalised(world.dynamodb, key, document)


def run(dynamodb: Any, scenario: Scenario, choose: Chooser, plan: FaultPlan | None = None) -> Outcome:
    world = World(dynamodb, plan)
    return world.run(scenario(world), choose)


def assert_as_sequential(outcome: Outcome, reference: Outcome) -> None:
    context = " -> ".join(outcome.trace)
    assert outcome.violations == [], context
    live = {k: s for k, s in outcome.statuses.items() if s not in {"SUCCEEDED", "FAILED"}}
    assert live == {}, context
    # Same statuses as the sequential run: in particular nothing FAILED because of contention.
    assert outcome.statuses == reference.statuses, context
    assert outcome.domain == reference.domain, context  # every effect exactly once
    for key, status in outcome.statuses.items():
        if status == "FAILED":
            assert outcome.alerts_by_key.get(key, 0) >= 1, f"{key} FAILED without an alert: {context}"


def explore_all(dynamodb: Any, name: str, scenario: Scenario) -> list[list[str]]:
    """Checks every schedule of the scenario; returns their traces."""
    reference = run(dynamodb, scenario, sequential)
    traces: list[list[str]] = []

    def check(choose: Chooser) -> None:
        outcome = run(dynamodb, scenario, choose)
        assert_as_sequential(outcome, reference)
        traces.append(outcome.trace)

    SCHEDULES_EXPLORED[name] = explore(check)
    return traces


def steps_in_order(trace: list[str], first: str, then: str) -> bool:
    return first in trace and then in trace and trace.index(first) < trace.index(then)


# --- scenarios, enumerated exhaustively -----------------------------------------------------------


def stalled_worker_and_a_second_one(payload: dict[str, Any]) -> Scenario:
    """W1 takes the event; its lease runs out while it stalls; the sweeper releases the event and the
    stream hands the new record to W2. W1 carries on with whatever it had read."""

    def scenario(world: World) -> list[Actor]:
        key = world.ingest(payload)
        return [
            world.worker("w1", key),
            world.sweeper("sweeper", after_ms=LEASE_MS + 1),
            world.worker("w2", key, ready=world.when_pending_again(key)),
        ]

    return scenario


def test_two_workers_on_one_event_with_the_lease_expiring_in_between(dynamodb: Any) -> None:
    # An open with no lead: only its effect marker stops a second worker from counting it again.
    scenario = stalled_worker_and_a_second_one(without_lead("open_a1"))
    traces = explore_all(dynamodb, "lease expiry, open without lead", scenario)
    # The race it is named for was run: w2 claimed before the stalled w1 wrote its effect, and the
    # other way round.
    assert any(steps_in_order(t, "w2:update_item", "w1:transact_write_items") for t in traces)
    assert any(steps_in_order(t, "w1:transact_write_items", "w2:batch_get_item") for t in traces)


def test_two_events_of_one_lead(dynamodb: Any) -> None:
    """A reply and an open of one lead that an earlier send created: the lead is all they share, so
    only its version condition keeps one from overwriting the other's update."""

    def scenario(world: World) -> list[Actor]:
        world.process_quietly(world.ingest(EVENTS["sent_a"]))
        replied, opened = world.ingest(EVENTS["replied"]), world.ingest(EVENTS["open_a1"])
        return [world.worker("w-replied", replied), world.worker("w-opened", opened)]

    traces = explore_all(dynamodb, "two events of one lead", scenario)
    # Both read the lead before either wrote: one write is refused and folds again.
    assert any(t.count("w-replied:batch_get_item") + t.count("w-opened:batch_get_item") > 2 for t in traces)


def test_two_opens_of_one_message_without_a_lead(dynamodb: Any) -> None:
    def scenario(world: World) -> list[Actor]:
        first, second = world.ingest(without_lead("open_a1")), world.ingest(without_lead("open_a2"))
        return [world.worker("w-open1", first), world.worker("w-open2", second)]

    explore_all(dynamodb, "two opens of one message", scenario)


def test_a_worker_the_sweeper_and_a_replay_on_one_failed_event(dynamodb: Any) -> None:
    """The event FAILED and its alert was lost; after a fix, an operator replays it while the sweeper
    comes to publish the owed alert and the replay's stream record reaches a worker."""

    def scenario(world: World) -> list[Actor]:
        key = world.ingest(EVENTS["sent_a"])
        original = poison(world, key)
        world.sns.down = True
        world.process_quietly(key)
        world.sns.down = False
        assert world.status(key) == "FAILED" and "alertPending" in world.event(key)
        replace_normalised(world.dynamodb, key, original)  # the fix
        return [
            world.replay("replay", key),
            world.sweeper("sweeper", after_ms=ALERT_RETRY_MS + 1),
            world.worker("w", key, ready=world.when_pending(key)),
        ]

    explore_all(dynamodb, "worker, sweeper and replay on a FAILED event", scenario)


def test_a_stale_worker_fails_an_event_another_worker_now_owns(dynamodb: Any) -> None:
    """A poison event: two workers reach FAILED one after the other's lease ran out. Only the lease
    holder records FAILED and alerts; the stale one skips without an alert."""

    def scenario(world: World) -> list[Actor]:
        key = world.ingest(EVENTS["replied"])
        poison(world, key)
        return [
            world.worker("w1", key),
            world.sweeper("sweeper", after_ms=LEASE_MS + 1),
            world.worker("w2", key, ready=world.when_pending_again(key)),
        ]

    explore_all(dynamodb, "stale worker on a poison event", scenario)


# --- larger scenarios: random schedules with faults -------------------------------------------------


def busy_lead(world: World) -> list[Actor]:
    """Four events of one lead, one of them poison, a duplicate delivery and an early sweeper."""
    keys = [world.ingest(EVENTS[name]) for name in ("sent_a", "open_a1", "replied", "interested")]
    poison(world, keys[2])
    actors = [world.worker(f"w{n}", key) for n, key in enumerate(keys)]
    actors.append(world.worker("w-dup", keys[1]))
    actors.append(world.sweeper("sweeper", after_ms=LEASE_MS + 1))
    actors.append(world.sweeper("sweeper-late", after_ms=ALERT_RETRY_MS + LEASE_MS))
    return actors


def test_random_schedules_of_a_busy_lead_with_faults(dynamodb: Any) -> None:
    reference = run(dynamodb, busy_lead, sequential)
    assert set(reference.statuses.values()) == {"SUCCEEDED", "FAILED"}
    injected = 0
    for seed in range(RANDOM_SCHEDULES):
        rng = random_chooser(seed * 7919)
        calls = {1 + (seed * 13 + n * 17) % 40: FAULT_KINDS[(seed + n) % len(FAULT_KINDS)] for n in range(seed % 3)}
        plan = FaultPlan(at=calls)
        outcome = run(dynamodb, busy_lead, rng, plan)
        assert_as_sequential(outcome, reference)
        injected += plan.injected
    SCHEDULES_EXPLORED["busy lead, random with faults"] = RANDOM_SCHEDULES
    assert injected > RANDOM_SCHEDULES // 2


def test_report_schedules_explored() -> None:
    # How much of each race the harness covered in this run: the run's summary prints it (conftest).
    print(json.dumps(SCHEDULES_EXPLORED | {"total": sum(SCHEDULES_EXPLORED.values())}, indent=2))
