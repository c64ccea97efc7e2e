"""The ingest's settings, read without pydantic.

The ingest answers webhooks, so its cold start is on a provider's request: this module keeps pydantic
(and its model building, which costs about as much as importing the AWS SDK) off the ingest's import
path. The rules are those of the other settings models (``spillway_core.settings``): the same names,
defaults and bounds, and the same error type family (a ``ValueError``, as pydantic's
``ValidationError`` is).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Self

# Shared with spillway_core.settings.AwsClientSettings: each name and default in one place.
AWS_TIMEOUT_ENV, AWS_TIMEOUT_DEFAULT = "AWS_CALL_TIMEOUT_SECONDS", 2.0
AWS_MAX_ATTEMPTS_ENV, AWS_MAX_ATTEMPTS_DEFAULT = "AWS_MAX_ATTEMPTS", 2


class SettingsError(ValueError):
    """A setting is missing or out of bounds."""


@dataclass(frozen=True)
class _Bound:
    env: str
    low: float | None = None  # inclusive unless exclusive_low
    high: float | None = None
    exclusive_low: bool = False


def _parse(raw: str, kind: type[int] | type[float]) -> float:
    if kind is float:
        return float(raw)
    try:
        return int(raw)
    except ValueError:
        whole = float(raw)  # as pydantic reads an int: "5.0" is 5, "5.5" is not an integer
        if not whole.is_integer():
            raise
        return int(whole)


def _number(environ: Mapping[str, str], bound: _Bound, default: float, kind: type[int] | type[float]) -> Any:
    raw = environ.get(bound.env)
    try:
        value = default if raw is None else _parse(raw.strip(), kind)
    except (ValueError, OverflowError):
        raise SettingsError(f"{bound.env} must be a{'n integer' if kind is int else ' number'}") from None
    # Written as "within" so that NaN, which compares false to everything, is out of bounds.
    high_ok = bound.high is None or value <= bound.high
    low_ok = bound.low is None or (value > bound.low if bound.exclusive_low else value >= bound.low)
    if not (low_ok and high_ok):
        raise SettingsError(f"{bound.env} is out of bounds")
    return value


def _names(value: object, field: str, normalise: Callable[[object], str]) -> frozenset[str]:
    # As the pydantic models did: a JSON array of ids (numbers are read as text), normalised.
    if not isinstance(value, list | tuple | set | frozenset):
        raise SettingsError(f"a token binding's {field} must be a list")
    return frozenset(normalise(item) for item in value)


def _workspace_id(value: object) -> str:
    # Ids are compared the way the ingest reads them: numbers as text, stripped, NFC.
    return unicodedata.normalize("NFC", str(value).strip())


def _host(value: object) -> str:
    return str(value).strip().lower()


@dataclass(frozen=True)
class TokenBinding:
    """What one token may write: its provider, its workspaces and (optionally) its instance hosts."""

    provider: str
    workspaces: frozenset[str]
    instances: frozenset[str] = frozenset()  # empty: any instance (and events without one)

    @classmethod
    def from_json(cls, value: object) -> TokenBinding:
        """One entry of INGEST_TOKEN_BINDINGS: {"provider", "workspaces": [...], "instances": [...]}."""
        if isinstance(value, TokenBinding):
            return value
        if not isinstance(value, dict):
            raise SettingsError("a token binding must be an object")
        if set(value) - {"provider", "workspaces", "instances"}:
            raise SettingsError("a token binding has unknown fields")
        provider = value.get("provider")
        if not isinstance(provider, str) or not provider:
            raise SettingsError("a token binding needs its provider")
        if "workspaces" not in value:
            raise SettingsError("a token binding needs its workspaces")
        workspaces = _names(value["workspaces"], "workspaces", _workspace_id)
        if not workspaces:
            raise SettingsError("a token binding needs at least one workspace")
        instances = _names(value.get("instances", ()), "instances", _host)
        return cls(provider=provider, workspaces=workspaces, instances=instances)

    def allows(self, provider: str, instance: str, workspace: str) -> bool:
        if provider != self.provider or workspace not in self.workspaces:
            return False
        return not self.instances or instance in self.instances


def _bindings(raw: str | None) -> dict[str, TokenBinding]:
    # JSON: {"<sha256 hex of a token>": {"provider", "workspaces": [...], "instances": [...]}}.
    # Several digests at once allow rotation, and the template never holds a token itself.
    if raw is None:
        raise SettingsError("INGEST_TOKEN_BINDINGS is required")
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise SettingsError("INGEST_TOKEN_BINDINGS is not JSON") from None
    if not isinstance(value, dict) or not value:
        raise SettingsError("at least one token binding is required")
    bindings = {str(digest).strip().lower(): binding for digest, binding in value.items()}
    for digest in bindings:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SettingsError("token digests must be SHA-256 hex")
    return {digest: TokenBinding.from_json(binding) for digest, binding in bindings.items()}


@dataclass(frozen=True)
class IngestSettings:
    events_table: str
    token_bindings: dict[str, TokenBinding]
    aws_timeout_seconds: float = AWS_TIMEOUT_DEFAULT
    aws_max_attempts: int = AWS_MAX_ATTEMPTS_DEFAULT
    max_body_bytes: int = 256 * 1024
    max_attempts: int = 8
    retention_days: int = 14
    ignored_retention_days: int = 1
    sweep_shards: int = 16
    pending_grace_seconds: int = 300
    retry_after_seconds: int = 5

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        events_table = environ.get("EVENTS_TABLE", "")
        if not events_table:
            raise SettingsError("EVENTS_TABLE is required")
        defaults: dict[str, Any] = {field.name: field.default for field in fields(cls)}
        integers = {
            "aws_max_attempts": _Bound(AWS_MAX_ATTEMPTS_ENV, 1, 10),
            "max_body_bytes": _Bound("MAX_BODY_BYTES", 0, exclusive_low=True),
            "max_attempts": _Bound("MAX_ATTEMPTS", 1),
            "retention_days": _Bound("EVENT_RETENTION_DAYS", 1),
            "ignored_retention_days": _Bound("IGNORED_RETENTION_DAYS", 1),
            "sweep_shards": _Bound("SWEEP_SHARDS", 1, 256),
            "pending_grace_seconds": _Bound("PENDING_GRACE_SECONDS", 10),
            "retry_after_seconds": _Bound("RETRY_AFTER_SECONDS", 1),
        }
        return cls(
            events_table=events_table,
            token_bindings=_bindings(environ.get("INGEST_TOKEN_BINDINGS")),
            aws_timeout_seconds=_number(
                environ, _Bound(AWS_TIMEOUT_ENV, 0, exclusive_low=True), AWS_TIMEOUT_DEFAULT, float
            ),
            **{name: _number(environ, bound, defaults[name], int) for name, bound in integers.items()},
        )

    @property
    def token_sha256s(self) -> tuple[str, ...]:
        return tuple(self.token_bindings)

    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with some fields replaced (the name the pydantic settings models use)."""
        return replace(self, **update)
