"""The ingest's and the processor's settings, read without pydantic.

Importing pydantic and building models costs about as much as importing the AWS SDK, so this module
keeps it off the import path of the functions whose cold start matters: the ingest answers a
provider's request, the processor drains a burst. The rules are those of the pydantic settings
models (``spillway_core.settings``): the same names, defaults and bounds, and the same error type
family (a ``ValueError``, as pydantic's ``ValidationError`` is).
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
    # As pydantic reads a number from text: ASCII digits only, and an integer may be written "5.0".
    if not raw.isascii():
        raise ValueError(raw)
    if kind is float:
        return float(raw)
    whole, dot, zeros = raw.partition(".")
    if dot and (not zeros or zeros.strip("0")):
        raise ValueError(raw)
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


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise SettingsError(f"{name} is required")
    return value


def _numbers(
    environ: Mapping[str, str],
    defaults: Mapping[str, Any],
    bounds: Mapping[str, tuple[_Bound, type[int] | type[float]]],
) -> dict[str, Any]:
    # Every function's AWS clients: explicit timeouts, bounded retries (AwsClientSettings' rules).
    aws = {
        "aws_timeout_seconds": (_Bound(AWS_TIMEOUT_ENV, 0, exclusive_low=True), float),
        "aws_max_attempts": (_Bound(AWS_MAX_ATTEMPTS_ENV, 1, 10), int),
    }
    return {name: _number(environ, bound, defaults[name], kind) for name, (bound, kind) in {**aws, **bounds}.items()}


class _Copyable:
    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with some fields replaced (the name the pydantic settings models use)."""
        return replace(self, **update)  # type: ignore[type-var]


def _defaults(cls: type) -> dict[str, Any]:
    return {field.name: field.default for field in fields(cls)}


@dataclass(frozen=True)
class IngestSettings(_Copyable):
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
        events_table = _required(environ, "EVENTS_TABLE")
        bounds = {
            "max_body_bytes": (_Bound("MAX_BODY_BYTES", 0, exclusive_low=True), int),
            "max_attempts": (_Bound("MAX_ATTEMPTS", 1), int),
            "retention_days": (_Bound("EVENT_RETENTION_DAYS", 1), int),
            "ignored_retention_days": (_Bound("IGNORED_RETENTION_DAYS", 1), int),
            "sweep_shards": (_Bound("SWEEP_SHARDS", 1, 256), int),
            "pending_grace_seconds": (_Bound("PENDING_GRACE_SECONDS", 10), int),
            "retry_after_seconds": (_Bound("RETRY_AFTER_SECONDS", 1), int),
        }
        return cls(
            events_table=events_table,
            token_bindings=_bindings(environ.get("INGEST_TOKEN_BINDINGS")),
            **_numbers(environ, _defaults(cls), bounds),
        )

    @property
    def token_sha256s(self) -> tuple[str, ...]:
        return tuple(self.token_bindings)


@dataclass(frozen=True)
class ProcessorSettings(_Copyable):
    events_table: str
    domain_table: str
    alerts_topic_arn: str
    aws_timeout_seconds: float = AWS_TIMEOUT_DEFAULT
    aws_max_attempts: int = AWS_MAX_ATTEMPTS_DEFAULT
    lease_seconds: int = 45
    # Stop claiming new records when less than this is left of the invocation.
    deadline_margin_seconds: float = 10.0
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 900.0
    pending_grace_seconds: int = 300
    # How long a FAILED event's alert may stay unconfirmed before the sweeper publishes it again.
    alert_retry_seconds: int = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        bounds = {
            "lease_seconds": (_Bound("LEASE_SECONDS", 5), int),
            "deadline_margin_seconds": (_Bound("DEADLINE_MARGIN_SECONDS", 0), float),
            "backoff_base_seconds": (_Bound("BACKOFF_BASE_SECONDS", 0, exclusive_low=True), float),
            "backoff_cap_seconds": (_Bound("BACKOFF_CAP_SECONDS", 0, exclusive_low=True), float),
            "pending_grace_seconds": (_Bound("PENDING_GRACE_SECONDS", 10), int),
            "alert_retry_seconds": (_Bound("ALERT_RETRY_SECONDS", 1), int),
        }
        return cls(
            events_table=_required(environ, "EVENTS_TABLE"),
            domain_table=_required(environ, "DOMAIN_TABLE"),
            alerts_topic_arn=_required(environ, "ALERTS_TOPIC_ARN"),
            **_numbers(environ, _defaults(cls), bounds),
        )
