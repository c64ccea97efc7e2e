"""Where a command points: the local emulator or a deployed stack. Every command works with both."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from infra import config as names
from infra.config import CONTEXT_KEY, STAGE_SETTING, SpillwayConfig, cdk_context

LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # the emulator's account
DEFAULT_REGION = "us-east-1"


def stack_config(stage: str | None = None) -> SpillwayConfig:
    """The settings a stage is deployed with (cdk.json; its default stage unless one is named)."""
    return SpillwayConfig.from_context(cdk_context().get(CONTEXT_KEY), {STAGE_SETTING: stage} if stage else None)


@dataclass
class Target:
    stack_name: str = field(default_factory=lambda: stack_config().stack_name)
    endpoint_url: str | None = None  # None: real AWS with the usual credential chain
    region: str = field(default_factory=lambda: os.environ.get("AWS_REGION", DEFAULT_REGION))

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {"region_name": self.region, "config": Config(retries={"mode": "standard"})}
        if self.endpoint_url:
            kwargs.update(endpoint_url=self.endpoint_url, **LOCAL_CREDENTIALS)
        return boto3.client(service, **kwargs)  # type: ignore[call-overload]

    @cached_property
    def outputs(self) -> dict[str, str]:
        stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

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
