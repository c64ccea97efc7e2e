"""Runs the local AWS emulator (ministack, from its own environment in .venv-emulator)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_BIN = REPO_ROOT / ".venv-emulator" / "bin" / "ministack"
EMULATOR_PYTHON = REPO_ROOT / ".venv-emulator" / "bin" / "python"
# ministack, with each DynamoDB-stream mapping polled on its own, up to its ParallelizationFactor
# batches at once, as Lambda does (ministack alone polls every mapping from one thread, one batch at
# a time, so one lane waits for the other's batch). See the module's docstring.
STREAM_POLLERS = REPO_ROOT / "emulator" / "stream_pollers.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Emulator:
    """A ministack process on a loopback port; a context manager that always stops it."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"spillway-emulator-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        # ministack unpacks every Lambda worker it starts (about 66 MB each for these functions) into
        # the temporary directory, and leaves them there when it is stopped: a day of test runs filled
        # the disk. It gets a directory of its own, removed when it stops.
        self.scratch_dir: Path | None = None

    def start(self, timeout_s: float = 60.0) -> Emulator:
        if not EMULATOR_BIN.exists():
            raise RuntimeError(f"{EMULATOR_BIN} is missing: run `make setup`")
        self.scratch_dir = Path(tempfile.mkdtemp(prefix=f"spillway-emulator-{self.port}-"))
        env = {
            **os.environ,
            "TMPDIR": str(self.scratch_dir),
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_HOST": "127.0.0.1",
            "LAMBDA_EXECUTOR": "local",
            "LOG_LEVEL": "WARNING",
        }
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [str(EMULATOR_PYTHON), str(STREAM_POLLERS)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the emulator exited early; see {self.log_path}")
            if self._healthy():
                return self
            time.sleep(0.2)  # the health endpoint is asked again five times a second until it answers
        self.stop()
        raise RuntimeError(f"the emulator did not become healthy in {timeout_s}s; see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/_ministack/health", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.scratch_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
