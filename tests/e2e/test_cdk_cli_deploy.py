"""The operators' path end to end: `npx cdk synth` writes the assembly, it is deployed, a webhook goes through.

The production stage is deployed beside the session's staging stack in the same emulator account, so the
two stages are shown to live side by side without touching each other's data.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from spillway_cli.deploy import CloudAssembly, deploy
from spillway_cli.target import Target, stack_config
from spillway_cli.tokens import SAMPLE_WORKSPACE, binding, bindings_json, new_token, token_digest
from tests.conftest import load_fixture
from tests.e2e.conftest import Deployed, wait_for

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_synthesized_production_stage_deploys_beside_staging_and_processes_a_webhook(
    deployed: Deployed, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "--no-notices",
            "-o",
            str(tmp_path),
            "-c",
            "spillway:target=local",
            "-c",
            "spillway:stage=production",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "FORCE_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assembly = CloudAssembly.from_directory(tmp_path)
    assert assembly.stack_name == stack_config("production").stack_name != deployed.target.stack_name

    production = Target(stack_name=assembly.stack_name, endpoint_url=deployed.emulator.endpoint_url)
    token = new_token()
    deploy(production, assembly, bindings_json({token_digest(token): binding("emailbison", [SAMPLE_WORKSPACE])}))
    stage = Deployed(target=production, tokens={"emailbison": token}, emulator=deployed.emulator)

    payload = load_fixture("email_sent.json")
    payload["data"]["scheduled_email"]["id"] = 880001
    status, body = stage.post(payload)

    assert status == 200, body
    assert body["status"] == "accepted"
    key = body["id"]
    wait_for(
        lambda: (e := stage.event(key)) and e["status"]["S"] == "SUCCEEDED",
        what=f"{key} to reach SUCCEEDED in the production stage",
    )
    assert production.events_table != deployed.target.events_table
    assert deployed.event(key) is None  # the staging stack never saw it
    assert stage.post(payload, token=deployed.token)[0] == 401  # nor do the stages share tokens
