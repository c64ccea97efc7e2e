"""The processor: fed by the events stream (PENDING images only), capped, retried, with a DLQ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import PROCESSOR_HANDLER, EnvVar, SpillwayConfig
from infra.constructs.alerts import Alerts
from infra.constructs.function import SpillwayFunction
from infra.constructs.nag import acknowledge
from infra.constructs.stores import DomainTable, EventStoreTable
from spillway_core.status import EventAttr, EventStatus


def pending_only_filter() -> Mapping[str, Any]:
    """Stream records whose new image is PENDING: new events and the ones the sweeper woke."""
    return lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
            "dynamodb": {"NewImage": {EventAttr.STATUS: {"S": lambda_.FilterRule.is_equal(EventStatus.PENDING.value)}}},
        }
    )


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: SpillwayConfig,
        code: lambda_.Code,
        events: EventStoreTable,
        domain: DomainTable,
        alerts: Alerts,
    ) -> None:
        super().__init__(scope, construct_id)
        if config.lease_seconds <= config.processor_timeout_seconds:
            raise ValueError(
                "leaseSeconds must exceed processorTimeoutSeconds: a live invocation must never lose its lease"
            )
        # Batches the function itself cannot handle (after retries and bisection) land here.
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dlq, "AwsSolutions::AwsSolutions-SQS3", "This queue is itself the processor's dead-letter queue."
        )
        self.handler = SpillwayFunction(
            self,
            "Processor",
            config=config,
            code=code,
            handler=PROCESSOR_HANDLER,
            service="spillway-processor",
            description="Spillway processor: claims PENDING events and applies their domain effects once",
            timeout=Duration.seconds(config.processor_timeout_seconds),
            memory_size=512,
            reserved_concurrency=config.processor_reserved_concurrency,
            environment={
                EnvVar.EVENTS_TABLE: events.table.table_name,
                EnvVar.DOMAIN_TABLE: domain.table.table_name,
                EnvVar.ALERTS_TOPIC_ARN: alerts.topic.topic_arn,
                EnvVar.LEASE_SECONDS: str(config.lease_seconds),
                EnvVar.BACKOFF_BASE_SECONDS: str(config.backoff_base_seconds),
                EnvVar.BACKOFF_CAP_SECONDS: str(config.backoff_cap_seconds),
                EnvVar.PENDING_GRACE_SECONDS: str(config.pending_grace_seconds),
                EnvVar.ALERT_RETRY_SECONDS: str(config.alert_retry_seconds),
            },
        )
        role = self.handler.role
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[events.table.table_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
                resources=[domain.table.table_arn],
            )
        )
        alerts.topic.grant_publish(role)
        self.event_source = sources.DynamoEventSource(
            events.table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=config.processor_batch_size,
            max_batching_window=Duration.seconds(config.processor_batching_window_seconds),
            parallelization_factor=config.processor_parallelization_factor,
            bisect_batch_on_error=True,
            retry_attempts=config.stream_retry_attempts,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.dlq),
            filters=[pending_only_filter()],
        )
        self.handler.function.add_event_source(self.event_source)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Added by the DynamoDB event source for dynamodb:ListStreams, which has no resource-level "
            "permissions; the stream reads themselves are scoped to the events table's stream.",
        )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Added by topic.grant_publish for the alerts topic's key only (GenerateDataKey and "
            "GenerateDataKeyWithoutPlaintext on that one key).",
        )
