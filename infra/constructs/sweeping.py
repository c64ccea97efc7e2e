"""The sweeper on a schedule: wakes live events whose lease or due time has passed."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events_
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import SWEEPER_HANDLER, EnvVar
from infra.constructs.alerts import Alerts
from infra.constructs.function import Build, FunctionSpec, SpillwayFunction
from infra.constructs.stores import EventStoreTable
from spillway_core import environment as env
from spillway_core.metrics import Service


class Sweeping(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, build: Build, *, events: EventStoreTable, alerts: Alerts
    ) -> None:
        super().__init__(scope, construct_id)
        description = "Spillway sweeper: repairs events whose lease or due time has passed"
        # One sweeper at a time is enough; overlapping runs are still safe (conditional wakes).
        spec = FunctionSpec(SWEEPER_HANDLER, Service.SWEEPER, description, 60, reserved_concurrency=1)
        environment = {
            EnvVar.EVENTS_TABLE: events.table.table_name,
            EnvVar.ALERTS_TOPIC_ARN: alerts.topic.topic_arn,
            **build.config.environment(
                env.SWEEP_SHARDS, env.PENDING_GRACE_SECONDS, env.SWEEP_MAX_ITEMS, env.ALERT_RETRY_SECONDS
            ),
        }
        self.handler = SpillwayFunction(self, "Sweeper", spec, build, environment)
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
        alerts.grant_publish(self.handler.role)
        self.rule = events_.Rule(
            self,
            "Schedule",
            description="Runs the Spillway sweeper",
            schedule=events_.Schedule.rate(Duration.minutes(build.config.sweep_schedule_minutes)),
            targets=[targets.LambdaFunction(self.handler.function, retry_attempts=2)],
        )
