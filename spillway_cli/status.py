"""Pipeline counts for the live line and `spillway status`.

Counts come from the events table's status index (a COUNT query per status, never a scan). The live
line of `spillway local up` (emulator only, which keeps no metrics) reads duplicates from the ingest's
logs; `spillway status` reads them from the ingest's CloudWatch metric instead.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from infra import config as names
from spillway_cli.deployed import deployed_settings
from spillway_cli.target import Target
from spillway_core.event_store import EventFilter, EventStore
from spillway_core.status import LIVE_STATUSES, EventStatus

DUPLICATE_LOG_PHRASE = '"duplicate webhook"'  # the ingest logs "<outcome> webhook"


@dataclass(frozen=True)
class PipelineCounts:
    by_status: Counter[str]
    duplicates: int

    @property
    def accepted(self) -> int:
        return sum(self.by_status.values())

    @property
    def in_flight(self) -> int:
        return sum(self.by_status[s] for s in LIVE_STATUSES)

    def line(self) -> str:
        return (
            f"accepted {self.accepted} | duplicates {self.duplicates} | "
            f"processed {self.by_status[EventStatus.SUCCEEDED]} | failed {self.by_status[EventStatus.FAILED]} | "
            f"in flight {self.in_flight}"
        )


def target_store(target: Target) -> EventStore:
    """The target's event store; its PENDING counts include events whose processing has not begun,
    found in the deployed number of intake shards."""
    return EventStore(target.client("dynamodb"), target.events_table, deployed_settings(target).sweep_shards)


def status_counts(target: Target, store: EventStore | None = None) -> Counter[str]:
    store = store or target_store(target)
    return Counter({status.value: store.count_status(EventFilter(status=status.value)) for status in EventStatus})


def duplicate_count(target: Target) -> int:
    logs = target.client("logs")
    total = 0
    paginator = logs.get_paginator("filter_log_events")
    try:
        for page in paginator.paginate(
            logGroupName=target.outputs[names.OUTPUT_INGEST_LOG_GROUP], filterPattern=DUPLICATE_LOG_PHRASE
        ):
            total += len(page.get("events", []))
    except logs.exceptions.ResourceNotFoundException:
        return 0  # nothing logged yet
    return total


def pipeline_counts(target: Target, store: EventStore | None = None) -> PipelineCounts:
    return PipelineCounts(by_status=status_counts(target, store), duplicates=duplicate_count(target))


def wait_until_drained(target: Target, timeout_s: float = 1800, poll_s: float = 0.5) -> float:
    """Polls the events table until nothing is in flight; returns the monotonic time it happened."""
    started = time.monotonic()
    store = target_store(target)
    while pipeline_counts(target, store).in_flight:
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"the backlog did not drain in {timeout_s:.0f}s")
        time.sleep(poll_s)  # the table is read again every poll_s until the backlog is gone
    return time.monotonic()
