"""Faults at every AWS call of the processor and the sweeper, for every event type, run to quiescence.

After any schedule of faults, duplicates, redeliveries and overlapping sweeps:
* every event ends SUCCEEDED, or FAILED with an alert when the fault was permanent;
* every domain effect happened exactly once (the state equals a fault-free run's);
* no event is left RUNNING, PENDING or RETRY_WAIT, and no alert is left owed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.support.faults import FAULT_KINDS, SWEEP_PERIOD_MS, FaultPlan, FaultyWorld, RunReport
from tests.support.scenario import EVENTS
from tests.support.tables import recreate_tables, replace_normalised

MAX_CALL_INDEX = 8  # a fault-free event makes 4 calls; failures and repairs make a few more


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def run(dynamodb: Any, names: list[str], plan: FaultPlan, **options: Any) -> RunReport:
    recreate_tables(dynamodb)
    world = FaultyWorld(dynamodb, plan)
    keys = [world.ingest(EVENTS[name]) for name in names]
    for key in options.get("redeliver", []):
        world.redeliver(keys[key % len(keys)])
    for name in options.get("post_again", []):
        world.ingest(EVENTS[name])
    for key, document in options.get("poison", {}).items():
        replace_normalised(dynamodb, keys[key], document)
    if options.get("overlapping_sweep"):
        world.run_sweeper(overlapping=True)
    return world.run_to_quiescence()


def assert_quiet_and_exactly_once(report: RunReport, reference: RunReport) -> None:
    live = {k: s for k, s in report.statuses.items() if s not in {"SUCCEEDED", "FAILED"}}
    assert live == {}, f"left live: {live}"
    assert report.alert_pending == set()
    assert report.statuses == reference.statuses
    assert report.domain == reference.domain


@cache
def _reference_cache() -> dict[tuple[str, ...], RunReport]:
    return {}


def reference(dynamodb: Any, names: list[str]) -> RunReport:
    key = tuple(sorted(names))
    cached = _reference_cache()
    if key not in cached:
        cached[key] = run(dynamodb, sorted(names), FaultPlan())
    return cached[key]


SINGLE_FAULT_SCHEDULES = list(itertools.product(sorted(EVENTS), range(1, MAX_CALL_INDEX + 1), FAULT_KINDS))


def test_one_fault_at_every_call_of_every_event_type(dynamodb: Any) -> None:
    """Every (event, call number, fault kind): 10 events of 8 types x 8 calls x 4 kinds."""
    recoveries: list[int] = []
    injected = 0
    for name, call, kind in SINGLE_FAULT_SCHEDULES:
        report = run(dynamodb, [name], FaultPlan(at={call: kind}))
        assert_quiet_and_exactly_once(report, reference(dynamodb, [name]))
        assert report.alerts_by_key == {}, (name, call, kind)
        recoveries += report.recovery_ms
        injected += report.injected
    assert injected >= len(EVENTS) * 4 * len(FAULT_KINDS)  # every call of the happy path was hit
    # A killed processor leaves its event RUNNING; the sweeper releases it once the lease (45 s)
    # has passed, so it is back within two sweeper periods of the kill.
    assert recoveries and max(recoveries) <= 2 * SWEEP_PERIOD_MS + 1_000


def test_a_fault_in_the_sweeper_itself_is_repaired_by_its_next_run(dynamodb: Any) -> None:
    # Kill the processor after its claim (call 1), then fail each of the sweeper's calls in turn.
    for sweeper_call, kind in itertools.product(range(2, 2 + MAX_CALL_INDEX), FAULT_KINDS):
        report = run(dynamodb, ["sent_a"], FaultPlan(at={1: "killed_after", sweeper_call: kind}))
        assert_quiet_and_exactly_once(report, reference(dynamodb, ["sent_a"]))


def test_a_poison_event_ends_failed_with_one_alert_and_others_still_succeed(dynamodb: Any) -> None:
    names = ["sent_a", "replied", "open_a1"]
    report = run(dynamodb, names, FaultPlan(), poison={1: json.dumps({"provider": "emailbison"})})

    poisoned = next(k for k in report.statuses if "LEAD_REPLIED" in k)
    assert report.statuses[poisoned] == "FAILED"
    assert report.alerts_by_key == {poisoned: 1}
    assert {s for k, s in report.statuses.items() if k != poisoned} == {"SUCCEEDED"}
    assert report.alert_pending == set()


def test_a_fault_that_outlasts_every_retry_fails_after_max_attempts_with_an_alert(dynamodb: Any) -> None:
    clean = reference(dynamodb, ["sent_a"])
    stubborn = next(iter(clean.statuses))
    report = run(dynamodb, ["sent_a", "replied"], FaultPlan(persistent_for=frozenset({stubborn})))

    assert report.statuses[stubborn] == "FAILED"
    assert report.alerts_by_key == {stubborn: 1}
    others = {k: s for k, s in report.statuses.items() if k != stubborn}
    assert set(others.values()) == {"SUCCEEDED"}
    # 8 attempts with exponential backoff (2 s doubling, full jitter) need several sweeper periods.
    assert report.sweeps >= 4


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_an_alert_lost_on_the_way_is_published_by_the_sweeper(dynamodb: Any, kind: str) -> None:
    # A poison event makes 5 calls on its way to FAILED: claim, mark failed, publish (3), alert sent.
    report = run(dynamodb, ["replied"], FaultPlan(at={3: kind}), poison={0: "{}"})

    [key] = report.statuses
    assert report.statuses[key] == "FAILED"
    assert 1 <= report.alerts_by_key.get(key, 0) <= 2  # at least once; twice only if the publish went through
    assert report.alert_pending == set()


@st.composite
def fault_schedules(draw: st.DrawFn) -> tuple[list[str], FaultPlan, dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(sorted(EVENTS)), min_size=1, max_size=5, unique=True))
    calls = draw(st.lists(st.integers(min_value=1, max_value=12 * len(names)), min_size=1, max_size=4, unique=True))
    plan = FaultPlan(at={call: draw(st.sampled_from(FAULT_KINDS)) for call in calls})
    options = {
        "redeliver": draw(st.lists(st.integers(min_value=0, max_value=10), max_size=3)),
        "post_again": draw(st.lists(st.sampled_from(names), max_size=2)),
        "overlapping_sweep": draw(st.booleans()),
    }
    return names, plan, options


SCHEDULES_RUN: list[int] = []


def test_random_fault_schedules_with_duplicates_and_overlapping_sweeps(dynamodb: Any) -> None:
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(fault_schedules())
    def check(schedule: tuple[list[str], FaultPlan, dict[str, Any]]) -> None:
        names, plan, options = schedule
        report = run(dynamodb, names, plan, **options)
        assert_quiet_and_exactly_once(report, reference(dynamodb, names))
        assert report.alerts_by_key == {}
        SCHEDULES_RUN.append(report.injected)

    check()
    assert sum(1 for injected in SCHEDULES_RUN if injected) > 50  # most schedules really hit a call
