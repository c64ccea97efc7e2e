"""POST /webhooks/{provider} on an HTTP API, backed by the ingest function (one PutItem per request)."""

from __future__ import annotations

from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.config import INGEST_HANDLER, EnvVar
from infra.constructs.function import Build, FunctionSpec, SpillwayFunction, log_retention
from infra.constructs.nag import acknowledge
from infra.constructs.stores import EventStoreTable
from spillway_core import environment as env
from spillway_core.metrics import Service

WEBHOOK_ROUTE = "/webhooks/{provider}"


class IngestApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, build: Build, *, events: EventStoreTable, tokens: str
    ) -> None:
        super().__init__(scope, construct_id)
        config = build.config
        description = "Spillway ingest: authenticate, validate, store once, answer 2xx"
        spec = FunctionSpec(INGEST_HANDLER, Service.INGEST, description, 10, memory_size=config.ingest_memory_mb)
        stored = (
            env.MAX_BODY_BYTES,
            env.MAX_ATTEMPTS,
            env.EVENT_RETENTION_DAYS,
            env.SWEEP_SHARDS,
            env.PENDING_GRACE_SECONDS,
        )
        environment = {
            EnvVar.EVENTS_TABLE: events.table.table_name,
            EnvVar.INGEST_TOKEN_BINDINGS: tokens,
            **config.environment(*stored),
        }
        self.handler = SpillwayFunction(self, "Ingest", spec, build, environment)
        # Exactly the one call the ingest makes.
        self.handler.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[events.table.table_arn])
        )

        self.api = apigwv2.HttpApi(self, "Api", create_default_stage=False, description="Spillway webhook intake")
        self.stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_throttle_rate, burst_limit=config.api_throttle_burst
            ),
        )
        self.api.add_routes(
            path=WEBHOOK_ROUTE,
            methods=[apigwv2.HttpMethod.POST],
            integration=HttpLambdaIntegration("IngestIntegration", self.handler.function),
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention(config))
        stage_resource = self.stage.node.default_child
        assert isinstance(stage_resource, apigwv2.CfnStage)
        stage_resource.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn,
            # No query string in the log: the token may travel there.
            format='{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"routeKey":"$context.routeKey","status":"$context.status","latencyMs":"$context.responseLatency",'
            '"integrationError":"$context.integrationErrorMessage"}',
        )
        acknowledge(
            self.api,
            "AwsSolutions::AwsSolutions-APIG4",
            "EmailBison cannot sign requests or send IAM/JWT credentials; the ingest function checks a shared "
            "token in constant time before any AWS call.",
        )
        self.webhook_base_url = f"{self.api.api_endpoint}/webhooks/"
