"""Lane probes through the real handlers: ingest writes the lane, the processor turns the sweeper's
probe into its lane's watermark, and a probe's redelivery never moves a watermark back."""

from __future__ import annotations

from spillway_core.event_store import EventStore
from spillway_core.lanes import Lane, probe_key
from tests.conftest import load_fixture
from tests.integration.conftest import Aws
from tests.integration.test_processor_handler import ingest_event, process, record_for
from tests.support.tables import EVENTS_TABLE_NAME

NOW = 1_795_000_000_000


def test_ingest_writes_each_events_lane(aws: Aws) -> None:
    lanes = {
        name: aws.event_item(ingest_event(load_fixture(f"{name}.json")))["lane"]["S"]  # type: ignore[index]
        for name in (
            "email_sent",
            "email_opened",
            "manual_email_sent",
            "lead_replied",
            "lead_interested",
            "untracked_reply_received",
            "lead_unsubscribed",
            "email_bounced",
        )
    }

    assert lanes == {
        "email_sent": "bulk",
        "email_opened": "bulk",
        "manual_email_sent": "bulk",
        "lead_replied": "interactive",
        "lead_interested": "interactive",
        "untracked_reply_received": "interactive",
        "lead_unsubscribed": "interactive",
        "email_bounced": "interactive",
    }


def test_the_processor_records_a_probe_as_its_lanes_watermark(aws: Aws) -> None:
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    store.write_probe(Lane.INTERACTIVE, NOW)
    first = record_for(aws, probe_key(Lane.INTERACTIVE))
    store.write_probe(Lane.INTERACTIVE, NOW + 60_000)
    second = record_for(aws, probe_key(Lane.INTERACTIVE))

    assert process(second) == {"batchItemFailures": []}
    assert process(first) == {"batchItemFailures": []}  # an older probe, redelivered late

    assert store.sweep_positions().watermarks[Lane.INTERACTIVE] == NOW + 60_000
    assert store.sweep_positions().watermarks[Lane.BULK] == 0
    assert "status" not in aws.event_item(probe_key(Lane.INTERACTIVE))  # type: ignore[operator]
