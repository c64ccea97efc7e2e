"""Slack notifications: alerts topic -> buffer queue (collects a burst) -> notifier -> Slack.

The notifier gathers a burst's failed events into digests (a small table) and flushes each with a
delayed message on its own buffer queue: one summary per burst, whatever batches the queue hands it.
"""

from __future__ import annotations

from aws_cdk import Duration, SecretValue
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import NOTIFIER_HANDLER, EnvVar
from infra.constructs.alerts import Alerts
from infra.constructs.function import Build, FunctionSpec, SpillwayFunction
from infra.constructs.nag import acknowledge
from infra.constructs.queues import encrypted_queue
from infra.constructs.stores import encrypted_table
from spillway_core import environment as env
from spillway_core.environment import NOT_CONFIGURED
from spillway_core.metrics import Service

NOTIFIER_TIMEOUT_SECONDS = 30


class SlackNotifier(Construct):
    def __init__(self, scope: Construct, construct_id: str, build: Build, *, alerts: Alerts) -> None:
        super().__init__(scope, construct_id)
        config = build.config
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
        self.digests = encrypted_table(self, "Digests", config, "pk", "sk", time_to_live_attribute="expiresAt")
        description = "Spillway notifier: one Slack message per burst of alerts"
        # One at a time, so a burst is collected into few batches instead of many parallel ones.
        spec = FunctionSpec(
            NOTIFIER_HANDLER, Service.NOTIFIER, description, NOTIFIER_TIMEOUT_SECONDS, reserved_concurrency=1
        )
        environment = {
            EnvVar.SLACK_WEBHOOK_SECRET_ARN: self.webhook_secret.secret_arn,
            EnvVar.RUNBOOK_BASE_URL: config.runbook_base_url,
            EnvVar.DIGEST_TABLE: self.digests.table_name,
            EnvVar.ALERT_QUEUE_URL: self.buffer.queue_url,
            **config.environment(env.ALERT_DIGEST_QUIET_SECONDS, env.ALERT_DIGEST_MAX_SECONDS),
        }
        self.handler = SpillwayFunction(self, "Notifier", spec, build, environment)
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
