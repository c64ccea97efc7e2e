"""Sweeper: one repair rule for every live event whose due time has passed.

Every live event carries ``dueAt`` in the sparse sweep index: for PENDING, the end of its grace
period (its stream record may have been lost); for RUNNING, its lease expiry (the processor died);
for RETRY_WAIT, its backoff time. Due events go back to PENDING, which writes a fresh stream record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from spillway_core.event_store import EventStore
from spillway_core.settings import SweeperSettings
from spillway_core.status import SWEEP_INDEX


@dataclass
class SweepReport:
    woken: Counter[str] = field(default_factory=Counter)  # by the status they were found in
    lost_races: int = 0  # another sweeper or a processor changed the event first
    budget_exhausted: bool = False


def shard_names(shards: int) -> list[str]:
    return [f"{n:03d}" for n in range(shards)]


def sweep(store: EventStore, settings: SweeperSettings, now_ms: int) -> SweepReport:
    report = SweepReport()
    budget = settings.max_items_per_run
    next_due = now_ms + settings.pending_grace_seconds * 1000
    for shard in shard_names(settings.sweep_shards):
        if budget <= 0:
            report.budget_exhausted = True
            break
        for due in store.query_due(SWEEP_INDEX, shard, now_ms, budget):
            budget -= 1
            if store.wake(due, now_ms, next_due):
                report.woken[due.status] += 1
            else:
                report.lost_races += 1
    return report
