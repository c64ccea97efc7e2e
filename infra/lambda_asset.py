"""Builds the Lambda code asset without Docker: locked dependencies for the target platform + our code.

One asset serves all three functions (each has its own handler inside it). Dependencies are exactly
the project's runtime dependencies from ``uv.lock``, installed as binary wheels for the target
architecture and Python version, so an arm64 build for AWS works from an x86_64 machine. Builds are
cached under ``.build/`` by a hash of what goes in, so a synth with nothing changed builds nothing
(and needs no network once the wheels are in uv's cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LOCK_FILE = REPO_ROOT / "uv.lock"
# SPILLWAY_BUILD_DIR moves the build cache (a test uses it to synthesize from a cold cache).
BUILD_ROOT = Path(os.environ.get("SPILLWAY_BUILD_DIR") or REPO_ROOT / ".build") / "lambda"
PACKAGES = ("spillway_core", "ingest", "processor", "sweeper", "notifier")

_UV_PLATFORMS = {"arm64": "aarch64-manylinux2014", "x86_64": "x86_64-manylinux2014"}


def host_architecture() -> str:
    return "arm64" if platform.machine().lower() in {"arm64", "aarch64"} else "x86_64"


def host_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _uv() -> str:
    beside_python = Path(sys.executable).parent / "uv"
    found = str(beside_python) if beside_python.exists() else shutil.which("uv")
    if not found:
        raise RuntimeError("uv is needed to build the Lambda asset: run `make setup`")
    return found


def _source_files() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (FUNCTIONS_DIR / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def _dotless(version: str) -> str:
    # The CDK takes whatever follows a directory name's last dot as an extension of the staged asset.
    return version.replace(".", "")


def _digest(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def _tool_environment() -> dict[str, str]:
    """The environment for uv: colour off whatever the caller forced (the CDK CLI sets FORCE_COLOR)."""
    environment = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "CLICOLOR_FORCE"}}
    environment["NO_COLOR"] = "1"
    return environment


def _run_uv(*arguments: str) -> None:
    subprocess.run([_uv(), *arguments, "--color", "never"], cwd=REPO_ROOT, check=True, env=_tool_environment())


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A staging directory of this build's own that becomes ``target`` only if the build succeeds.

    Two synths may build the same target at once (tests run in parallel): the first rename wins and
    the other build's identical result is dropped. Nothing is left behind on failure.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".tmp", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would become the asset directory's mode
    try:
        yield staging
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _build_dependencies(architecture: str, python_version: str) -> Path:
    key = _digest([LOCK_FILE.read_bytes(), architecture.encode(), python_version.encode()])
    target = BUILD_ROOT / f"deps-{architecture}-py{_dotless(python_version)}-{key}"
    if target.exists():
        return target
    with _staged(target) as staging, tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        # uv writes the file itself: nothing parses a tool's (possibly decorated) standard output.
        requirements = Path(scratch) / "requirements.txt"
        _run_uv("export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--no-header", "--quiet",
                "--output-file", str(requirements))  # fmt: skip
        _run_uv("pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:", "--no-compile",
                "--target", str(staging),
                "--python-platform", _UV_PLATFORMS[architecture],
                "--python-version", python_version,
                "--requirements", str(requirements))  # fmt: skip
    return target


def build_lambda_asset(architecture: str, python_version: str) -> Path:
    """Returns a directory ready for ``lambda.Code.from_asset``."""
    deps = _build_dependencies(architecture, python_version)
    sources = _source_files()
    key = _digest([deps.name.encode()] + [str(p.relative_to(REPO_ROOT)).encode() + p.read_bytes() for p in sources])
    target = BUILD_ROOT / f"asset-{architecture}-py{_dotless(python_version)}-{key}"
    if target.exists():
        return target
    with _staged(target) as staging:
        shutil.copytree(deps, staging, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        for source in sources:
            destination = staging / source.relative_to(FUNCTIONS_DIR)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target
