"""The processor's view of the event the ingest stored, read without pydantic.

The ingest writes ``payloads.stored_json(event)``: a flat JSON
object of text fields (and one flag). Reading that back is the processor's only use of the payload
models, and importing pydantic and building them is most of what its cold start would add to the
bare SDK's (bench/lambda_cold_start.py). So the processor reads the JSON it expects here, field by
field, and leaves everything else (an unknown field, a wrong type, an escape sequence, invalid
JSON) to the pydantic model, loaded only then: whatever the input, the outcome is the model's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Self

from spillway_core.keys import NO_INSTANCE, Tenant

if TYPE_CHECKING:
    from pydantic import TypeAdapter


class ValidationError(ValueError):
    """The stored JSON is not a NormalisedEvent (the model's ``pydantic.ValidationError``, as text)."""


@dataclass(frozen=True)
class NormalisedEvent:
    """What the ingest stores of an event for the processor: small, flat, no message body."""

    # Read by pydantic (``stored_event_model``): a stored field this class does not have is an error.
    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}

    provider: str
    event_type: str
    instance: str | None = None  # the provider instance's host (keys.instance_host)
    workspace_id: str | None = None
    workspace_name: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    campaign_event_id: str | None = None
    campaign_event_at: str | None = None
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
    reply_id: str | None = None
    reply_subject: str | None = None
    reply_from_email: str | None = None
    reply_received_at: str | None = None
    reply_automated: bool | None = None

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Self:
        """The event in ``text``; ValidationError where the pydantic model raises one."""
        read = _read_plainly(text)
        if read is not None:
            return cls(**read)
        return cls(**_read_with_the_model(text))


_REQUIRED_TEXT = frozenset({"provider", "event_type"})
_FLAGS = frozenset({"reply_automated"})
_FIELDS = frozenset(field.name for field in fields(NormalisedEvent))


def _read_plainly(text: str | bytes) -> dict[str, Any] | None:
    """The fields, when ``text`` is exactly what the ingest writes; None for anything else."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    # An escape may hide a lone surrogate, which json and the model's parser treat differently.
    if "\\u" in text:
        return None
    try:
        document = json.loads(text, object_pairs_hook=_without_repeats)
    except ValueError:
        return None
    if type(document) is not dict or not _REQUIRED_TEXT <= document.keys() <= _FIELDS:
        return None
    for name, value in document.items():
        if name in _FLAGS:
            plain = value is None or type(value) is bool
        else:
            plain = type(value) is str or (value is None and name not in _REQUIRED_TEXT)
        if not plain:
            return None
    return document


def _without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a repeated field")  # left to the model's parser
    return document


@cache
def stored_event_model() -> TypeAdapter[NormalisedEvent]:
    """The pydantic model of the stored event, which writes it (``payloads.stored_json``) and decides
    whatever the plain reader declines. Built at its first use: pydantic stays off the processor's
    cold start."""
    from pydantic import TypeAdapter

    return TypeAdapter(NormalisedEvent)


def _read_with_the_model(text: str | bytes) -> dict[str, Any]:
    from pydantic import ValidationError as ModelValidationError

    try:
        return asdict(stored_event_model().validate_json(text))
    except ModelValidationError as exc:
        raise ValidationError(str(exc)) from exc


def tenant_of_event(event: NormalisedEvent) -> Tenant:
    return Tenant(event.provider, event.instance or NO_INSTANCE, event.workspace_id or "")
