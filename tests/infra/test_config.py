"""cdk.json is the one place the stack's settings are written; the config model bounds them."""

from __future__ import annotations

import pytest

from infra.config import CONTEXT_KEY, LOG_RETENTION_DAYS, SpillwayConfig, cdk_context
from infra.constructs.function import _RETENTION
from spillway_core import environment as env


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logRetentionDays", 31),  # CloudWatch Logs offers no 31-day retention
        ("sweepShards", 0),
        ("sweepShards", 257),
        ("pendingGraceSeconds", 9),
        ("leaseSeconds", 4),
        ("maxAttempts", 0),
        ("backoffBaseSeconds", 0),
        ("ingestMemoryMb", 64),
        ("processorTimeoutSeconds", 901),
        ("alertDigestQuietSeconds", 841),
        ("sweepMaxItems", 0),
    ],
)
def test_a_value_outside_its_bounds_is_refused(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        SpillwayConfig.from_context(cdk_context()[CONTEXT_KEY], {key: value})


@pytest.mark.parametrize("key", ["pendingGraceSeconds", "maxAttempts", "logRetentionDays", "bulkConcurrency"])
def test_a_setting_missing_from_cdk_json_is_refused_not_defaulted(key: str) -> None:
    context = {name: value for name, value in cdk_context()[CONTEXT_KEY].items() if name != key}

    with pytest.raises(ValueError, match=key):
        SpillwayConfig.from_context(context, {"stage": "production"})  # the stage that sets none of them


def test_every_retention_the_config_admits_is_one_the_log_groups_can_take() -> None:
    assert sorted(_RETENTION) == sorted(LOG_RETENTION_DAYS)


def test_a_functions_environment_holds_each_variable_at_its_settings_value() -> None:
    config = SpillwayConfig.from_context(
        cdk_context()[CONTEXT_KEY], {"stage": "production", "sweepShards": 7, "backoffBaseSeconds": 1.5}
    )

    assert config.environment(env.SWEEP_SHARDS, env.BACKOFF_BASE_SECONDS, env.MAX_ATTEMPTS) == {
        "SWEEP_SHARDS": "7",
        "BACKOFF_BASE_SECONDS": "1.5",
        "MAX_ATTEMPTS": str(config.max_attempts),
    }
    # A variable no cdk.json setting gives (the functions' own default applies) is not silently left out.
    with pytest.raises(KeyError, match="AWS_CALL_TIMEOUT_SECONDS"):
        config.environment(env.SWEEP_SHARDS, env.AWS_TIMEOUT)
