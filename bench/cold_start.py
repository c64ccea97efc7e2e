"""Secondary measurement, NOT how Lambda loads the asset (see bench/lambda_cold_start.py): the ingest
imported from the development venv, where bytecode is cached. Ingest cold start: importing the
handler and building what it needs, against the floor of `import boto3; boto3.client("dynamodb")`,
each in fresh interpreters, interleaved, median of N."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from typing import Any

from infra.config import stack_environment
from spillway_core.metrics import Service

FLOOR = """
import time; t = time.perf_counter()
import boto3
boto3.client("dynamodb", region_name="us-east-1")
print(time.perf_counter() - t)
"""
INGEST = """
import time; t = time.perf_counter()
import ingest.handler
ingest.handler._dependencies()
print(time.perf_counter() - t)
"""
ENV = {
    **os.environ,
    **stack_environment(),  # what the stack sets from cdk.json
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "EVENTS_TABLE": "events",
    "INGEST_TOKEN_BINDINGS": '{"' + "a" * 64 + '": {"provider": "emailbison", "workspaces": ["12"]}}',
    "POWERTOOLS_SERVICE_NAME": Service.INGEST,
}


def _once(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", code], env=ENV, capture_output=True, text=True, check=True)


def top_imports(limit: int = 8) -> list[dict[str, Any]]:
    """Import time by top-level package (the sum of each module's own time), from -X importtime."""
    stderr = _once(INGEST, "-X", "importtime").stderr
    totals: dict[str, int] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    return [{"package": name, "ms": round(us / 1000, 1)} for name, us in ranked]


def measure(runs: int = 11) -> dict[str, Any]:
    floor, ingest = [], []
    for _ in range(runs):  # interleaved, so drifts in machine load hit both alike
        floor.append(float(_once(FLOOR).stdout))
        ingest.append(float(_once(INGEST).stdout))
    floor_ms, ingest_ms = statistics.median(floor) * 1000, statistics.median(ingest) * 1000
    return {
        "runs": runs,
        "floor_ms": round(floor_ms, 1),
        "ingest_ms": round(ingest_ms, 1),
        "ratio": round(ingest_ms / floor_ms, 3),
        "target": 1.5,
        "stretch": 1.25,
        "top_imports": top_imports(),
    }


if __name__ == "__main__":
    print(measure())
