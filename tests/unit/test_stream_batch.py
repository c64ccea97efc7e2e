"""The processor's stream batch loop answers as Powertools' BatchProcessor did for the same batch."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch import process_partial_response as powertools_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from processor.stream_batch import StreamRecord, process_partial_response


def stream_record(pk: str, sequence: str, probe_at: int | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {"pk": {"S": pk}, "status": {"S": "PENDING"}}
    if probe_at is not None:
        image["probeAt"] = {"N": str(probe_at)}
    return {
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"pk": {"S": pk}}, "NewImage": image, "SequenceNumber": sequence},
    }


BATCH = [stream_record("a", "100"), stream_record("fail-b", "200", 1_700_000_000_123), stream_record("c", "300")]


def fails_on(prefix: str) -> Any:
    def handle(pk: object) -> str:
        if str(pk).startswith(prefix):
            raise RuntimeError("boom")
        return "ok"

    return handle


@pytest.mark.parametrize(
    ("records", "prefix"),
    [
        (BATCH, "fail"),  # one in the middle fails
        (BATCH, "none"),  # nothing fails
        (BATCH, ""),  # every record fails: reported one by one, not raised
        ([stream_record("fail-x", "7"), stream_record("y", "8"), stream_record("fail-z", "9")], "fail"),
    ],
)
def test_failures_are_reported_as_powertools_reports_them(records: list[dict[str, Any]], prefix: str) -> None:
    handle = fails_on(prefix)
    ours = process_partial_response({"Records": records}, lambda record: handle(record.key("pk")))

    def theirs_handler(record: DynamoDBRecord) -> str:
        return handle((record.dynamodb.keys if record.dynamodb else {}).get("pk"))

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    theirs = powertools_response(event={"Records": records}, record_handler=theirs_handler, processor=processor)

    assert ours == dict(theirs)


def test_the_record_reads_what_the_powertools_record_read() -> None:
    raw = stream_record("emailbison::12:EMAIL_SENT:9", "42", probe_at=1_700_000_000_123)
    theirs = DynamoDBRecord(raw).dynamodb
    assert theirs is not None

    ours = StreamRecord(raw)

    assert ours.key("pk") == theirs.keys["pk"]
    assert ours.new_image("probeAt") == theirs.new_image["probeAt"]
    assert ours.new_image("absent") is None and StreamRecord({}).key("pk") is None


def test_a_batch_without_records_is_refused_as_powertools_refuses_it() -> None:
    with pytest.raises(ValueError, match="Records"):
        process_partial_response({"Records": []}, lambda record: None)
