"""The environment a function gets from the stack, for functions run in-process: the functions have
no defaults for what the stack sets (cdk.json is the one place those values are written)."""

from __future__ import annotations

from collections.abc import Mapping

from infra.config import stack_environment

STACK = stack_environment()


def stack_with(variables: Mapping[str, str]) -> dict[str, str]:
    """The stack's variables, with ``variables`` over them (tables, topics, a test's own values)."""
    return {**STACK, **variables}
