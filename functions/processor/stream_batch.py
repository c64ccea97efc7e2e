"""Partial batch responses for a DynamoDB stream batch, as Powertools' ``BatchProcessor`` gives them.

Importing Powertools' batch utility loads asyncio and every event source data class, about a fifth
of the processor's cold start (bench/lambda_cold_start.py), for a loop this small: each record goes
to the handler; one that raises is reported by its sequence number, the others are not, and the
stream retries from the first reported one. Like ``BatchProcessor(raise_on_entire_batch_failure=
False)``, a batch in which every record failed is reported record by record, not raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_DESERIALIZER = TypeDeserializer()


class StreamRecord:
    """The parts of one stream record the processor reads."""

    def __init__(self, record: dict[str, Any]) -> None:
        self._change: dict[str, Any] = record.get("dynamodb") or {}

    def key(self, name: str) -> Any:
        """The item's key attribute ``name``, deserialised; None when absent."""
        return self._value("Keys", name)

    def new_image(self, name: str) -> Any:
        """Attribute ``name`` of the item as written, deserialised; None when absent."""
        return self._value("NewImage", name)

    def image(self) -> dict[str, Any] | None:
        """The item as written, as DynamoDB returns items (typed values); None when absent."""
        image: dict[str, Any] | None = self._change.get("NewImage")
        return image

    def _value(self, part: str, name: str) -> Any:
        value = (self._change.get(part) or {}).get(name)
        return None if value is None else _DESERIALIZER.deserialize(value)


def process_partial_response(event: dict[str, Any], record_handler: Callable[[StreamRecord], object]) -> dict[str, Any]:
    records = event.get("Records", [])
    if not records or not isinstance(records, list):
        raise ValueError("not a DynamoDB stream batch: no Records")
    failures = []
    for record in records:
        try:
            record_handler(StreamRecord(record))
        except Exception:  # any failure is this record's; the stream retries it
            failures.append({"itemIdentifier": (record.get("dynamodb") or {}).get("SequenceNumber")})
    return {"batchItemFailures": failures}
