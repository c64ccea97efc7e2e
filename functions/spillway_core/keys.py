"""Every key Spillway builds, in one place: dedupe keys and the domain table's keys.

A key is made of components (provider, instance host, workspace, event type, occurrence id...).
Each component is NFC-normalised, then percent-encoded with only ``A-Z a-z 0-9 - . _ ~`` left as
they are, so no component can contain a separator (``:`` or ``#``) and two spellings of the same
Unicode text give the same key. Encoding is injective (``%`` itself is encoded), so two different
tuples of components can never give the same key: no tenant can squat another tenant's key.

Keys of one tenant (provider + instance + workspace) share the tenant prefix, and the tenant is part
of every dedupe key, so the same provider id in two workspaces or instances gives two keys.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

# Bounds, checked at ingest (422), so that every key fits DynamoDB's 2,048-byte hash key with the
# effect marker's prefix. Worst case: provider 10 + host 259 + workspace and id 64 characters x 12
# bytes each (a 4-byte character percent-encoded) + type 64 + label and separators ~ 1,900 bytes.
MAX_ID_CHARS = 64
MAX_EVENT_TYPE_CHARS = 64
MAX_HOST_CHARS = 253
MAX_KEY_BYTES = 2000  # checked on the assembled key too (defensive); the effect marker adds 7 bytes
_EVENT_TYPE = re.compile(r"[A-Z0-9_.-]{1,64}")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?")
_SAFE = "-._~"
NO_INSTANCE = ""  # an event without instance_url: an empty component, which no real host encodes to


class KeyComponentRejected(ValueError):
    """A value that cannot be part of a key: the message names the rule, never the value."""


def clean_id(value: str, what: str = "id") -> str:
    """An id as it goes into keys: stripped, NFC, 1-64 characters, no whitespace or control,
    format, surrogate, private-use or unassigned characters, and no U+FFFD (the mark of bytes that
    were not UTF-8)."""
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise KeyComponentRejected(f"{what} is empty")
    if len(text) > MAX_ID_CHARS:
        raise KeyComponentRejected(f"{what} is longer than {MAX_ID_CHARS} characters")
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "CZ" or char == "\ufffd":
            raise KeyComponentRejected(f"{what} holds whitespace, control or invalid characters")
    return text


def clean_event_type(value: str) -> str:
    text = value.strip().upper()
    if not _EVENT_TYPE.fullmatch(text):
        raise KeyComponentRejected(f"event.type must be 1-{MAX_EVENT_TYPE_CHARS} characters of A-Z, 0-9, _ . -")
    return text


def instance_host(instance_url: str | None) -> str:
    """The provider instance an event comes from: the lower-cased host (and port) of instance_url."""
    if not instance_url:
        return NO_INSTANCE
    text = instance_url.strip()
    if not text.isascii() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise KeyComponentRejected("event.instance_url must be an ASCII URL")
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        default_port = {"https": 443, "http": 80}.get(parts.scheme.lower())
        port = f":{parts.port}" if parts.port is not None and parts.port != default_port else ""
        host = (parts.hostname or "") + port
    except ValueError as exc:
        raise KeyComponentRejected("event.instance_url is not a URL") from exc
    if len(host) > MAX_HOST_CHARS or not _HOST.fullmatch(host):
        raise KeyComponentRejected("event.instance_url has no valid host")
    return host


def encode(component: str) -> str:
    return quote(unicodedata.normalize("NFC", component), safe=_SAFE)


@dataclass(frozen=True)
class Tenant:
    """Who an event belongs to: the provider, its instance (host) and the workspace."""

    provider: str
    instance: str
    workspace: str

    @property
    def prefix(self) -> str:
        return ":".join(encode(part) for part in (self.provider, self.instance, self.workspace))


def dedupe_key(tenant: Tenant, event_type: str, occurrence: str) -> str:
    """``<provider>:<instance host>:<workspace>:<EVENT_TYPE>:<occurrence>``.

    ``occurrence`` is built with ``occurrence_id``; every other component is encoded here.
    """
    key = f"{tenant.prefix}:{encode(event_type)}:{occurrence}"
    if len(key.encode()) > MAX_KEY_BYTES:
        raise KeyComponentRejected(f"the event's key would exceed {MAX_KEY_BYTES} bytes")
    return key


def occurrence_id(provider_id: str, label: str | None = None) -> str:
    """An occurrence id, labelled with its id space when a type can be identified in several ways
    (``reply-<id>``, ``lead-<id>``...). Labels are fixed words without ``-``, so the first ``-``
    always ends the label."""
    encoded = encode(provider_id)
    return f"{label}-{encoded}" if label else encoded


def content_hash_id(canonical_json: str) -> str:
    return "sha256-" + hashlib.sha256(canonical_json.encode()).hexdigest()[:32]


def email_digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


# --- domain table ---------------------------------------------------------------------------------


def tenant_pk(tenant: Tenant) -> str:
    return f"WS#{tenant.prefix}"


def lead_pk(tenant: Tenant, email: str) -> str:
    # Keys end up in logs and alerts: hash the address rather than carry it.
    return f"{tenant_pk(tenant)}#LEAD#{email_digest(email)}"


def message_pk(tenant: Tenant, direction: str, id_space: str, provider_id: str) -> str:
    """``OUT#SE#<scheduled email id>``, ``OUT#RE#<reply id>`` (manual), ``IN#RE#<reply id>``."""
    return f"{tenant_pk(tenant)}#MSG#{direction}#{id_space}#{encode(provider_id)}"


def campaign_pk(tenant: Tenant, campaign_id: str) -> str:
    return f"{tenant_pk(tenant)}#CAMPAIGN#{encode(campaign_id)}"


def effect_marker_pk(dedupe_key: str) -> str:
    return f"EFFECT#{dedupe_key}"


_VALID_KEY = re.compile(r"[A-Za-z0-9%._~:-]+")


def is_valid_key(key: str) -> bool:
    """Whether ``key`` could be a dedupe key: only the encoded alphabet and separators, bounded.
    Alerts build shell commands only from keys that pass this."""
    return len(key) <= MAX_KEY_BYTES and _VALID_KEY.fullmatch(key) is not None
