"""Builds the Lambda code asset without Docker: locked dependencies for the target platform + our code.

One asset serves every function (each has its own handler inside it). Dependencies are exactly
the project's runtime dependencies from ``uv.lock``, installed as binary wheels for the target
architecture and Python version, so an arm64 build for AWS works from an x86_64 machine. Builds are
cached under ``.build/`` by a hash of what goes in, so a synth with nothing changed builds nothing
(and needs no network once the wheels are in uv's cache).

Cold start: Lambda's code directory is read-only, so Python cannot cache bytecode there and compiles
every module shipped as source at every cold start. The asset therefore ships bytecode, compiled by
an interpreter of exactly the runtime's minor version (the .pyc magic number changes with it) and
hash-based (PEP 552 ``unchecked-hash``): an asset zip does not keep source timestamps, so
timestamp-based .pyc files would be stale on arrival. The AWS asset leaves out the AWS SDK and its
dependencies: the runtime provides them, with their bytecode, and they cannot drift from its own.
"""

from __future__ import annotations

import contextlib
import glob
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
RUNTIME_SDK_REQUIREMENTS = Path(__file__).resolve().parent / "runtime_sdk" / "requirements.txt"
# SPILLWAY_BUILD_DIR moves the build cache (a test uses it to synthesize from a cold cache).
BUILD_ROOT = Path(os.environ.get("SPILLWAY_BUILD_DIR") or REPO_ROOT / ".build") / "lambda"
PACKAGES = ("spillway_core", "ingest", "processor", "sweeper", "notifier")

_UV_PLATFORMS = {"arm64": "aarch64-manylinux2014", "x86_64": "x86_64-manylinux2014"}

# The AWS SDK and its dependencies, as the Lambda Python runtimes install them ahead of time.
RUNTIME_SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
# PEP 552: the .pyc carries a hash of its source and Python does not check it at import.
BYTECODE_INVALIDATION_MODE = "unchecked-hash"
# An explicit interpreter for the bytecode, when none of the usual places has one of the runtime's version.
BYTECODE_PYTHON_ENV = "SPILLWAY_BYTECODE_PYTHON"
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the asset


class MissingInterpreter(RuntimeError):
    """No interpreter of the runtime's minor version is available to compile the asset's bytecode."""


def host_architecture() -> str:
    return "arm64" if platform.machine().lower() in {"arm64", "aarch64"} else "x86_64"


def host_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _interpreter_version(executable: str) -> str | None:
    try:
        result = subprocess.run(
            [executable, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _interpreter_candidates(python_version: str) -> list[str]:
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    return [
        *([explicit] if (explicit := os.environ.get(BYTECODE_PYTHON_ENV)) else []),
        sys.executable,
        *([found] if (found := shutil.which(f"python{python_version}")) else []),
        *sorted(glob.glob(f"{pyenv_root}/versions/{python_version}.*/bin/python{python_version}"), reverse=True),
        f"/usr/local/bin/python{python_version}",
        f"/usr/bin/python{python_version}",
    ]


def bytecode_interpreter(python_version: str) -> str:
    """An interpreter of exactly ``python_version`` (major.minor), to compile bytecode the runtime accepts."""
    for candidate in _interpreter_candidates(python_version):
        if _interpreter_version(candidate) == python_version:
            return candidate
    raise MissingInterpreter(
        f"The Lambda asset ships bytecode for the python{python_version} runtime, which only a Python "
        f"{python_version} interpreter can compile, and none was found (looked at ${BYTECODE_PYTHON_ENV}, "
        f"python{python_version} on PATH, pyenv's versions/{python_version}.*, /usr/local/bin, /usr/bin). "
        f"Install Python {python_version} (for example `pyenv install {python_version}`) or set "
        f"{BYTECODE_PYTHON_ENV} to one, or choose a runtime whose interpreter this machine has "
        f"(cdk.json: spillway.lambdaPythonVersion)."
    )


def _compile_bytecode(interpreter: str, root: Path, *directories: Path) -> None:
    """Compiles ``directories`` (default: all of ``root``) as the runtime will find them, under /var/task.

    Reproducible, so that the same inputs give the same asset hash on any machine: file names in the
    bytecode are /var/task's rather than this build directory's, and one process compiles the files
    in compileall's sorted order (marshal's output depends on what the process compiled before, so
    parallel workers would vary it). A clean environment with a fixed hash seed: nothing of the
    caller's changes what gets compiled, and set constants are written in the same order every time.
    """
    subprocess.run(
        [
            interpreter,
            "-s",
            "-m",
            "compileall",
            "-q",
            "-s",
            str(root),
            "-p",
            LAMBDA_TASK_ROOT,
            "--invalidation-mode",
            BYTECODE_INVALIDATION_MODE,
            *map(str, directories or (root,)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
    )


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


def _build_dependencies(architecture: str, python_version: str, bundle_sdk: bool, interpreter: str) -> Path:
    left_out = () if bundle_sdk else RUNTIME_SDK_PACKAGES
    key = _digest(
        [
            LOCK_FILE.read_bytes(),
            architecture.encode(),
            python_version.encode(),
            BYTECODE_INVALIDATION_MODE.encode(),
            LAMBDA_TASK_ROOT.encode(),
            *(name.encode() for name in left_out),
        ]
    )
    sdk = "sdk" if bundle_sdk else "nosdk"
    target = BUILD_ROOT / f"deps-{architecture}-py{_dotless(python_version)}-{sdk}-{key}"
    if target.exists():
        return target
    with _staged(target) as staging, tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        # uv writes the file itself: nothing parses a tool's (possibly decorated) standard output.
        requirements = Path(scratch) / "requirements.txt"
        _run_uv(
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--quiet",
            *(f"--no-emit-package={name}" for name in left_out),
            "--output-file",
            str(requirements),
        )
        _install_wheels(staging, requirements, architecture, python_version)
        _compile_bytecode(interpreter, staging)
    return target


def _install_wheels(staging: Path, requirements: Path, architecture: str, python_version: str, *options: str) -> None:
    """Installs the requirements' wheels for Lambda's platform into ``staging``, without bytecode (the
    caller compiles it with the runtime's exact Python)."""
    _run_uv(
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--no-compile",
        *options,
        "--target",
        str(staging),
        "--python-platform",
        _UV_PLATFORMS[architecture],
        "--python-version",
        python_version,
        "--requirements",
        str(requirements),
    )


def build_lambda_asset(architecture: str, python_version: str, *, bundle_sdk: bool = False) -> Path:
    """Returns a directory ready for ``lambda.Code.from_asset``: sources plus their hash-based bytecode.

    ``bundle_sdk=False`` (the AWS asset) leaves the SDK to the runtime; the local emulator runs
    Lambdas with the host's Python and site, so its asset brings its own.
    """
    interpreter = bytecode_interpreter(python_version)
    deps = _build_dependencies(architecture, python_version, bundle_sdk, interpreter)
    sources = _source_files()
    key = _digest([deps.name.encode()] + [str(p.relative_to(REPO_ROOT)).encode() + p.read_bytes() for p in sources])
    target = BUILD_ROOT / f"asset-{architecture}-py{_dotless(python_version)}-{key}"
    if target.exists():
        return target
    with _staged(target) as staging:
        shutil.copytree(deps, staging, dirs_exist_ok=True)
        for source in sources:
            destination = staging / source.relative_to(FUNCTIONS_DIR)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        # The dependencies' bytecode came with them; only our own sources are new here.
        _compile_bytecode(interpreter, staging, *(staging / package for package in PACKAGES))
    return target


def build_runtime_sdk(python_version: str) -> Path:
    """The AWS SDK as a Lambda runtime provides it, for this machine: pinned (``runtime_sdk/``), with
    ordinary timestamp-based bytecode compiled ahead of time, as in the runtime's own site-packages."""
    interpreter = bytecode_interpreter(python_version)
    key = _digest([RUNTIME_SDK_REQUIREMENTS.read_bytes(), host_architecture().encode(), python_version.encode()])
    target = BUILD_ROOT / f"runtime-sdk-{host_architecture()}-py{_dotless(python_version)}-{key}"
    if target.exists():
        return target
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with _staged(target) as staging:
        _install_wheels(staging, RUNTIME_SDK_REQUIREMENTS, host_architecture(), python_version, "--require-hashes")
        subprocess.run(
            [interpreter, "-I", "-m", "compileall", "-q", "-j", "0", str(staging)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return target
