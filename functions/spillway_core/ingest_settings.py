"""The ingest's settings, read without pydantic.

The ingest answers webhooks, so its cold start is on a provider's request: this module keeps pydantic
(and its model building, which costs about as much as importing the AWS SDK) off the ingest's import
path. The rules are those of the other settings models (``spillway_core.settings``): the same names,
defaults and bounds, and the same error type family (a ``ValueError``, as pydantic's
``ValidationError`` is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
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


def _number(environ: Mapping[str, str], bound: _Bound, default: float, kind: type[int] | type[float]) -> Any:
    raw = environ.get(bound.env)
    try:
        value = default if raw is None else kind(raw.strip())
    except ValueError:
        raise SettingsError(f"{bound.env} must be a{'n integer' if kind is int else ' number'}") from None
    too_low = bound.low is not None and (value <= bound.low if bound.exclusive_low else value < bound.low)
    if too_low or (bound.high is not None and value > bound.high):
        raise SettingsError(f"{bound.env} is out of bounds")
    return value


def _digests(raw: str | None) -> tuple[str, ...]:
    # Comma-separated SHA-256 hex digests of the accepted tokens: several at once allow rotation,
    # and the template never holds a token itself.
    digests = tuple(part.strip().lower() for part in (raw or "").split(",") if part.strip())
    if not digests:
        raise SettingsError("at least one token digest is required")
    for digest in digests:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SettingsError("token digests must be SHA-256 hex")
    return digests


@dataclass(frozen=True)
class IngestSettings:
    events_table: str
    token_sha256s: tuple[str, ...]
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
            token_sha256s=_digests(environ.get("INGEST_TOKEN_SHA256S")),
            aws_timeout_seconds=_number(
                environ, _Bound(AWS_TIMEOUT_ENV, 0, exclusive_low=True), AWS_TIMEOUT_DEFAULT, float
            ),
            **{name: _number(environ, bound, defaults[name], int) for name, bound in integers.items()},
        )
