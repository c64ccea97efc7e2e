"""Slack notifications: alerts topic -> buffer queue (collects a burst) -> notifier -> Slack.

The notifier gathers a burst's failed events into digests (a small table) and flushes each with a
delayed message on its own buffer queue: one summary per burst, whatever batches the queue hands it.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, SecretValue
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import NOTIFIER_HANDLER, EnvVar, SpillwayConfig
from infra.constructs.alerts import Alerts
from infra.constructs.function import SpillwayFunction
from infra.constructs.nag import acknowledge
from spillway_core.environment import NOT_CONFIGURED
from spillway_core.metrics import Service

NOTIFIER_TIMEOUT_SECONDS = 30


def encrypted_queue(scope: Construct, construct_id: str, **kwargs: object) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        **kwargs,  # type: ignore[arg-type]
    )


class SlackNotifier(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: SpillwayConfig, code: lambda_.Code, alerts: Alerts
    ) -> None:
        super().__init__(scope, construct_id)
        # The incoming-webhook URL is set by an operator after deploy (docs/operations.md); the
        # template only ever holds this placeholder.
        self.webhook_secret = secretsmanager.Secret(
            self,
            "WebhookUrl",
            description="Slack incoming-webhook URL for Spillway alerts",
            secret_string_value=SecretValue.unsafe_plain_text(NOT_CONFIGURED),
        )
        acknowledge(
            self.webhook_secret,
            "AwsSolutions::AwsSolutions-SMG4",
            "A Slack incoming-webhook URL cannot be rotated by a Lambda; it is replaced by hand in Slack.",
        )
        self.dlq = encrypted_queue(self, "Dlq")
        acknowledge(self.dlq, "AwsSolutions::AwsSolutions-SQS3", "This queue is itself the notifier's DLQ.")
        self.buffer = encrypted_queue(
            self,
            "Buffer",
            visibility_timeout=Duration.seconds(6 * NOTIFIER_TIMEOUT_SECONDS),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.dlq),
        )
        alerts.topic.add_subscription(subscriptions.SqsSubscription(self.buffer, raw_message_delivery=True))
        # A digest lives a burst long (15 days with its TTL, for a DLQ redrive), but until it is posted it
        # holds alerts no one has seen: kept like the other tables. functions/notifier/digests.py documents it.
        self.digests = dynamodb.Table(
            self,
            "Digests",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expiresAt",
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.handler = SpillwayFunction(
            self,
            "Notifier",
            config=config,
            code=code,
            handler=NOTIFIER_HANDLER,
            service=Service.NOTIFIER,
            description="Spillway notifier: one Slack message per burst of alerts",
            timeout=Duration.seconds(NOTIFIER_TIMEOUT_SECONDS),
            # One at a time, so a burst is collected into few batches instead of many parallel ones.
            reserved_concurrency=1,
            environment={
                EnvVar.SLACK_WEBHOOK_SECRET_ARN: self.webhook_secret.secret_arn,
                EnvVar.RUNBOOK_BASE_URL: config.runbook_base_url,
                EnvVar.DIGEST_TABLE: self.digests.table_name,
                EnvVar.ALERT_QUEUE_URL: self.buffer.queue_url,
                EnvVar.ALERT_DIGEST_QUIET_SECONDS: str(config.alert_digest_quiet_seconds),
                EnvVar.ALERT_DIGEST_MAX_SECONDS: str(config.alert_digest_max_seconds),
            },
        )
        self.webhook_secret.grant_read(self.handler.role)
        self.digests.grant_read_write_data(self.handler.role)
        self.buffer.grant_send_messages(self.handler.role)  # the digests' delayed flush messages
        self.handler.function.add_event_source(
            sources.SqsEventSource(
                self.buffer,
                batch_size=1000,
                max_batching_window=Duration.seconds(config.notifier_batch_window_seconds),
                # The handler reports unposted alerts as failed, so they stay queued (then the DLQ).
                report_batch_item_failures=True,
            )
        )
