"""The path operators run: `npx cdk synth` / `cdk deploy` from the repo, stages, feature flags."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import CONTEXT_KEY, TOKEN_PARAMETER, SpillwayConfig, cdk_context
from tests.infra.conftest import PRODUCTION, STAGING, Synthesized

REPO_ROOT = Path(__file__).resolve().parents[2]


def npx_cdk(
    *arguments: str, build_dir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`npx cdk …` from the repository, as the README tells operators, with its own asset build cache."""
    env = {**os.environ, "SPILLWAY_BUILD_DIR": str(build_dir), **(extra_env or {})}
    return subprocess.run(
        ["npx", "--no-install", "cdk", *arguments, "--no-notices"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    # A cold build cache, so the asset is built under the CDK CLI's environment (FORCE_COLOR is what
    # broke it: uv then decorated its output); forced here too, whatever the CLI does by default.
    build_dir = tmp_path_factory.mktemp("cold-build")
    outdir = tmp_path_factory.mktemp("cdk-cli-out")
    result = npx_cdk("synth", "-o", str(outdir), build_dir=build_dir, extra_env={"FORCE_COLOR": "1"})
    return result, outdir, build_dir


def test_npx_cdk_synth_from_a_cold_cache_equals_the_in_process_synthesis(
    cli_synth: tuple[subprocess.CompletedProcess[str], Path, Path], staging_stack: Synthesized
) -> None:
    result, outdir, build_dir = cli_synth
    assert result.returncode == 0, result.stderr[-3000:]
    cli_template = json.loads((outdir / f"{staging_stack.stack_name}.template.json").read_text())

    # Equal to the byte, asset hash included: the same inputs built in another cache give the same
    # asset, so a deploy with nothing changed uploads and updates nothing.
    assert cli_template == staging_stack.template_dict
    assert TOKEN_PARAMETER in cli_template["Parameters"]
    assert not list(build_dir.rglob("*.tmp")), "a staging directory was left behind"


def test_npx_cdk_synth_reports_no_unconfigured_feature_flags(
    cli_synth: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    result, _, _ = cli_synth
    assert result.returncode == 0, result.stderr[-3000:]
    assert "feature flags are not configured" not in result.stdout + result.stderr


def recommended_feature_flags() -> dict[str, Any]:
    """The recommended flags of the installed aws-cdk-lib, from its own package."""
    import aws_cdk

    [bundle] = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return dict(json.loads(member.read()))


# Recommended flags this app deliberately leaves at another value, each with its reason (none today;
# docs/operations.md#feature-flags).
FLAGS_LEFT_OFF: dict[str, str] = {}


def test_cdk_json_sets_every_recommended_feature_flag() -> None:
    context = cdk_context()
    recommended = recommended_feature_flags()

    assert len(recommended) > 50  # the bundle was read, not an empty file
    missing = {flag: value for flag, value in recommended.items() if flag not in context and flag not in FLAGS_LEFT_OFF}
    differing = {
        flag: (context[flag], value)
        for flag, value in recommended.items()
        if flag in context and context[flag] != value and flag not in FLAGS_LEFT_OFF
    }
    assert not missing, f"set these in cdk.json or document why not: {missing}"
    assert not differing, differing


def tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}


def test_production_tables_refuse_deletion_are_retained_and_recoverable(aws_stack: Synthesized) -> None:
    production_tables = tables(aws_stack.template_dict)

    assert aws_stack.stack_name == "Spillway-production"
    assert len(production_tables) == 3  # events, domain, alert digests
    for table in production_tables.values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_staging_is_its_own_stack_with_its_own_settings(aws_stack: Synthesized, staging_stack: Synthesized) -> None:
    staging_config = SpillwayConfig.from_context(cdk_context()[CONTEXT_KEY], {"stage": STAGING})

    assert staging_stack.stack_name == staging_config.stack_name == "Spillway-staging"
    assert staging_stack.stack_name != aws_stack.stack_name
    for table in tables(staging_stack.template_dict).values():
        assert table["Properties"]["DeletionProtectionEnabled"] is False  # a staging stage may opt out
        assert table["DeletionPolicy"] == "Retain"
    retention = {
        g["Properties"]["RetentionInDays"]
        for g in Template.from_json(staging_stack.template_dict).find_resources("AWS::Logs::LogGroup").values()
    }
    assert retention == {staging_config.log_retention_days}


def test_no_resource_has_a_fixed_physical_name_so_stages_deploy_side_by_side(aws_stack: Synthesized) -> None:
    name_properties = {"TableName", "QueueName", "TopicName", "FunctionName", "Name", "RoleName", "DashboardName"}
    # A literal name would collide between stages; a reference ({"Ref": …}) names another resource.
    named = {
        (resource["Type"], name)
        for resource in aws_stack.template_dict["Resources"].values()
        for name, value in resource.get("Properties", {}).items()
        if name in name_properties and isinstance(value, str)
    }
    assert named == {("AWS::ApiGatewayV2::Api", "Name")}  # API names need not be unique


@pytest.mark.parametrize("stage", [PRODUCTION, STAGING])
def test_the_default_stage_is_staging_and_every_stage_resolves(stage: str) -> None:
    context = cdk_context()[CONTEXT_KEY]

    assert SpillwayConfig.from_context(context).stage == STAGING  # a bare `cdk deploy` never touches production
    assert SpillwayConfig.from_context(context, {"stage": stage}).stage == stage


def test_an_unknown_stage_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown stage 'prod'.*production"):
        SpillwayConfig.from_context(cdk_context()[CONTEXT_KEY], {"stage": "prod"})
