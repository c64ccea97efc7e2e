"""Webhook tokens: random, shown once, stored only as SHA-256 digests bound to what they may write."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import Any

# The workspace of the sample payloads in tests/fixtures: the local run's token is bound to it.
SAMPLE_WORKSPACE = "12"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def binding(provider: str, workspaces: Iterable[str | int], instances: Iterable[str] = ()) -> dict[str, Any]:
    """One token's binding, as the ingest reads it (spillway_core.settings.TokenBinding)."""
    entry: dict[str, Any] = {"provider": provider, "workspaces": sorted({str(w) for w in workspaces})}
    hosts = sorted({h.strip().lower() for h in instances})
    if hosts:
        entry["instances"] = hosts
    return entry


def bindings_json(bindings: dict[str, dict[str, Any]]) -> str:
    """The IngestTokenBindings parameter: ``{"<token sha256>": <binding>, ...}``, compact."""
    return json.dumps(bindings, separators=(",", ":"), sort_keys=True)
