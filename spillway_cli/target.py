"""Where a command points: the local emulator or a deployed stack. Every command works with both."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from infra import config as names
from infra.config import CONTEXT_KEY, STAGE_SETTING, SpillwayConfig, cdk_context

LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # the emulator's account
LOCAL_REGION = "us-east-1"  # the emulator's region when none is given


class TargetError(Exception):
    """The command cannot reach its stack (no region, no such stack, no credentials): one line for the operator."""


def stack_config(stage: str | None = None) -> SpillwayConfig:
    """The settings a stage is deployed with (cdk.json; its default stage unless one is named)."""
    return SpillwayConfig.from_context(cdk_context().get(CONTEXT_KEY), {STAGE_SETTING: stage} if stage else None)


@dataclass
class Target:
    stack_name: str = field(default_factory=lambda: stack_config().stack_name)
    endpoint_url: str | None = None  # None: real AWS with the usual credential chain
    # None: whatever the profile / environment says (AWS); the emulator's default locally.
    region: str | None = None
    profile: str | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    @cached_property
    def _session(self) -> boto3.Session:
        if self.endpoint_url:
            return boto3.Session(
                region_name=self.region or LOCAL_REGION,
                aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
                aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
            )
        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        if not session.region_name:
            raise TargetError("no AWS region: pass --region, or set one in your profile or AWS_REGION")
        return session

    @property
    def region_name(self) -> str:
        return str(self._session.region_name)

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {"config": Config(retries={"mode": "standard"})}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self._session.client(service, **kwargs)  # type: ignore[call-overload]

    @cached_property
    def outputs(self) -> dict[str, str]:
        stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    @cached_property
    def resources(self) -> list[dict[str, str]]:
        """The stack's resources (logical id, type, physical id): functions, event source mappings, queues."""
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        return [r for page in paginator.paginate(StackName=self.stack_name) for r in page["StackResourceSummaries"]]

    def physical_ids(self, resource_type: str) -> list[tuple[str, str]]:
        """(logical id, physical id) of every resource of that type, in logical-id order."""
        found = [
            (r["LogicalResourceId"], r["PhysicalResourceId"])
            for r in self.resources
            if r["ResourceType"] == resource_type
        ]
        return sorted(found)

    @property
    def events_table(self) -> str:
        return self.outputs[names.OUTPUT_EVENTS_TABLE]

    @property
    def domain_table(self) -> str:
        return self.outputs[names.OUTPUT_DOMAIN_TABLE]

    def webhook_url(self, provider: str = "emailbison") -> str:
        return local_reachable_url(self.outputs[names.OUTPUT_WEBHOOK_URL] + provider, self.endpoint_url)


def local_reachable_url(url: str, endpoint_url: str | None) -> str:
    """The emulator names APIs ``http://<id>.execute-api.localhost:<port>``; not every resolver knows
    ``*.localhost``, so point at the emulator's own address and keep the API id in the path form."""
    if not endpoint_url or ".execute-api." not in url:
        return url
    scheme_and_host, _, path = url.partition("://")[2].partition("/")
    api_id = scheme_and_host.split(".", 1)[0]
    return f"{endpoint_url}/_aws/execute-api/{api_id}/$default/{path}"
