"""The settings contract between the stack and the functions.

Every environment variable the stack sets is one its function reads (a setting nobody reads is a
second, dead copy of a rule), and a function has no default for what the stack sets: cdk.json is the
one place those values are written, and a function missing one refuses to start. In-process runs
(tests, benchmarks) are given the stack's values (``infra.config.stack_environment``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Template
from pydantic import BaseModel

from infra.config import stack_environment
from spillway_core import environment
from spillway_core.plain_settings import IngestSettings, ProcessorSettings
from spillway_core.settings import NotifierSettings, SweeperSettings

POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
SETTINGS = {s.env: s for s in vars(environment).values() if isinstance(s, environment.Setting)}


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


# Each function's settings, by the handler the stack names.
SETTINGS_OF: dict[str, Any] = {
    "ingest.handler.lambda_handler": IngestSettings,
    "processor.handler.lambda_handler": ProcessorSettings,
    "sweeper.handler.lambda_handler": SweeperSettings,
    "notifier.handler.lambda_handler": NotifierSettings,
}
READERS = {
    handler: _read_by_model(settings) if issubclass(settings, BaseModel) else _read_plainly(settings.from_env)
    for handler, settings in SETTINGS_OF.items()
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


def test_the_settings_with_no_default_are_those_the_stack_sets_from_cdk_json(template: Template) -> None:
    deployed = {name for _, variables in function_environments(template) for name in variables}
    required = {name for name, setting in SETTINGS.items() if setting.default is None}
    assert required == set(stack_environment()) and required <= deployed
    # What a function may default is what no function of the stack is given.
    assert {name for name, setting in SETTINGS.items() if setting.default is not None}.isdisjoint(deployed)


@pytest.mark.parametrize("variable", sorted(stack_environment()))
def test_a_function_without_a_variable_the_stack_sets_refuses_to_start(template: Template, variable: str) -> None:
    for handler, variables in function_environments(template):
        text = _as_text(variables)
        if variable not in text:
            continue
        SETTINGS_OF[handler].from_env(text)  # as deployed: it starts
        del text[variable]
        with pytest.raises(ValueError, match=variable):
            SETTINGS_OF[handler].from_env(text)
