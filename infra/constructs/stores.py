"""The events table (intake queue with a stream and a sparse sweep index) and the domain table."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import SpillwayConfig
from spillway_core.status import STATUS_INDEX, STATUS_INDEX_ATTRIBUTES, SWEEP_INDEX, EventAttr


def encrypted_table(
    scope: Construct, construct_id: str, config: SpillwayConfig, key: str, sort_key: str | None = None, **kwargs: object
) -> dynamodb.Table:
    """An on-demand table, encrypted, with point-in-time recovery, kept when the stack goes; string keys."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        sort_key=None if sort_key is None else dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        # Retained on stack deletion in every stage; production also refuses a direct DeleteTable.
        deletion_protection=config.deletion_protection,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=RemovalPolicy.RETAIN,
        **kwargs,  # type: ignore[arg-type]
    )


class EventStoreTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: SpillwayConfig) -> None:
        super().__init__(scope, construct_id)
        # The processor filters on the new image's status, so the stream carries new images.
        stream = dynamodb.StreamViewType.NEW_IMAGE
        self.table = encrypted_table(
            self, "Table", config, EventAttr.PK, stream=stream, time_to_live_attribute=EventAttr.EXPIRES_AT
        )
        # Sparse: only live events carry sweepShard/dueAt. The shard (crc32(key) % N) spreads writes
        # over N partitions so the index never becomes one hot partition under bursts.
        self.table.add_global_secondary_index(
            index_name=SWEEP_INDEX,
            partition_key=dynamodb.Attribute(name=EventAttr.SWEEP_SHARD, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=EventAttr.DUE_AT, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=[EventAttr.STATUS],
        )
        self.sweep_index_arn = f"{self.table.table_arn}/index/{SWEEP_INDEX}"
        # For operators (`spillway events`, `status`, bulk `replay`): a query per status, newest change
        # first, instead of a scan. Its key changes with each status change, which costs one index write
        # per transition; the projection is kept small (no payload, no lead data) so those writes stay 1 WCU.
        self.table.add_global_secondary_index(
            index_name=STATUS_INDEX,
            partition_key=dynamodb.Attribute(name=EventAttr.STATUS, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=EventAttr.UPDATED_AT, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(STATUS_INDEX_ATTRIBUTES),
        )


class DomainTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: SpillwayConfig) -> None:
        super().__init__(scope, construct_id)
        # Only effect markers carry an expiry: they must outlive redeliveries, not the domain data.
        self.table = encrypted_table(self, "Table", config, "pk", "sk", time_to_live_attribute="expiresAt")
