"""Ingest warm cost: CPU time per request of the real handler (auth, parse, normalise, build the
item, one conditional PutItem through botocore) against a minimal handler that only does
`json.loads` and the same PutItem, both talking to the same stub endpoint."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.lambda_events import FakeContext, api_request, entry_point, load_fixture, stdout_to
from infra.config import INGEST_HANDLER, stack_environment
from spillway_cli.emulator import free_port
from spillway_cli.tokens import SAMPLE_WORKSPACE, binding, bindings_json

TOKEN = "bench-token"
REPO = Path(__file__).resolve().parent.parent


def _event(payload: dict[str, Any], n: int) -> dict[str, Any]:
    payload["data"]["scheduled_email"]["id"] = n
    return api_request(payload, token=TOKEN)


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    with open(os.devnull, "w") as devnull, stdout_to(devnull):
        yield


def measure(requests: int = 2000, rounds: int = 5) -> dict[str, Any]:
    port = free_port()
    stub = subprocess.Popen([sys.executable, "-m", "bench.stub_dynamodb", str(port)], cwd=REPO, stdout=subprocess.PIPE)
    saved_env = dict(os.environ)
    try:
        assert stub.stdout is not None and stub.stdout.readline().strip() == b"ready"
        return _measure(port, requests, rounds)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)  # the stub endpoint must not leak into the next benchmark
        stub.terminate()
        stub.wait()


def _measure(port: int, requests: int, rounds: int) -> dict[str, Any]:
    os.environ.update(
        {
            **stack_environment(),  # what the stack sets from cdk.json
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{port}",
            "EVENTS_TABLE": "events",
            "INGEST_TOKEN_BINDINGS": bindings_json(
                {hashlib.sha256(TOKEN.encode()).hexdigest(): binding("emailbison", [SAMPLE_WORKSPACE])}
            ),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    import boto3
    from botocore.config import Config

    payload = load_fixture("email_sent.json")
    events = [_event(json.loads(json.dumps(payload)), n) for n in range(requests)]
    context = FakeContext()
    ingest_handler = entry_point(INGEST_HANDLER)  # after the environment above: it is read at the first call
    minimal_client = boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 2}))

    def minimal(event: dict[str, Any]) -> dict[str, Any]:
        document = json.loads(event["body"])
        minimal_client.put_item(
            TableName="events",
            Item={"pk": {"S": str(document["data"]["scheduled_email"]["id"])}, "raw": {"S": event["body"]}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return {"statusCode": 200}

    def real(event: dict[str, Any]) -> dict[str, Any]:
        return ingest_handler(event, context)

    def cpu_us_per_request(handler: Any) -> float:
        with stdout_to_devnull():  # the handler's log lines are written (as on Lambda), just not shown
            started = time.process_time()
            for event in events:
                handler(event)
            return (time.process_time() - started) / len(events) * 1e6

    for handler in (real, minimal):  # warm both (clients, connection pools, caches)
        with stdout_to_devnull():
            for event in events[:50]:
                handler(event)
    real_us, minimal_us = [], []
    for _ in range(rounds):  # interleaved rounds
        real_us.append(cpu_us_per_request(real))
        minimal_us.append(cpu_us_per_request(minimal))
    real_median, minimal_median = statistics.median(real_us), statistics.median(minimal_us)
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "real_us": round(real_median, 1),
        "minimal_us": round(minimal_median, 1),
        "ratio": round(real_median / minimal_median, 3),
        "target": 2.0,
    }


if __name__ == "__main__":
    print(measure())
