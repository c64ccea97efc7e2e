"""Dedupe keys of test payloads, derived by the code's own key function (the format is asserted once,
in tests/unit/test_keys.py)."""

from __future__ import annotations

from typing import Any

from spillway_core.payloads import dedupe_key, normalise, parse_payload


def key_of(payload: dict[str, Any], provider: str = "emailbison") -> str:
    return dedupe_key(normalise(provider, parse_payload(payload)), payload)
