"""The processor lanes: each fed by its part of the events stream (PENDING images only), capped,
retried, with a shared DLQ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.config import PROCESSOR_HANDLER, EnvVar, LaneConfig
from infra.constructs.alerts import Alerts
from infra.constructs.function import Build, FunctionSpec, SpillwayFunction
from infra.constructs.nag import acknowledge
from infra.constructs.queues import encrypted_queue
from infra.constructs.stores import DomainTable, EventStoreTable
from spillway_core import environment as env
from spillway_core.lanes import Lane, probe_key
from spillway_core.metrics import Service
from spillway_core.status import EventAttr, EventStatus


def lane_filters(lane: Lane) -> list[Mapping[str, Any]]:
    """The lane's stream records: its new event records (the INSERT carries the event), its events'
    lifecycle items put back to PENDING (woken or replayed by the sweeper or an operator), and its
    probe. The lanes' filters are disjoint and cover every supported type."""
    new_event = lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.is_equal("INSERT"),
            "dynamodb": {
                "NewImage": {
                    EventAttr.INTAKE: {"S": lambda_.FilterRule.is_equal(EventStatus.PENDING.value)},
                    EventAttr.LANE: {"S": lambda_.FilterRule.is_equal(lane.value)},
                }
            },
        }
    )
    pending = lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
            "dynamodb": {
                "NewImage": {
                    EventAttr.STATUS: {"S": lambda_.FilterRule.is_equal(EventStatus.PENDING.value)},
                    EventAttr.LANE: {"S": lambda_.FilterRule.is_equal(lane.value)},
                }
            },
        }
    )
    probe = lambda_.FilterCriteria.filter(
        {"dynamodb": {"Keys": {EventAttr.PK: {"S": lambda_.FilterRule.is_equal(probe_key(lane))}}}}
    )
    return [new_event, pending, probe]


class LaneProcessor(Construct):
    """One lane: its own function (same asset and handler), cap, batch size, window and mapping."""

    def __init__(self, processing: Processing, construct_id: str, build: Build, lane: LaneConfig) -> None:
        super().__init__(processing, construct_id)
        config = build.config
        self.lane = lane
        events, domain, alerts = processing.events, processing.domain, processing.alerts
        description = f"Spillway {lane.lane.value} processor: claims PENDING events and applies their effects once"
        spec = FunctionSpec(
            PROCESSOR_HANDLER, Service.PROCESSOR, description, config.processor_timeout_seconds, 512, lane.concurrency
        )
        environment = {
            EnvVar.EVENTS_TABLE: events.table.table_name,
            EnvVar.DOMAIN_TABLE: domain.table.table_name,
            EnvVar.ALERTS_TOPIC_ARN: alerts.topic.topic_arn,
            **config.environment(
                env.LEASE_SECONDS, env.BACKOFF_BASE_SECONDS, env.BACKOFF_CAP_SECONDS, env.ALERT_RETRY_SECONDS
            ),
        }
        self.handler = SpillwayFunction(self, "Function", spec, build, environment)
        role = self.handler.role
        role.add_to_policy(
            # UpdateItem: the lifecycle item (claim, outcome). GetItem: the event record of an event woken
            # or replayed (a new event's stream record carries it).
            iam.PolicyStatement(actions=["dynamodb:UpdateItem", "dynamodb:GetItem"], resources=[events.table.table_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                # BatchGetItem: the effect's snapshot read (domain_store.read_snapshot).
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem",
                ],
                resources=[domain.table.table_arn],
            )
        )
        alerts.grant_publish(role)
        self.event_source = sources.DynamoEventSource(
            events.table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=lane.batch_size,
            max_batching_window=Duration.seconds(lane.batching_window_seconds),
            # PF = the cap: even a one-shard stream reaches it (concurrency = min(reserved, shards x PF)).
            parallelization_factor=lane.parallelization_factor,
            bisect_batch_on_error=True,
            retry_attempts=config.stream_retry_attempts,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(processing.dlq),
            filters=lane_filters(lane.lane),
        )
        self.handler.function.add_event_source(self.event_source)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Added by the DynamoDB event source for dynamodb:ListStreams, which has no resource-level "
            "permissions; the stream reads themselves are scoped to the events table's stream.",
        )


class Processing(Construct):
    """Two lanes read the one events stream: a DynamoDB stream allows at most two readers per shard,
    and the lanes use both (nothing else may read this stream)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        build: Build,
        *,
        events: EventStoreTable,
        domain: DomainTable,
        alerts: Alerts,
    ) -> None:
        super().__init__(scope, construct_id)
        config = build.config
        self.events, self.domain, self.alerts = events, domain, alerts
        if config.lease_seconds <= config.processor_timeout_seconds:
            raise ValueError(
                "leaseSeconds must exceed processorTimeoutSeconds: a live invocation must never lose its lease"
            )
        # Batches a lane's function itself cannot handle (after retries and bisection) land here.
        self.dlq = encrypted_queue(self, "Dlq")
        acknowledge(
            self.dlq, "AwsSolutions::AwsSolutions-SQS3", "This queue is itself the processor's dead-letter queue."
        )
        construct_ids = {Lane.BULK: "Processor", Lane.INTERACTIVE: "InteractiveProcessor"}
        self.lanes = {lane: LaneProcessor(self, construct_ids[lane], build, config.lane(lane)) for lane in Lane}
