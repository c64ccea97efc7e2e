"""The Spillway stack: composes the capability constructs and nothing else."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnParameter, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import config as names
from infra.config import SpillwayConfig
from infra.constructs.alerts import Alerts
from infra.constructs.function import Build
from infra.constructs.ingest_api import IngestApi
from infra.constructs.monitoring import Monitoring
from infra.constructs.notifications import SlackNotifier
from infra.constructs.processing import Processing
from infra.constructs.stores import DomainTable, EventStoreTable
from infra.constructs.sweeping import Sweeping
from spillway_core.lanes import Lane


class SpillwayStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: SpillwayConfig, asset_dir: str, **kwargs: object
    ):
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        token_bindings = CfnParameter(
            self,
            names.TOKEN_PARAMETER,
            type="String",
            no_echo=True,
            allowed_pattern="^[{].*[}]$",
            description=(
                'JSON: {"<token sha256>": {"provider": "emailbison", "workspaces": ["12"], "instances": '
                '["send.example.com"]}}; one entry per accepted token (`spillway token new`, docs/operations.md).'
            ),
        )
        build = Build(config, lambda_.Code.from_asset(asset_dir))
        events = EventStoreTable(self, "Events", config=config)
        domain = DomainTable(self, "Domain", config=config)
        alerts = Alerts(self, "Alerts")
        ingest = IngestApi(self, "Ingest", build, events=events, tokens=token_bindings.value_as_string)
        processing = Processing(self, "Processing", build, events=events, domain=domain, alerts=alerts)
        sweeping = Sweeping(self, "Sweeping", build, events=events, alerts=alerts)
        notifier = SlackNotifier(self, "Notifications", build, alerts=alerts)
        monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            alerts=alerts,
            ingest=ingest,
            processing=processing,
            sweeping=sweeping,
            notifier=notifier,
        )

        CfnOutput(self, names.OUTPUT_WEBHOOK_URL, value=ingest.webhook_base_url)
        CfnOutput(self, names.OUTPUT_EVENTS_TABLE, value=events.table.table_name)
        CfnOutput(self, names.OUTPUT_DOMAIN_TABLE, value=domain.table.table_name)
        CfnOutput(self, names.OUTPUT_ALERTS_TOPIC, value=alerts.topic.topic_arn)
        CfnOutput(self, names.OUTPUT_DLQ_URL, value=processing.dlq.queue_url)
        CfnOutput(self, names.OUTPUT_INGEST_LOG_GROUP, value=ingest.handler.log_group.log_group_name)
        CfnOutput(self, names.OUTPUT_SLACK_SECRET, value=notifier.webhook_secret.secret_arn)
        lanes = processing.lanes
        CfnOutput(self, names.OUTPUT_PROCESSOR_FUNCTION, value=lanes[Lane.BULK].handler.function.function_name)
        CfnOutput(
            self,
            names.OUTPUT_INTERACTIVE_PROCESSOR_FUNCTION,
            value=lanes[Lane.INTERACTIVE].handler.function.function_name,
        )
        CfnOutput(self, names.OUTPUT_DASHBOARD, value=monitoring.dashboard.dashboard_name)
        CfnOutput(self, names.OUTPUT_NOTIFIER_DLQ_URL, value=notifier.dlq.queue_url)
