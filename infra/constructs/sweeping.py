"""The sweeper on a schedule: wakes live events whose lease or due time has passed."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events_
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import SWEEPER_HANDLER, EnvVar, SpillwayConfig
from infra.constructs.alerts import Alerts
from infra.constructs.function import SpillwayFunction
from infra.constructs.nag import acknowledge
from infra.constructs.stores import EventStoreTable
from spillway_core.metrics import Service


class Sweeping(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: SpillwayConfig,
        code: lambda_.Code,
        events: EventStoreTable,
        alerts: Alerts,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = SpillwayFunction(
            self,
            "Sweeper",
            config=config,
            code=code,
            handler=SWEEPER_HANDLER,
            service=Service.SWEEPER,
            description="Spillway sweeper: repairs events whose lease or due time has passed",
            timeout=Duration.seconds(60),
            # One sweeper at a time is enough; overlapping runs are still safe (conditional wakes).
            reserved_concurrency=1,
            environment={
                EnvVar.EVENTS_TABLE: events.table.table_name,
                EnvVar.SWEEP_SHARDS: str(config.sweep_shards),
                EnvVar.PENDING_GRACE_SECONDS: str(config.pending_grace_seconds),
                EnvVar.SWEEP_MAX_ITEMS: str(config.sweep_max_items),
                EnvVar.ALERTS_TOPIC_ARN: alerts.topic.topic_arn,
                EnvVar.ALERT_RETRY_SECONDS: str(config.alert_retry_seconds),
            },
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[events.sweep_index_arn])
        )
        self.handler.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:UpdateItem",  # wakes, alert confirmations, probes, intake checkpoints
                    "dynamodb:GetItem",  # a FAILED event's alert metadata, watermarks, an event record
                    "dynamodb:BatchGetItem",  # which intake entries' events have begun
                    "dynamodb:PutItem",  # the PENDING lifecycle item of an event whose record was lost
                ],
                resources=[events.table.table_arn],
            )
        )
        alerts.topic.grant_publish(self.handler.role)
        acknowledge(
            self.handler.role,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Added by topic.grant_publish for the alerts topic's key only (GenerateDataKey and "
            "GenerateDataKeyWithoutPlaintext on that one key).",
        )
        self.rule = events_.Rule(
            self,
            "Schedule",
            description="Runs the Spillway sweeper",
            schedule=events_.Schedule.rate(Duration.minutes(config.sweep_schedule_minutes)),
            targets=[targets.LambdaFunction(self.handler.function, retry_attempts=2)],
        )
