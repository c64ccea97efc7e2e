"""Imports run one way (read from the source, not by importing it).

* The CLI, the benchmarks and the CDK app import only the core's public API
  (``spillway_core.PUBLIC_API``) and no module of a function (its handler or logic); a benchmark
  that runs a function invokes it by its handler name, as Lambda does (``bench.lambda_events.entry_point``).
* The core imports no function, and a function's logic imports no handler.
* Nothing outside tests/ imports tests/.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from spillway_core import PUBLIC_API

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
FUNCTION_PACKAGES = sorted(d.name for d in FUNCTIONS.iterdir() if (d / "handler.py").exists())
OUTSIDE_FUNCTIONS = ("spillway_cli", "bench", "infra")
NOT_TESTS = (*OUTSIDE_FUNCTIONS, "functions", "emulator", "tools")


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, with its line: ``from a import b`` counts as ``a`` and ``a.b``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def _is_module(name: str) -> bool:
    """Whether a dotted name is a module (``from pkg import attribute`` also yields ``pkg.attribute``)."""
    parts = name.split(".")
    base = FUNCTIONS if parts[0] in (*FUNCTION_PACKAGES, "spillway_core") else ROOT
    candidate = base.joinpath(*parts)
    return candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists()


def violations(path: Path, allowed_core: set[str]) -> list[str]:
    found = []
    for line, module in imported_modules(path):
        top = module.split(".")[0]
        if top in FUNCTION_PACKAGES:
            found.append(f"{_name(path)}:{line} imports the function module {module}")
        elif top == "spillway_core" and _is_module(module) and module not in {"spillway_core", *allowed_core}:
            found.append(f"{_name(path)}:{line} imports {module}, outside spillway_core.PUBLIC_API")
    return found


@pytest.mark.parametrize("path", python_files(*OUTSIDE_FUNCTIONS), ids=_name)
def test_operator_bench_and_infra_code_use_only_the_public_api_of_the_core(path: Path) -> None:
    assert violations(path, set(PUBLIC_API)) == []


def test_the_core_imports_no_function_and_logic_imports_no_handler() -> None:
    found = []
    for path in python_files("functions/spillway_core"):
        found += [f"{_name(path)}: {m}" for _, m in imported_modules(path) if m.split(".")[0] in FUNCTION_PACKAGES]
    for package in FUNCTION_PACKAGES:
        for path in python_files(f"functions/{package}"):
            if path.name != "handler.py":
                found += [f"{_name(path)}: {m}" for _, m in imported_modules(path) if m.endswith(".handler")]
    assert found == []


def test_nothing_outside_tests_imports_tests() -> None:
    found = [
        f"{_name(path)}:{line} imports {module}"
        for path in python_files(*NOT_TESTS)
        for line, module in imported_modules(path)
        if module.split(".")[0] == "tests"
    ]
    assert found == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    # The checker itself: a handler import, an internal core module and a tests import are all found.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import ingest.handler\nfrom spillway_core.aws import client\nfrom spillway_core import settings\n"
        "from spillway_core.keys import lead_pk\n"
    )
    found = violations(sample, set(PUBLIC_API))
    assert [v.split(" ", 1)[1] for v in found] == [
        "imports the function module ingest.handler",
        "imports spillway_core.aws, outside spillway_core.PUBLIC_API",
        "imports spillway_core.settings, outside spillway_core.PUBLIC_API",
    ]
