"""Every failure path of the lifecycle pinned at its own branch, with items as the code writes them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from processor.logic import process_event, process_record
from spillway_core.alerts import AlertPublisher, inspect_command
from spillway_core.errors import StoreUnavailable
from spillway_core.event_store import EventFilter, EventRecord
from spillway_core.lanes import Lane, probe_key
from spillway_core.lifecycle import lifecycle_key
from spillway_core.settings import SweeperSettings
from spillway_core.status import EventStatus
from sweeper.logic import sweep
from tests.support.environment import stack_with
from tests.support.faults import FaultPlan, FaultyClient, Killed
from tests.support.interleave import RecordingSns, World, scripted, sequential
from tests.support.pipeline import InProcessPipeline, processor_deps
from tests.support.scenario import EVENTS
from tests.support.tables import EVENTS_TABLE_NAME, event_item, replace_normalised

# A sweep's steps before it repairs an interactive event: its intake and lifecycle queries (the reads
# and writes of its own bookkeeping, watermarks, probes and checkpoints, are not scheduling points).
QUERIES_BEFORE_REPAIR = 2
# What a retry records when every domain write of the event fails (FaultPlan.persistent_for).
OUTAGE = "transact: InternalServerError"


class Lifecycle:
    """The real pipeline over moto with a clock the test moves, SNS captured (and breakable)."""

    def __init__(self, dynamodb: Any, plan: FaultPlan | None = None) -> None:
        self.dynamodb = dynamodb
        self.pipeline = InProcessPipeline(dynamodb)
        self.clock = self.pipeline.clock
        self.sns = RecordingSns()
        alerts = AlertPublisher(self.sns, "arn:alerts")
        client = FaultyClient(dynamodb, plan) if plan else dynamodb
        self.deps = processor_deps(client, alerts, self.now, seed=3)
        self.sweeper_settings = SweeperSettings.from_env(
            stack_with({"EVENTS_TABLE": EVENTS_TABLE_NAME, "ALERTS_TOPIC_ARN": "x"})
        )
        self.alerts = alerts

    def now(self) -> int:
        self.clock += 1
        return self.clock

    def ingest(self, name: str) -> str:
        self.pipeline.clock = self.clock
        status, body = self.pipeline.post(EVENTS[name])
        assert status == 200, body
        return str(body["id"])

    def record(self, key: str) -> EventRecord:
        record = self.deps.events.event_record(key)
        assert record is not None
        return record

    def item(self, key: str) -> dict[str, Any]:
        item = event_item(self.dynamodb, key)
        assert item is not None
        return item

    def sweep_at(self, now_ms: int) -> Any:
        self.clock = max(self.clock, now_ms)
        return sweep(self.deps.events, self.alerts, self.sweeper_settings, now_ms)

    def poison(self, key: str) -> None:
        replace_normalised(self.dynamodb, key, "{}")

    def alerted_keys(self) -> list[str]:
        return [json.loads(m["Message"])["dedupe_key"] for m in self.sns.published]


def test_a_persistent_failure_gets_exactly_max_attempts_then_fails_with_its_error_class(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("sent_a")
    # Every domain write of this event fails (an outage that outlasts every retry).
    world.deps = processor_deps(
        FaultyClient(dynamodb, FaultPlan(persistent_for=frozenset({key}))), world.alerts, world.now, seed=3
    )
    max_attempts = int(world.item(key)["maxAttempts"]["N"])
    outcomes = []
    for attempt in range(1, max_attempts + 1):
        outcomes.append(process_event(key, f"worker-{attempt}", world.deps))
        item = world.item(key)
        assert item["attempts"]["N"] == str(attempt)
        if attempt < max_attempts:
            assert item["status"]["S"] == EventStatus.RETRY_WAIT
            due = int(item["dueAt"]["N"])
            [waiting], _ = world.deps.events.list_events(EventFilter(status=EventStatus.RETRY_WAIT), limit=5)
            assert (waiting.error_class, waiting.attempts) == ("RetryableProcessingError", attempt)
            assert item["lastError"]["S"] == OUTAGE
            assert waiting.updated_at_ms < due  # it waits out a backoff after the failed attempt
            assert world.sweep_at(due).woken == {"RETRY_WAIT": 1}  # its backoff is over: back to PENDING

    assert outcomes == ["retry"] * (max_attempts - 1) + ["failed"]
    item = world.item(key)
    assert max_attempts == 8
    assert (item["status"]["S"], item["attempts"]["N"]) == ("FAILED", "8")
    assert item["errorClass"]["S"] == "RetryableProcessingError"
    failed = world.deps.events.failed_event(key)
    assert failed is not None and (failed.error_class, failed.message) == ("RetryableProcessingError", OUTAGE)
    [alert] = [json.loads(m["Message"]) for m in world.sns.published]
    assert (alert["dedupe_key"], alert["attempts"], alert["error_class"]) == (key, 8, "RetryableProcessingError")


def test_an_event_that_keeps_killing_its_processor_fails_once_its_attempts_are_used_up(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("open_a1")
    lease_ms = world.deps.settings.lease_seconds * 1000
    for attempt in range(1, 9):  # eight claims, each processor dying before it records anything
        claimed = world.deps.events.claim(world.record(key), f"doomed-{attempt}", world.now(), lease_ms)
        assert claimed is not None and claimed.attempts == attempt
        assert world.sweep_at(world.clock + lease_ms).woken == {"RUNNING": 1}

    assert process_event(key, "ninth", world.deps) == "failed"
    item = world.item(key)
    assert (item["status"]["S"], item["attempts"]["N"], item["errorClass"]["S"]) == ("FAILED", "9", "AttemptsExhausted")
    assert world.pipeline.domain_state() == {}  # the effect never ran
    failed = world.deps.events.failed_event(key)
    assert failed is not None and failed.message == "attempts exhausted without an outcome"
    assert world.alerted_keys() == [key]


def test_the_claim_is_due_at_its_lease_expiry_and_the_sweeper_leaves_a_live_lease_alone(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("replied")
    lease_ms = world.deps.settings.lease_seconds * 1000
    claimed_at = world.now()

    assert world.deps.events.claim(world.record(key), "worker", claimed_at, lease_ms) is not None

    item = world.item(key)
    assert item["leaseExpiresAt"]["N"] == item["dueAt"]["N"] == str(claimed_at + lease_ms)
    assert "sweepShard" in item  # still in the sweep index, in case the worker dies
    live = world.sweep_at(claimed_at + lease_ms - 1)
    assert (sum(live.woken.values()), live.lost_races) == (0, 0)
    assert world.item(key)["status"]["S"] == "RUNNING"
    assert world.item(key)["leaseOwner"]["S"] == "worker"
    assert world.sweep_at(claimed_at + lease_ms).woken == {"RUNNING": 1}
    assert world.item(key)["status"]["S"] == "PENDING"


def test_a_worker_that_lost_its_lease_skips_failing_the_event_and_sends_no_alert(dynamodb: Any) -> None:
    """w1 fails a poison event after its lease ran out and w2 took it over: only w2 records and alerts."""
    world = World(dynamodb)
    key = world.ingest(EVENTS["replied"])
    Lifecycle(dynamodb).poison(key)
    actors = [
        world.worker("w1", key),
        world.sweeper("sweeper", after_ms=world.deps.settings.lease_seconds * 1000 + 1),
        world.worker("w2", key, ready=world.when_pending_again(key)),
    ]
    # w1 claims and is about to record FAILED; the lease runs out, the sweeper releases the event and
    # w2 claims it; w1 now tries to record its outcome, then w2 fails the event.
    sweeper_releases = ["sweeper"] * (1 + QUERIES_BEFORE_REPAIR + 1)  # wait, the queries, the release
    outcome = world.run(actors, scripted("w1", *sweeper_releases, "w2", "w1"))

    assert outcome.results == {"w1": "skipped", "sweeper": outcome.results["sweeper"], "w2": "failed"}
    assert outcome.alerts_by_key == {key: 1}
    assert outcome.violations == []
    assert outcome.statuses == {key: "FAILED"}


def test_a_sweeper_whose_publish_fails_keeps_the_alert_owed(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("replied")
    world.poison(key)
    world.sns.down = True
    with pytest.raises(StoreUnavailable):
        process_event(key, "worker", world.deps)  # FAILED recorded, its alert lost
    owed = world.item(key)
    assert owed["status"]["S"] == "FAILED" and owed["alertPending"]["BOOL"] is True
    due = int(owed["dueAt"]["N"])
    assert due == int(owed["completedAt"]["N"]) + world.deps.settings.alert_retry_seconds * 1000

    with pytest.raises(StoreUnavailable):
        world.sweep_at(due)  # SNS still down

    still_owed = world.item(key)
    assert still_owed["alertPending"] == {"BOOL": True}
    assert (still_owed["dueAt"], still_owed["sweepShard"]) == (owed["dueAt"], owed["sweepShard"])
    assert world.sns.published == []
    world.sns.down = False
    assert world.sweep_at(due + 60_000).alerts_resent == 1
    assert world.alerted_keys() == [key]
    assert {"alertPending", "dueAt", "sweepShard"}.isdisjoint(world.item(key))


def test_a_late_confirmation_of_an_earlier_failure_leaves_the_alert_of_a_new_failure_owed(dynamodb: Any) -> None:
    """Failed, replayed and failed again: the first failure's late "alert sent" must not settle the
    second failure's alert, or that failure would never be alerted."""
    world = Lifecycle(dynamodb)
    key = world.ingest("replied")
    world.poison(key)
    world.sns.down = True
    with pytest.raises(StoreUnavailable):
        process_event(key, "first", world.deps)  # first failure recorded, its alert not confirmed yet
    first_failure = int(world.item(key)["completedAt"]["N"])
    shard = world.item(key)["sweepShard"]["S"]
    assert world.deps.events.replay(key, world.now(), shard, world.clock + 300_000)
    with pytest.raises(StoreUnavailable):
        process_event(key, "second", world.deps)  # failed again, this alert owed too
    second = world.item(key)
    assert int(second["completedAt"]["N"]) > first_failure

    assert not world.deps.events.alert_sent(key, first_failure)  # the first worker confirms late

    still_owed = world.item(key)
    assert still_owed["alertPending"] == {"BOOL": True}
    assert (still_owed["dueAt"], still_owed["sweepShard"]) == (second["dueAt"], second["sweepShard"])
    world.sns.down = False
    assert world.sweep_at(int(second["dueAt"]["N"])).alerts_resent == 1
    assert world.alerted_keys() == [key]
    assert {"alertPending", "dueAt", "sweepShard"}.isdisjoint(world.item(key))


def test_overlapping_sweeps_repair_each_event_once_and_count_the_races_they_lost(dynamodb: Any) -> None:
    """Two sweeper runs read the same due events; the first repairs them, the second loses every race."""
    world = World(dynamodb)
    lease_ms = world.deps.settings.lease_seconds * 1000
    # All four in one lane: each run queries a lane's shards before it repairs what that query found.
    expired = [world.ingest(EVENTS[name]) for name in ("interested", "untracked")]
    failed = [world.ingest(EVENTS[name]) for name in ("replied", "bounced")]
    for key in failed:
        Lifecycle(dynamodb).poison(key)
    world.sns.down = True
    for key in expired + failed:  # the first two die holding their lease; the others FAILED, alert lost
        if key in expired:
            record = world.quiet_deps.events.event_record(key)
            assert record is not None and world.quiet_deps.events.claim(record, "doomed", world.now(), lease_ms)
        else:
            world.process_quietly(key)
    world.sns.down = False
    actors = [world.sweeper("s1", after_ms=lease_ms + 60_000), world.sweeper("s2", after_ms=0)]

    # Both wait, then both read the lanes and query, before either repairs anything.
    outcome = world.run(actors, scripted("s1", "s2", *["s1"] * QUERIES_BEFORE_REPAIR, *["s2"] * QUERIES_BEFORE_REPAIR))

    first, second = outcome.results["s1"], outcome.results["s2"]
    assert (dict(first.woken), first.alerts_resent, first.lost_races) == ({"RUNNING": 2}, 2, 0)
    assert (dict(second.woken), second.alerts_resent, second.lost_races) == ({}, 0, 4)
    assert not first.budget_exhausted and first.remaining_due == 0
    assert outcome.violations == []
    # The second run published the alerts again before it found them confirmed: at least once, at most twice.
    assert outcome.alerts_by_key == dict.fromkeys(failed, 2)


def test_a_sweep_out_of_budget_counts_what_it_left(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    keys = [world.ingest(name) for name in ("sent_a", "sent_b", "open_a1")]
    grace_over = max(int(world.item(key)["dueAt"]["N"]) for key in keys)  # every grace period is over
    world.sweeper_settings = world.sweeper_settings.model_copy(update={"max_items_per_run": 2})

    for lane in Lane:  # the lanes have read every record: a PENDING event past its grace is really lost
        world.deps.events.advance_watermark(lane, grace_over)
    report = world.sweep_at(grace_over)

    assert (sum(report.woken.values()), report.remaining_due, report.budget_exhausted) == (2, 1, True)
    assert world.sweep_at(grace_over + 1).woken == {"PENDING": 1}
    assert {world.item(key)["status"]["S"] for key in keys} == {"PENDING"}


def test_a_lane_probe_moves_only_its_own_lanes_watermark(dynamodb: Any) -> None:
    """The sweeper's probe reaching a lane's processor: the lane has read everything written before it."""
    world = Lifecycle(dynamodb)
    key = world.ingest("sent_a")
    events = world.deps.events

    assert process_record(probe_key(Lane.BULK), 1_795_000_123_456, "bulk-reader", world.deps) == "probe"
    watermarks = events.sweep_positions().watermarks
    assert (watermarks[Lane.BULK], watermarks[Lane.INTERACTIVE]) == (1_795_000_123_456, 0)
    # A probe record without its time moves nothing; an event's record runs the event.
    assert process_record(probe_key(Lane.INTERACTIVE), None, "interactive-reader", world.deps) == "probe"
    assert events.sweep_positions().watermarks[Lane.INTERACTIVE] == 0
    assert process_record(key, None, "bulk-reader", world.deps) == "succeeded"


def test_a_woken_events_lifecycle_record_runs_the_event_and_one_without_a_live_event_is_skipped(
    dynamodb: Any,
) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("sent_a")
    lease_ms = world.deps.settings.lease_seconds * 1000
    assert world.deps.events.claim(world.record(key), "died", world.now(), lease_ms) is not None
    assert world.sweep_at(world.clock + lease_ms).woken == {"RUNNING": 1}  # its lifecycle item back to PENDING

    # The stream hands over the lifecycle item, which does not carry the event: its record is read.
    assert process_record(lifecycle_key(key), None, "w", world.deps) == "succeeded"
    assert world.item(key)["status"]["S"] == "SUCCEEDED"
    assert len(world.pipeline.domain_state()) > 0
    # A lifecycle item whose event record is gone (expired with its retention, or never live).
    assert process_record(lifecycle_key("emailbison::12:EMAIL_SENT:404"), None, "w", world.deps) == "skipped"


def test_a_failure_is_alerted_once_with_the_events_own_metadata(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("replied")
    world.poison(key)

    assert process_event(key, "worker", world.deps) == "failed"

    [alert] = [json.loads(m["Message"]) for m in world.sns.published]
    assert alert == {
        "kind": "event_failed",
        "dedupe_key": key,
        "provider": "emailbison",
        "event_type": "LEAD_REPLIED",
        "attempts": 1,
        "error_class": "PermanentProcessingError",
        "message": "cannot plan the effect: ValidationError",
        "inspect_command": inspect_command(key),
    }
    failed = world.deps.events.failed_event(key)
    assert failed is not None
    assert (failed.error_class, failed.message, failed.attempts) == (alert["error_class"], alert["message"], 1)
    # The alert is settled: no later sweep publishes it again.
    assert world.sweep_at(world.clock + 3_600_000).alerts_resent == 0
    assert len(world.sns.published) == 1


def test_a_processor_that_dies_mid_effect_holds_the_event_for_exactly_its_lease(dynamodb: Any) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("replied")
    # The processor dies as it is about to write the effect: its claim, its snapshot read, then this.
    dying = processor_deps(FaultyClient(dynamodb, FaultPlan(at={3: "killed_before"})), world.alerts, world.now, seed=3)
    claimed_at = world.clock + 1  # the claim is the processor's first reading of the clock
    lease_ms = world.deps.settings.lease_seconds * 1000

    with pytest.raises(Killed):
        process_event(key, "dying", dying)

    assert sum(world.sweep_at(claimed_at + lease_ms - 1).woken.values()) == 0  # still its lease
    assert world.sweep_at(claimed_at + lease_ms).woken == {"RUNNING": 1}
    assert process_event(key, "next", world.deps) == "succeeded"  # the wake's record: the effect runs now


def test_a_crash_between_the_effect_and_its_outcome_succeeds_on_redelivery_without_a_second_effect(
    dynamodb: Any,
) -> None:
    world = Lifecycle(dynamodb)
    key = world.ingest("sent_a")
    # Claim, snapshot read, effect write, then the processor dies before it records SUCCEEDED.
    dying = processor_deps(FaultyClient(dynamodb, FaultPlan(at={4: "killed_before"})), world.alerts, world.now, seed=3)
    with pytest.raises(Killed):  # the new event's stream record carries its record: no read first
        process_event(key, "dying", dying, world.record(key))
    effect = world.pipeline.domain_state()
    assert effect != {}

    assert world.sweep_at(world.clock + world.deps.settings.lease_seconds * 1000).woken == {"RUNNING": 1}
    assert process_event(key, "redelivered", world.deps) == "succeeded_already_applied"

    assert world.pipeline.domain_state() == effect
    [done], _ = world.deps.events.list_events(EventFilter(status=EventStatus.SUCCEEDED), limit=5)
    assert (done.dedupe_key, done.attempts) == (key, 2)
    assert done.updated_at_ms == world.clock  # recorded at the time of its outcome
    assert process_event(key, "late", world.deps) == "skipped"  # a stream retry of a finished event


def without_lead(name: str) -> dict[str, Any]:
    payload = copy.deepcopy(EVENTS[name])
    payload["data"]["lead"] = None
    return payload


def test_a_stalled_worker_whose_event_another_worker_applied_writes_no_second_effect(dynamodb: Any) -> None:
    """One schedule of the lease race, pinned: w1 reads the snapshot and stalls past its lease, w2 runs
    the event to its end, then w1 writes. An open without a lead: only the effect marker guards it."""

    def actors(world: World) -> list[Any]:
        key = world.ingest(without_lead("open_a1"))
        return [
            world.worker("w1", key),
            world.sweeper("sweeper", after_ms=world.deps.settings.lease_seconds * 1000 + 1),
            world.worker("w2", key, ready=world.when_pending_again(key)),
        ]

    reference = World(dynamodb)
    expected = reference.run(actors(reference), sequential).domain
    world = World(dynamodb)
    # The sweeper: wait, each lane's intake and lifecycle queries, the release. W2, woken: it reads the
    # event record, claims, reads the snapshot, writes the effect, records the outcome.
    sweeper_releases = ["sweeper"] * (1 + 2 * len(Lane) + 1)
    outcome = world.run(actors(world), scripted("w1", "w1", *sweeper_releases, *["w2"] * 5, "w1"))

    last_of_w2 = max(n for n, step in enumerate(outcome.trace) if step.startswith("w2:"))
    assert outcome.trace.index("w1:transact_write_items") > last_of_w2, outcome.trace
    assert outcome.results == {
        "w1": "succeeded_already_applied",
        "sweeper": outcome.results["sweeper"],
        "w2": "succeeded",
    }
    assert outcome.domain == expected  # the open counted once
    assert outcome.violations == []


def test_two_events_of_one_lead_that_read_it_before_either_wrote_both_count(dynamodb: Any) -> None:
    """One schedule of the lead race, pinned: both read the lead, the reply writes first, and the open's
    write is refused by the lead's version; the open reads the new lead and folds again."""

    def actors(world: World) -> list[Any]:
        world.process_quietly(world.ingest(EVENTS["sent_a"]))
        replied, opened = world.ingest(EVENTS["replied"]), world.ingest(EVENTS["open_a1"])
        return [world.worker("w-replied", replied), world.worker("w-opened", opened)]

    reference = World(dynamodb)
    expected = reference.run(actors(reference), sequential).domain
    world = World(dynamodb)
    outcome = world.run(
        actors(world), scripted("w-replied", "w-replied", "w-opened", "w-opened", "w-replied", "w-opened")
    )

    assert outcome.trace.count("w-opened:batch_get_item") == 2  # refused once, then folded again
    assert outcome.results == {"w-replied": "succeeded", "w-opened": "succeeded"}
    assert outcome.domain == expected  # neither update lost
    assert outcome.violations == []


def test_two_events_of_one_message_that_read_it_before_either_wrote_both_count(dynamodb: Any) -> None:
    """One schedule of the message race: an untracked reply created the message; the "interested"
    event (no lead) and the reply itself both read it before either writes. Only the message's
    version refuses the second write, so that it folds again and keeps the first's "interested"."""

    def actors(world: World) -> list[Any]:
        untracked = copy.deepcopy(EVENTS["untracked"])
        untracked["data"]["reply"]["id"] = 5001  # the reply that the other two events are about
        world.process_quietly(world.ingest(untracked))
        interested, replied = world.ingest(without_lead("interested")), world.ingest(EVENTS["replied"])
        return [world.worker("w-interested", interested), world.worker("w-replied", replied)]

    reference = World(dynamodb)
    expected = reference.run(actors(reference), sequential).domain
    world = World(dynamodb)
    steps = ("w-interested", "w-interested", "w-replied", "w-replied", "w-interested", "w-replied")
    outcome = world.run(actors(world), scripted(*steps))

    assert outcome.trace.count("w-replied:batch_get_item") == 2  # refused once, then folded again
    assert outcome.results == {"w-interested": "succeeded", "w-replied": "succeeded"}
    assert outcome.domain == expected  # neither update lost
    assert outcome.violations == []
