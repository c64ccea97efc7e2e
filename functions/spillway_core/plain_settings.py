"""The ingest's and the processor's settings, read without pydantic.

Importing pydantic and building models costs about as much as importing the AWS SDK, so this module
keeps it off the import path of the functions whose cold start matters: the ingest answers a
provider's request, the processor drains a burst. The rules are those of the pydantic settings
models (``spillway_core.settings``): both read the names, bounds and defaults of
``spillway_core.environment``, and raise the same error type family (a ``ValueError``, as pydantic's
``ValidationError`` is).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
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


def _number(environ: Mapping[str, str], setting: Setting) -> Any:
    raw = environ.get(setting.env)
    if raw is None and setting.default is None:
        raise SettingsError(f"{setting.env} is required")
    try:
        value = setting.default if raw is None else _parse(raw.strip(), setting.kind)
    except (ValueError, OverflowError):
        raise SettingsError(f"{setting.env} must be a{'n integer' if setting.kind is int else ' number'}") from None
    # Written as "within" so that NaN, which compares false to everything, is out of bounds.
    high_ok = setting.high is None or value <= setting.high
    low_ok = setting.low is None or (value > setting.low if setting.exclusive_low else value >= setting.low)
    if not (low_ok and high_ok):
        raise SettingsError(f"{setting.env} is out of bounds")
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


def _variable(setting: Setting) -> Any:
    """A field read from ``setting``'s environment variable, with its bounds (and its default, if any)."""
    read = {"read": lambda environ: _number(environ, setting)}
    return field(metadata=read) if setting.default is None else field(default=setting.default, metadata=read)


def _resource(name: str) -> Any:
    """A field read from a variable the stack always sets (a table's name, a topic's ARN)."""
    return field(metadata={"read": lambda environ: _required(environ, name)})


class _Copyable:
    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with some fields replaced (the name the pydantic settings models use)."""
        return replace(self, **update)  # type: ignore[type-var]


@dataclass(frozen=True, kw_only=True)
class _ClientSettings(_Copyable):
    """Every function's AWS clients: explicit timeouts, bounded retries (AwsClientSettings' rules)."""

    aws_timeout_seconds: float = _variable(env.AWS_TIMEOUT)
    aws_max_attempts: int = _variable(env.AWS_MAX_ATTEMPTS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """Every field read from its variable, as the field declares it."""
        return cls(**{f.name: f.metadata["read"](environ) for f in fields(cls)})


@dataclass(frozen=True, kw_only=True)
class IngestSettings(_ClientSettings):
    events_table: str = _resource(EnvVar.EVENTS_TABLE)
    token_bindings: dict[str, TokenBinding] = field(
        metadata={"read": lambda environ: _bindings(environ.get(EnvVar.INGEST_TOKEN_BINDINGS))}
    )
    max_body_bytes: int = _variable(env.MAX_BODY_BYTES)
    max_attempts: int = _variable(env.MAX_ATTEMPTS)
    retention_days: int = _variable(env.EVENT_RETENTION_DAYS)
    ignored_retention_days: int = _variable(env.IGNORED_RETENTION_DAYS)
    sweep_shards: int = _variable(env.SWEEP_SHARDS)
    pending_grace_seconds: int = _variable(env.PENDING_GRACE_SECONDS)
    retry_after_seconds: int = _variable(env.RETRY_AFTER_SECONDS)

    @property
    def token_sha256s(self) -> tuple[str, ...]:
        return tuple(self.token_bindings)


@dataclass(frozen=True, kw_only=True)
class ProcessorSettings(_ClientSettings):
    events_table: str = _resource(EnvVar.EVENTS_TABLE)
    domain_table: str = _resource(EnvVar.DOMAIN_TABLE)
    alerts_topic_arn: str = _resource(EnvVar.ALERTS_TOPIC_ARN)
    lease_seconds: int = _variable(env.LEASE_SECONDS)
    deadline_margin_seconds: float = _variable(env.DEADLINE_MARGIN_SECONDS)
    backoff_base_seconds: float = _variable(env.BACKOFF_BASE_SECONDS)
    backoff_cap_seconds: float = _variable(env.BACKOFF_CAP_SECONDS)
    alert_retry_seconds: int = _variable(env.ALERT_RETRY_SECONDS)
