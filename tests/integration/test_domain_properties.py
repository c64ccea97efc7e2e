"""Exactly once and order independence, as properties, against moto.

For any set of events about one lead, delivered in any order, each one to three times (provider
retries reaching the ingest, stream redeliveries reaching the processor, processor crashes between
the effect and its outcome), the domain ends in the same state as when each event is delivered once
in a canonical order, and that state matches a model computed independently from the set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from spillway_core.keys import NO_INSTANCE, Tenant, lead_pk, message_pk
from tests.support.pipeline import InProcessPipeline
from tests.support.scenario import EVENTS, INBOUND_LEAD_MESSAGES, LEAD_EMAIL, OUTBOUND_MESSAGES, WORKSPACE
from tests.support.tables import recreate_tables

TENANT = Tenant("emailbison", NO_INSTANCE, str(WORKSPACE))
DELIVERY_MODES = ("ingest_retry", "stream_redelivery", "crash_after_effect")
# Generous in CI; SPILLWAY_PROPERTY_EXAMPLES raises it for a deeper local search.
EXAMPLES = int(os.environ.get("SPILLWAY_PROPERTY_EXAMPLES", "200"))


@dataclass
class Outcome:
    state: dict[tuple[str, str], dict[str, Any]]
    statuses: dict[str, str]
    alerts: list[Any]


def run(dynamodb: Any, deliveries: list[tuple[str, str | None]]) -> Outcome:
    """Deliveries: (event name, None for the first delivery or how it is delivered again)."""
    recreate_tables(dynamodb)
    pipeline = InProcessPipeline(dynamodb)
    keys: dict[str, str] = {}
    for name, mode in deliveries:
        if mode is None or mode == "ingest_retry":
            status, body = pipeline.post(EVENTS[name])
            assert status == 200
            assert body["status"] == ("accepted" if name not in keys else "duplicate")
            keys[name] = body["id"]
            pipeline.process(keys[name])  # the stream hands over the record (a duplicate wrote none: skipped)
        elif mode == "stream_redelivery":
            assert pipeline.process(keys[name]) == "skipped"
        else:
            pipeline.crash_after_effect(keys[name])
            assert pipeline.process(keys[name]) == "succeeded_already_applied"
    return Outcome(
        pipeline.domain_state(), pipeline.event_statuses(), [alert.document() for alert in pipeline.alerts.sent]
    )


@st.composite
def schedules(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str | None]]]:
    chosen = draw(st.lists(st.sampled_from(sorted(EVENTS)), min_size=1, max_size=len(EVENTS), unique=True))
    again: list[tuple[str, str | None]] = [
        (name, draw(st.sampled_from(DELIVERY_MODES)))
        for name in chosen
        for _ in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    firsts: list[tuple[str, str | None]] = [(name, None) for name in chosen]
    order = draw(st.permutations(firsts + again))
    # A repeat can only follow its first delivery: move each first delivery before its repeats.
    firsts_seen: set[str] = set()
    deliveries: list[tuple[str, str | None]] = []
    for name, mode in order:
        if name not in firsts_seen:
            firsts_seen.add(name)
            deliveries.append((name, None))
            if mode is not None:
                deliveries.append((name, mode))
        elif mode is not None:
            deliveries.append((name, mode))
    return chosen, deliveries


def expected_lead(chosen: list[str]) -> dict[str, Any]:
    """The model: what the lead must look like, computed from the set of events alone."""
    present = set(chosen)
    flags = {
        "replied": bool(present & {"replied", "untracked"}),
        "interested": "interested" in present,
        "bounced": "bounced" in present,
        "unsubscribed": "unsubscribed" in present,
    }
    blacklisted = flags["bounced"] or flags["unsubscribed"]
    outbound = {OUTBOUND_MESSAGES[n] for n in present if n in OUTBOUND_MESSAGES}
    inbound = {INBOUND_LEAD_MESSAGES[n] for n in present if n in INBOUND_LEAD_MESSAGES}
    if blacklisted:
        status = "BLACKLISTED"
    elif flags["interested"]:
        status = "INTERESTED"
    elif flags["replied"]:
        status = "REPLIED"
    else:
        status = "CONTACTED" if outbound else "NEW"
    return {
        "outboundCount": len(outbound),
        "inboundCount": len(inbound),
        "openCount": len(present & {"open_a1", "open_a2"}),
        "status": status,
        "blacklisted": blacklisted,
        **{flag: True for flag, on in flags.items() if on},
    }


def as_python(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (int(v["N"]) if "N" in v else v.get("S", v.get("BOOL"))) for k, v in item.items()}


def test_any_order_and_any_repetition_give_the_same_state() -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        # The canonical run depends on the set of events alone, and hypothesis draws the same small
        # sets again and again (about 80 distinct sets in 200 examples): each set is run once.
        canonical_runs: dict[tuple[str, ...], Outcome] = {}

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(schedules())
        def check(schedule: tuple[list[str], list[tuple[str, str | None]]]) -> None:
            chosen, deliveries = schedule
            scrambled = run(dynamodb, deliveries)
            canonical_order = tuple(sorted(chosen))
            if canonical_order not in canonical_runs:
                canonical_runs[canonical_order] = run(dynamodb, [(name, None) for name in canonical_order])
            canonical = canonical_runs[canonical_order]

            assert set(scrambled.statuses.values()) == {"SUCCEEDED"}
            assert scrambled.state == canonical.state
            assert scrambled.alerts == []
            check_against_model(chosen, scrambled.state)

        check()


def check_against_model(chosen: list[str], state: dict[tuple[str, str], dict[str, Any]]) -> None:
    lead_key = (lead_pk(TENANT, LEAD_EMAIL), "LEAD")
    lead = as_python(state[lead_key])
    for attribute, value in expected_lead(chosen).items():
        assert lead.get(attribute, 0 if attribute.endswith("Count") else None) == value, attribute

    follow_up = state.get((lead_key[0], "FOLLOWUP#NO_RESPONSE"))
    campaign_sent = bool(set(chosen) & {"sent_a", "sent_b"})
    assert (follow_up is not None) == campaign_sent  # only campaign emails start the sequence
    if follow_up is not None:
        stopped = bool(set(chosen) & {"replied", "untracked", "interested", "bounced", "unsubscribed"})
        assert follow_up["state"]["S"] == ("STOPPED" if stopped else "ACTIVE")

    outbound_messages = [k for k in state if "#MSG#OUT#" in k[0] and k[1] == "MESSAGE"]
    assert len(outbound_messages) == lead.get("outboundCount", 0)
    if "open_a1" in chosen or "open_a2" in chosen:
        opens = state[(message_pk(TENANT, "OUT", "SE", "1001"), "OPENS")]
        assert int(opens["openCount"]["N"]) == len(set(chosen) & {"open_a1", "open_a2"})
