"""Synthesizes the real app once per session, for the AWS target and the local target."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import infra  # noqa: F401  (silences jsii's Node version banner before aws_cdk loads)

REPO_ROOT = Path(__file__).resolve().parents[2]


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


def synthesize(target: str, outdir: Path) -> Synthesized:
    import aws_cdk as cdk

    from infra.app import build_app

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, outdir=str(outdir))
    app, stack = build_app(app, overrides={"target": target})
    # cdk-nag runs as a validation plugin: synth raises if any finding is not acknowledged.
    assembly = app.synth()
    return Synthesized(outdir, stack.stack_name, dict(assembly.get_stack_by_name(stack.stack_name).template))


@pytest.fixture(scope="session")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("aws", tmp_path_factory.mktemp("cdk-aws"))


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("local", tmp_path_factory.mktemp("cdk-local"))


@pytest.fixture(scope="session")
def template(aws_stack: Synthesized) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(aws_stack.template_dict)
