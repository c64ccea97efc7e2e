"""The Lambda asset as the configured runtime loads it: bytecode it accepts, and the runtime's own SDK.

Lambda's code directory is read-only, so a module shipped without valid bytecode is compiled again at
every cold start. These checks read the built asset itself, against facts the builder does not
supply: CPython's magic number for each minor version (a .pyc with another one is ignored) and
PEP 552's header layout.
"""

from __future__ import annotations

import _imp
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from infra import lambda_asset
from infra.config import SpillwayConfig, cdk_context
from infra.lambda_asset import (
    RUNTIME_SDK_PACKAGES,
    MissingInterpreter,
    build_lambda_asset,
    build_runtime_sdk,
    bytecode_interpreter,
    host_architecture,
    host_python_version,
)
from tests.infra.conftest import Synthesized
from tests.support.environment import STACK

# importlib.util.MAGIC_NUMBER of each CPython minor version (read off 3.11.7, 3.12.1 and 3.13.0;
# it is fixed from a version's first release candidate on).
MAGIC = {"3.11": 3495, "3.12": 3531, "3.13": 3571}
HASH_BASED = 0b01  # PEP 552 flags: bit 0 hash-based, bit 1 check_source (clear: unchecked-hash)
SDK_IMPORT_NAMES = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"}

CONFIG = SpillwayConfig.from_context(cdk_context()["spillway"])


def bytecode_problems(asset: Path, python_version: str) -> list[str]:
    magic = MAGIC[python_version].to_bytes(2, "little") + b"\r\n"
    tag = f"cpython-{python_version.replace('.', '')}"
    problems = []
    for source in sorted(asset.rglob("*.py")):
        cached = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not cached.exists():
            problems.append(f"{source.relative_to(asset)}: no {cached.name}")
            continue
        header = cached.read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        # The hash is keyed by the magic number of the version that will load it, not this one's.
        expected_hash = _imp.source_hash(int.from_bytes(magic, "little"), source.read_bytes())
        if header[:4] != magic or flags != HASH_BASED or header[8:16] != expected_hash:
            problems.append(f"{source.relative_to(asset)}: magic {header[:4]!r}, flags {flags}, stale or foreign")
    return problems


@pytest.fixture(scope="module")
def aws_asset() -> Path:
    # The same call, hence the same cached build, as the synth of the AWS target.
    return build_lambda_asset(CONFIG.asset_architecture, CONFIG.asset_python_version)


def test_aws_asset_ships_unchecked_hash_bytecode_of_the_configured_runtime_for_every_module(aws_asset: Path) -> None:
    assert CONFIG.lambda_python_version in MAGIC, "add the runtime's magic number (importlib.util.MAGIC_NUMBER)"
    assert len(list(aws_asset.rglob("*.py"))) > 100  # our packages and the bundled dependencies

    assert bytecode_problems(aws_asset, CONFIG.lambda_python_version) == []


def test_aws_asset_leaves_the_sdk_and_its_dependencies_to_the_runtime(aws_asset: Path) -> None:
    top_level = {path.name for path in aws_asset.iterdir()}
    distributions = {path.name.split("-")[0].lower().replace("_", "-") for path in aws_asset.glob("*.dist-info")}

    assert top_level & SDK_IMPORT_NAMES == set()
    assert distributions & set(RUNTIME_SDK_PACKAGES) == set()
    assert {"ingest", "processor", "sweeper", "notifier", "spillway_core", "pydantic"} <= top_level


def synthesized_asset(stack: Synthesized) -> Path:
    (asset,) = [path for path in stack.outdir.glob("asset.*") if (path / "ingest" / "handler.py").exists()]
    return asset


def test_synthesized_assets_leave_the_sdk_to_lambda_but_bring_it_to_the_emulator(
    aws_stack: Synthesized, local_stack: Synthesized
) -> None:
    # The emulator runs the functions with the host's Python and nothing else on the path.
    aws, local = synthesized_asset(aws_stack), synthesized_asset(local_stack)

    assert {path.name for path in aws.iterdir()} & SDK_IMPORT_NAMES == set()
    assert {"boto3", "botocore"} <= {path.name for path in local.iterdir()}
    assert bytecode_problems(local, host_python_version()) == []


def test_a_missing_runtime_interpreter_fails_the_build_and_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lambda_asset, "_interpreter_candidates", lambda version: ["/nonexistent/python3.99"])

    with pytest.raises(MissingInterpreter, match=r"Python 3\.99.*SPILLWAY_BYTECODE_PYTHON.*lambdaPythonVersion"):
        build_lambda_asset("arm64", "3.99")


def test_functions_start_and_ingest_accepts_on_the_oldest_runtime_sdk() -> None:
    """Imports every handler and builds its clients, then serves one webhook, with the asset built for
    this machine and only the runtime's SDK (infra/runtime_sdk: older than the runtime) beside it."""
    version = CONFIG.lambda_python_version
    asset = build_lambda_asset(host_architecture(), version)
    sdk = build_runtime_sdk(version)
    token = "test-token"
    webhook = {
        "event": {"type": "EMAIL_SENT", "workspace_id": 1},
        "data": {
            "campaign": {"id": 7},
            "lead": {"id": 42, "email": "lead@example.com"},
            "scheduled_email": {"id": 99, "sent_at": "2026-01-01T00:00:00Z"},
            "sender_email": {"id": 3, "email": "sender@example.com"},
        },
    }
    probe = f"""
import boto3, botocore, sys
assert botocore.__file__.startswith({str(sdk)!r}), botocore.__file__
import ingest.handler, processor.handler, sweeper.handler, notifier.handler
processor.handler._dependencies(); sweeper.handler._dependencies()
from botocore.stub import Stubber
settings, store = ingest.handler._dependencies()
stub = Stubber(store._ddb)
stub.add_response("put_item", {{}})
stub.activate()
answer = ingest.handler.lambda_handler({{"body": {json.dumps(json.dumps(webhook))},
    "headers": {{"content-type": "application/json", "x-spillway-token": {token!r}}},
    "pathParameters": {{"provider": "emailbison"}}}}, None)
print("STATUS", answer["statusCode"], boto3.__version__, answer["body"])
stub.assert_no_pending_responses()
"""
    environment = {
        **STACK,
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(asset), str(sdk)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "EVENTS_TABLE": "events",
        "DOMAIN_TABLE": "domain",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        "SLACK_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack",
        "INGEST_TOKEN_BINDINGS": json.dumps(
            {hashlib.sha256(token.encode()).hexdigest(): {"provider": "emailbison", "workspaces": ["1"]}}
        ),
    }
    done = subprocess.run(
        [bytecode_interpreter(version), "-S", "-c", probe], env=environment, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "STATUS 200 1.34.0" in done.stdout
