"""Ingest: authenticate, validate, dedupe and store one webhook with one conditional write."""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spillway_core.errors import DuplicateEvent, StoreUnavailable
from spillway_core.event_store import EventStore, NewEvent
from spillway_core.http import HttpResponse, WebhookRequest, error
from spillway_core.status import EventStatus

if TYPE_CHECKING:
    from spillway_core.ingest_settings import IngestSettings

TOKEN_HEADER = "x-spillway-token"  # noqa: S105 - a header name, not a secret
TOKEN_QUERY = "token"  # noqa: S105 - a parameter name, not a secret


@dataclass(frozen=True)
class IngestOutcome:
    response: HttpResponse
    outcome: str  # accepted | duplicate | rejected | unavailable: for logs and metrics
    dedupe_key: str | None = None


def is_authorised(request: WebhookRequest, token_sha256s: tuple[str, ...]) -> bool:
    presented = request.headers.get(TOKEN_HEADER) or request.query.get(TOKEN_QUERY) or ""
    digest = hashlib.sha256(presented.encode()).hexdigest()
    # Compare against every configured digest, without an early exit, in constant time each.
    matched = False
    for expected in token_sha256s:
        matched |= hmac.compare_digest(digest, expected)
    return matched and bool(presented)


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def sweep_shard(key: str, shards: int) -> str:
    # Stable across processes (unlike hash()): spreads the sweep index over `shards` partitions.
    return f"{zlib.crc32(key.encode()) % shards:03d}"


def ingest_webhook(request: WebhookRequest, settings: IngestSettings, store: EventStore, now_ms: int) -> IngestOutcome:
    if not is_authorised(request, settings.token_sha256s):
        return IngestOutcome(error(401, "unauthorized", "missing or invalid token"), "rejected")
    # The payload models (pydantic) load here, at the first authenticated request, not at import:
    # cold starts that answer 401 never pay for them (bench/lambda_cold_start.py measures both).
    from spillway_core.payloads import SUPPORTED_PROVIDERS, PayloadRejected

    if request.provider not in SUPPORTED_PROVIDERS:
        return IngestOutcome(error(404, "unknown_provider", "unknown provider"), "rejected")
    if len(request.body) > settings.max_body_bytes:
        message = f"body exceeds {settings.max_body_bytes} bytes"
        return IngestOutcome(error(413, "payload_too_large", message), "rejected")
    if not _is_json(request.headers.get("content-type", "")):
        return IngestOutcome(error(415, "unsupported_media_type", "content-type must be application/json"), "rejected")
    try:
        document = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return IngestOutcome(error(400, "invalid_json", "body is not valid JSON"), "rejected")
    if not isinstance(document, dict):
        return IngestOutcome(error(400, "invalid_json", "body must be a JSON object"), "rejected")
    try:
        new_event = event_to_store(request, document, settings, now_ms)
    except PayloadRejected as exc:
        return IngestOutcome(error(exc.status, exc.code, exc.message), "rejected")
    key = new_event.dedupe_key
    try:
        store.put_new(new_event)
    except DuplicateEvent:
        return IngestOutcome(HttpResponse(200, {"status": "duplicate", "id": key}), "duplicate", key)
    except StoreUnavailable:
        retry_after = {"retry-after": str(settings.retry_after_seconds)}
        response = error(503, "store_unavailable", "event not stored, retry later", retry_after)
        return IngestOutcome(response, "unavailable", key)
    if new_event.status is EventStatus.IGNORED:
        # 2xx so the provider stops retrying; the short-lived record makes new types visible to ops.
        return IngestOutcome(HttpResponse(200, {"status": "ignored", "id": key}), "ignored", key)
    return IngestOutcome(HttpResponse(200, {"status": "accepted", "id": key}), "accepted", key)


def event_to_store(
    request: WebhookRequest, document: dict[str, Any], settings: IngestSettings, now_ms: int
) -> NewEvent:
    """The event record to write; PayloadRejected when a supported type lacks what it needs."""
    from spillway_core.payloads import (
        SUPPORTED_EVENT_TYPES,
        dedupe_key,
        event_type_of,
        ignored_key,
        normalise,
        parse_payload,
    )

    event_type = event_type_of(document)
    if event_type not in SUPPORTED_EVENT_TYPES:
        # Kept briefly and outside the processor's and sweeper's view, so new types show up in ops.
        return NewEvent(
            dedupe_key=ignored_key(request.provider, event_type, document),
            event_type=event_type,
            normalised_json=json.dumps({"provider": request.provider, "event_type": event_type}),
            max_attempts=0,
            expires_at_s=now_ms // 1000 + settings.ignored_retention_days * 86_400,
            sweep_shard=None,
            pending_due_at_ms=None,
            status=EventStatus.IGNORED,
            provider=request.provider,
            raw_body=request.body,
            received_at_ms=now_ms,
        )
    event = normalise(request.provider, parse_payload(document))
    key = dedupe_key(event, document)
    return NewEvent(
        dedupe_key=key,
        event_type=event.event_type,
        normalised_json=event.model_dump_json(exclude_none=True),
        max_attempts=settings.max_attempts,
        expires_at_s=now_ms // 1000 + settings.retention_days * 86_400,
        sweep_shard=sweep_shard(key, settings.sweep_shards),
        pending_due_at_ms=now_ms + settings.pending_grace_seconds * 1000,
        provider=request.provider,
        raw_body=request.body,
        received_at_ms=now_ms,
    )
