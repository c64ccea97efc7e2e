"""`make bench ARGS=--quick` writes into a git-ignored folder, never over the committed full results."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from bench import run

ROOT = Path(__file__).resolve().parents[2]


def result_writers() -> list[str]:
    """Every benchmark module that writes into a RESULTS folder of its own."""
    return sorted(
        f"bench.{path.stem}"
        for path in (ROOT / "bench").glob("*.py")
        if path.stem != "run" and re.search(r"^RESULTS = ", path.read_text(), re.MULTILINE)
    )


def test_a_quick_run_points_every_writer_at_the_quick_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = [importlib.import_module(name) for name in result_writers()]
    for module in modules:
        monkeypatch.setattr(module, "RESULTS", module.RESULTS)  # restored after the test
    quick = tmp_path / "quick"

    run.write_results_into(quick)

    assert {module.__name__: module.RESULTS for module in modules} == {module.__name__: quick for module in modules}
    assert (quick / "cost_before.json").exists()  # the cost report's input comes along


def test_the_quick_folder_is_inside_results_and_git_ignored() -> None:
    assert run.QUICK_RESULTS.parent == run.RESULTS
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert run.QUICK_RESULTS.relative_to(ROOT).as_posix() + "/" in ignored
