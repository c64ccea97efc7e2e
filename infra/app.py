"""CDK app entry point (cdk.json: ``app``). ``python -m infra.app`` synthesizes into ./cdk.out."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEY, STAGE_SETTING, SpillwayConfig
from infra.lambda_asset import build_lambda_asset
from infra.stack import SpillwayStack


def _flat_overrides(app: cdk.App) -> dict[str, Any]:
    """``-c spillway:<name>=<value>`` overrides single settings of the ``spillway`` context object."""
    overrides = {}
    for name in SpillwayConfig.model_fields.values():
        key = name.alias or ""
        if key and (value := app.node.try_get_context(f"{CONTEXT_KEY}:{key}")) is not None:
            overrides[key] = value
    for key in ("target", STAGE_SETTING):
        if (value := app.node.try_get_context(f"{CONTEXT_KEY}:{key}")) is not None:
            overrides[key] = value
    return overrides


def build_app(app: cdk.App | None = None, overrides: dict[str, Any] | None = None) -> tuple[cdk.App, SpillwayStack]:
    app = app or cdk.App()
    config = SpillwayConfig.from_context(
        app.node.try_get_context(CONTEXT_KEY), {**_flat_overrides(app), **(overrides or {})}
    )
    asset_dir = build_lambda_asset(
        config.asset_architecture, config.asset_python_version, bundle_sdk=config.asset_bundles_sdk
    )
    stack = SpillwayStack(app, config.stack_name, config=config, asset_dir=str(asset_dir))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
