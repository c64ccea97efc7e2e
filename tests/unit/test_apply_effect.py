"""The processor's effect loop against a scripted domain store: it folds again after a concurrent
change, stops at an effect already applied, and gives up after a bounded number of tries."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from processor.logic import CONCURRENT_CHANGE_TRIES, ProcessorDeps, apply_effect
from spillway_core.domain import EffectPlan, plan_effect
from spillway_core.domain_store import AlreadyApplied, ConcurrentChange, Snapshot
from spillway_core.errors import PermanentProcessingError, RetryableProcessingError
from spillway_core.event_store import ClaimedEvent
from spillway_core.payloads import dedupe_key, normalise, parse_payload, stored_json
from spillway_core.stored_event import NormalisedEvent
from tests.support.scenario import EVENTS

RECEIVED_AT_MS = 1_795_000_000_000
NOW_MS = 1_795_000_004_000


@dataclass
class ScriptedDomain:
    """Answers each apply with the next scripted outcome (an exception, or None for "written")."""

    applies: list[BaseException | None]
    applied_already: bool = False
    reads: list[EffectPlan] = field(default_factory=list)
    writes: list[tuple[EffectPlan, Snapshot, int]] = field(default_factory=list)

    def read_snapshot(self, plan: EffectPlan) -> Snapshot:
        self.reads.append(plan)
        return Snapshot(applied=self.applied_already, lead={"version": len(self.reads)}, message=None)

    def apply(self, plan: EffectPlan, snapshot: Snapshot, now_ms: int) -> None:
        self.writes.append((plan, snapshot, now_ms))
        outcome = self.applies.pop(0)
        if outcome is not None:
            raise outcome


def claimed(name: str = "replied", normalised_json: str | None = None, timeless: bool = False) -> ClaimedEvent:
    document = EVENTS[name]
    event = normalise("emailbison", parse_payload(document))
    if timeless:  # no time of its own: the effect is dated by when the event was received
        event = dataclasses.replace(event, sent_at=None, campaign_event_at=None)
    return ClaimedEvent(
        dedupe_key=dedupe_key(event, document),
        provider="emailbison",
        event_type=event.event_type,
        received_at_ms=RECEIVED_AT_MS,
        normalised_json=normalised_json or stored_json(event),
        attempts=1,
        max_attempts=8,
    )


def deps_over(domain: ScriptedDomain) -> ProcessorDeps:
    return ProcessorDeps(
        settings=None,  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
        domain=domain,  # type: ignore[arg-type]
        alerts=None,  # type: ignore[arg-type]
        clock_ms=lambda: NOW_MS,
        rng=None,  # type: ignore[arg-type]
    )


def expected_plan(event: ClaimedEvent) -> EffectPlan:
    stored = NormalisedEvent.model_validate_json(event.normalised_json)
    return plan_effect(event.dedupe_key, stored, RECEIVED_AT_MS)


@pytest.mark.parametrize("event", [claimed(), claimed("sent_a", timeless=True)], ids=["reply", "timeless send"])
def test_the_effect_is_written_once_with_the_events_plan_its_snapshot_and_the_time(event: ClaimedEvent) -> None:
    domain = ScriptedDomain(applies=[None])

    assert apply_effect(event, deps_over(domain)) is True

    [(plan, snapshot, now)] = domain.writes
    assert plan == expected_plan(event) and domain.reads == [plan]
    assert (snapshot.lead, now) == ({"version": 1}, NOW_MS)


def test_a_concurrent_change_reads_and_folds_again_until_the_write_goes_through() -> None:
    domain = ScriptedDomain(applies=[ConcurrentChange(), ConcurrentChange(), None])

    assert apply_effect(claimed(), deps_over(domain)) is True

    # Each try writes with the snapshot it has just read, not the one the refused write was based on.
    assert [snapshot.lead for _, snapshot, _ in domain.writes] == [{"version": 1}, {"version": 2}, {"version": 3}]


def test_a_lead_that_keeps_changing_is_a_retryable_failure_after_a_bounded_number_of_tries() -> None:
    domain = ScriptedDomain(applies=[ConcurrentChange() for _ in range(CONCURRENT_CHANGE_TRIES + 1)])

    with pytest.raises(RetryableProcessingError, match=r"^the lead kept changing under concurrent events$"):
        apply_effect(claimed(), deps_over(domain))

    assert len(domain.writes) == CONCURRENT_CHANGE_TRIES == 5


def test_an_effect_already_applied_is_not_written_again() -> None:
    already_read = ScriptedDomain(applies=[], applied_already=True)
    assert apply_effect(claimed(), deps_over(already_read)) is False
    assert already_read.writes == []

    # Applied by another worker between this one's read and its write: the marker's condition says so.
    refused = ScriptedDomain(applies=[AlreadyApplied()])
    assert apply_effect(claimed(), deps_over(refused)) is False
    assert len(refused.writes) == 1


@pytest.mark.parametrize(
    ("normalised_json", "error_class"),
    [("{}", "ValidationError"), ('{"provider": "emailbison", "event_type": "EMAIL_SENT"}', "UnsupportedEvent")],
)
def test_an_event_that_cannot_be_planned_is_a_permanent_failure_that_names_why(
    normalised_json: str, error_class: str
) -> None:
    domain = ScriptedDomain(applies=[])

    with pytest.raises(PermanentProcessingError) as raised:
        apply_effect(claimed(normalised_json=normalised_json), deps_over(domain))

    assert str(raised.value) == f"cannot plan the effect: {error_class}"
    assert domain.reads == []
