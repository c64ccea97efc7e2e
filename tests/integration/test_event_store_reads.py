"""The event store's reads and bookkeeping writes, field by field: what an alert is told about a FAILED
event, what the sweeper counts when it runs out of budget, and how its checkpoints and a replay move.

The sweeper and lifecycle suites reach these through whole sweeps; the mutation run (docs/mutation.md)
showed what those leave unchecked: an alert's fields, COUNT queries over several pages, the PENDING
hold in a count, a checkpoint moved back by a slower sweep, a replay's time.
"""

from __future__ import annotations

from typing import Any

from spillway_core.event_store import EventStore, FailedEvent, IntakeEntry
from spillway_core.lanes import Lane
from spillway_core.lifecycle import lifecycle_key
from spillway_core.status import SWEEP_INDEX
from tests.support.pipeline import InProcessPipeline
from tests.support.scenario import EVENTS
from tests.support.tables import EVENTS_TABLE_NAME

LEASE_MS = 45_000


def ingested(dynamodb: Any, name: str = "sent_a") -> tuple[EventStore, str]:
    """An event ingested into a table of one sweep shard (so that any two events share it)."""
    pipeline = InProcessPipeline(dynamodb)
    pipeline.ingest_settings = pipeline.ingest_settings.model_copy(update={"sweep_shards": 1})
    status, body = pipeline.post(EVENTS[name])
    assert status == 200, body
    return EventStore(dynamodb, EVENTS_TABLE_NAME), str(body["id"])


def running(dynamodb: Any, name: str = "sent_a") -> tuple[EventStore, str]:
    """An event ingested and claimed by worker "w" at t = 1,000."""
    store, key = ingested(dynamodb, name)
    record = store.event_record(key)
    assert record is not None
    assert store.claim(record, "w", 1_000, LEASE_MS) is not None
    return store, key


def test_a_failed_events_alert_fields_are_those_its_failure_recorded(dynamodb: Any) -> None:
    store, key = running(dynamodb)
    assert store.failed_event(key) is None  # RUNNING: nothing to alert about

    assert store.mark_failed(key, "w", 2_000, "PermanentProcessingError", "no lead id", alert_due_ms=62_000)

    assert store.failed_event(key) == FailedEvent(
        dedupe_key=key,
        provider="emailbison",
        event_type="EMAIL_SENT",
        attempts=1,
        error_class="PermanentProcessingError",
        message="no lead id",
        failed_at_ms=2_000,
    )
    assert store.failed_event("emailbison:no-such-event") is None


def test_a_succeeded_event_is_no_alert(dynamodb: Any) -> None:
    store, key = running(dynamodb)
    assert store.mark_succeeded(key, "w", 2_000)
    assert store.failed_event(key) is None


def test_a_failure_recorded_without_its_error_still_alerts_with_placeholders(dynamodb: Any) -> None:
    # A FAILED lifecycle item whose error was never recorded (a write of an earlier version, or by hand
    # during an incident) still gives an alert rather than an exception in the sweeper.
    store, key = running(dynamodb)
    assert store.mark_failed(key, "w", 2_000, "PermanentProcessingError", "no lead id", alert_due_ms=62_000)
    dynamodb.update_item(
        TableName=EVENTS_TABLE_NAME,
        Key={"pk": {"S": lifecycle_key(key)}},
        UpdateExpression="REMOVE errorClass, lastError",
    )

    failed = store.failed_event(key)

    assert failed is not None
    assert (failed.error_class, failed.message) == ("Unknown", "")


class PagedCounts:
    """A DynamoDB client whose COUNT queries come back in pages, as they do past 1 MB read."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.calls: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        page = len(self.calls)
        self.calls.append(kwargs)
        response: dict[str, Any] = {"Count": self.counts[page], "ScannedCount": self.counts[page]}
        if page + 1 < len(self.counts):
            response["LastEvaluatedKey"] = {"pk": {"S": f"page-{page}"}}
        return response


def test_an_intake_count_adds_every_page_and_reads_each_from_where_the_last_ended() -> None:
    client = PagedCounts([3, 0, 2])
    store = EventStore(client, EVENTS_TABLE_NAME)

    assert store.count_intake("intake-interactive-000", IntakeEntry("emailbison:k", 100), 5_000) == 5

    assert [call["Select"] for call in client.calls] == ["COUNT"] * 3  # counted, no item returned
    starts = [call["ExclusiveStartKey"] for call in client.calls]
    assert starts[0]["pk"] == {"S": "emailbison:k"}  # after the checkpoint's entry
    assert starts[1:] == [{"pk": {"S": "page-0"}}, {"pk": {"S": "page-1"}}]


class PagedItems:
    """A DynamoDB client whose due queries come back in the pages given (a filter can empty a page)."""

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        page = len(self.calls)
        self.calls.append(kwargs)
        items = [
            {"pk": {"S": lifecycle_key(key)}, "status": {"S": "RETRY_WAIT"}, "dueAt": {"N": "100"}}
            for key in self.pages[page]
        ]
        response: dict[str, Any] = {"Items": items, "Count": len(items)}
        if page + 1 < len(self.pages):
            response["LastEvaluatedKey"] = {"pk": {"S": f"page-{page}"}}
        return response


def test_due_events_are_read_on_through_emptied_pages_up_to_the_limit_and_no_further() -> None:
    client = PagedItems([[], ["emailbison:1"], ["emailbison:2", "emailbison:3"], ["emailbison:4"]])
    store = EventStore(client, EVENTS_TABLE_NAME)

    due = store.query_due(SWEEP_INDEX, "life-000", now_ms=5_000, limit=3, pending_due_before_ms=4_000)

    assert [event.dedupe_key for event in due] == ["emailbison:1", "emailbison:2", "emailbison:3"]
    assert len(client.calls) == 3  # the limit reached: the fourth page is not read
    assert [call["Limit"] for call in client.calls] == [3, 3, 3]
    assert [call.get("ExclusiveStartKey") for call in client.calls] == [
        None,
        {"pk": {"S": "page-0"}},
        {"pk": {"S": "page-1"}},
    ]


def test_a_due_count_holds_back_pending_events_its_lane_has_not_reached(dynamodb: Any) -> None:
    store, retrying = running(dynamodb)
    assert store.mark_retry(retrying, "w", 2_000, run_at_ms=3_000, error_class="Throttled", message="slow")
    _, lost = ingested(dynamodb, "sent_b")  # its stream record lost: the sweeper makes it PENDING
    record = store.event_record(lost)
    assert record is not None
    assert store.create_pending(record, now_ms=2_500, next_due_ms=4_000)
    shard = record.lifecycle_shard

    assert store.count_due(SWEEP_INDEX, shard, now_ms=10_000) == 2
    # The PENDING event, due at 4,000, is held while its lane has not read past 4,000; a retry is not.
    assert store.count_due(SWEEP_INDEX, shard, now_ms=10_000, pending_due_before_ms=4_000) == 1
    assert store.count_due(SWEEP_INDEX, shard, now_ms=10_000, pending_due_before_ms=4_001) == 2
    assert [due.dedupe_key for due in store.query_due(SWEEP_INDEX, shard, 10_000, 10, 4_000)] == [retrying]


def test_a_slower_sweep_does_not_move_a_checkpoint_back(dynamodb: Any) -> None:
    store = EventStore(dynamodb, EVENTS_TABLE_NAME)
    shard = "intake-interactive-000"
    assert store.advance_intake_checkpoint(Lane.INTERACTIVE, shard, IntakeEntry("emailbison:b", 200))

    assert not store.advance_intake_checkpoint(Lane.INTERACTIVE, shard, IntakeEntry("emailbison:a", 100))
    assert store.sweep_positions().checkpoints[Lane.INTERACTIVE][shard] == IntakeEntry("emailbison:b", 200)
    assert store.advance_intake_checkpoint(Lane.INTERACTIVE, shard, IntakeEntry("emailbison:c", 200))
    assert store.sweep_positions().checkpoints[Lane.INTERACTIVE][shard] == IntakeEntry("emailbison:c", 200)


def test_a_replay_records_when_it_was_replayed(dynamodb: Any) -> None:
    store, key = running(dynamodb)
    assert store.mark_failed(key, "w", 2_000, "PermanentProcessingError", "no lead id", alert_due_ms=62_000)
    shard = store.get(key)["sweepShard"]["S"]  # type: ignore[index]

    assert store.replay(key, 5_000, shard, pending_due_at_ms=305_000)

    item = store.get(key)
    assert item is not None
    assert (item["status"]["S"], item["updatedAt"]["N"], item["runAt"]["N"]) == ("PENDING", "5000", "5000")
    assert (item["dueAt"]["N"], item["attempts"]["N"]) == ("305000", "0")
    assert "completedAt" not in item and "alertPending" not in item


class PagedIntake:
    """A DynamoDB client whose intake queries come back in the pages given, each an entry's key and due
    time (a page can be empty when DynamoDB stops at 1 MB read)."""

    def __init__(self, pages: list[list[tuple[str, int]]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        page = len(self.calls)
        self.calls.append(kwargs)
        items = [{"pk": {"S": key}, "dueAt": {"N": str(due)}} for key, due in self.pages[page]]
        response: dict[str, Any] = {"Items": items, "Count": len(items)}
        if page + 1 < len(self.pages):
            response["LastEvaluatedKey"] = {"pk": {"S": f"page-{page}"}}
        return response


def test_intake_entries_are_read_on_through_pages_up_to_the_limit_and_no_further() -> None:
    client = PagedIntake([[("emailbison:a", 100)], [], [("emailbison:b", 150), ("emailbison:c", 150)], [("x", 1)]])
    store = EventStore(client, EVENTS_TABLE_NAME)
    shard = "intake-interactive-000"

    entries = store.query_intake(shard, IntakeEntry("emailbison:0", 90), up_to_ms=5_000, limit=3)

    assert entries == [
        IntakeEntry("emailbison:a", 100),
        IntakeEntry("emailbison:b", 150),
        IntakeEntry("emailbison:c", 150),
    ]
    assert len(client.calls) == 3  # the limit reached: the fourth page is not read
    assert [call["Limit"] for call in client.calls] == [3, 2, 2]  # never more than the limit in all
    starts = [call["ExclusiveStartKey"] for call in client.calls]
    assert starts[0] == {"sweepShard": {"S": shard}, "dueAt": {"N": "90"}, "pk": {"S": "emailbison:0"}}
    assert starts[1:] == [{"pk": {"S": "page-0"}}, {"pk": {"S": "page-1"}}]
    assert client.calls[0]["ExpressionAttributeValues"][":low"] == {"N": "90"}


def test_intake_entries_stop_at_the_last_page_short_of_the_limit() -> None:
    client = PagedIntake([[("emailbison:a", 100)], [("emailbison:b", 200)]])
    store = EventStore(client, EVENTS_TABLE_NAME)

    entries = store.query_intake("intake-bulk-001", None, up_to_ms=5_000, limit=10)

    assert entries == [IntakeEntry("emailbison:a", 100), IntakeEntry("emailbison:b", 200)]
    assert "ExclusiveStartKey" not in client.calls[0]  # from the shard's start
    assert client.calls[0]["ExpressionAttributeValues"][":low"] == {"N": "0"}


def test_entries_at_the_checkpoints_own_millisecond_are_still_read() -> None:
    # Two events can be due in the same millisecond: a checkpoint on the first, with the sweep reading
    # up to that millisecond, must still find the second (it lies past the checkpoint in key order).
    client = PagedIntake([[("emailbison:b", 200)]])
    store = EventStore(client, EVENTS_TABLE_NAME)
    checkpoint = IntakeEntry("emailbison:a", 200)

    assert store.query_intake("intake-bulk-001", checkpoint, up_to_ms=200, limit=10) == [
        IntakeEntry("emailbison:b", 200)
    ]
    assert store.query_intake("intake-bulk-001", checkpoint, up_to_ms=199, limit=10) == []
    assert len(client.calls) == 1  # nothing can be due before the checkpoint: no query at all


class ThrottledBatchGet:
    """A DynamoDB client whose first batch read leaves keys unprocessed, as it does under throttling."""

    def __init__(self, table: str, items: list[dict[str, Any]]) -> None:
        self.table, self.items = table, items
        self.calls: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        request = RequestItems[self.table]
        wanted = [key["pk"]["S"] for key in request["Keys"]]
        found = [item for item in self.items if item["pk"]["S"] in wanted]
        if len(self.calls) == 1:  # half the keys come back unprocessed
            left = request["Keys"][len(wanted) // 2 :]
            left_names = {key["pk"]["S"] for key in left}
            found = [item for item in found if item["pk"]["S"] not in left_names]
            return {"Responses": {self.table: found}, "UnprocessedKeys": {self.table: {**request, "Keys": left}}}
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}


def test_sweep_positions_read_again_the_keys_a_throttled_batch_left_unprocessed(dynamodb: Any) -> None:
    writer = EventStore(dynamodb, EVENTS_TABLE_NAME)
    for lane in Lane:
        assert writer.advance_intake_checkpoint(lane, f"intake-{lane.value}-000", IntakeEntry(f"k-{lane.value}", 7))
        assert writer.advance_watermark(lane, 1_000)
    items = dynamodb.scan(TableName=EVENTS_TABLE_NAME)["Items"]
    client = ThrottledBatchGet(EVENTS_TABLE_NAME, items)

    positions = EventStore(client, EVENTS_TABLE_NAME).sweep_positions()

    assert positions == writer.sweep_positions()
    assert all(positions.watermarks[lane] == 1_000 for lane in Lane)
    assert len(client.calls) == 2
    assert all(call[EVENTS_TABLE_NAME]["ConsistentRead"] for call in client.calls)  # a lane's latest position


class LaggingReplica:
    """A DynamoDB client whose eventually consistent reads miss an item for the first ``misses`` reads,
    as a replica that has not yet received a write does."""

    def __init__(self, item: dict[str, Any], misses: int) -> None:
        self.item, self.misses = item, misses
        self.reads: list[bool] = []  # ConsistentRead of each GetItem, in order

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.reads.append(kwargs["ConsistentRead"])
        if not kwargs["ConsistentRead"] and len(self.reads) <= self.misses:
            return {}
        return {"Item": self.item}


def test_an_event_record_is_read_from_a_replica_and_from_the_leader_only_when_the_replica_lags(
    dynamodb: Any,
) -> None:
    store, key = ingested(dynamodb)
    item = store.get(key)
    expected = store.event_record(key)
    assert item is not None and expected is not None

    caught_up = LaggingReplica(item, misses=0)
    assert EventStore(caught_up, EVENTS_TABLE_NAME).event_record(key) == expected
    assert caught_up.reads == [False]  # half the read units of a strongly consistent read

    lagging = LaggingReplica(item, misses=1)  # the event was written moments ago
    assert EventStore(lagging, EVENTS_TABLE_NAME).event_record(key) == expected
    assert lagging.reads == [False, True]


def test_a_claim_hands_the_processor_the_events_record_and_its_attempt(dynamodb: Any) -> None:
    # The processor dates an effect whose event carries no time of its own by its receipt.
    store, key = ingested(dynamodb)
    record = store.event_record(key)
    assert record is not None

    claimed = store.claim(record, "w", 1_000, LEASE_MS)

    assert claimed is not None
    assert (claimed.dedupe_key, claimed.provider, claimed.event_type) == (key, "emailbison", "EMAIL_SENT")
    assert (claimed.received_at_ms, claimed.normalised_json) == (record.received_at_ms, record.normalised_json)
    assert (claimed.attempts, claimed.max_attempts) == (1, record.max_attempts)
