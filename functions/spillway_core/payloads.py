"""Provider payload models and their normalisation into the minimal event the processor needs.

EmailBison (and Inboxxia, which runs EmailBison) sends
``{"event": {"type", "name", "instance_url", "workspace_id", "workspace_name"},
"data": {"campaign", "campaign_event", "lead", "reply", "scheduled_email", "sender_email"}}``.
Any ``data`` member may be missing or null and ids arrive as numbers or strings, so every field is
optional here and ids are coerced to strings; what an event type *requires* is checked by
``normalise`` with a clear error instead of a validation trace.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

SUPPORTED_PROVIDERS = frozenset({"emailbison", "inboxxia"})


def _id_to_str(value: Any) -> str | None:
    """Provider ids are ints in some payloads and strings in others; '' means absent."""
    if value is None:
        return None
    if isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
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


class EventData(_Lenient):
    campaign: Campaign | None = None
    lead: Lead | None = None
    scheduled_email: ScheduledEmail | None = None
    sender_email: SenderEmail | None = None


class WebhookPayload(_Lenient):
    event: EventInfo | None = None
    data: EventData | None = None


class NormalisedEvent(BaseModel):
    """What the ingest stores for the processor: small, flat, no body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    event_type: str
    workspace_id: str | None = None
    workspace_name: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    lead_id: str | None = None
    lead_email: str | None = None
    lead_first_name: str | None = None
    lead_last_name: str | None = None
    sender_email_id: str | None = None
    sender_email: str | None = None
    sender_name: str | None = None
    scheduled_email_id: str | None = None
    subject: str | None = None
    sent_at: str | None = None


class PayloadRejected(Exception):
    """The payload is well-formed JSON but cannot be accepted; ``status`` is the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Event type -> (the payload field that identifies one occurrence, as used in the dedupe key).
DEDUPE_ID_FIELD = {"EMAIL_SENT": "scheduled_email.id"}


def parse_payload(document: dict[str, Any]) -> WebhookPayload:
    try:
        return WebhookPayload.model_validate(document)
    except ValidationError as exc:
        # Only the field locations go back to the caller: never the values (they carry lead data).
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise PayloadRejected(422, "invalid_payload", f"invalid fields: {', '.join(fields)}") from exc


def normalise(provider: str, payload: WebhookPayload) -> NormalisedEvent:
    info = payload.event or EventInfo()
    data = payload.data or EventData()
    if not info.type:
        raise PayloadRejected(422, "missing_event_type", "event.type is required")
    event_type = info.type.upper()
    if event_type not in DEDUPE_ID_FIELD:
        raise PayloadRejected(422, "unsupported_event_type", f"event type {event_type} is not supported")
    scheduled = data.scheduled_email or ScheduledEmail()
    if not scheduled.id:
        raise PayloadRejected(422, "missing_dedupe_id", f"{event_type} requires data.scheduled_email.id")
    campaign = data.campaign or Campaign()
    lead = data.lead or Lead()
    sender = data.sender_email or SenderEmail()
    return NormalisedEvent(
        provider=provider,
        event_type=event_type,
        workspace_id=info.workspace_id,
        workspace_name=info.workspace_name,
        campaign_id=campaign.id,
        campaign_name=campaign.name,
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
    )


def normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def dedupe_key(event: NormalisedEvent) -> str:
    """``<provider>:<EVENT_TYPE>:<most specific provider id>``; one key per real-world occurrence."""
    return f"{event.provider}:{event.event_type}:{event.scheduled_email_id}"
