"""Processor: claim an event under a lease, apply its domain effect exactly once, record the outcome."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spillway_core.alerts import AlertPublisher, FailureAlert, scrub
from spillway_core.domain import UnsupportedEvent, plan_effect
from spillway_core.domain_store import AlreadyApplied, ConcurrentChange, DomainStore
from spillway_core.errors import PermanentProcessingError, RetryableProcessingError
from spillway_core.event_store import ClaimedEvent, EventRecord, EventStore, FailedEvent
from spillway_core.lanes import lane_of_probe
from spillway_core.lifecycle import dedupe_key_of
from spillway_core.stored_event import NormalisedEvent, ValidationError

if TYPE_CHECKING:
    from spillway_core.settings import ProcessorSettings

CONCURRENT_CHANGE_TRIES = 5


@dataclass
class ProcessorDeps:
    settings: ProcessorSettings
    events: EventStore
    domain: DomainStore
    alerts: AlertPublisher
    clock_ms: Callable[[], int]
    rng: random.Random


def backoff_ms(attempts: int, base_s: float, cap_s: float, rng: random.Random) -> int:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^(attempts-1)))."""
    ceiling = min(cap_s, base_s * 2 ** max(attempts - 1, 0))
    return int(rng.uniform(0, ceiling) * 1000)


def apply_effect(claimed: ClaimedEvent, deps: ProcessorDeps) -> bool:
    """Applies the event's domain effect once; False if it had already been applied."""
    try:
        event = NormalisedEvent.model_validate_json(claimed.normalised_json)
        plan = plan_effect(claimed.dedupe_key, event, claimed.received_at_ms)
    except (ValidationError, UnsupportedEvent) as exc:
        raise PermanentProcessingError(f"cannot plan the effect: {type(exc).__name__}") from exc
    for _ in range(CONCURRENT_CHANGE_TRIES):
        snapshot = deps.domain.read_snapshot(plan)
        if snapshot.applied:
            return False
        try:
            deps.domain.apply(plan, snapshot, deps.clock_ms())
        except AlreadyApplied:
            return False
        except ConcurrentChange:
            continue  # another event for the same lead or message got there first: fold again
        return True
    raise RetryableProcessingError("the lead kept changing under concurrent events")


def process_record(
    key: str, probe_at_ms: int | None, owner: str, deps: ProcessorDeps, image: dict[str, Any] | None = None
) -> str:
    """One stream record: a new event record (its image carries the event), an event's lifecycle item
    put back to PENDING (woken or replayed: the event record is read), or the sweeper's lane probe
    (its time becomes the lane's watermark: this lane has now read every record written before it)."""
    lane = lane_of_probe(key)
    if lane is not None:
        if probe_at_ms is not None:
            deps.events.advance_watermark(lane, probe_at_ms)
        return "probe"
    event_key = dedupe_key_of(key)
    if event_key is not None:
        return process_event(event_key, owner, deps)
    return process_event(key, owner, deps, EventRecord.from_item(image) if image else None)


def process_event(dedupe_key: str, owner: str, deps: ProcessorDeps, record: EventRecord | None = None) -> str:
    """Run one event to its next state. Returns the outcome for logs and metrics.

    ``record`` is the event record when the stream record carried it; otherwise it is read. Store
    failures while recording the outcome propagate: the stream redelivers the record, and if the
    event stays RUNNING the sweeper releases it when the lease expires.
    """
    settings = deps.settings
    record = record or deps.events.event_record(dedupe_key)
    if record is None:
        return "skipped"  # no live event record: IGNORED, or expired with its retention
    claimed = deps.events.claim(record, owner, deps.clock_ms(), settings.lease_seconds * 1000)
    if claimed is None:
        return "skipped"  # already claimed, finished, or not yet due: someone else owns it
    if claimed.attempts > claimed.max_attempts:
        # Earlier attempts died without recording anything (timeouts, crashes): stop here.
        return _fail(claimed, owner, deps, "AttemptsExhausted", "attempts exhausted without an outcome")
    try:
        applied = apply_effect(claimed, deps)
    except PermanentProcessingError as exc:
        return _fail(claimed, owner, deps, type(exc).__name__, str(exc))
    except Exception as exc:  # any other failure is retryable, within maxAttempts
        if claimed.attempts >= claimed.max_attempts:
            return _fail(claimed, owner, deps, type(exc).__name__, str(exc))
        now = deps.clock_ms()
        delay = backoff_ms(claimed.attempts, settings.backoff_base_seconds, settings.backoff_cap_seconds, deps.rng)
        deps.events.mark_retry(dedupe_key, owner, now, now + delay, type(exc).__name__, scrub(str(exc)))
        return "retry"
    deps.events.mark_succeeded(dedupe_key, owner, deps.clock_ms())
    return "succeeded" if applied else "succeeded_already_applied"


def _fail(claimed: ClaimedEvent, owner: str, deps: ProcessorDeps, error_class: str, message: str) -> str:
    safe = scrub(message)
    now = deps.clock_ms()
    alert_due = now + int(deps.settings.alert_retry_seconds * 1000)
    if not deps.events.mark_failed(claimed.dedupe_key, owner, now, error_class, safe, alert_due):
        return "skipped"  # lost the lease meanwhile: whoever holds it records the outcome
    # Only the processor that recorded FAILED alerts. If the publish fails (or we die here), the
    # event still owes its alert and the sweeper publishes it when alert_due passes.
    failed = FailedEvent(
        claimed.dedupe_key, claimed.provider, claimed.event_type, claimed.attempts, error_class, safe, failed_at_ms=now
    )
    deps.alerts.publish(FailureAlert(failed))
    deps.events.alert_sent(claimed.dedupe_key, failed_at_ms=now)
    return "failed"
