"""No sweeper amplification, in virtual time: the sweeper never wakes an event whose record is still
queued in its lane, and still wakes a really lost one soon after the lanes catch up."""

from __future__ import annotations

import pytest

from spillway_core.event_store import EventStore
from spillway_core.lanes import Lane
from tests.integration.conftest import Aws
from tests.support.lanes_world import GRACE_MS, START_MS, SWEEP_PERIOD_MS, LanesWorld, replied, sent
from tests.support.tables import EVENTS_TABLE_NAME

BACKLOG = 60
MS_PER_BULK_EVENT = 12_000  # 60 sends take 12 minutes: a backlog more than twice the 5-minute grace
BOUND_MS = GRACE_MS + 2 * SWEEP_PERIOD_MS


def new_world(aws: Aws) -> LanesWorld:
    return LanesWorld(aws.dynamodb, ms_per_event={Lane.BULK: MS_PER_BULK_EVENT, Lane.INTERACTIVE: 500})


def burst(world: LanesWorld, lose: str | None = None) -> dict[str, str]:
    """A backlog of sends with a reply after every 10th; the event named ``lose`` loses its record."""
    keys = {}
    for n in range(BACKLOG):
        world.lose_next = lose == f"sent-{n}"
        keys[f"sent-{n}"] = world.ingest(sent(1000 + n, lead=n % 5))
        if n % 10 == 0:
            world.lose_next = lose == f"reply-{n}"
            keys[f"reply-{n}"] = world.ingest(replied(5000 + n, lead=n % 5))
    return keys


def caught_up_at(world: LanesWorld, before: int) -> int:
    """When every lane had read all it was given (the bulk lane, last), before the first wake."""
    return max(world.last_read_at(lane, before) for lane in Lane)


def test_a_backlog_longer_than_the_grace_gets_no_wakes(aws: Aws) -> None:
    world = new_world(aws)
    keys = burst(world)

    world.run_until(world.clock + 14 * 60_000)

    assert world.wakes == []
    assert world.statuses() == dict.fromkeys(keys.values(), "SUCCEEDED")
    # The backlog really outlived the grace twice over, and the sweeper ran all along.
    assert world.last_read_at(Lane.BULK) - START_MS > 2 * GRACE_MS
    assert world.sweeps >= 12
    # Every run probed both lanes, and each lane's watermark followed its reading.
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    assert (
        store.sweep_positions().watermarks[Lane.BULK]
        >= world.last_read_at(Lane.BULK) - SWEEP_PERIOD_MS - MS_PER_BULK_EVENT
    )
    assert store.sweep_positions().watermarks[Lane.INTERACTIVE] >= world.clock - SWEEP_PERIOD_MS


def test_replies_are_read_within_seconds_while_the_bulk_backlog_takes_minutes(aws: Aws) -> None:
    world = new_world(aws)
    burst(world)

    world.run_until(world.clock + 14 * 60_000)

    assert world.last_read_at(Lane.INTERACTIVE) - START_MS < 10_000
    assert world.last_read_at(Lane.BULK) - START_MS > 10 * 60_000


@pytest.mark.parametrize("lost", ["sent-3", "sent-59", "reply-30"])
def test_a_lost_record_is_woken_within_grace_and_two_periods_of_the_lanes_catching_up(aws: Aws, lost: str) -> None:
    world = new_world(aws)
    keys = burst(world, lose=lost)

    world.run_until(world.clock + 25 * 60_000)

    assert [key for key, _ in world.wakes] == [keys[lost]]  # only the lost one, once
    [(_, woken_at)] = world.wakes
    assert woken_at - caught_up_at(world, before=woken_at) <= BOUND_MS
    assert world.statuses() == dict.fromkeys(keys.values(), "SUCCEEDED")


@pytest.mark.parametrize("failing_call", [1, 3, 4, 9])
def test_a_sweeper_fault_mid_backlog_changes_neither(aws: Aws, failing_call: int) -> None:
    """The runs 3 to 5 (minutes into the backlog) die at their n-th AWS call: reading a watermark,
    writing a probe, querying a shard."""
    world = new_world(aws)
    world.sweeper_faults = {(run, failing_call) for run in (3, 4, 5)}
    keys = burst(world, lose="sent-30")

    world.run_until(world.clock + 25 * 60_000)

    assert [key for key, _ in world.wakes] == [keys["sent-30"]]
    [(_, woken_at)] = world.wakes
    assert woken_at - caught_up_at(world, before=woken_at) <= BOUND_MS
    assert world.statuses() == dict.fromkeys(keys.values(), "SUCCEEDED")
