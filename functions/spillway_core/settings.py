"""Function settings: read once, at handler entry, from the environment the stack sets.

Names of the environment variables live here and in ``infra/config.py`` only.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AwsClientSettings(BaseModel):
    """What every function needs to build its AWS clients (explicit timeouts, bounded retries)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    aws_timeout_seconds: float = Field(alias="AWS_CALL_TIMEOUT_SECONDS", default=2.0, gt=0)
    aws_max_attempts: int = Field(alias="AWS_MAX_ATTEMPTS", default=2, ge=1, le=10)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        return cls.model_validate(dict(environ))


class _Settings(AwsClientSettings):
    events_table: str = Field(alias="EVENTS_TABLE", min_length=1)


class TokenBinding(BaseModel):
    """What one token may write: its provider, its workspaces and (optionally) its instance hosts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1)
    workspaces: frozenset[str] = Field(min_length=1)
    instances: frozenset[str] = frozenset()  # empty: any instance (and events without one)

    @field_validator("workspaces", mode="before")
    @classmethod
    def _workspace_ids(cls, value: object) -> object:
        # Ids are compared the way the ingest reads them: numbers as text, stripped, NFC.
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(unicodedata.normalize("NFC", str(v).strip()) for v in value)
        return value

    @field_validator("instances", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(str(v).strip().lower() for v in value)
        return value

    def allows(self, provider: str, instance: str, workspace: str) -> bool:
        if provider != self.provider or workspace not in self.workspaces:
            return False
        return not self.instances or instance in self.instances


class IngestSettings(_Settings):
    # JSON: {"<sha256 hex of a token>": {"provider", "workspaces": [...], "instances": [...]}}.
    # Several digests at once allow rotation, and the template never holds a token itself.
    token_bindings: dict[str, TokenBinding] = Field(alias="INGEST_TOKEN_BINDINGS")
    max_body_bytes: int = Field(alias="MAX_BODY_BYTES", default=256 * 1024, gt=0)
    max_attempts: int = Field(alias="MAX_ATTEMPTS", default=8, ge=1)
    retention_days: int = Field(alias="EVENT_RETENTION_DAYS", default=14, ge=1)
    ignored_retention_days: int = Field(alias="IGNORED_RETENTION_DAYS", default=1, ge=1)
    sweep_shards: int = Field(alias="SWEEP_SHARDS", default=16, ge=1, le=256)
    pending_grace_seconds: int = Field(alias="PENDING_GRACE_SECONDS", default=300, ge=10)
    retry_after_seconds: int = Field(alias="RETRY_AFTER_SECONDS", default=5, ge=1)

    @field_validator("token_bindings", mode="before")
    @classmethod
    def _parse_bindings(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, dict) or not value:
            raise ValueError("at least one token binding is required")
        bindings = {str(digest).strip().lower(): binding for digest, binding in value.items()}
        for digest in bindings:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("token digests must be SHA-256 hex")
        return bindings

    @property
    def token_sha256s(self) -> tuple[str, ...]:
        return tuple(self.token_bindings)


class ProcessorSettings(_Settings):
    domain_table: str = Field(alias="DOMAIN_TABLE", min_length=1)
    alerts_topic_arn: str = Field(alias="ALERTS_TOPIC_ARN", min_length=1)
    lease_seconds: int = Field(alias="LEASE_SECONDS", default=45, ge=5)
    # Stop claiming new records when less than this is left of the invocation.
    deadline_margin_seconds: float = Field(alias="DEADLINE_MARGIN_SECONDS", default=10.0, ge=0)
    backoff_base_seconds: float = Field(alias="BACKOFF_BASE_SECONDS", default=2.0, gt=0)
    backoff_cap_seconds: float = Field(alias="BACKOFF_CAP_SECONDS", default=900.0, gt=0)
    pending_grace_seconds: int = Field(alias="PENDING_GRACE_SECONDS", default=300, ge=10)
    # How long a FAILED event's alert may stay unconfirmed before the sweeper publishes it again.
    alert_retry_seconds: int = Field(alias="ALERT_RETRY_SECONDS", default=60, ge=1)


class SweeperSettings(_Settings):
    alerts_topic_arn: str = Field(alias="ALERTS_TOPIC_ARN", min_length=1)
    alert_retry_seconds: int = Field(alias="ALERT_RETRY_SECONDS", default=60, ge=1)
    sweep_shards: int = Field(alias="SWEEP_SHARDS", default=16, ge=1, le=256)
    pending_grace_seconds: int = Field(alias="PENDING_GRACE_SECONDS", default=300, ge=10)
    max_items_per_run: int = Field(alias="SWEEP_MAX_ITEMS", default=500, ge=1)


class NotifierSettings(AwsClientSettings):
    slack_webhook_secret_arn: str = Field(alias="SLACK_WEBHOOK_SECRET_ARN", min_length=1)
    # Where docs/ is published (e.g. https://github.com/<org>/spillway/blob/main/docs): alerts link the runbook.
    runbook_base_url: str = Field(alias="RUNBOOK_BASE_URL", default="")
    # Alert digests (notifier/digests.py): the table, the notifier's own queue (for flush messages), how
    # long a group's failures must pause before its summary is posted, and at most how long it waits.
    digest_table: str = Field(alias="DIGEST_TABLE", min_length=1)
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", min_length=1)
    digest_quiet_seconds: int = Field(alias="ALERT_DIGEST_QUIET_SECONDS", default=60, ge=1, le=840)
    digest_max_seconds: int = Field(alias="ALERT_DIGEST_MAX_SECONDS", default=600, ge=1)
