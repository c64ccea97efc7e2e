"""Builders for the events Lambda receives (API Gateway HTTP API v2 requests, stream records), its
context, and the sample webhooks: what benchmarks and tests need to invoke a function in-process.

It lives outside tests/ because the benchmarks use it too (nothing outside tests/ imports tests/).
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# The sample webhooks (README: `curl ... --data @tests/fixtures/emailbison/email_sent.json`).
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    """One sample EmailBison webhook body, by file name."""
    return dict(json.loads((FIXTURES / "emailbison" / name).read_text()))


def entry_point(handler: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A function's entry point by its handler name (infra.config.*_HANDLER), loaded as Lambda loads it.

    Benchmarks invoke a function through the contract Lambda uses (an event in, a response out), so
    they depend on no module of the function."""
    module, _, attribute = handler.rpartition(".")
    function: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(importlib.import_module(module), attribute)
    return function


@contextlib.contextmanager
def stdout_to(sink: IO[Any]) -> Iterator[None]:
    """File descriptor 1, where Lambda collects a function's logs, written into ``sink`` meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(sink.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def api_request(
    body: dict[str, Any] | str | bytes,
    *,
    provider: str = "emailbison",
    token: str | None = None,
    token_in_header: bool = False,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    text = body if isinstance(body, str) else body.decode() if isinstance(body, bytes) else json.dumps(body)
    headers = {"content-type": content_type} if content_type else {}
    query = {}
    if token is not None:
        if token_in_header:
            headers["X-Spillway-Token"] = token
        else:
            query["token"] = token
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/{provider}",
        "rawPath": f"/webhooks/{provider}",
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": {"provider": provider},
        "isBase64Encoded": False,
        "body": text,
        "requestContext": {"http": {"method": "POST"}, "requestId": str(uuid.uuid4())},
    }


def as_lambda_json(value: Any) -> Any:
    """An item (in DynamoDB's typed form, as botocore gives it) as a stream record delivered to Lambda
    carries it: JSON, so binary values are base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: as_lambda_json(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [as_lambda_json(inner) for inner in value]
    return value


def stream_record(new_image: dict[str, Any], event_name: str = "INSERT", sequence: int = 1) -> dict[str, Any]:
    new_image = as_lambda_json(new_image)
    return {
        "eventID": str(uuid.uuid4()),
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"pk": new_image["pk"]},
            "NewImage": new_image,
            "SequenceNumber": str(sequence).zfill(21),
            "SizeBytes": 100,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/2026-11-28T00:00:00.000",
    }


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class FakeContext:
    """The parts of the Lambda context the handlers use."""

    remaining_ms: int = 60_000
    aws_request_id: str = "req-1"
    function_name: str = "spillway-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:spillway-test"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
