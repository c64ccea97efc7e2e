"""Every `spillway` command that reaches a stack targets a stage's stack by name."""

from __future__ import annotations

import pytest

from spillway_cli.main import _target, build_parser


@pytest.mark.parametrize(
    ("arguments", "stack_name"),
    [
        ([], "Spillway-staging"),  # cdk.json's default stage
        (["--stage", "staging"], "Spillway-staging"),
        (["--stage", "production"], "Spillway-production"),
        (["--stage", "production", "--stack-name", "Spillway-eu"], "Spillway-eu"),
    ],
)
@pytest.mark.parametrize("command", [["status"], ["inspect", "k"], ["replay", "k"]])
def test_commands_resolve_the_stage_to_its_stack(command: list[str], arguments: list[str], stack_name: str) -> None:
    args = build_parser().parse_args([*command, *arguments])

    assert _target(args).stack_name == stack_name


def test_an_unknown_stage_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "--stage", "prod"])

    assert "invalid choice: 'prod'" in capsys.readouterr().err
