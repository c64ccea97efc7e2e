"""The alerts topic: failed events and CloudWatch alarms are published here for Slack and on-call."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.nag import acknowledge

CLOUDWATCH = "cloudwatch.amazonaws.com"


class Alerts(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Only this account's alarms may use the key and the topic (the confused-deputy guard).
        from_our_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
        }
        # A customer-managed key rather than alias/aws/sns: CloudWatch alarms can only publish to an
        # encrypted topic whose key policy lets them.
        self.key = kms.Key(self, "Key", enable_key_rotation=True, description="Spillway alerts topic")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions=from_our_alarms,
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        # An explicit topic policy (enforce_ssl creates one) replaces SNS's default policy, so the
        # alarms need their own Allow or they reach no one.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_our_alarms,
            )
        )

    def grant_publish(self, role: iam.IRole) -> None:
        """Lets a function's role publish failure alerts (encrypted with the topic's key)."""
        self.topic.grant_publish(role)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Added by topic.grant_publish for the alerts topic's key only (GenerateDataKey and "
            "GenerateDataKeyWithoutPlaintext on that one key).",
        )
