"""Synthesize the stack and deploy the synthesized template, as ``cdk deploy`` would.

The local run uses this against the emulator: it plays the part of ``cdk bootstrap`` (the asset
bucket and the bootstrap-version parameter the template checks) and of the CDK CLI's asset
publishing (zip each asset directory, upload it), then creates the stack from the very template
``cdk synth`` writes. Against AWS, operators use ``cdk deploy`` itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import config as names
from infra.config import STAGE_SETTING, cdk_context
from spillway_cli.target import Target

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"
# What the CDK CLI adds to the context of every synth (cdk.json's versionReporting is off), so that
# the in-process synthesis writes the very template `npx cdk synth` writes.
CDK_CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stack_name: str

    @classmethod
    def from_directory(cls, directory: Path) -> CloudAssembly:
        """The one stack of a cloud assembly written by ``cdk synth -o <directory>``."""
        manifest = json.loads((directory / "manifest.json").read_text())
        [stack_name] = [
            name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"
        ]
        return cls(directory, stack_name)

    @property
    def template_path(self) -> Path:
        return self.directory / f"{self.stack_name}.template.json"

    @property
    def assets_path(self) -> Path:
        return self.directory / f"{self.stack_name}.assets.json"


def synthesize(
    target: str = "local",
    outdir: Path | None = None,
    stage: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> CloudAssembly:
    """Runs the CDK app in-process with ``spillway:target`` (and the stage, if named, and any other
    settings overridden, as ``-c spillway:<name>=<value>`` would) set, into its own cloud assembly dir."""
    import aws_cdk as cdk

    from infra.app import build_app

    outdir = outdir or REPO_ROOT / f"cdk.{target}.out"
    app = cdk.App(context={**cdk_context(), **CDK_CLI_CONTEXT}, outdir=str(outdir))
    stage_override = {STAGE_SETTING: stage} if stage else {}
    app, stack = build_app(app, overrides={**(overrides or {}), **stage_override, "target": target})
    app.synth()
    return CloudAssembly(outdir, stack.stack_name)


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip (sorted entries, fixed timestamps) of a directory, like the CDK's."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(str(path.relative_to(directory)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region).replace("${AWS::Partition}", "aws")
    )


def bootstrap_and_publish(target: Target, assembly: CloudAssembly) -> str:
    """Publishes every file asset (the template is one of them); returns the template's URL."""
    template_url = ""
    account = target.client("sts").get_caller_identity()["Account"]
    target.client("ssm").put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    s3 = target.client("s3")
    manifest = json.loads(assembly.assets_path.read_text())
    for asset in manifest.get("files", {}).values():
        source = assembly.directory / asset["source"]["path"]
        body = zip_directory(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = _substitute(destination["bucketName"], account, target.region_name)
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=bucket)
            key = _substitute(destination["objectKey"], account, target.region_name)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            if source == assembly.template_path:
                template_url = f"{s3.meta.endpoint_url}/{bucket}/{key}"
    if not template_url:
        raise RuntimeError(f"{assembly.assets_path} does not publish the template")
    return template_url


def deploy(target: Target, assembly: CloudAssembly, token_bindings: str, timeout_s: float = 300) -> dict[str, str]:
    """Creates (or updates) the stack from the synthesized template; returns its outputs.

    ``token_bindings`` is the IngestTokenBindings parameter (``spillway_cli.tokens.bindings_json``).
    """
    # As the CDK CLI does, the template travels through the asset bucket: an inline TemplateBody is
    # limited to 51,200 bytes, which the stack's template outgrows with the CLI's path metadata.
    template_url = bootstrap_and_publish(target, assembly)
    cloudformation = target.client("cloudformation")
    request: dict[str, Any] = {
        "StackName": target.stack_name,
        "TemplateURL": template_url,
        "Parameters": [{"ParameterKey": names.TOKEN_PARAMETER, "ParameterValue": token_bindings}],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }
    existing = _stack_status(cloudformation, target.stack_name)
    if existing is None:
        cloudformation.create_stack(**request, OnFailure="DO_NOTHING")
    else:
        cloudformation.update_stack(**request)
    status = _wait_for_stack(cloudformation, target.stack_name, timeout_s)
    if status not in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
        events = cloudformation.describe_stack_events(StackName=target.stack_name)["StackEvents"]
        failures = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
            for e in events
            if "FAILED" in e["ResourceStatus"]
        ]
        raise RuntimeError(f"stack {target.stack_name} ended {status}: {failures[:5]}")
    target.__dict__.pop("outputs", None)
    return target.outputs


def _stack_status(cloudformation: Any, stack_name: str) -> str | None:
    try:
        return str(cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"])
    except cloudformation.exceptions.ClientError:
        return None


def _wait_for_stack(cloudformation: Any, stack_name: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    status = "UNKNOWN"
    while time.monotonic() < deadline:
        status = _stack_status(cloudformation, stack_name) or "MISSING"
        if not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(0.5)  # the stack's status is read twice a second until it leaves *_IN_PROGRESS
    return status
