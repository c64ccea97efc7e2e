"""The settings contract between the stack and the functions.

Every environment variable the stack sets is one its function reads (a setting nobody reads is a
second, dead copy of a rule), and a function run outside the stack (tests, benchmarks) gets by default
what the deployed stack sets, so the in-process tests run the deployed rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Template
from pydantic import BaseModel

from spillway_core import environment
from spillway_core.plain_settings import IngestSettings, ProcessorSettings
from spillway_core.settings import NotifierSettings, SweeperSettings

POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
DEFAULTS = {s.env: s for s in vars(environment).values() if isinstance(s, environment.Setting)}


class _Recording(dict[str, str]):
    """An environment that remembers which variables were read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def _read_plainly(from_env: Callable[[Mapping[str, str]], object]) -> Callable[[dict[str, str]], set[str]]:
    def read(variables: dict[str, str]) -> set[str]:
        recording = _Recording(variables)
        from_env(recording)
        return recording.read

    return read


def _read_by_model(model: type[BaseModel]) -> Callable[[dict[str, str]], set[str]]:
    return lambda _: {str(field.alias) for field in model.model_fields.values()}


READERS = {
    "ingest.handler.lambda_handler": _read_plainly(IngestSettings.from_env),
    "processor.handler.lambda_handler": _read_plainly(ProcessorSettings.from_env),
    "sweeper.handler.lambda_handler": _read_by_model(SweeperSettings),
    "notifier.handler.lambda_handler": _read_by_model(NotifierSettings),
}


def function_environments(template: Template) -> list[tuple[str, dict[str, Any]]]:
    functions = template.find_resources("AWS::Lambda::Function").values()
    return [(f["Properties"]["Handler"], f["Properties"]["Environment"]["Variables"]) for f in functions]


def _as_text(variables: dict[str, Any]) -> dict[str, str]:
    # References (table names, ARNs) are resolved at deploy time: any non-empty text stands in for them.
    fake = {"INGEST_TOKEN_BINDINGS": '{"' + "0" * 64 + '": {"provider": "emailbison", "workspaces": ["1"]}}'}
    return {k: v if isinstance(v, str) else fake.get(k, "deployed") for k, v in variables.items()}


def test_every_variable_the_stack_sets_is_read_by_its_function(template: Template) -> None:
    environments = function_environments(template)
    assert {handler for handler, _ in environments} == set(READERS)

    for handler, variables in environments:
        text = _as_text(variables)
        assert set(text) - POWERTOOLS - READERS[handler](text) == set(), handler


@pytest.mark.parametrize("variable", sorted(DEFAULTS))
def test_a_function_outside_the_stack_defaults_to_what_the_stack_sets(template: Template, variable: str) -> None:
    setting = DEFAULTS[variable]
    deployed = {v[variable] for _, v in function_environments(template) if variable in v}

    for value in deployed:
        assert setting.kind(value) == setting.default, variable
