"""Function settings: read once, at handler entry, from the environment the stack sets.

Names, bounds and defaults of the variables live in ``spillway_core.environment`` only; the
ingest's and the processor's settings are read without pydantic (``plain_settings.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from spillway_core import environment as env
from spillway_core.environment import EnvVar, Setting
from spillway_core.plain_settings import IngestSettings, ProcessorSettings, TokenBinding

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


def _field(setting: Setting) -> Any:
    """A field read from ``setting``'s variable: required unless it has a default (the stack does not set it)."""
    default = ... if setting.default is None else setting.default
    return Field(default, alias=setting.env, gt=setting.gt, ge=setting.ge, le=setting.high)


class AwsClientSettings(BaseModel):
    """What every function needs to build its AWS clients (explicit timeouts, bounded retries)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    aws_timeout_seconds: float = _field(env.AWS_TIMEOUT)
    aws_max_attempts: int = _field(env.AWS_MAX_ATTEMPTS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        return cls.model_validate(dict(environ))


class _Settings(AwsClientSettings):
    events_table: str = Field(alias=EnvVar.EVENTS_TABLE, min_length=1)


class SweeperSettings(_Settings):
    alerts_topic_arn: str = Field(alias=EnvVar.ALERTS_TOPIC_ARN, min_length=1)
    alert_retry_seconds: int = _field(env.ALERT_RETRY_SECONDS)
    sweep_shards: int = _field(env.SWEEP_SHARDS)
    pending_grace_seconds: int = _field(env.PENDING_GRACE_SECONDS)
    max_items_per_run: int = _field(env.SWEEP_MAX_ITEMS)


class NotifierSettings(AwsClientSettings):
    slack_webhook_secret_arn: str = Field(alias=EnvVar.SLACK_WEBHOOK_SECRET_ARN, min_length=1)
    # Where docs/ is published (e.g. https://github.com/<org>/spillway/blob/main/docs): alerts link the runbook.
    runbook_base_url: str = Field(alias=EnvVar.RUNBOOK_BASE_URL, default="")
    # Alert digests (notifier/digests.py): the table, the notifier's own queue (for flush messages), how
    # long a group's failures must pause before its summary is posted, and at most how long it waits.
    digest_table: str = Field(alias=EnvVar.DIGEST_TABLE, min_length=1)
    alert_queue_url: str = Field(alias=EnvVar.ALERT_QUEUE_URL, min_length=1)
    digest_quiet_seconds: int = _field(env.ALERT_DIGEST_QUIET_SECONDS)
    digest_max_seconds: int = _field(env.ALERT_DIGEST_MAX_SECONDS)
