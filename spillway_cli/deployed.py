"""What the deployed stack says: its functions' settings and its processors' event source mappings.

Replay and pause read these from the stack itself (never from the local cdk.json), because the stack
may have been deployed with other settings than the checkout holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spillway_cli.target import Target, TargetError
from spillway_core import environment as env

FUNCTION_TYPE = "AWS::Lambda::Function"
MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"


@dataclass(frozen=True)
class DeployedSettings:
    sweep_shards: int
    pending_grace_seconds: int
    retention_days: int
    max_attempts: int | None = None  # what the stack gives a new event now (None: no function says)


def function_environments(target: Target) -> dict[str, dict[str, str]]:
    """Function name -> its environment variables, for every function of the stack."""
    lambda_ = target.client("lambda")
    environments = {}
    for _, name in target.physical_ids(FUNCTION_TYPE):
        configuration = lambda_.get_function_configuration(FunctionName=name)
        environments[name] = dict(configuration.get("Environment", {}).get("Variables", {}))
    return environments


def _one_value(environments: dict[str, dict[str, str]], variable: str) -> int:
    values = {variables[variable] for variables in environments.values() if variable in variables}
    if not values:
        raise TargetError(f"no function of the stack sets {variable}: is this a Spillway stack?")
    if len(values) > 1:
        raise TargetError(f"the stack's functions disagree on {variable} ({sorted(values)}): finish the deploy first")
    return int(values.pop())


def deployed_settings(target: Target) -> DeployedSettings:
    environments = function_environments(target)
    attempts_set = any(env.MAX_ATTEMPTS.env in variables for variables in environments.values())
    return DeployedSettings(
        sweep_shards=_one_value(environments, env.SWEEP_SHARDS.env),
        pending_grace_seconds=_one_value(environments, env.PENDING_GRACE_SECONDS.env),
        retention_days=_one_value(environments, env.EVENT_RETENTION_DAYS.env),
        max_attempts=_one_value(environments, env.MAX_ATTEMPTS.env) if attempts_set else None,
    )


@dataclass(frozen=True)
class ProcessorMapping:
    """One processor's event source mapping on the events table's stream (one per lane)."""

    uuid: str
    function: str
    state: str  # Enabled, Disabled, Enabling, Disabling, Updating, ...

    @property
    def paused(self) -> bool:
        return self.state in {"Disabled", "Disabling"}


def _mapping(raw: dict[str, Any]) -> ProcessorMapping:
    function = str(raw.get("FunctionArn", "")).rsplit(":", 1)[-1]
    return ProcessorMapping(uuid=raw["UUID"], function=function, state=str(raw.get("State", "")))


def processor_mappings(target: Target) -> list[ProcessorMapping]:
    """Every event source mapping of the stack that reads the events table's stream, whatever the
    number of processors (lanes). The notifier's queue mapping is not one of them."""
    lambda_ = target.client("lambda")
    table = target.events_table
    mappings = []
    for _, uuid in target.physical_ids(MAPPING_TYPE):
        raw = lambda_.get_event_source_mapping(UUID=uuid)
        if f":table/{table}/stream/" in str(raw.get("EventSourceArn", "")):
            mappings.append(_mapping(raw))
    return sorted(mappings, key=lambda m: (m.function, m.uuid))


def set_processing(target: Target, enabled: bool, function: str | None = None) -> list[ProcessorMapping]:
    """Enable or disable the processors' mappings (one lane's when ``function`` is named); returns their
    new states. Records stay in the stream (24 h) and the sweeper keeps the events due, so nothing is lost."""
    lambda_ = target.client("lambda")
    chosen = [m for m in processor_mappings(target) if function is None or m.function == function]
    if not chosen:
        raise TargetError(f"no processor mapping{' for ' + function if function else ''} in {target.stack_name}")
    return [_mapping(lambda_.update_event_source_mapping(UUID=m.uuid, Enabled=enabled)) for m in chosen]
