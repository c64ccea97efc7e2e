"""Sweeper: one repair rule for every event whose due time has passed.

Every event that still needs something carries ``dueAt`` in the sparse sweep index: for PENDING, the
end of its grace period (its stream record may have been lost); for RUNNING, its lease expiry (the
processor died or timed out); for RETRY_WAIT, its backoff time; for FAILED, the time by which its
alert should have been confirmed. Due live events go back to PENDING, which writes a fresh stream
record for the processor; a due FAILED event gets its alert published again.

No amplification during a burst: a PENDING event's record may simply still be queued in its lane,
and waking it would only add a write and a record behind the backlog. The one rule: a PENDING event
is woken only once its own lane has processed a probe written after the event's record (its record
was written at ``dueAt - pendingGrace``). Each run first reads the lanes' watermarks, then writes a
fresh probe per lane (``spillway_core.lanes``), then sweeps each lane's shards
(``spillway_core.lifecycle``) against that lane's watermark. A backlog of any length therefore gets
no wakes, a bulk backlog holds back no interactive event, and a record that was really lost is woken
at most grace + 2 periods after its lane catches up: the first run after that writes a probe the
lane reads at once, the next one wakes the event.

An event is two items (``spillway_core.event_store``). The write-once event record's entry in its
intake shard never leaves the index, so the sweeper reads each intake shard once, from a checkpoint:
every entry due under the same rule whose event has no lifecycle item yet (its record was lost before
any claim) gets one, as PENDING; then the checkpoint moves past them. The grace period, far longer
than the index's propagation, means no entry that is due can still be missing from the index.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from spillway_core.alerts import AlertPublisher, FailureAlert
from spillway_core.event_store import DueEvent, EventStore, IntakeEntry
from spillway_core.lanes import Lane
from spillway_core.lifecycle import intake_shards, sweep_shards
from spillway_core.settings import SweeperSettings
from spillway_core.status import SWEEP_INDEX, EventStatus


@dataclass
class SweepReport:
    woken: Counter[str] = field(default_factory=Counter)  # by the status they were found in
    alerts_resent: int = 0
    lost_races: int = 0  # another sweeper or a processor changed the event first
    budget_exhausted: bool = False
    remaining_due: int = 0  # due events this run had no budget for (the next run takes them)
    oldest_due_age_ms: int = 0  # how late the most overdue event was when this run found it
    lanes_caught_up_to_ms: int = 0  # the oldest lane watermark: PENDING records before it were read


def sweep(store: EventStore, alerts: AlertPublisher, settings: SweeperSettings, now_ms: int) -> SweepReport:
    report = SweepReport()
    budget = settings.max_items_per_run
    grace_ms = settings.pending_grace_seconds * 1000
    next_due = now_ms + grace_ms
    # Watermarks before probes: a probe written by this run says nothing until a lane has read it.
    positions = store.sweep_positions()
    watermarks = positions.watermarks
    report.lanes_caught_up_to_ms = min(watermarks.values())
    for lane in Lane:
        store.write_probe(lane, now_ms)
    for lane in Lane:  # interactive first: when the budget runs short, what someone waits for goes first
        # A PENDING event is due at (record written + grace): held unless written before its lane's watermark.
        pending_bound = watermarks[lane] + grace_ms
        up_to = min(now_ms, pending_bound - 1)  # an event record is due at (written + grace), like PENDING
        for intake in intake_shards(lane, settings.sweep_shards):
            checked = positions.checkpoints[lane].get(intake)  # the last entry checked, if any
            if budget > 0:
                budget, checked = _check_intake(store, lane, intake, checked, up_to, budget, now_ms, next_due, report)
            if budget <= 0:  # out of budget: what this shard still holds is for the next run
                report.remaining_due += store.count_intake(intake, checked, up_to)
        for shard in sweep_shards(lane, settings.sweep_shards):
            if budget > 0:
                for due in store.query_due(SWEEP_INDEX, shard, now_ms, budget, pending_bound):
                    budget -= 1
                    report.oldest_due_age_ms = max(report.oldest_due_age_ms, now_ms - due.due_at_ms)
                    _repair(due, store, alerts, now_ms, next_due, report)
            if budget <= 0:
                # Out of budget: count what this shard (and the ones after it) still hold for the next run.
                report.remaining_due += store.count_due(SWEEP_INDEX, shard, now_ms, pending_bound)
    report.budget_exhausted = report.remaining_due > 0
    return report


def _repair(
    due: DueEvent, store: EventStore, alerts: AlertPublisher, now_ms: int, next_due: int, report: SweepReport
) -> None:
    if due.status == EventStatus.FAILED:
        failed = store.failed_event(due.dedupe_key)
        if failed is None:
            report.lost_races += 1
            return
        alerts.publish(FailureAlert(failed))
        if store.alert_sent(due.dedupe_key, failed.failed_at_ms):
            report.alerts_resent += 1
        else:
            report.lost_races += 1
        return
    if store.wake(due, now_ms, next_due):
        report.woken[due.status] += 1
    else:
        report.lost_races += 1


def _check_intake(
    store: EventStore,
    lane: Lane,
    shard: str,
    checkpoint: IntakeEntry | None,
    up_to_ms: int,
    budget: int,
    now_ms: int,
    next_due: int,
    report: SweepReport,
) -> tuple[int, IntakeEntry | None]:
    """Gives every due event record of an intake shard that has no lifecycle item one, as PENDING, and
    moves the shard's checkpoint to the last entry checked. Returns the budget left and the checkpoint."""
    entries = store.query_intake(shard, checkpoint, up_to_ms, budget)
    begun = store.begun(entry.dedupe_key for entry in entries)
    for entry in entries:
        if entry.dedupe_key in begun:
            continue
        report.oldest_due_age_ms = max(report.oldest_due_age_ms, now_ms - entry.due_at_ms)
        record = store.event_record(entry.dedupe_key)
        if record is not None and store.create_pending(record, now_ms, next_due):
            report.woken["PENDING"] += 1
        else:
            report.lost_races += 1  # a processor claimed it meanwhile (or its record expired)
    if not entries:  # with none checked, the checkpoint stays where it is, and no write is made
        return budget, checkpoint
    store.advance_intake_checkpoint(lane, shard, entries[-1])
    return budget - len(entries), entries[-1]
