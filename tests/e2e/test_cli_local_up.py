"""The README's first command, end to end: `spillway local up` brings the pipeline up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spillway_cli.emulator import free_port

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_local_up_deploys_and_prints_the_webhook_url() -> None:
    port = free_port()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "spillway"), "local", "up", "--no-follow", "--port", str(port)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"http://127.0.0.1:{port}/_aws/execute-api/" in result.stdout
    assert "/webhooks/emailbison?token=" in result.stdout
    assert "Spillway is up" in result.stdout
