"""End-to-end: the synthesized template deployed into the local emulator, driven over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

import infra  # noqa: F401  (silences jsii's Node version banner before aws_cdk loads)
from infra import config as names
from spillway_cli.deploy import deploy, synthesize
from spillway_cli.emulator import Emulator
from spillway_cli.load import WORKSPACE as LOAD_WORKSPACE
from spillway_cli.target import Target
from spillway_cli.tokens import SAMPLE_WORKSPACE, binding, bindings_json, new_token, token_digest
from tests.support.slack import SlackStandIn
from tests.support.tables import event_item

T = TypeVar("T")


# The workspaces the e2e tests write to, per provider: each provider has its own bound token.
E2E_WORKSPACES = {
    "emailbison": [SAMPLE_WORKSPACE, str(LOAD_WORKSPACE), "91", *(str(ws) for ws in range(1000, 1010))],
    "inboxxia": [SAMPLE_WORKSPACE, "2000", "5"],  # "5": the Inboxxia sample (email_sent_string_ids.json)
}


@dataclass
class Deployed:
    target: Target
    tokens: dict[str, str]  # provider -> its token
    emulator: Emulator

    @property
    def token(self) -> str:
        return self.tokens["emailbison"]

    def post(
        self, payload: dict[str, Any] | bytes, token: str | None = None, provider: str = "emailbison"
    ) -> tuple[int, dict[str, Any]]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        url = f"{self.target.webhook_url(provider)}?token={token if token is not None else self.tokens[provider]}"
        request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def event(self, key: str) -> dict[str, Any] | None:
        """The event as one item (its record with its lifecycle item over it), or None."""
        return event_item(self.target.client("dynamodb"), key, self.target.events_table)

    def domain_items(self) -> list[dict[str, Any]]:
        ddb = self.target.client("dynamodb")
        return list(ddb.scan(TableName=self.target.domain_table, ConsistentRead=True)["Items"])


def wait_for(condition: Callable[[], T | None], timeout_s: float = 30.0, what: str = "condition") -> T:
    """Polls an observable condition of the emulator until it holds, failing after a deadline.

    The pipeline is asynchronous by design (stream -> processor), so the test observes state
    rather than sleeping a fixed time and hoping.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    assembly = synthesize("local", tmp_path_factory.mktemp("cdk-local-e2e"))
    log_path = Path(tmp_path_factory.mktemp("emulator")) / "ministack.log"
    with Emulator(log_path=log_path) as emulator:
        target = Target(stack_name=assembly.stack_name, endpoint_url=emulator.endpoint_url)
        tokens = {provider: new_token() for provider in E2E_WORKSPACES}
        bindings = {token_digest(tokens[p]): binding(p, workspaces) for p, workspaces in E2E_WORKSPACES.items()}
        deploy(target, assembly, bindings_json(bindings))
        yield Deployed(target=target, tokens=tokens, emulator=emulator)


@pytest.fixture
def slack(deployed: Deployed) -> Iterator[SlackStandIn]:
    """A local Slack stand-in whose URL the deployed stack's Slack secret holds."""
    with SlackStandIn() as stand_in:
        secrets = deployed.target.client("secretsmanager")
        secrets.put_secret_value(SecretId=deployed.target.outputs[names.OUTPUT_SLACK_SECRET], SecretString=stand_in.url)
        yield stand_in
