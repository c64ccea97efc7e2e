"""The ingest's and the processor's settings, read without pydantic.

Importing pydantic and building models costs about as much as importing the AWS SDK, so this module
keeps it off the import path of the functions whose cold start matters: the ingest answers a
provider's request, the processor drains a burst. The rules are those of the pydantic settings
models (``spillway_core.settings``): both read the names, defaults and bounds of
``spillway_core.environment``, and raise the same error type family (a ``ValueError``, as pydantic's
``ValidationError`` is).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Self

from spillway_core import environment as env
from spillway_core.environment import EnvVar, Setting


class SettingsError(ValueError):
    """A setting is missing or out of bounds."""


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


def _number(environ: Mapping[str, str], bound: Setting) -> Any:
    raw = environ.get(bound.env)
    try:
        value = bound.default if raw is None else _parse(raw.strip(), bound.kind)
    except (ValueError, OverflowError):
        raise SettingsError(f"{bound.env} must be a{'n integer' if bound.kind is int else ' number'}") from None
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
        raise SettingsError(f"{EnvVar.INGEST_TOKEN_BINDINGS} is required")
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise SettingsError(f"{EnvVar.INGEST_TOKEN_BINDINGS} is not JSON") from None
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


def _numbers(environ: Mapping[str, str], settings: Mapping[str, Setting]) -> dict[str, Any]:
    # Every function's AWS clients: explicit timeouts, bounded retries (AwsClientSettings' rules).
    aws = {"aws_timeout_seconds": env.AWS_TIMEOUT, "aws_max_attempts": env.AWS_MAX_ATTEMPTS}
    return {name: _number(environ, setting) for name, setting in {**aws, **settings}.items()}


class _Copyable:
    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with some fields replaced (the name the pydantic settings models use)."""
        return replace(self, **update)  # type: ignore[type-var]


@dataclass(frozen=True)
class IngestSettings(_Copyable):
    events_table: str
    token_bindings: dict[str, TokenBinding]
    aws_timeout_seconds: float = env.AWS_TIMEOUT.default
    aws_max_attempts: int = env.AWS_MAX_ATTEMPTS.default
    max_body_bytes: int = env.MAX_BODY_BYTES.default
    max_attempts: int = env.MAX_ATTEMPTS.default
    retention_days: int = env.EVENT_RETENTION_DAYS.default
    ignored_retention_days: int = env.IGNORED_RETENTION_DAYS.default
    sweep_shards: int = env.SWEEP_SHARDS.default
    pending_grace_seconds: int = env.PENDING_GRACE_SECONDS.default
    retry_after_seconds: int = env.RETRY_AFTER_SECONDS.default

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        events_table = _required(environ, EnvVar.EVENTS_TABLE)
        settings = {
            "max_body_bytes": env.MAX_BODY_BYTES,
            "max_attempts": env.MAX_ATTEMPTS,
            "retention_days": env.EVENT_RETENTION_DAYS,
            "ignored_retention_days": env.IGNORED_RETENTION_DAYS,
            "sweep_shards": env.SWEEP_SHARDS,
            "pending_grace_seconds": env.PENDING_GRACE_SECONDS,
            "retry_after_seconds": env.RETRY_AFTER_SECONDS,
        }
        return cls(
            events_table=events_table,
            token_bindings=_bindings(environ.get(EnvVar.INGEST_TOKEN_BINDINGS)),
            **_numbers(environ, settings),
        )

    @property
    def token_sha256s(self) -> tuple[str, ...]:
        return tuple(self.token_bindings)


@dataclass(frozen=True)
class ProcessorSettings(_Copyable):
    events_table: str
    domain_table: str
    alerts_topic_arn: str
    aws_timeout_seconds: float = env.AWS_TIMEOUT.default
    aws_max_attempts: int = env.AWS_MAX_ATTEMPTS.default
    lease_seconds: int = env.LEASE_SECONDS.default
    deadline_margin_seconds: float = env.DEADLINE_MARGIN_SECONDS.default
    backoff_base_seconds: float = env.BACKOFF_BASE_SECONDS.default
    backoff_cap_seconds: float = env.BACKOFF_CAP_SECONDS.default
    alert_retry_seconds: int = env.ALERT_RETRY_SECONDS.default

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        settings = {
            "lease_seconds": env.LEASE_SECONDS,
            "deadline_margin_seconds": env.DEADLINE_MARGIN_SECONDS,
            "backoff_base_seconds": env.BACKOFF_BASE_SECONDS,
            "backoff_cap_seconds": env.BACKOFF_CAP_SECONDS,
            "alert_retry_seconds": env.ALERT_RETRY_SECONDS,
        }
        return cls(
            events_table=_required(environ, EnvVar.EVENTS_TABLE),
            domain_table=_required(environ, EnvVar.DOMAIN_TABLE),
            alerts_topic_arn=_required(environ, EnvVar.ALERTS_TOPIC_ARN),
            **_numbers(environ, settings),
        )
