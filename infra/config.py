"""Names and defaults in one place. Values come from the ``spillway`` object in cdk.json's context,
and any of them can be overridden with ``cdk deploy -c spillway:<name>=<value>``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.lambda_asset import host_architecture, host_python_version

CONTEXT_KEY = "spillway"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_context() -> dict[str, Any]:
    """The context object of cdk.json: what `cdk synth` and every in-process synth start from."""
    return dict(json.loads(CDK_JSON.read_text())["context"])


TOKEN_PARAMETER = "IngestTokenSha256s"


class SpillwayConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # "aws": the asset is built for the Lambda architecture and runtime below. "local": the template
    # is the same, but the asset is built for this machine's architecture and Python, because the
    # local emulator runs Lambdas with the host's Python whatever the template says.
    target: Literal["aws", "local"] = "aws"
    stack_name: str = Field("Spillway", alias="stackName")
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

    # Processor
    processor_reserved_concurrency: int = Field(4, alias="processorReservedConcurrency")
    processor_batch_size: int = Field(10, alias="processorBatchSize")
    processor_batching_window_seconds: int = Field(1, alias="processorBatchingWindowSeconds")
    processor_parallelization_factor: int = Field(1, alias="processorParallelizationFactor")
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
    iterator_age_alarm_seconds: int = Field(300, alias="iteratorAgeAlarmSeconds")
    sweeper_woken_alarm_threshold: int = Field(10, alias="sweeperWokenAlarmThreshold")
    throttle_alarm_minutes: int = Field(10, alias="throttleAlarmMinutes")

    @classmethod
    def from_context(cls, context: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> SpillwayConfig:
        return cls.model_validate({**(context or {}), **(overrides or {})})

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
    INGEST_TOKEN_SHA256S = "INGEST_TOKEN_SHA256S"
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


# Handlers inside the shared asset.
INGEST_HANDLER = "ingest.handler.lambda_handler"
PROCESSOR_HANDLER = "processor.handler.lambda_handler"
SWEEPER_HANDLER = "sweeper.handler.lambda_handler"
NOTIFIER_HANDLER = "notifier.handler.lambda_handler"

METRICS_NAMESPACE = "Spillway"

# Stack output names: the CLI reads these to find the deployed resources.
OUTPUT_WEBHOOK_URL = "WebhookBaseUrl"
OUTPUT_EVENTS_TABLE = "EventsTableName"
OUTPUT_DOMAIN_TABLE = "DomainTableName"
OUTPUT_ALERTS_TOPIC = "AlertsTopicArn"
OUTPUT_DLQ_URL = "ProcessorDlqUrl"
OUTPUT_INGEST_LOG_GROUP = "IngestLogGroupName"
OUTPUT_SLACK_SECRET = "SlackWebhookSecretArn"
OUTPUT_PROCESSOR_FUNCTION = "ProcessorFunctionName"
OUTPUT_DASHBOARD = "DashboardName"
