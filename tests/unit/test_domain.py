"""The pure domain fold: joins, derived status and the follow-up sequence."""

from __future__ import annotations

from typing import Any

from spillway_core.domain import (
    MESSAGE_KIND_PRECEDENCE,
    Lead,
    fold_lead,
    follow_up_for,
    join_attributes,
    merge_message,
    plan_effect,
    stronger_kind,
)
from spillway_core.payloads import dedupe_key, normalise, parse_payload
from tests.support.scenario import EVENTS


def plan(name: str) -> Any:
    document = EVENTS[name]
    event = normalise("emailbison", parse_payload(document))
    return plan_effect(dedupe_key(event, document), event, received_at_ms=0)


def fold(*names: str) -> Lead:
    lead: Lead | None = None
    seen_messages: set[str] = set()
    for name in names:
        p = plan(name)
        is_new = p.message is not None and p.message.pk not in seen_messages
        if p.message:
            seen_messages.add(p.message.pk)
        lead = fold_lead(lead, p, message_is_new=is_new)
    assert lead is not None
    return lead


def sequence_state(*names: str) -> str | None:
    follow_up = follow_up_for(fold(*names))
    return None if follow_up is None else follow_up["state"]


def test_a_reply_before_the_first_email_means_the_sequence_never_runs() -> None:
    assert sequence_state("replied", "sent_a") == "STOPPED"
    assert sequence_state("sent_a", "replied") == "STOPPED"
    assert sequence_state("sent_a") == "ACTIVE"


def test_manual_emails_do_not_start_the_sequence() -> None:
    assert follow_up_for(fold("manual")) is None


def test_blacklisting_wins_before_and_after() -> None:
    assert fold("unsubscribed", "interested")["status"] == "BLACKLISTED"
    assert fold("interested", "bounced")["status"] == "BLACKLISTED"
    assert fold("interested", "replied")["status"] == "INTERESTED"


def test_a_reply_and_its_interested_marking_count_one_inbound_message() -> None:
    lead = fold("replied", "interested")

    assert lead["inboundCount"] == 1
    assert lead["replied"] and lead["interested"]


def test_last_times_are_maxima_and_first_times_minima() -> None:
    assert fold("sent_b", "sent_a")["lastOutboundAt"] == fold("sent_a", "sent_b")["lastOutboundAt"]
    assert fold("sent_b", "sent_a")["firstCampaignOutboundAt"] == plan("sent_a").contribution.at_ms


def test_join_is_commutative_and_idempotent() -> None:
    a = {"subject": "B", "interested": False, "receivedAt": 5}
    b = {"subject": "A", "interested": True, "replyId": "9"}

    assert (
        join_attributes(a, b)
        == join_attributes(b, a)
        == {
            "subject": "A",
            "interested": True,
            "receivedAt": 5,
            "replyId": "9",
        }
    )
    assert join_attributes(join_attributes(a, b), b) == join_attributes(a, b)


def test_a_bounce_notice_stays_a_bounce_notice() -> None:
    notice = plan("bounced").message
    assert notice is not None
    assert merge_message({"kind": "REPLY", "direction": "INBOUND"}, notice)["kind"] == "BOUNCE_NOTICE"


def test_the_kinds_of_one_inbound_message_combine_by_stated_precedence_in_either_order() -> None:
    # Not by name: UNTRACKED sorts after REPLY, and a precedence that followed the alphabet by
    # accident would flip if a kind were renamed.
    assert MESSAGE_KIND_PRECEDENCE[:3] == ("BOUNCE_NOTICE", "REPLY", "UNTRACKED")
    for stronger, weaker in [("BOUNCE_NOTICE", "REPLY"), ("BOUNCE_NOTICE", "UNTRACKED"), ("REPLY", "UNTRACKED")]:
        assert stronger_kind(stronger, weaker) == stronger_kind(weaker, stronger) == stronger
    untracked = plan("untracked").message
    replied = plan("replied").message
    assert untracked is not None and replied is not None
    assert merge_message(merge_message(None, untracked), replied)["kind"] == "REPLY"
    assert merge_message(merge_message(None, replied), untracked)["kind"] == "REPLY"
    assert stronger_kind("SOMETHING_NEW", "REPLY") == stronger_kind("REPLY", "SOMETHING_NEW") == "REPLY"
