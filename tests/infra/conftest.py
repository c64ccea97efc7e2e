"""Synthesizes the real app once per session, for the AWS target and the local target."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import infra  # noqa: F401  (silences jsii's Node version banner before aws_cdk loads)
from spillway_cli.deploy import synthesize as spillway_synthesize

PRODUCTION = "production"
STAGING = "staging"


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    stack_name: str
    template_dict: dict[str, Any]

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack_name}.template.json"

    @property
    def validation_report(self) -> dict[str, Any]:
        return dict(json.loads((self.outdir / "validation-report.json").read_text()))


def synthesize(target: str, outdir: Path, stage: str | None = None) -> Synthesized:
    # The same synth as the local run; cdk-nag runs as a validation plugin, so it raises if any
    # finding is not acknowledged.
    assembly = spillway_synthesize(target, outdir, stage)
    return Synthesized(outdir, assembly.stack_name, dict(json.loads(assembly.template_path.read_text())))


# The assertions hold the production stage, the one that matters most; staging is checked for what
# it changes (and is what a bare `cdk synth` produces).
@pytest.fixture(scope="session")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("aws", tmp_path_factory.mktemp("cdk-aws"), PRODUCTION)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("local", tmp_path_factory.mktemp("cdk-local"), PRODUCTION)


@pytest.fixture(scope="session")
def staging_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("aws", tmp_path_factory.mktemp("cdk-staging"), STAGING)


@pytest.fixture(scope="session")
def template(aws_stack: Synthesized) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(aws_stack.template_dict)
