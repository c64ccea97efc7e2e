"""The domain model: what each event contributes, and how contributions combine.

Events about a lead arrive out of order and more than once, so the state they build must not depend
on either. Every piece of state here is a *join* of contributions: flags only ever turn on, counters
add one per unique message or event (the store guards uniqueness), times keep their maximum (last
seen) or minimum (first seen), and text fields keep the smallest non-empty value. Joins are
commutative, associative and idempotent, so any order of the same events folds to the same lead.
Everything derived (status, blacklisting, the follow-up sequence) is a pure function of the lead.

Pure code: no AWS here. ``domain_store`` reads a snapshot, calls ``fold_lead`` / ``merge_message``,
and writes the result under optimistic concurrency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict, cast

# Key construction lives in spillway_core.keys; re-exported here for the callers that know it here.
from spillway_core.keys import Tenant, campaign_pk, effect_marker_pk, lead_pk, message_pk
from spillway_core.stored_event import NormalisedEvent, tenant_of_event

__all__ = ["campaign_pk", "effect_marker_pk", "lead_pk", "message_pk"]
FOLLOW_UP_SK = "FOLLOWUP#NO_RESPONSE"
Flag = Literal["unsubscribed", "bounced", "interested", "replied"]
STOP_FLAGS: tuple[Flag, ...] = ("unsubscribed", "bounced", "interested", "replied")  # in order of precedence
BLACKLIST_FLAGS: tuple[Flag, ...] = ("unsubscribed", "bounced")
# The kind a message keeps when several events describe it, strongest first, whatever their order: a
# bounce notice never becomes a reply, and a reply seen tracked wins over the same reply untracked.
# Only inbound kinds ever meet (outbound keys differ by id space); the outbound ones are ranked for
# completeness.
MESSAGE_KIND_PRECEDENCE = ("BOUNCE_NOTICE", "REPLY", "UNTRACKED", "CAMPAIGN", "MANUAL")
_KIND_RANK = {kind: rank for rank, kind in enumerate(MESSAGE_KIND_PRECEDENCE)}


class UnsupportedEvent(Exception):
    """The processor was handed an event type it has no effect for."""


class Lead(TypedDict, total=False):
    """A lead as the domain table keeps it: every field a join of what its events said."""

    email: str
    providerLeadId: str  # identity: the smallest non-empty value seen, like message text
    firstName: str
    lastName: str
    unsubscribed: bool  # flags only ever turn on
    bounced: bool
    interested: bool
    replied: bool
    stoppedAt: int  # the first time a flag turned on (min)
    outboundCount: int  # one per unique message
    inboundCount: int
    lastOutboundAt: int  # last seen (max)
    lastInboundAt: int
    firstCampaignOutboundAt: int  # first seen (min)
    openCount: int  # one per open event
    lastOpenedAt: int
    blacklisted: bool  # derived from the flags
    status: str  # derived: lead_status
    # Written by the store beside the joins.
    pk: str
    sk: str
    workspaceId: str
    version: int
    createdAt: int
    updatedAt: int


class Message(TypedDict, total=False):
    """A message (an email sent, a reply, a bounce notice) as the domain table keeps it."""

    direction: str  # OUTBOUND | INBOUND
    kind: str  # by MESSAGE_KIND_PRECEDENCE
    sentAt: int
    receivedAt: int
    subject: str
    campaignId: str
    senderEmailId: str
    scheduledEmailId: str
    bouncedScheduledEmailId: str
    replyId: str
    interested: bool
    automated: bool
    # Written by the store beside the joins.
    pk: str
    sk: str
    leadPk: str
    version: int
    createdBy: str  # the dedupe key of the event whose effect created it: that event's effect marker


class FollowUp(TypedDict, total=False):
    """The no-response sequence of a lead: derived from it, never joined."""

    state: Literal["ACTIVE", "STOPPED"]
    startedAt: int
    stopReason: str
    stoppedAt: int


# A message's side of a lead's rollup: its count and its last-seen time.
_ROLLUP: dict[str, tuple[Literal["outboundCount", "inboundCount"], Literal["lastOutboundAt", "lastInboundAt"]]] = {
    "OUTBOUND": ("outboundCount", "lastOutboundAt"),
    "INBOUND": ("inboundCount", "lastInboundAt"),
}


def parse_time_ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class MessagePlan:
    pk: str
    direction: str  # OUTBOUND | INBOUND
    kind: str  # CAMPAIGN | MANUAL | REPLY | UNTRACKED | BOUNCE_NOTICE
    attributes: dict[str, Any]  # joined with what is stored (text: min, flags: or, times: min)
    counts_in_rollup: bool  # a new message adds one to the lead's outbound or inbound count


@dataclass(frozen=True)
class LeadContribution:
    """What one event adds to its lead. Applied at most once per event (the effect marker)."""

    at_ms: int
    flags: frozenset[Flag] = frozenset()
    campaign_outbound: bool = False
    opened: bool = False


@dataclass(frozen=True)
class EffectPlan:
    dedupe_key: str
    tenant: Tenant
    lead_email: str | None
    lead_identity: dict[str, str]  # providerLeadId, firstName, lastName: joined like message text
    contribution: LeadContribution
    message: MessagePlan | None = None
    opens_pk: str | None = None  # the outbound message whose open counter this event bumps
    campaign: tuple[str, str | None] | None = None  # (id, name)

    @property
    def lead_pk(self) -> str | None:
        return lead_pk(self.tenant, self.lead_email) if self.lead_email else None

    @property
    def workspace_id(self) -> str:
        return self.tenant.workspace


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def plan_effect(dedupe_key: str, event: NormalisedEvent, received_at_ms: int) -> EffectPlan:
    """Turns a normalised event into the writes it needs. Raises UnsupportedEvent for other types."""
    ws = tenant_of_event(event)
    campaign = (event.campaign_id, event.campaign_name) if event.campaign_id else None
    identity = _present(providerLeadId=event.lead_id, firstName=event.lead_first_name, lastName=event.lead_last_name)
    reply_at = parse_time_ms(event.reply_received_at)
    event_at = parse_time_ms(event.campaign_event_at)
    kind = event.event_type
    message: MessagePlan | None = None

    def plan(
        lead_email: str | None,
        contribution: LeadContribution,
        message: MessagePlan | None = None,
        opens_pk: str | None = None,
    ) -> EffectPlan:
        return EffectPlan(dedupe_key, ws, lead_email, identity, contribution, message, opens_pk, campaign)

    if kind in {"EMAIL_SENT", "MANUAL_EMAIL_SENT"}:
        manual = kind == "MANUAL_EMAIL_SENT"
        # A manual email is a message in the inbox: its own time is the reply's.
        own_time = reply_at if manual and event.reply_id else parse_time_ms(event.sent_at)
        at = own_time or event_at or received_at_ms
        if manual and event.reply_id:
            pk = message_pk(ws, "OUT", "RE", event.reply_id)
        elif event.scheduled_email_id:
            pk = message_pk(ws, "OUT", "SE", event.scheduled_email_id)
        else:
            raise UnsupportedEvent(f"{kind} without a message id")
        message = MessagePlan(
            pk=pk,
            direction="OUTBOUND",
            kind="MANUAL" if manual else "CAMPAIGN",
            attributes=_present(
                sentAt=at,
                subject=event.reply_subject if manual and event.reply_id else event.subject,
                campaignId=event.campaign_id,
                senderEmailId=event.sender_email_id,
                scheduledEmailId=event.scheduled_email_id,
                replyId=event.reply_id if manual else None,
            ),
            counts_in_rollup=True,
        )
        contribution = LeadContribution(at_ms=at, campaign_outbound=not manual)
        return plan(event.lead_email, contribution, message)

    if kind in {"LEAD_REPLIED", "UNTRACKED_REPLY_RECEIVED", "LEAD_INTERESTED"}:
        at = reply_at or event_at or received_at_ms
        flag: Flag = "interested" if kind == "LEAD_INTERESTED" else "replied"
        # An untracked reply is matched to its lead by the sender's address.
        email = event.lead_email or (event.reply_from_email if kind != "LEAD_INTERESTED" else None)
        if event.reply_id:
            message = MessagePlan(
                pk=message_pk(ws, "IN", "RE", event.reply_id),
                direction="INBOUND",
                kind="UNTRACKED" if kind == "UNTRACKED_REPLY_RECEIVED" else "REPLY",
                attributes=_present(
                    receivedAt=reply_at,
                    subject=event.reply_subject,
                    replyId=event.reply_id,
                    campaignId=event.campaign_id,
                    interested=True if flag == "interested" else None,
                    automated=event.reply_automated,
                ),
                counts_in_rollup=True,
            )
        contribution = LeadContribution(at_ms=at, flags=frozenset({flag}))
        return plan(email, contribution, message)

    if kind == "EMAIL_OPENED":
        at = event_at or received_at_ms
        opens = message_pk(ws, "OUT", "SE", event.scheduled_email_id) if event.scheduled_email_id else None
        contribution = LeadContribution(at_ms=at, opened=True)
        return plan(event.lead_email, contribution, opens_pk=opens)

    if kind == "EMAIL_BOUNCED":
        at = event_at or reply_at or received_at_ms
        if event.reply_id:  # the bounce notice itself; not the lead writing, so not in the rollup
            message = MessagePlan(
                pk=message_pk(ws, "IN", "RE", event.reply_id),
                direction="INBOUND",
                kind="BOUNCE_NOTICE",
                attributes=_present(
                    receivedAt=reply_at, replyId=event.reply_id, bouncedScheduledEmailId=event.scheduled_email_id
                ),
                counts_in_rollup=False,
            )
        contribution = LeadContribution(at_ms=at, flags=frozenset({"bounced"}))
        return plan(event.lead_email, contribution, message)

    if kind == "LEAD_UNSUBSCRIBED":
        at = event_at or received_at_ms
        contribution = LeadContribution(at_ms=at, flags=frozenset({"unsubscribed"}))
        return plan(event.lead_email, contribution)

    raise UnsupportedEvent(f"no effect for event type {kind}")


# --- joins ------------------------------------------------------------------------------------------


def _join_text(current: Any, new: Any) -> Any:
    if current in (None, ""):
        return new
    if new in (None, ""):
        return current
    return min(current, new)  # deterministic whatever the order


def join_attributes(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Booleans or, everything else the smaller non-empty value (ids, texts, first-seen times)."""
    joined = dict(current)
    for name, value in new.items():
        if isinstance(value, bool) or isinstance(joined.get(name), bool):
            joined[name] = bool(joined.get(name)) or bool(value)
        else:
            joined[name] = _join_text(joined.get(name), value)
    return joined


def merge_message(stored: Message | None, plan: MessagePlan) -> Message:
    base: Message = stored or {"direction": plan.direction, "kind": plan.kind}
    merged = cast(Message, join_attributes(base, plan.attributes))
    # A reply and its interested-marking describe one message: one kind, by precedence.
    merged["kind"] = stronger_kind(base.get("kind", plan.kind), plan.kind)
    return merged


def stronger_kind(a: str, b: str) -> str:
    """The kind of higher precedence (an unknown kind ranks last; ties break by name, not by order)."""
    return min(a, b, key=lambda kind: (_KIND_RANK.get(kind, len(_KIND_RANK)), kind))


def _max(current: Any, new: int) -> int:
    return max(int(current or 0), new)


def _min(current: Any, new: int) -> int:
    return new if current in (None, 0) else min(int(current), new)


def fold_lead(stored: Lead | None, plan: EffectPlan, message_is_new: bool) -> Lead:
    """The lead after one event's contribution (called once per event, under the event's marker)."""
    lead = cast(Lead, join_attributes(stored or {"email": plan.lead_email}, plan.lead_identity))
    contribution = plan.contribution
    for flag in contribution.flags:
        lead[flag] = True
        lead["stoppedAt"] = _min(lead.get("stoppedAt"), contribution.at_ms)
    message = plan.message
    if message and message.counts_in_rollup:
        count, last_seen = _ROLLUP[message.direction]
        # The count grows once per message (whichever of its events comes first creates it); the
        # last-seen time takes every event about it, so it cannot depend on which came first.
        if message_is_new:
            lead[count] = int(lead.get(count, 0)) + 1
        lead[last_seen] = _max(lead.get(last_seen), contribution.at_ms)
    if contribution.campaign_outbound:
        lead["firstCampaignOutboundAt"] = _min(lead.get("firstCampaignOutboundAt"), contribution.at_ms)
    if contribution.opened:
        lead["openCount"] = int(lead.get("openCount", 0)) + 1
        lead["lastOpenedAt"] = _max(lead.get("lastOpenedAt"), contribution.at_ms)
    lead["blacklisted"] = any(lead.get(flag) for flag in BLACKLIST_FLAGS)
    lead["status"] = lead_status(lead)
    return lead


def lead_status(lead: Lead) -> str:
    if lead.get("blacklisted"):
        return "BLACKLISTED"  # wins over everything, before or after
    if lead.get("interested"):
        return "INTERESTED"
    if lead.get("replied"):
        return "REPLIED"
    return "CONTACTED" if lead.get("outboundCount") else "NEW"


def follow_up_for(lead: Lead) -> FollowUp | None:
    """The no-response sequence, derived from the lead: it exists once a campaign email went out,
    and is STOPPED as soon as the lead replied, was marked interested, bounced or unsubscribed,
    whether that came before or after the email."""
    started_at = lead.get("firstCampaignOutboundAt")
    if not started_at:
        return None
    reason = next((flag for flag in STOP_FLAGS if lead.get(flag)), None)
    follow_up: FollowUp = {"state": "STOPPED" if reason else "ACTIVE", "startedAt": int(started_at)}
    if reason:
        follow_up["stopReason"] = reason.upper()
        follow_up["stoppedAt"] = int(lead["stoppedAt"])
    return follow_up
