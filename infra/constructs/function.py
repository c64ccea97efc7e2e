"""A Python Lambda function with its own log group and its own least-privilege role."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import SpillwayConfig
from infra.constructs.nag import acknowledge
from spillway_core.metrics import NAMESPACE, Service

# Exactly the values SpillwayConfig.log_retention_days admits (config.LOG_RETENTION_DAYS).
_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def log_retention(config: SpillwayConfig) -> logs.RetentionDays:
    """Every log group of the stack keeps its logs for the stage's ``logRetentionDays``."""
    return _RETENTION[config.log_retention_days]


@dataclass(frozen=True)
class Build:
    """What every function of the stack is built from: the stage's settings and the one code asset."""

    config: SpillwayConfig
    code: lambda_.Code


@dataclass(frozen=True)
class FunctionSpec:
    """What sets one function apart: its handler, its service (logs, metrics), its job and its limits."""

    handler: str
    service: Service
    description: str
    timeout_seconds: int
    memory_size: int = 256
    reserved_concurrency: int | None = None


class SpillwayFunction(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, spec: FunctionSpec, build: Build, environment: dict[str, str]
    ) -> None:
        super().__init__(scope, construct_id)
        config = build.config
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(config),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # A role of its own with only what this function does: no AWSLambdaBasicExecutionRole, whose
        # log permissions span every log group in the account.
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=spec.description
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=lambda_.Runtime(f"python{config.lambda_python_version}", lambda_.RuntimeFamily.PYTHON),
            architecture=lambda_.Architecture.ARM_64
            if config.lambda_architecture == "arm64"
            else lambda_.Architecture.X86_64,
            code=build.code,
            handler=spec.handler,
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_size,
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": spec.service,
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
                **environment,
            },
        )
        newest = max(
            (r.name for r in lambda_.Runtime.ALL if r.family == lambda_.RuntimeFamily.PYTHON),
            key=lambda name: tuple(int(part) for part in name.removeprefix("python").split(".")),
        )
        if self.function.runtime.name != newest:
            acknowledge(self.function, "AwsSolutions::AwsSolutions-L1", OLDER_RUNTIME_REASON)


# Measured by bench/lambda_cold_start.py (bench/results/cold_start.md); see the README's numbers.
OLDER_RUNTIME_REASON = (
    "python3.13, not the newest python3.14, on purpose: Lambda's code directory is read-only, so the "
    "asset must ship bytecode, and only an interpreter of the runtime's own version can compile it; "
    "the project's machines have 3.11-3.13 but no 3.14. Measured (bench/results/cold_start.md), the ingest's "
    "init is 1.42x the bare SDK with no bytecode for its code and dependencies "
    "(what 3.14 would load) and 1.25x with 3.13 bytecode; the processor 1.22x, "
    "3.4x before. Lambda deprecates python3.13 on 2029-06-30 (AWS runtime table)."
)
