"""The stack's settings, validated and bounded. Values come from the ``spillway`` object in cdk.json's
context (the one place they are written): its top-level settings, then those of the selected stage
(``spillway.stages.<stage>``), then any ``-c spillway:<name>=<value>`` given on the command line.
``-c spillway:stage=<stage>`` selects the stage. A setting the functions read has the bounds of its
environment variable (``spillway_core.environment``, whose ``EnvVar`` names the stack sets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.lambda_asset import host_architecture, host_python_version
from spillway_core import environment as env
from spillway_core.environment import EnvVar, Setting  # noqa: F401 - EnvVar re-exported for the constructs
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


def _setting(alias: str, variable: Setting) -> Any:
    """A cdk.json setting the functions read: required (cdk.json has it), with its variable's bounds."""
    return Field(alias=alias, gt=variable.gt, ge=variable.ge, le=variable.high, json_schema_extra={"env": variable.env})


def stack_environment(stage: str | None = None) -> dict[str, str]:
    """What a function run outside the stack (tests, benchmarks) must be given: the variables the stack
    sets from cdk.json, at the stage's values (the functions have no defaults for them)."""
    return SpillwayConfig.from_context(
        cdk_context()[CONTEXT_KEY], {STAGE_SETTING: stage} if stage else None
    ).stack_environment()


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
    lambda_architecture: Literal["arm64", "x86_64"] = Field(alias="lambdaArchitecture")
    lambda_python_version: str = Field(alias="lambdaPythonVersion", pattern=r"^3\.[0-9]{1,2}$")
    log_retention_days: int = Field(alias="logRetentionDays")

    # Ingest
    max_body_bytes: int = _setting("maxBodyBytes", env.MAX_BODY_BYTES)
    ingest_memory_mb: int = Field(alias="ingestMemoryMb", ge=128, le=10_240)  # Lambda's range
    api_throttle_rate: int = Field(alias="apiThrottleRatePerSecond", ge=1)
    api_throttle_burst: int = Field(alias="apiThrottleBurst", ge=1)

    # Events table and lifecycle
    event_retention_days: int = _setting("eventRetentionDays", env.EVENT_RETENTION_DAYS)
    sweep_shards: int = _setting("sweepShards", env.SWEEP_SHARDS)
    max_attempts: int = _setting("maxAttempts", env.MAX_ATTEMPTS)
    pending_grace_seconds: int = _setting("pendingGraceSeconds", env.PENDING_GRACE_SECONDS)
    lease_seconds: int = _setting("leaseSeconds", env.LEASE_SECONDS)

    # Processor lanes (spillway_core.lanes). A lane's concurrency is its one cap: the stack sets both
    # the reserved concurrency and the ParallelizationFactor to it, so min(reserved, shards x PF)
    # equals it on any stream, even a one-shard one. PF is at most 10, hence the upper bound.
    bulk_concurrency: int = Field(alias="bulkConcurrency", ge=1, le=MAX_PARALLELIZATION_FACTOR)
    bulk_batch_size: int = Field(alias="bulkBatchSize", ge=1, le=1000)
    bulk_batching_window_seconds: int = Field(alias="bulkBatchingWindowSeconds", ge=0, le=300)
    interactive_concurrency: int = Field(alias="interactiveConcurrency", ge=1, le=MAX_PARALLELIZATION_FACTOR)
    interactive_batch_size: int = Field(alias="interactiveBatchSize", ge=1, le=1000)
    processor_timeout_seconds: int = Field(alias="processorTimeoutSeconds", ge=1, le=900)  # Lambda's maximum
    stream_retry_attempts: int = Field(alias="streamRetryAttempts", ge=0, le=10_000)  # Lambda's range
    backoff_base_seconds: float = _setting("backoffBaseSeconds", env.BACKOFF_BASE_SECONDS)
    backoff_cap_seconds: float = _setting("backoffCapSeconds", env.BACKOFF_CAP_SECONDS)

    # Sweeper
    sweep_schedule_minutes: int = Field(alias="sweepScheduleMinutes", ge=1)
    sweep_max_items: int = _setting("sweepMaxItems", env.SWEEP_MAX_ITEMS)
    alert_retry_seconds: int = _setting("alertRetrySeconds", env.ALERT_RETRY_SECONDS)

    # Alerts and alarms
    notifier_batch_window_seconds: int = Field(alias="notifierBatchWindowSeconds", ge=0, le=300)  # SQS's range
    # A group's failed events (provider, instance, workspace, type) become one Slack summary, posted once
    # they pause this long (an SQS delay: at most 900 s, less the flush's settle time), or once the
    # digest is alertDigestMaxSeconds old.
    alert_digest_quiet_seconds: int = _setting("alertDigestQuietSeconds", env.ALERT_DIGEST_QUIET_SECONDS)
    alert_digest_max_seconds: int = _setting("alertDigestMaxSeconds", env.ALERT_DIGEST_MAX_SECONDS)
    iterator_age_alarm_seconds: int = Field(alias="iteratorAgeAlarmSeconds", ge=1)
    interactive_iterator_age_alarm_seconds: int = Field(alias="interactiveIteratorAgeAlarmSeconds", ge=1)
    sweeper_woken_alarm_threshold: int = Field(alias="sweeperWokenAlarmThreshold", ge=1)
    throttle_alarm_minutes: int = Field(alias="throttleAlarmMinutes", ge=1)
    # The URL docs/ is published under; Slack alerts link docs/operations.md's runbook entries from it.
    runbook_base_url: str = Field(alias="runbookBaseUrl", pattern=r"^(https://\S+)?$")

    def stack_environment(self) -> dict[str, str]:
        """Every variable the stack sets from cdk.json, at this stage's values."""
        return self.environment(*(s for s in vars(env).values() if isinstance(s, Setting) and s.default is None))

    def environment(self, *variables: Setting) -> dict[str, str]:
        """The functions' environment for these variables: each set to this stage's value of its setting."""
        wanted = {variable.env for variable in variables}
        values = {
            str(extra["env"]): str(getattr(self, name))
            for name, field in type(self).model_fields.items()
            if isinstance(extra := field.json_schema_extra, dict) and extra.get("env") in wanted
        }
        if missing := wanted - values.keys():
            raise KeyError(f"no cdk.json setting for {sorted(missing)}")
        return values

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
            return LaneConfig(
                lane,
                self.interactive_concurrency,
                self.interactive_batch_size,
                0,
                self.interactive_iterator_age_alarm_seconds,
            )
        return LaneConfig(
            lane,
            self.bulk_concurrency,
            self.bulk_batch_size,
            self.bulk_batching_window_seconds,
            self.iterator_age_alarm_seconds,
        )

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
