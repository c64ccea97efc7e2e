"""The asset build leaves nothing half-built behind and tolerates a concurrent build of the same asset."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import lambda_asset


def test_a_failed_dependency_build_leaves_no_staging_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(lambda_asset, "BUILD_ROOT", tmp_path)
    monkeypatch.setattr(lambda_asset, "_uv", lambda: "false")  # a uv that fails every command

    with pytest.raises(subprocess.CalledProcessError):
        lambda_asset.build_lambda_asset("arm64", "3.13")

    assert list(tmp_path.iterdir()) == []


def test_a_build_that_loses_the_race_to_an_identical_one_keeps_the_winner(tmp_path: Path) -> None:
    target = tmp_path / "asset-x"

    with lambda_asset._staged(target) as staging:
        (staging / "module.py").write_text("ours")
        target.mkdir()  # another synth finished the same asset meanwhile
        (target / "module.py").write_text("theirs")

    assert (target / "module.py").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["asset-x"]


def test_a_successful_build_is_readable_by_everyone(tmp_path: Path) -> None:
    target = tmp_path / "asset-y"

    with lambda_asset._staged(target) as staging:
        (staging / "module.py").write_text("code")

    assert target.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["asset-y"]
