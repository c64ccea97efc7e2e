"""Function settings: read once, at handler entry, from the environment the stack sets.

Names of the environment variables live here, in ``plain_settings.py`` (the ingest's and the
processor's, read without pydantic) and in ``infra/config.py`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from spillway_core.plain_settings import (
    AWS_MAX_ATTEMPTS_DEFAULT,
    AWS_MAX_ATTEMPTS_ENV,
    AWS_TIMEOUT_DEFAULT,
    AWS_TIMEOUT_ENV,
    IngestSettings,
    ProcessorSettings,
    TokenBinding,
)

# The ingest's and the processor's settings live in spillway_core.plain_settings (no pydantic on
# their import paths).
__all__ = [
    "AwsClientSettings",
    "IngestSettings",
    "NotifierSettings",
    "ProcessorSettings",
    "SweeperSettings",
    "TokenBinding",
]


class AwsClientSettings(BaseModel):
    """What every function needs to build its AWS clients (explicit timeouts, bounded retries)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    aws_timeout_seconds: float = Field(alias=AWS_TIMEOUT_ENV, default=AWS_TIMEOUT_DEFAULT, gt=0)
    aws_max_attempts: int = Field(alias=AWS_MAX_ATTEMPTS_ENV, default=AWS_MAX_ATTEMPTS_DEFAULT, ge=1, le=10)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        return cls.model_validate(dict(environ))


class _Settings(AwsClientSettings):
    events_table: str = Field(alias="EVENTS_TABLE", min_length=1)


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
