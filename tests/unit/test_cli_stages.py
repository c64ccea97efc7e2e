"""Every `spillway` command that reaches a stack targets a stage's stack by name."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

import spillway_cli.main as cli_main
from spillway_cli.main import make_target
from spillway_cli.target import TargetError


class Reached(Exception):
    pass


@pytest.mark.parametrize(
    ("arguments", "stack_name"),
    [
        ([], "Spillway-staging"),  # cdk.json's default stage
        (["--stage", "staging"], "Spillway-staging"),
        (["--stage", "production"], "Spillway-production"),
        (["--stage", "production", "--stack-name", "Spillway-eu"], "Spillway-eu"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [["status"], ["inspect", "k"], ["replay", "k"], ["events"], ["pause"], ["resume"], ["dlq", "show", "processor"]],
)
def test_commands_resolve_the_stage_to_its_stack(
    command: list[str], arguments: list[str], stack_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[str] = []

    def capture(*args: Any) -> Any:
        resolved.append(make_target(*args).stack_name)
        raise Reached

    monkeypatch.setattr(cli_main, "make_target", capture)
    result = CliRunner().invoke(cli_main.cli, [*command, *arguments])

    assert isinstance(result.exception, Reached)
    assert resolved == [stack_name]


def test_an_unknown_stage_is_refused_by_the_parser() -> None:
    result = CliRunner().invoke(cli_main.cli, ["status", "--stage", "prod"])

    assert result.exit_code == 2
    assert "'prod' is not one of" in result.output


def test_the_profile_and_region_are_not_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    assert make_target(region="eu-west-1").region_name == "eu-west-1"
    with pytest.raises(TargetError, match="no AWS region"):
        make_target().client("dynamodb")  # no silent us-east-1 for AWS
    assert make_target(endpoint_url="http://127.0.0.1:4566").region_name == "us-east-1"  # the emulator's


def test_every_option_has_help_and_every_command_has_an_example() -> None:
    import click

    def walk(command: click.Command, path: str) -> list[str]:
        problems = []
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                problems += walk(sub, f"{path} {name}")
            return problems
        if "Example" not in (command.help or ""):
            problems.append(f"{path}: no example")
        problems += [f"{path} {p.name}: no help" for p in command.params if isinstance(p, click.Option) and not p.help]
        return problems

    assert walk(cli_main.cli, "spillway") == []
