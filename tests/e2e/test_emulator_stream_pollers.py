"""The local emulator polls DynamoDB-stream mappings the way Lambda does (emulator/stream_pollers.py):
each mapping on its own, and up to ParallelizationFactor batches of one mapping at once.

Two small functions meet through files (the emulator runs them as local processes): a function
that is running waits until the other one has run, and records whether it did. With ministack's
own poller (one batch at a time across all mappings) the wait runs out and the record says no."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spillway_cli.emulator import Emulator
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

# Waits for its partner's file; writes "met" or "alone" under its own name.
HANDLER = """
import json, os, time
from pathlib import Path

def handler(event, context):
    meet = Path(os.environ["MEET_DIR"])
    for record in event["Records"]:
        me = record["dynamodb"]["Keys"]["pk"]["S"]
        item = record["dynamodb"]["NewImage"]
        (meet / f"started-{me}").touch()
        partner = meet / f"started-{item['partner']['S']}"
        deadline = time.time() + float(os.environ["WAIT_SECONDS"])
        while not partner.exists() and time.time() < deadline:
            time.sleep(0.05)
        (meet / f"result-{me}").write_text("met" if partner.exists() else "alone")
    return {}
"""
WAIT_SECONDS = 20


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("meet.py", HANDLER)
    return buffer.getvalue()


def _reader_slot(key: str, factor: int) -> int:
    """emulator/stream_pollers.py's split of one mapping's records among its readers."""
    keys = {"pk": {"S": key}}
    return zlib.crc32(json.dumps(keys, sort_keys=True).encode()) % factor


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(log_path=tmp_path_factory.mktemp("pollers") / "ministack.log") as running:
        yield running


def _client(emulator: Emulator, service: str) -> Any:
    import boto3

    return boto3.client(  # type: ignore[call-overload]  # the service is a parameter, not a literal
        service,
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _stack(emulator: Emulator, name: str, meet: Path, mappings: dict[str, dict[str, Any]]) -> str:
    """A table with a stream, and per mapping one function reading it with the given settings."""
    ddb, lambda_client = _client(emulator, "dynamodb"), _client(emulator, "lambda")
    stream = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    for function, settings in mappings.items():
        lambda_client.create_function(
            FunctionName=function,
            Runtime="python3.12",
            Handler="meet.handler",
            Code={"ZipFile": _zip()},
            Role="arn:aws:iam::000000000000:role/meet",
            Timeout=60,
            Environment={"Variables": {"MEET_DIR": str(meet), "WAIT_SECONDS": str(WAIT_SECONDS)}},
        )
        lambda_client.create_event_source_mapping(
            FunctionName=function, EventSourceArn=stream, StartingPosition="TRIM_HORIZON", **settings
        )
    return name


def _put(emulator: Emulator, table: str, key: str, partner: str, lane: str) -> None:
    item = {"pk": {"S": key}, "partner": {"S": partner}, "lane": {"S": lane}}
    _client(emulator, "dynamodb").put_item(TableName=table, Item=item)


def _result(meet: Path, key: str) -> str:
    path = meet / f"result-{key}"
    return wait_for(
        lambda: path.read_text() if path.exists() else None, timeout_s=WAIT_SECONDS + 60, what=f"{key}'s result"
    )


def _lane_filter(lane: str) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps({"dynamodb": {"NewImage": {"lane": {"S": [lane]}}}})}]}


def test_a_mapping_runs_while_another_mappings_batch_is_in_progress(emulator: Emulator, tmp_path: Path) -> None:
    table = _stack(
        emulator,
        "lanes",
        tmp_path,
        {
            "bulk-meet": {"BatchSize": 10, "FilterCriteria": _lane_filter("bulk")},
            "interactive-meet": {"BatchSize": 100, "FilterCriteria": _lane_filter("interactive")},
        },
    )
    _put(emulator, table, "send", partner="reply", lane="bulk")
    wait_for((tmp_path / "started-send").exists, timeout_s=60, what="the bulk batch to start")
    _put(emulator, table, "reply", partner="send", lane="interactive")  # arrives while the bulk batch runs

    assert _result(tmp_path, "send") == "met"  # the reply ran while the bulk batch was still in progress


def test_a_mapping_runs_up_to_its_parallelization_factor_batches_at_once(emulator: Emulator, tmp_path: Path) -> None:
    factor = 2
    first = "lead-a"
    second = next(
        k for k in (f"lead-{n}" for n in range(100)) if _reader_slot(k, factor) != _reader_slot(first, factor)
    )
    table = _stack(emulator, "parallel", tmp_path, {"parallel-meet": {"BatchSize": 1, "ParallelizationFactor": factor}})
    _put(emulator, table, first, partner=second, lane="bulk")
    _put(emulator, table, second, partner=first, lane="bulk")

    assert (_result(tmp_path, first), _result(tmp_path, second)) == ("met", "met")


def test_the_emulator_keeps_its_lambda_workers_in_its_own_directory_and_removes_it_when_stopped() -> None:
    """ministack unpacks each Lambda worker into the temporary directory and leaves it there when
    stopped (about 66 MB per worker of the stack's functions); stopping the emulator removes them."""
    with Emulator() as running:
        scratch = running.scratch_dir
        assert scratch is not None
        lambda_client = _client(running, "lambda")
        lambda_client.create_function(
            FunctionName="scratch-probe",
            Runtime="python3.12",
            Handler="meet.handler",
            Code={"ZipFile": _zip()},
            Role="arn:aws:iam::000000000000:role/meet",
            Environment={"Variables": {"MEET_DIR": str(scratch), "WAIT_SECONDS": "0"}},
        )
        answer = lambda_client.invoke(FunctionName="scratch-probe", Payload=json.dumps({"Records": []}))
        assert answer["StatusCode"] == 200
        workers = list(scratch.glob("ministack-lambda-scratch-probe-*"))
        assert workers, sorted(path.name for path in scratch.iterdir())  # the worker was unpacked here

    assert not scratch.exists()
    assert running.scratch_dir is None
