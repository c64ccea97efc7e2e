"""The alerts topic: failed events (and, later, alarms) are published here for Slack and on-call."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class Alerts(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key rather than alias/aws/sns: CloudWatch alarms can only publish to an
        # encrypted topic whose key policy lets them.
        self.key = kms.Key(self, "Key", enable_key_rotation=True, description="Spillway alerts topic")
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
