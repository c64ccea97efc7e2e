"""Provider payload models and their normalisation into the minimal event the processor needs.

EmailBison (and Inboxxia, which runs EmailBison) sends
``{"event": {"type", "name", "instance_url", "workspace_id", "workspace_name"},
"data": {"campaign", "campaign_event", "lead", "reply", "scheduled_email", "sender_email"}}``.
Any ``data`` member may be missing or null and ids arrive as numbers or strings, so every field is
optional here and ids are coerced to strings; what an event type *requires* is checked by
``normalise`` with a clear error instead of a validation trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from spillway_core import keys
from spillway_core.keys import KeyComponentRejected, Tenant
from spillway_core.stored_event import NormalisedEvent, stored_event_model, tenant_of_event

SUPPORTED_PROVIDERS = frozenset({"emailbison", "inboxxia"})


def _id_to_str(value: Any) -> str | None:
    """Provider ids are ints in some payloads and strings in others; '' means absent. Ids go into
    keys, so they are held to the key rules (``keys.clean_id``): NFC, bounded, printable."""
    if value is None:
        return None
    if isinstance(value, int | str) and not isinstance(value, bool):
        if isinstance(value, int) and not -(10**20) < value < 10**20:
            raise ValueError("an id must have at most 20 digits")
        text = str(value).strip()
        return keys.clean_id(text) if text else None
    raise ValueError("an id must be a number or a string")


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


ProviderId = Annotated[str | None, BeforeValidator(_id_to_str)]
Text = Annotated[str | None, BeforeValidator(_blank_to_none)]


class _Lenient(BaseModel):
    # Providers add fields without notice: keep what we know, ignore the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)


class EventInfo(_Lenient):
    type: Text = None
    name: Text = None
    instance_url: Text = None
    workspace_id: ProviderId = None
    workspace_name: Text = None


class Campaign(_Lenient):
    id: ProviderId = None
    name: Text = None


class Lead(_Lenient):
    id: ProviderId = None
    email: Text = None
    first_name: Text = None
    last_name: Text = None


class SenderEmail(_Lenient):
    id: ProviderId = None
    email: Text = None
    name: Text = None


class ScheduledEmail(_Lenient):
    id: ProviderId = None
    email_subject: Text = None
    sent_at: Text = None


class Reply(_Lenient):
    """A message in the provider's inbox: a lead's reply, an untracked email, a bounce notice, or a
    manual email sent from the master inbox."""

    id: ProviderId = None
    email_subject: Text = None
    from_email_address: Text = None
    from_name: Text = None
    date_received: Text = None
    automated_reply: bool | None = None


class CampaignEvent(_Lenient):
    id: ProviderId = None
    type: Text = None
    created_at: Text = None


class EventData(_Lenient):
    campaign: Campaign | None = None
    campaign_event: CampaignEvent | None = None
    lead: Lead | None = None
    reply: Reply | None = None
    scheduled_email: ScheduledEmail | None = None
    sender_email: SenderEmail | None = None


class WebhookPayload(_Lenient):
    event: EventInfo | None = None
    data: EventData | None = None


# The stored event's validation and its JSON: the ingest writes it, and anything the processor
# cannot read plainly is read here (``stored_event``), so both sides agree on every input.
STORED_EVENT: TypeAdapter[NormalisedEvent] = stored_event_model()


def stored_json(event: NormalisedEvent) -> str:
    """The event as the ingest stores it: compact JSON, without the fields it does not have."""
    return STORED_EVENT.dump_json(event, exclude_none=True).decode()


class PayloadRejected(Exception):
    """The payload is well-formed JSON but cannot be accepted; ``status`` is the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def content_hash(document: dict[str, Any]) -> str:
    """A key for events that carry no id of their own: identical redeliveries hash the same."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keys.content_hash_id(canonical)


def _first(*candidates: tuple[str, str | None]) -> tuple[str, str] | None:
    for label, value in candidates:
        if value:
            return label, value
    return None


# Each supported type: (how its occurrence id is chosen, what to say when there is none). The
# label is part of the key when a type can be identified in more than one way, so ids from
# different id spaces never collide.
def _sent_id(e: NormalisedEvent, _: dict[str, Any]) -> str | None:
    return keys.occurrence_id(e.scheduled_email_id) if e.scheduled_email_id else None


def _reply_id(e: NormalisedEvent, _: dict[str, Any]) -> str | None:
    return keys.occurrence_id(e.reply_id) if e.reply_id else None


def _labelled(found: tuple[str, str] | None) -> str | None:
    return keys.occurrence_id(found[1], found[0]) if found else None


def _manual_id(e: NormalisedEvent, _: dict[str, Any]) -> str | None:
    return _labelled(_first(("reply", e.reply_id), ("scheduled_email", e.scheduled_email_id)))


def _interested_id(e: NormalisedEvent, _: dict[str, Any]) -> str | None:
    # Marking a reply interested is its own event (not the reply); a lead marked without a reply is
    # identified by the lead.
    return _labelled(_first(("reply", e.reply_id), ("lead", e.lead_id)))


def _opened_id(e: NormalisedEvent, document: dict[str, Any]) -> str | None:
    # Every open is a separate event; its campaign event id identifies it. Without one, a hash of the
    # whole payload: a redelivery is byte-for-byte the same event, and refusing an open would only
    # make the provider retry it forever.
    return keys.occurrence_id(e.campaign_event_id, "event") if e.campaign_event_id else content_hash(document)


def _bounced_id(e: NormalisedEvent, _: dict[str, Any]) -> str | None:
    return _labelled(_first(("scheduled_email", e.scheduled_email_id), ("reply", e.reply_id)))


def _unsubscribed_id(e: NormalisedEvent, _: dict[str, Any]) -> str | None:
    return _labelled(_first(("lead", e.lead_id), ("email", _email_digest(e.lead_email))))


def _email_digest(email: str | None) -> str | None:
    return keys.email_digest(email) if email else None


DedupeRule = Callable[[NormalisedEvent, dict[str, Any]], str | None]
DEDUPE_RULES: dict[str, tuple[DedupeRule, str]] = {
    "EMAIL_SENT": (_sent_id, "data.scheduled_email.id"),
    "MANUAL_EMAIL_SENT": (_manual_id, "data.reply.id or data.scheduled_email.id"),
    "LEAD_REPLIED": (_reply_id, "data.reply.id"),
    "LEAD_INTERESTED": (_interested_id, "data.reply.id or data.lead.id"),
    "UNTRACKED_REPLY_RECEIVED": (_reply_id, "data.reply.id"),
    "EMAIL_OPENED": (_opened_id, "(never missing: content hash)"),
    "EMAIL_BOUNCED": (_bounced_id, "data.scheduled_email.id or data.reply.id"),
    "LEAD_UNSUBSCRIBED": (_unsubscribed_id, "data.lead.id or data.lead.email"),
}
SUPPORTED_EVENT_TYPES = frozenset(DEDUPE_RULES)


def _rejected(exc: ValidationError) -> PayloadRejected:
    # Only the field locations and our own rules go back to the caller: never the values (they
    # carry lead data; pydantic's own messages can quote them, ours never do).
    fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
    rules = sorted(
        {str(err["ctx"]["error"]) for err in exc.errors() if isinstance(err.get("ctx", {}).get("error"), ValueError)}
    )
    message = f"invalid fields: {', '.join(fields)}" + (f" ({'; '.join(rules)})" if rules else "")
    return PayloadRejected(422, "invalid_payload", message)


def parse_payload(document: dict[str, Any]) -> WebhookPayload:
    try:
        return WebhookPayload.model_validate(document)
    except ValidationError as exc:
        raise _rejected(exc) from exc


def event_type_of(document: dict[str, Any]) -> str:
    """The event type, read before full validation so unknown types can be recorded as IGNORED."""
    event = document.get("event")
    raw_type = event.get("type") if isinstance(event, dict) else None
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise PayloadRejected(422, "missing_event_type", "event.type is required")
    try:
        return keys.clean_event_type(raw_type)
    except KeyComponentRejected as exc:
        raise PayloadRejected(422, "invalid_event_type", str(exc)) from exc


def tenant_of(provider: str, document: dict[str, Any]) -> Tenant:
    """Who the event belongs to (provider, instance host, workspace), read and checked before the
    token's binding is; every event, of a known type or not, must name its workspace."""
    try:
        info = EventInfo.model_validate(document.get("event"))
    except ValidationError as exc:
        raise _rejected(exc) from exc
    if not info.workspace_id:
        raise PayloadRejected(422, "missing_workspace", "event.workspace_id is required")
    try:
        instance = keys.instance_host(info.instance_url)
    except KeyComponentRejected as exc:
        raise PayloadRejected(422, "invalid_instance", str(exc)) from exc
    return Tenant(provider, instance, info.workspace_id)


def normalise(provider: str, payload: WebhookPayload) -> NormalisedEvent:
    info = payload.event or EventInfo()
    data = payload.data or EventData()
    if not info.type:
        raise PayloadRejected(422, "missing_event_type", "event.type is required")
    campaign = data.campaign or Campaign()
    campaign_event = data.campaign_event or CampaignEvent()
    lead = data.lead or Lead()
    sender = data.sender_email or SenderEmail()
    scheduled = data.scheduled_email or ScheduledEmail()
    reply = data.reply or Reply()
    try:
        instance = keys.instance_host(info.instance_url)
    except KeyComponentRejected as exc:
        raise PayloadRejected(422, "invalid_instance", str(exc)) from exc
    return NormalisedEvent(
        provider=provider,
        event_type=info.type.upper(),
        instance=instance or None,
        workspace_id=info.workspace_id,
        workspace_name=info.workspace_name,
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        campaign_event_id=campaign_event.id,
        campaign_event_at=campaign_event.created_at,
        lead_id=lead.id,
        lead_email=normalise_email(lead.email),
        lead_first_name=lead.first_name,
        lead_last_name=lead.last_name,
        sender_email_id=sender.id,
        sender_email=normalise_email(sender.email),
        sender_name=sender.name,
        scheduled_email_id=scheduled.id,
        subject=scheduled.email_subject,
        sent_at=scheduled.sent_at,
        reply_id=reply.id,
        reply_subject=reply.email_subject,
        reply_from_email=normalise_email(reply.from_email_address),
        reply_received_at=reply.date_received,
        reply_automated=reply.automated_reply,
    )


def normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def dedupe_key(event: NormalisedEvent, document: dict[str, Any]) -> str:
    """``<provider>:<instance>:<workspace>:<EVENT_TYPE>:<occurrence id>`` (``keys.dedupe_key``);
    one key per real-world occurrence."""
    rule, needs = DEDUPE_RULES[event.event_type]
    occurrence = rule(event, document)
    if not occurrence:
        raise PayloadRejected(422, "missing_dedupe_id", f"{event.event_type} requires {needs}")
    return _key(tenant_of_event(event), event.event_type, occurrence)


def ignored_key(tenant: Tenant, event_type: str, document: dict[str, Any]) -> str:
    return _key(tenant, event_type, content_hash(document))


def _key(tenant: Tenant, event_type: str, occurrence: str) -> str:
    try:
        return keys.dedupe_key(tenant, event_type, occurrence)
    except KeyComponentRejected as exc:
        raise PayloadRejected(422, "key_too_long", str(exc)) from exc
