"""Cold start as Lambda loads the asset, against the bare SDK as the runtime provides it.

Lambda's code directory is read-only, so Python cannot cache bytecode there: whatever the asset ships
as source is compiled again at every cold start. This benchmark therefore loads each function from
an asset built exactly like the AWS asset (``infra.lambda_asset``: same files, same bytecode policy),
built for this machine's architecture and the configured runtime's Python (cdk.json
``spillway.lambdaPythonVersion``), run by an interpreter of that version, from a read-only copy, with
``PYTHONDONTWRITEBYTECODE=1`` and without ``site`` (only the asset and the runtime's SDK are on the
path, as on Lambda). The floor is ``import boto3; boto3.client("dynamodb")`` from the runtime's SDK
(``infra/runtime_sdk``), which, as in the runtime, comes with its bytecode.

Each round starts one fresh interpreter per measurement, interleaved, so drifts in machine load hit
all alike; ratios are taken within a round (paired), and the report gives their medians.

``python -m bench.lambda_cold_start [--runs N]`` writes bench/results/cold_start.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.config import SpillwayConfig, cdk_context, stack_environment
from infra.lambda_asset import (
    BYTECODE_INVALIDATION_MODE,
    build_lambda_asset,
    build_runtime_sdk,
    bytecode_interpreter,
    host_architecture,
)
from spillway_core.metrics import NAMESPACE

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"ingest": 1.25, "processor": 1.5}
STRETCH = {"ingest": 1.1}

_MARK = "cold-start-seconds="
_TIMED = "import time; _t = time.perf_counter()\n{body}\nprint('" + _MARK + "%r' % (time.perf_counter() - _t))\n"
FLOOR = _TIMED.format(body='import boto3\nboto3.client("dynamodb")')
# What each function does before it can serve its first event: import the handler, read its
# settings and build its clients (the handlers build them on first use and keep them warm).
INIT = {
    function: _TIMED.format(body=f"import {function}.handler\n{function}.handler._dependencies()")
    for function in ("ingest", "processor", "sweeper")
}
# The ingest as it was before its import path was trimmed: its settings were a pydantic model and its
# logic imported the payload models at import time.
INGEST_EAGER_PYDANTIC = _TIMED.format(
    body="import spillway_core.settings, spillway_core.payloads\nimport ingest.handler\ningest.handler._dependencies()"
)
# The processor as it was before its import path was trimmed: its settings were a pydantic model and
# it read the stored event with the payload model (the pydantic stack, loaded at its init).
PROCESSOR_EAGER_PYDANTIC = _TIMED.format(
    body="import spillway_core.settings, spillway_core.payloads\n"
    "import processor.handler\nprocessor.handler._dependencies()"
)
# The processor with Powertools' batch utility on its path, as before it ran its own batch loop.
PROCESSOR_POWERTOOLS_BATCH = _TIMED.format(
    body="import aws_lambda_powertools.utilities.batch\nimport processor.handler\nprocessor.handler._dependencies()"
)
# The ingest's first request, an accepted webhook, with DynamoDB stubbed (no network): whatever the
# init left for later (lazy imports) is paid here, on the same cold request.
_WEBHOOK = {
    "event": {"type": "EMAIL_SENT", "name": "Email Sent", "workspace_id": 1, "workspace_name": "W"},
    "data": {
        "campaign": {"id": 7, "name": "C"},
        "lead": {"id": 42, "email": "lead@example.com"},
        "scheduled_email": {"id": 99, "email_subject": "Hi", "sent_at": "2026-01-01T00:00:00Z"},
        "sender_email": {"id": 3, "email": "sender@example.com"},
    },
}
_TOKEN = "bench-token"
INGEST_FIRST_REQUEST = _TIMED.format(
    body=f"""import ingest.handler
from botocore.stub import Stubber
_settings, _store = ingest.handler._dependencies()
_stub = Stubber(_store._ddb)
_stub.add_response("put_item", {{}})
_stub.activate()
_event = {{"body": {json.dumps(json.dumps(_WEBHOOK))}, "isBase64Encoded": False,
          "headers": {{"content-type": "application/json", "x-spillway-token": "{_TOKEN}"}},
          "pathParameters": {{"provider": "emailbison"}}, "queryStringParameters": None}}
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    _answer = ingest.handler.lambda_handler(_event, None)
assert _answer["statusCode"] == 200, _answer"""
)

# The processor's first event, up to the writes it plans (the store calls need a network): the stored
# event as the ingest writes it for that webhook, read and planned.
_STORED_EVENT = (
    '{"provider":"emailbison","event_type":"EMAIL_SENT","workspace_id":"1","workspace_name":"W","campaign_id":"7",'
    '"campaign_name":"C","lead_id":"42","lead_email":"lead@example.com","sender_email_id":"3",'
    '"sender_email":"sender@example.com","scheduled_email_id":"99","subject":"Hi","sent_at":"2026-01-01T00:00:00Z"}'
)
PROCESSOR_FIRST_EVENT = _TIMED.format(
    body=f"""import processor.handler
processor.handler._dependencies()
from processor.logic import NormalisedEvent, plan_effect
plan_effect("emailbison::1:EMAIL_SENT:99", NormalisedEvent.model_validate_json({_STORED_EVENT!r}), 0)"""
)


def _environment() -> dict[str, str]:
    import hashlib

    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    return {
        **keep,
        **stack_environment(),  # what the stack sets from cdk.json
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "EVENTS_TABLE": "events",
        "DOMAIN_TABLE": "domain",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        "INGEST_TOKEN_BINDINGS": json.dumps(
            {hashlib.sha256(_TOKEN.encode()).hexdigest(): {"provider": "emailbison", "workspaces": ["1"]}}
        ),
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    }


def _read_only_copy(source: Path, destination: Path, *, bytecode: str = "keep") -> Path:
    """A copy the benchmark cannot write into, like Lambda's /var/task. ``bytecode``: keep, drop, or
    an invalidation mode to compile the copy's sources again with."""
    shutil.copytree(source, destination, symlinks=True)
    if bytecode != "keep":
        for cache in list(destination.rglob("__pycache__")):
            shutil.rmtree(cache)
    return destination


def _make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


@contextlib.contextmanager
def layouts(python_version: str) -> Iterator[tuple[str, dict[str, list[Path]], Path]]:
    """The interpreter and the read-only layouts to measure: name -> PYTHONPATH entries."""
    interpreter = bytecode_interpreter(python_version)
    architecture = host_architecture()
    shipped = build_lambda_asset(architecture, python_version, bundle_sdk=False)
    bundled = build_lambda_asset(architecture, python_version, bundle_sdk=True)
    sdk = build_runtime_sdk(python_version)
    with tempfile.TemporaryDirectory(prefix="spillway-cold-start-") as scratch:
        root = Path(scratch)
        runtime_sdk = _read_only_copy(sdk, root / "runtime-sdk")
        before = _read_only_copy(bundled, root / "source-only", bytecode="drop")
        checked = _read_only_copy(bundled, root / "checked-hash", bytecode="drop")
        subprocess.run(
            [
                interpreter,
                "-I",
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "checked-hash",
                str(checked),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        unchecked = _read_only_copy(bundled, root / "unchecked-hash-bundled")
        aws = _read_only_copy(shipped, root / "aws-asset")
        aws_source_only = _read_only_copy(shipped, root / "aws-asset-source-only", bytecode="drop")
        for path in (runtime_sdk, before, checked, unchecked, aws, aws_source_only):
            _make_read_only(path)
        try:
            yield (
                interpreter,
                {
                    "floor": [runtime_sdk],
                    "before": [before, runtime_sdk],
                    "checked_hash_bundled_sdk": [checked, runtime_sdk],
                    "unchecked_hash_bundled_sdk": [unchecked, runtime_sdk],
                    "after": [aws, runtime_sdk],
                    # What a runtime we cannot compile bytecode for (python3.14 here) would load.
                    "source_only_runtime_sdk": [aws_source_only, runtime_sdk],
                },
                aws,
            )
        finally:
            for path in root.rglob("*"):
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o200)


def _once(interpreter: str, code: str, path: list[Path], environment: dict[str, str]) -> float:
    # -S: no site-packages of the measuring interpreter; only the asset and the runtime's SDK.
    env = {**environment, "PYTHONPATH": os.pathsep.join(map(str, path))}
    done = subprocess.run([interpreter, "-S", "-c", code], env=env, capture_output=True, text=True, check=False)
    marked = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not marked:
        output = f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        raise RuntimeError(f"cold-start probe failed (exit {done.returncode}, {path}):\n{code}\n{output}")
    return float(marked[-1].removeprefix(_MARK)) * 1000


def _probes() -> list[tuple[str, str, str, str]]:
    """(key, layout, code, function): the floor, each function before and after, and the levers."""
    probes = [("floor", "floor", FLOOR, "floor")]
    for function, code in INIT.items():
        probes += [(f"{function}_before", "before", code, function), (f"{function}_after", "after", code, function)]
    probes += [
        ("ingest_checked_hash_bundled_sdk", "checked_hash_bundled_sdk", INIT["ingest"], "ingest"),
        ("ingest_unchecked_hash_bundled_sdk", "unchecked_hash_bundled_sdk", INIT["ingest"], "ingest"),
        ("ingest_eager_pydantic_after", "after", INGEST_EAGER_PYDANTIC, "ingest"),
        ("ingest_source_only_runtime_sdk", "source_only_runtime_sdk", INIT["ingest"], "ingest"),
        ("ingest_first_request_after", "after", INGEST_FIRST_REQUEST, "ingest"),
        ("processor_eager_pydantic_after", "after", PROCESSOR_EAGER_PYDANTIC, "processor"),
        ("processor_first_event_after", "after", PROCESSOR_FIRST_EVENT, "processor"),
        ("processor_powertools_batch_after", "after", PROCESSOR_POWERTOOLS_BATCH, "processor"),
    ]
    return probes


def _top_imports(
    interpreter: str, path: list[Path], environment: dict[str, str], limit: int = 8
) -> list[dict[str, Any]]:
    import re

    env = {**environment, "PYTHONPATH": os.pathsep.join(map(str, path))}
    stderr = subprocess.run(
        [interpreter, "-S", "-X", "importtime", "-c", INIT["ingest"]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    totals: dict[str, int] = {}
    for line in stderr.splitlines():
        if match := re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line):
            package = match.group(2).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    return [{"package": name, "ms": round(us / 1000, 1)} for name, us in ranked]


def measure(runs: int = 15, python_version: str | None = None) -> dict[str, Any]:
    """``python_version``: another runtime's, to compare; by default the configured runtime's."""
    python_version = python_version or SpillwayConfig.from_context(cdk_context().get("spillway")).lambda_python_version
    environment = _environment()
    samples: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    with layouts(python_version) as (interpreter, paths, aws_asset):
        version = subprocess.run(
            [interpreter, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, check=True
        ).stdout.strip()
        started, load_before = time.time(), os.getloadavg()
        shuffle = random.Random(13)
        for _ in range(runs):
            # A new order every round, so that no probe always runs first (or right after the floor).
            probes = _probes()
            shuffle.shuffle(probes)
            elapsed = {key: _once(interpreter, code, paths[layout], environment) for key, layout, code, _ in probes}
            for key, value in elapsed.items():
                samples.setdefault(key, []).append(value)
                if key != "floor":
                    ratios.setdefault(key, []).append(value / elapsed["floor"])
        top = _top_imports(interpreter, paths["after"], environment)
        sdk_in_asset = sorted(p.name for p in aws_asset.iterdir() if p.name in {"boto3", "botocore", "urllib3"})
    medians = {key: round(statistics.median(values), 1) for key, values in samples.items()}
    paired = {key: round(statistics.median(values), 3) for key, values in ratios.items()}
    return {
        "how": (
            f"asset built like the AWS asset for {host_architecture()} and Python {python_version} "
            f"({BYTECODE_INVALIDATION_MODE} bytecode, runtime SDK left out), copied read-only, run by Python "
            f"{version} with -S and PYTHONDONTWRITEBYTECODE=1; floor: import boto3 + client from the runtime's "
            f"SDK with bytecode; median of {runs} rounds of paired fresh interpreters"
        ),
        "runs": runs,
        "python": version,
        "runtime": f"python{python_version}",
        "architecture": host_architecture(),
        "bytecode": BYTECODE_INVALIDATION_MODE,
        "sdk_packages_in_asset": sdk_in_asset,
        "seconds": round(time.time() - started, 1),
        "load_average_1min_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "median_ms": medians,
        "median_ratio_to_floor": paired,
        "targets": TARGETS,
        "stretch": STRETCH,
        "top_imports_ingest_after": top,
    }


def report(results: dict[str, Any]) -> str:
    m, r = results["median_ms"], results["median_ratio_to_floor"]

    def row(label: str, key: str, target: str | None = "") -> str:
        return f"| {label} | {m[key]} ms | {r[key]} |" + ("" if target is None else f" {target} |")

    def lever(label: str, key: str) -> str:
        return row(label, key, target=None)

    lines = [
        "# Cold start as Lambda loads the asset",
        "",
        f"How: {results['how']}.",
        "",
        f'Floor (`import boto3; boto3.client("dynamodb")`, runtime SDK with bytecode): **{m["floor"]} ms**.',
        "",
        "| function: import + settings + clients | median | x floor (paired median) | target |",
        "|---|---|---|---|",
        row("ingest, before (source only, SDK bundled)", "ingest_before"),
        row("ingest, after (as shipped)", "ingest_after", "≤ 1.25 (stretch 1.1)"),
        row("ingest, after, + first accepted request (DynamoDB stubbed)", "ingest_first_request_after"),
        row("processor, before", "processor_before"),
        row("processor, after", "processor_after", "≤ 1.5"),
        row("processor, after, + first event read and planned (store calls left out)", "processor_first_event_after"),
        row("sweeper, before", "sweeper_before"),
        row("sweeper, after", "sweeper_after"),
        "",
        f"Machine load (1-minute average) before/after: {results['load_average_1min_before_after']} on "
        f"{os.cpu_count()} CPUs shared with other work: absolute times are inflated by it; ratios are paired.",
        "",
        "Levers, ingest (same round, same floor):",
        "",
        "| layout | median | x floor |",
        "|---|---|---|",
        lever("source only, SDK bundled (before)", "ingest_before"),
        lever("source only, runtime SDK (no bytecode for our code and dependencies)", "ingest_source_only_runtime_sdk"),
        lever("checked-hash bytecode, SDK bundled", "ingest_checked_hash_bundled_sdk"),
        lever("unchecked-hash bytecode, SDK bundled", "ingest_unchecked_hash_bundled_sdk"),
        lever(
            "unchecked-hash bytecode, runtime SDK, pydantic on the import path (old import path)",
            "ingest_eager_pydantic_after",
        ),
        lever("unchecked-hash bytecode, runtime SDK, light import path (shipped)", "ingest_after"),
        "",
        "Levers, processor (same round, same floor):",
        "",
        "| layout | median | x floor |",
        "|---|---|---|",
        lever("source only, SDK bundled (before)", "processor_before"),
        lever(
            "unchecked-hash bytecode, runtime SDK, + the pydantic settings and payload models loaded at init "
            "(as the stored event was read before)",
            "processor_eager_pydantic_after",
        ),
        lever(
            "unchecked-hash bytecode, runtime SDK, + Powertools' batch utility (BatchProcessor) imported",
            "processor_powertools_batch_after",
        ),
        lever(
            "unchecked-hash bytecode, runtime SDK, neither pydantic nor Powertools' batch utility (shipped)",
            "processor_after",
        ),
        "",
        f"SDK packages in the shipped asset: {results['sdk_packages_in_asset'] or 'none'}. "
        "Top import costs of the ingest as shipped (-X importtime, self time by package): "
        + ", ".join(f"{i['package']} {i['ms']} ms" for i in results["top_imports_ingest_after"])
        + ".",
    ]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any]) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (RESULTS / "cold_start.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", help="measure for another runtime's Python (printed, not written)")
    args = parser.parse_args()
    results = measure(runs=args.runs, python_version=args.python)
    print(report(results) if args.python else write(results))


if __name__ == "__main__":
    main()
