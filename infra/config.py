"""Names and defaults in one place. Values come from the ``spillway`` object in cdk.json's context:
its top-level settings, then those of the selected stage (``spillway.stages.<stage>``), then any
``-c spillway:<name>=<value>`` given on the command line. ``-c spillway:stage=<stage>`` selects the stage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.lambda_asset import host_architecture, host_python_version
from spillway_core.lanes import Lane
from spillway_core.metrics import NAMESPACE

CONTEXT_KEY = "spillway"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_context() -> dict[str, Any]:
    """The context object of cdk.json: what `cdk synth` and every in-process synth start from."""
    return dict(json.loads(CDK_JSON.read_text())["context"])


TOKEN_PARAMETER = "IngestTokenBindings"
STAGE_SETTING = "stage"
STAGES_SETTING = "stages"
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 180, 365)  # the values CloudWatch Logs and the CDK offer


def stage_names(context: dict[str, Any] | None = None) -> list[str]:
    """The stages cdk.json defines (each one stack, deployable side by side)."""
    spillway = (cdk_context() if context is None else context).get(CONTEXT_KEY) or {}
    return sorted(spillway.get(STAGES_SETTING) or {})


MAX_PARALLELIZATION_FACTOR = 10  # Lambda's limit for stream event sources


@dataclass(frozen=True)
class LaneConfig:
    """One processor lane as deployed: its function's cap and its event source mapping."""

    lane: Lane
    concurrency: int  # reserved concurrency, and the ParallelizationFactor
    batch_size: int
    batching_window_seconds: int
    iterator_age_alarm_seconds: int

    @property
    def parallelization_factor(self) -> int:
        return self.concurrency

    def effective_concurrency(self, shards: int) -> int:
        """Lambda's cap for a stream source: min(reserved, shards x ParallelizationFactor)."""
        return min(self.concurrency, shards * self.parallelization_factor)


class SpillwayConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # "aws": the asset is built for the Lambda architecture and runtime below. "local": the template
    # is the same, but the asset is built for this machine's architecture and Python, because the
    # local emulator runs Lambdas with the host's Python whatever the template says.
    target: Literal["aws", "local"] = "aws"
    # A stage is one deployable copy of the stack (staging, production): its own stack name, tables and settings.
    stage: str = Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")
    stack_name: str = Field(alias="stackName", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    # Production stages refuse DeleteTable on top of the tables' retain-on-delete policy.
    deletion_protection: bool = Field(alias="deletionProtection")
    lambda_architecture: Literal["arm64", "x86_64"] = Field("arm64", alias="lambdaArchitecture")
    lambda_python_version: str = Field("3.13", alias="lambdaPythonVersion")
    log_retention_days: int = Field(30, alias="logRetentionDays")

    # Ingest
    max_body_bytes: int = Field(256 * 1024, alias="maxBodyBytes")
    ingest_memory_mb: int = Field(512, alias="ingestMemoryMb")
    api_throttle_rate: int = Field(1000, alias="apiThrottleRatePerSecond")
    api_throttle_burst: int = Field(2000, alias="apiThrottleBurst")

    # Events table and lifecycle
    event_retention_days: int = Field(14, alias="eventRetentionDays")
    sweep_shards: int = Field(16, alias="sweepShards")
    max_attempts: int = Field(8, alias="maxAttempts")
    pending_grace_seconds: int = Field(300, alias="pendingGraceSeconds")
    lease_seconds: int = Field(45, alias="leaseSeconds")

    # Processor lanes (spillway_core.lanes). A lane's concurrency is its one cap: the stack sets both
    # the reserved concurrency and the ParallelizationFactor to it, so min(reserved, shards x PF)
    # equals it on any stream, even a one-shard one. PF is at most 10, hence the upper bound.
    bulk_concurrency: int = Field(4, alias="bulkConcurrency", ge=1, le=MAX_PARALLELIZATION_FACTOR)
    bulk_batch_size: int = Field(10, alias="bulkBatchSize", ge=1, le=1000)
    bulk_batching_window_seconds: int = Field(1, alias="bulkBatchingWindowSeconds", ge=0, le=300)
    interactive_concurrency: int = Field(2, alias="interactiveConcurrency", ge=1, le=MAX_PARALLELIZATION_FACTOR)
    interactive_batch_size: int = Field(100, alias="interactiveBatchSize", ge=1, le=1000)
    processor_timeout_seconds: int = Field(30, alias="processorTimeoutSeconds")
    stream_retry_attempts: int = Field(3, alias="streamRetryAttempts")
    backoff_base_seconds: float = Field(2.0, alias="backoffBaseSeconds")
    backoff_cap_seconds: float = Field(900.0, alias="backoffCapSeconds")

    # Sweeper
    sweep_schedule_minutes: int = Field(1, alias="sweepScheduleMinutes")
    sweep_max_items: int = Field(500, alias="sweepMaxItems")
    alert_retry_seconds: int = Field(60, alias="alertRetrySeconds")

    # Alerts and alarms
    notifier_batch_window_seconds: int = Field(60, alias="notifierBatchWindowSeconds")
    # A group's failed events (provider, instance, workspace, type) become one Slack summary, posted once
    # they pause this long (an SQS delay: at most 900 s, less the flush's settle time), or once the
    # digest is alertDigestMaxSeconds old.
    alert_digest_quiet_seconds: int = Field(60, alias="alertDigestQuietSeconds", ge=1, le=840)
    alert_digest_max_seconds: int = Field(600, alias="alertDigestMaxSeconds", ge=1)
    iterator_age_alarm_seconds: int = Field(300, alias="iteratorAgeAlarmSeconds")
    interactive_iterator_age_alarm_seconds: int = Field(60, alias="interactiveIteratorAgeAlarmSeconds")
    sweeper_woken_alarm_threshold: int = Field(10, alias="sweeperWokenAlarmThreshold")
    throttle_alarm_minutes: int = Field(10, alias="throttleAlarmMinutes")
    # The URL docs/ is published under; Slack alerts link docs/operations.md's runbook entries from it.
    runbook_base_url: str = Field("", alias="runbookBaseUrl", pattern=r"^(https://\S+)?$")

    @field_validator("log_retention_days")
    @classmethod
    def _a_retention_cloudwatch_offers(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays must be one of {LOG_RETENTION_DAYS}")
        return days

    @model_validator(mode="after")
    def _a_burst_is_one_digest(self) -> SpillwayConfig:
        # On AWS the queue hands a burst's alerts to the notifier up to a batching window apart: a
        # shorter quiet time would close a burst's digest between two of its batches.
        if self.alert_digest_quiet_seconds < self.notifier_batch_window_seconds:
            raise ValueError("alertDigestQuietSeconds must be at least notifierBatchWindowSeconds")
        if self.alert_digest_max_seconds < self.alert_digest_quiet_seconds:
            raise ValueError("alertDigestMaxSeconds must be at least alertDigestQuietSeconds")
        return self

    @classmethod
    def from_context(cls, context: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> SpillwayConfig:
        """``context`` is cdk.json's ``spillway`` object; ``overrides`` win over it and over the stage's settings."""
        if not context:
            raise ValueError(f"no {CONTEXT_KEY!r} context: run the app through the CDK CLI (npx cdk synth)")
        settings = dict(context)
        stages: dict[str, dict[str, Any]] = settings.pop(STAGES_SETTING, None) or {}
        overrides = overrides or {}
        stage = overrides.get(STAGE_SETTING) or settings.get(STAGE_SETTING)
        if stage not in stages:
            raise ValueError(f"unknown stage {stage!r}: cdk.json defines {sorted(stages)} (-c spillway:stage=<stage>)")
        return cls.model_validate({**settings, **stages[stage], **overrides, STAGE_SETTING: stage})

    def lane(self, lane: Lane) -> LaneConfig:
        if lane is Lane.INTERACTIVE:
            # No batching window: a reply is handed over the moment it is read.
            return LaneConfig(lane, self.interactive_concurrency, self.interactive_batch_size, 0,
                              self.interactive_iterator_age_alarm_seconds)  # fmt: skip
        return LaneConfig(lane, self.bulk_concurrency, self.bulk_batch_size, self.bulk_batching_window_seconds,
                          self.iterator_age_alarm_seconds)  # fmt: skip

    @property
    def asset_architecture(self) -> str:
        return host_architecture() if self.target == "local" else self.lambda_architecture

    @property
    def asset_python_version(self) -> str:
        return host_python_version() if self.target == "local" else self.lambda_python_version

    @property
    def asset_bundles_sdk(self) -> bool:
        # Lambda's runtime provides the AWS SDK; the emulator runs functions with the host's Python.
        return self.target == "local"


class EnvVar:
    """Environment variable names shared with functions/spillway_core/settings.py."""

    EVENTS_TABLE = "EVENTS_TABLE"
    DOMAIN_TABLE = "DOMAIN_TABLE"
    ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
    INGEST_TOKEN_BINDINGS = "INGEST_TOKEN_BINDINGS"
    MAX_BODY_BYTES = "MAX_BODY_BYTES"
    MAX_ATTEMPTS = "MAX_ATTEMPTS"
    EVENT_RETENTION_DAYS = "EVENT_RETENTION_DAYS"
    SWEEP_SHARDS = "SWEEP_SHARDS"
    PENDING_GRACE_SECONDS = "PENDING_GRACE_SECONDS"
    LEASE_SECONDS = "LEASE_SECONDS"
    BACKOFF_BASE_SECONDS = "BACKOFF_BASE_SECONDS"
    BACKOFF_CAP_SECONDS = "BACKOFF_CAP_SECONDS"
    SWEEP_MAX_ITEMS = "SWEEP_MAX_ITEMS"
    ALERT_RETRY_SECONDS = "ALERT_RETRY_SECONDS"
    SLACK_WEBHOOK_SECRET_ARN = "SLACK_WEBHOOK_SECRET_ARN"
    RUNBOOK_BASE_URL = "RUNBOOK_BASE_URL"
    DIGEST_TABLE = "DIGEST_TABLE"
    ALERT_QUEUE_URL = "ALERT_QUEUE_URL"
    ALERT_DIGEST_QUIET_SECONDS = "ALERT_DIGEST_QUIET_SECONDS"
    ALERT_DIGEST_MAX_SECONDS = "ALERT_DIGEST_MAX_SECONDS"


# Handlers inside the shared asset.
INGEST_HANDLER = "ingest.handler.lambda_handler"
PROCESSOR_HANDLER = "processor.handler.lambda_handler"
SWEEPER_HANDLER = "sweeper.handler.lambda_handler"
NOTIFIER_HANDLER = "notifier.handler.lambda_handler"

METRICS_NAMESPACE = NAMESPACE  # the name the CLI reads metrics under

# Stack output names: the CLI reads these to find the deployed resources.
OUTPUT_WEBHOOK_URL = "WebhookBaseUrl"
OUTPUT_EVENTS_TABLE = "EventsTableName"
OUTPUT_DOMAIN_TABLE = "DomainTableName"
OUTPUT_ALERTS_TOPIC = "AlertsTopicArn"
OUTPUT_DLQ_URL = "ProcessorDlqUrl"
OUTPUT_INGEST_LOG_GROUP = "IngestLogGroupName"
OUTPUT_SLACK_SECRET = "SlackWebhookSecretArn"
OUTPUT_PROCESSOR_FUNCTION = "ProcessorFunctionName"  # the bulk lane's processor
OUTPUT_INTERACTIVE_PROCESSOR_FUNCTION = "InteractiveProcessorFunctionName"
OUTPUT_DASHBOARD = "DashboardName"
OUTPUT_NOTIFIER_DLQ_URL = "NotifierDlqUrl"
