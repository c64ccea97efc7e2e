"""Ingest: authenticate, validate, dedupe and store one webhook with one conditional write."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spillway_core.errors import DuplicateEvent, EventTooLarge, StoreRejected, StoreUnavailable
from spillway_core.event_store import EventStore, NewEvent
from spillway_core.http import HttpResponse, WebhookRequest, error
from spillway_core.lanes import lane_of
from spillway_core.lifecycle import intake_shard
from spillway_core.metrics import WebhookOutcome
from spillway_core.status import EventStatus

if TYPE_CHECKING:
    from spillway_core.keys import Tenant
    from spillway_core.plain_settings import IngestSettings, TokenBinding

TOKEN_HEADER = "x-spillway-token"  # noqa: S105 - a header name, not a secret
TOKEN_QUERY = "token"  # noqa: S105 - a parameter name, not a secret
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class IngestOutcome:
    response: HttpResponse
    outcome: WebhookOutcome
    dedupe_key: str | None = None


def authenticate(request: WebhookRequest, bindings: dict[str, TokenBinding]) -> TokenBinding | None:
    """The binding of the presented token, or None. Every configured digest is compared, without an
    early exit, in constant time each."""
    presented = request.headers.get(TOKEN_HEADER) or request.query.get(TOKEN_QUERY) or ""
    digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest()
    found: TokenBinding | None = None
    for expected, binding in bindings.items():
        if hmac.compare_digest(digest, expected):
            found = binding
    return found if presented else None


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class _BadBody(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in a UTF-8 body (RFC 8259), or _BadBody: never a 5xx, whatever the bytes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadBody("invalid_utf8", "body is not valid UTF-8") from exc
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark is tolerated (RFC 8259 section 8.1)
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise _BadBody("too_deeply_nested", "body is nested too deeply") from exc
    except ValueError as exc:
        raise _BadBody("invalid_json", "body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise _BadBody("invalid_json", "body must be a JSON object")
    # \ud800-style escapes decode to lone surrogates, which are not text and cannot be stored.
    if _LONE_SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise _BadBody("invalid_utf8", "body holds an unpaired UTF-16 surrogate escape")
    return document


def _check_request(
    request: WebhookRequest, binding: TokenBinding | None, settings: IngestSettings
) -> IngestOutcome | None:
    """The answers that need no look at the body (the token's first, before anything else)."""
    if binding is None:
        return IngestOutcome(error(401, "unauthorized", "missing or invalid token"), WebhookOutcome.REJECTED)
    # The payload models (pydantic) load here, at the first authenticated request, not at import:
    # the ingest's cold start stays near the bare SDK's (bench/lambda_cold_start.py measures both).
    from spillway_core.payloads import SUPPORTED_PROVIDERS

    if request.provider not in SUPPORTED_PROVIDERS:
        return IngestOutcome(error(404, "unknown_provider", "unknown provider"), WebhookOutcome.REJECTED)
    if binding.provider != request.provider:
        return IngestOutcome(
            error(403, "forbidden", "the token is not bound to this provider"), WebhookOutcome.FORBIDDEN
        )
    if len(request.body) > settings.max_body_bytes:
        message = f"body exceeds {settings.max_body_bytes} bytes"
        return IngestOutcome(error(413, "payload_too_large", message), WebhookOutcome.REJECTED)
    if not _is_json(request.headers.get("content-type", "")):
        return IngestOutcome(
            error(415, "unsupported_media_type", "content-type must be application/json"), WebhookOutcome.REJECTED
        )
    if request.headers.get("content-encoding", "identity").strip().lower() not in {"", "identity"}:
        return IngestOutcome(
            error(415, "unsupported_media_type", "content-encoding is not supported"), WebhookOutcome.REJECTED
        )
    if request.body_error:
        return IngestOutcome(error(400, request.body_error, "body is not valid base64"), WebhookOutcome.REJECTED)
    return None


def ingest_webhook(request: WebhookRequest, settings: IngestSettings, store: EventStore, now_ms: int) -> IngestOutcome:
    binding = authenticate(request, settings.token_bindings)
    refused = _check_request(request, binding, settings)
    if refused is not None:
        return refused
    assert binding is not None  # refused above when missing
    from spillway_core.payloads import PayloadRejected, event_type_of, tenant_of

    try:
        document = parse_body(request.body)
        event_type = event_type_of(document)
        tenant = tenant_of(request.provider, document)
        if not binding.allows(tenant.provider, tenant.instance, tenant.workspace):
            message = "the token is not bound to this workspace and instance"
            return IngestOutcome(error(403, "forbidden", message), WebhookOutcome.FORBIDDEN)
        new_event = event_to_store(request, document, event_type, tenant, settings, now_ms)
    except _BadBody as exc:
        return IngestOutcome(error(400, exc.code, exc.message), WebhookOutcome.REJECTED)
    except PayloadRejected as exc:
        return IngestOutcome(error(exc.status, exc.code, exc.message), WebhookOutcome.REJECTED)
    except RecursionError:
        return IngestOutcome(error(400, "too_deeply_nested", "body is nested too deeply"), WebhookOutcome.REJECTED)
    key = new_event.dedupe_key
    try:
        store.put_new(new_event)
    except DuplicateEvent:
        return IngestOutcome(HttpResponse(200, {"status": "duplicate", "id": key}), WebhookOutcome.DUPLICATE, key)
    except EventTooLarge as exc:
        return IngestOutcome(error(413, "event_too_large", str(exc)), WebhookOutcome.REJECTED, key)
    except StoreUnavailable:
        retry_after = {"retry-after": str(settings.retry_after_seconds)}
        response = error(503, "store_unavailable", "event not stored, retry later", retry_after)
        return IngestOutcome(response, WebhookOutcome.UNAVAILABLE, key)
    except StoreRejected:
        # Retrying cannot help, and it is our bug (the checks above should have caught it): 4xx,
        # and the handler logs it as an error.
        return IngestOutcome(
            error(422, "not_storable", "the event cannot be stored"), WebhookOutcome.STORE_REJECTED, key
        )
    if new_event.status is EventStatus.IGNORED:
        # 2xx so the provider stops retrying; the short-lived record makes new types visible to ops.
        return IngestOutcome(HttpResponse(200, {"status": "ignored", "id": key}), WebhookOutcome.IGNORED, key)
    return IngestOutcome(HttpResponse(200, {"status": "accepted", "id": key}), WebhookOutcome.ACCEPTED, key)


def event_to_store(
    request: WebhookRequest,
    document: dict[str, Any],
    event_type: str,
    tenant: Tenant,
    settings: IngestSettings,
    now_ms: int,
) -> NewEvent:
    """The event record to write; PayloadRejected when a supported type lacks what it needs."""
    from spillway_core.payloads import (
        SUPPORTED_EVENT_TYPES,
        dedupe_key,
        ignored_key,
        normalise,
        parse_payload,
        stored_json,
    )

    if event_type not in SUPPORTED_EVENT_TYPES:
        # Kept briefly and outside the processor's and sweeper's view, so new types show up in ops.
        return NewEvent(
            dedupe_key=ignored_key(tenant, event_type, document),
            event_type=event_type,
            normalised_json=json.dumps({"provider": request.provider, "event_type": event_type}),
            max_attempts=0,
            expires_at_s=now_ms // 1000 + settings.ignored_retention_days * 86_400,
            intake_shard=None,
            pending_due_at_ms=None,
            status=EventStatus.IGNORED,
            provider=request.provider,
            raw_body=request.body,
            received_at_ms=now_ms,
        )
    event = normalise(request.provider, parse_payload(document))
    key = dedupe_key(event, document)
    lane = lane_of(event.event_type)
    return NewEvent(
        dedupe_key=key,
        event_type=event.event_type,
        normalised_json=stored_json(event),
        max_attempts=settings.max_attempts,
        expires_at_s=now_ms // 1000 + settings.retention_days * 86_400,
        intake_shard=intake_shard(key, lane, settings.sweep_shards),
        pending_due_at_ms=now_ms + settings.pending_grace_seconds * 1000,
        lane=lane,
        provider=request.provider,
        raw_body=request.body,
        received_at_ms=now_ms,
        workspace=event.workspace_id,
    )
