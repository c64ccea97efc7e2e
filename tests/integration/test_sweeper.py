"""The sweeper's single repair rule against moto: due live events go back to PENDING."""

from __future__ import annotations

from typing import Any

from spillway_core.alerts import AlertPublisher
from spillway_core.event_store import EventStore, NewEvent
from spillway_core.lanes import Lane, probe_key
from spillway_core.lifecycle import intake_shard, lifecycle_key, sweep_shard, sweep_shards
from spillway_core.settings import SweeperSettings
from spillway_core.status import SWEEP_INDEX
from sweeper.logic import sweep
from tests.integration.conftest import Aws
from tests.support.environment import stack_with
from tests.support.tables import EVENTS_TABLE_NAME

NOW = 1_795_000_000_000
SETTINGS = SweeperSettings.from_env(
    stack_with(
        {"EVENTS_TABLE": EVENTS_TABLE_NAME, "SWEEP_SHARDS": "4", "SWEEP_MAX_ITEMS": "50", "ALERTS_TOPIC_ARN": "arn:x"}
    )
)
BULK = sweep_shards(Lane.BULK, 4)
INTERACTIVE = sweep_shards(Lane.INTERACTIVE, 4)


def run_sweep(aws: Aws, settings: SweeperSettings = SETTINGS, now: int = NOW) -> Any:
    return sweep(
        EventStore(aws.dynamodb, EVENTS_TABLE_NAME), AlertPublisher(aws.sns, aws.alerts_topic_arn), settings, now
    )


def put_event(aws: Aws, key: str, status: str, due_at: int | None, shard: str = BULK[0], **extra: Any) -> None:
    """An event's lifecycle item in ``status`` (its record is not needed to wake it)."""
    item: dict[str, Any] = {
        "pk": {"S": lifecycle_key(key)},
        "status": {"S": status},
        "attempts": {"N": "2"},
        **{k: {"N": str(v)} for k, v in extra.items()},
    }
    if due_at is not None:
        item |= {"sweepShard": {"S": shard}, "dueAt": {"N": str(due_at)}}
    aws.dynamodb.put_item(TableName=EVENTS_TABLE_NAME, Item=item)


def lanes_have_read_up_to(aws: Aws, watermark: int) -> None:
    """Every lane's processor has read a probe written at ``watermark`` (see spillway_core.lanes)."""
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    for lane in Lane:
        store.advance_watermark(lane, watermark)


def status_of(aws: Aws, key: str) -> dict[str, Any]:
    item = aws.event_item(key)
    assert item is not None
    return item


def test_each_live_state_past_due_is_woken(aws: Aws) -> None:
    put_event(aws, "running-expired", "RUNNING", NOW - 1, shard=BULK[1], leaseExpiresAt=NOW - 1)
    put_event(aws, "retry-due", "RETRY_WAIT", NOW - 5_000, shard=BULK[2], runAt=NOW - 5_000)
    put_event(aws, "pending-lost", "PENDING", NOW - 60_000, shard=BULK[3])
    put_event(aws, "running-in-lease", "RUNNING", NOW + 60_000)
    put_event(aws, "retry-not-due", "RETRY_WAIT", NOW + 1_000)
    put_event(aws, "done", "SUCCEEDED", None)
    lanes_have_read_up_to(aws, NOW)

    report = run_sweep(aws)

    assert report.woken == {"RUNNING": 1, "RETRY_WAIT": 1, "PENDING": 1}
    for key in ("running-expired", "retry-due", "pending-lost"):
        item = status_of(aws, key)
        assert item["status"]["S"] == "PENDING"
        assert item["dueAt"]["N"] == str(NOW + 300_000)  # a new grace period
        assert item["wakes"]["N"] == "1"
        assert item["attempts"]["N"] == "2"  # attempts are kept
        assert "leaseExpiresAt" not in item
    assert status_of(aws, "running-in-lease")["status"]["S"] == "RUNNING"
    assert status_of(aws, "retry-not-due")["status"]["S"] == "RETRY_WAIT"
    assert status_of(aws, "done")["status"]["S"] == "SUCCEEDED"


def test_a_run_is_bounded(aws: Aws) -> None:
    for n in range(8):
        put_event(aws, f"lost-{n}", "PENDING", NOW - 1, shard=BULK[n % 4])
    settings = SETTINGS.model_copy(update={"max_items_per_run": 5})
    lanes_have_read_up_to(aws, NOW)

    report = run_sweep(aws, settings)

    assert sum(report.woken.values()) == 5
    assert report.budget_exhausted
    assert report.remaining_due == 3
    assert report.oldest_due_age_ms == 1
    # The rest are picked up by the next run.
    assert sum(run_sweep(aws, settings).woken.values()) == 3


def test_a_pending_event_is_held_until_its_own_lane_has_read_past_its_record(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    # All PENDING past their grace: "early" was written (dueAt - grace) before the bulk watermark,
    # "queued" after it, so its record may still wait in the bulk lane. The reply was written after
    # the bulk watermark too, but its own (interactive) lane has read past it: a bulk backlog must not
    # hold it. Other states are never held.
    put_event(aws, "early", "PENDING", NOW - 60_000, shard=BULK[0])
    put_event(aws, "queued", "PENDING", NOW - 1_000, shard=BULK[0])
    put_event(aws, "reply", "PENDING", NOW - 1_000, shard=INTERACTIVE[0])
    put_event(aws, "running-expired", "RUNNING", NOW - 1_000, shard=BULK[1])
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    store.advance_watermark(Lane.BULK, NOW - grace - 30_000)
    store.advance_watermark(Lane.INTERACTIVE, NOW)

    report = run_sweep(aws)

    assert report.woken == {"PENDING": 2, "RUNNING": 1}
    assert status_of(aws, "early")["wakes"]["N"] == "1"
    assert status_of(aws, "reply")["wakes"]["N"] == "1"
    assert "wakes" not in status_of(aws, "queued")
    assert report.remaining_due == 0  # held events are not a backlog the sweeper owes
    assert report.lanes_caught_up_to_ms == NOW - grace - 30_000  # the slowest lane, for the LanesBehind metric
    # This run probed both lanes; once the bulk lane reads its probe, the queued one is woken.
    probes = {
        lane: aws.dynamodb.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": probe_key(lane)}})["Item"]
        for lane in Lane
    }
    assert {lane: p["probeAt"]["N"] for lane, p in probes.items()} == dict.fromkeys(Lane, str(NOW))
    assert {lane: p["lane"]["S"] for lane, p in probes.items()} == {lane: lane.value for lane in Lane}
    store.advance_watermark(Lane.BULK, NOW)
    assert run_sweep(aws, now=NOW + 60_000).woken == {"PENDING": 1}


def test_a_lanes_watermark_only_moves_forward(aws: Aws) -> None:
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)

    assert store.sweep_positions().watermarks[Lane.BULK] == 0
    assert store.advance_watermark(Lane.BULK, NOW) is True
    assert store.advance_watermark(Lane.BULK, NOW - 60_000) is False  # a redelivered older probe
    assert store.sweep_positions().watermarks[Lane.BULK] == NOW
    assert store.sweep_positions().watermarks[Lane.INTERACTIVE] == 0


def test_overlapping_runs_wake_each_event_once(aws: Aws) -> None:
    put_event(aws, "lost", "PENDING", NOW - 1)
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    [seen_by_first] = store.query_due(SWEEP_INDEX, BULK[0], NOW, 10)
    [seen_by_second] = store.query_due(SWEEP_INDEX, BULK[0], NOW, 10)

    assert store.wake(seen_by_first, NOW, NOW + 300_000) is True
    assert store.wake(seen_by_second, NOW, NOW + 300_000) is False
    assert status_of(aws, "lost")["wakes"]["N"] == "1"


def test_a_failed_event_whose_alert_was_lost_is_alerted_once_more(aws: Aws) -> None:
    put_event(aws, "failed-unalerted", "FAILED", NOW - 1)
    aws.update_event(
        "failed-unalerted",
        "SET alertPending = :t, provider = :p, eventType = :e, errorClass = :c",
        t="x",
        p="emailbison",
        e="LEAD_REPLIED",
        c="PermanentProcessingError",
    )
    aws.dynamodb.update_item(
        TableName=EVENTS_TABLE_NAME,
        Key={"pk": {"S": lifecycle_key("failed-unalerted")}},
        UpdateExpression="SET alertPending = :t, completedAt = :failedAt",
        # As mark_failed writes it: the failure's time, its alert due a minute later.
        ExpressionAttributeValues={":t": {"BOOL": True}, ":failedAt": {"N": str(NOW - 1 - 60_000)}},
    )

    report = run_sweep(aws)
    again = run_sweep(aws, now=NOW + 3_600_000)

    assert report.alerts_resent == 1
    assert again.alerts_resent == 0
    [alert] = aws.alerts()
    assert (alert["dedupe_key"], alert["event_type"]) == ("failed-unalerted", "LEAD_REPLIED")
    item = status_of(aws, "failed-unalerted")
    assert item["status"]["S"] == "FAILED"
    assert "alertPending" not in item and "dueAt" not in item


# --- event records whose stream record was lost before any claim ---------------------------------------


def put_record(
    aws: Aws, key: str, received_at: int, lane: Lane = Lane.BULK, shards: int = SETTINGS.sweep_shards
) -> None:
    """An event record as the ingest writes it, due for the sweeper's intake check a grace after it."""
    EventStore(aws.dynamodb, EVENTS_TABLE_NAME).put_new(
        NewEvent(
            dedupe_key=key,
            provider="emailbison",
            event_type="EMAIL_SENT" if lane is Lane.BULK else "LEAD_REPLIED",
            normalised_json="{}",
            raw_body=b"{}",
            received_at_ms=received_at,
            max_attempts=8,
            expires_at_s=received_at // 1000 + 86_400,
            intake_shard=intake_shard(key, lane, shards),
            pending_due_at_ms=received_at + SETTINGS.pending_grace_seconds * 1000,
            lane=lane.value,
        )
    )


def lifecycle_of(aws: Aws, key: str) -> dict[str, Any] | None:
    response = aws.dynamodb.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": lifecycle_key(key)}})
    return response.get("Item")


def test_an_event_record_never_claimed_gets_a_pending_lifecycle_item_once(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    put_record(aws, "lost", NOW - grace - 1_000)
    put_record(aws, "claimed", NOW - grace - 1_000)
    put_record(aws, "lost-reply", NOW - grace - 1_000, Lane.INTERACTIVE)
    put_record(aws, "recent", NOW - 1_000)  # within its grace: its record may be on its way
    put_event(aws, "claimed", "SUCCEEDED", None)
    lanes_have_read_up_to(aws, NOW)

    report = run_sweep(aws)

    assert report.woken == {"PENDING": 2}
    for key in ("lost", "lost-reply"):
        lifecycle = lifecycle_of(aws, key)
        assert lifecycle is not None
        # What the processor needs from the stream record, and the sweeper from the index, afterwards.
        assert (lifecycle["status"]["S"], lifecycle["wakes"]["N"]) == ("PENDING", "1")
        assert lifecycle["dueAt"]["N"] == str(NOW + grace)
        assert lifecycle["sweepShard"]["S"] == sweep_shard(key, Lane(lifecycle["lane"]["S"]), SETTINGS.sweep_shards)
        assert lifecycle["eventType"]["S"] in {"EMAIL_SENT", "LEAD_REPLIED"}
    assert lifecycle_of(aws, "recent") is None
    assert lifecycle_of(aws, "claimed")["status"]["S"] == "SUCCEEDED"  # type: ignore[index]
    # The checkpoint moved past them: the next run checks nothing twice and creates nothing.
    assert run_sweep(aws, now=NOW + 1).woken == {}
    # "recent" is checked once its own grace has passed.
    assert run_sweep(aws, now=NOW + grace).woken == {"PENDING": 1}


def test_an_event_record_is_held_while_its_lane_has_not_read_past_it(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    put_record(aws, "queued", NOW - grace - 1_000)
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    store.advance_watermark(Lane.BULK, NOW - grace - 2_000)  # written after the lane's last probe
    store.advance_watermark(Lane.INTERACTIVE, NOW)

    assert run_sweep(aws).woken == {}
    assert lifecycle_of(aws, "queued") is None
    store.advance_watermark(Lane.BULK, NOW)  # the lane read past it, and no claim came
    assert run_sweep(aws, now=NOW + 60_000).woken == {"PENDING": 1}


def test_a_short_budget_goes_on_from_the_checkpoint_through_equal_due_times(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    keys = [f"burst-{n}" for n in range(12)]
    for key in keys:  # one millisecond for all, in one shard: the checkpoint must tell them apart by key
        put_record(aws, key, NOW - grace - 1_000, shards=1)
    lanes_have_read_up_to(aws, NOW)
    small = SETTINGS.model_copy(update={"sweep_shards": 1, "max_items_per_run": 5})

    runs = [run_sweep(aws, small, NOW + n) for n in range(4)]

    assert [sum(r.woken.values()) for r in runs] == [5, 5, 2, 0]
    assert [r.budget_exhausted for r in runs] == [True, True, False, False]
    assert all(lifecycle_of(aws, key) is not None for key in keys)


def test_a_lifecycle_item_created_meanwhile_wins_over_the_sweepers(aws: Aws) -> None:
    put_record(aws, "raced", NOW - 400_000)
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    record = store.event_record("raced")
    assert record is not None
    claimed = store.claim(record, "processor", NOW, 60_000)
    assert claimed is not None and claimed.attempts == 1

    assert store.create_pending(record, NOW, NOW + 300_000) is False
    assert lifecycle_of(aws, "raced")["status"]["S"] == "RUNNING"  # type: ignore[index]


# --- bounds, budgets and lost races, each at its own branch ---------------------------------------------


def test_a_record_written_before_its_lanes_watermark_is_checked_and_one_written_at_it_is_held(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    watermark = NOW - grace - 10_000  # the lane has read every record written before this
    put_record(aws, "before", watermark - 1)
    put_record(aws, "at", watermark)  # written as the probe was: the lane may not have read it yet
    lanes_have_read_up_to(aws, watermark)

    assert run_sweep(aws).woken == {"PENDING": 1}
    assert lifecycle_of(aws, "before") is not None
    assert lifecycle_of(aws, "at") is None


def test_a_lost_record_after_a_begun_one_in_its_shard_is_still_checked(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    one_shard = SETTINGS.model_copy(update={"sweep_shards": 1})
    put_record(aws, "processed", NOW - grace - 9_000, shards=1)
    put_event(aws, "processed", "SUCCEEDED", None)
    put_record(aws, "lost", NOW - grace - 5_000, shards=1)
    lanes_have_read_up_to(aws, NOW)

    report = run_sweep(aws, one_shard)

    assert report.woken == {"PENDING": 1}
    assert lifecycle_of(aws, "lost") is not None
    assert report.oldest_due_age_ms == 5_000  # the lost one's lateness; the begun one is not late


def count_queries(dynamodb: Any) -> list[str]:
    """The shards of the COUNT queries the client makes from now on (each reads every item it counts)."""
    counted: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if params.get("Select") == "COUNT":
            counted.append(params["ExpressionAttributeValues"][":shard"]["S"])

    dynamodb.meta.events.register("before-parameter-build.dynamodb.Query", record)
    return counted


def test_a_sweep_with_budget_left_counts_nothing(aws: Aws) -> None:
    put_event(aws, "not-due", "RETRY_WAIT", NOW + 60_000)
    lanes_have_read_up_to(aws, NOW)
    counted = count_queries(aws.dynamodb)
    one = SETTINGS.model_copy(update={"max_items_per_run": 1})

    report = run_sweep(aws, one)

    assert (report.remaining_due, report.budget_exhausted) == (0, False)
    assert counted == []  # one item of budget left is not none left


def keys_in_distinct_intake_shards(count: int) -> list[str]:
    keys: dict[str, str] = {}
    n = 0
    while len(keys) < count:
        keys.setdefault(intake_shard(f"lost-{n}", Lane.BULK, SETTINGS.sweep_shards), f"lost-{n}")
        n += 1
    return list(keys.values())


def test_an_exhausted_budget_counts_what_every_intake_shard_still_holds(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    for key in keys_in_distinct_intake_shards(3):
        put_record(aws, key, NOW - grace - 1_000)
    lanes_have_read_up_to(aws, NOW)
    one = SETTINGS.model_copy(update={"max_items_per_run": 1})

    report = run_sweep(aws, one)

    assert report.woken == {"PENDING": 1}
    assert (report.remaining_due, report.budget_exhausted) == (2, True)  # one in each of two other shards


def test_an_exhausted_budget_counts_no_held_pending_event(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    put_event(aws, "running-expired", "RUNNING", NOW - 5_000, shard=BULK[0])
    put_event(aws, "queued", "PENDING", NOW - 1_000, shard=BULK[0])  # written after the bulk lane's watermark
    put_event(aws, "retry-due", "RETRY_WAIT", NOW - 2_000, shard=BULK[1])
    store = EventStore(aws.dynamodb, EVENTS_TABLE_NAME)
    store.advance_watermark(Lane.BULK, NOW - grace - 30_000)
    store.advance_watermark(Lane.INTERACTIVE, NOW)
    one = SETTINGS.model_copy(update={"max_items_per_run": 1})

    report = run_sweep(aws, one)

    assert report.woken == {"RUNNING": 1}
    assert report.remaining_due == 1  # the retry; the queued one is held, not owed


class ReplayedMeanwhile(EventStore):
    """An operator replays each FAILED event between the sweeper's query and its read of the failure."""

    def __init__(self, aws: Aws) -> None:
        super().__init__(aws.dynamodb, EVENTS_TABLE_NAME)
        self.aws = aws

    def failed_event(self, dedupe_key: str) -> Any:
        self.aws.dynamodb.update_item(
            TableName=EVENTS_TABLE_NAME,
            Key={"pk": {"S": lifecycle_key(dedupe_key)}},
            UpdateExpression="SET #s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":pending": {"S": "PENDING"}},
        )
        return super().failed_event(dedupe_key)


class ClaimedMeanwhile(EventStore):
    """A processor claims each lost event between the sweeper's read of its record and its PENDING write."""

    def event_record(self, dedupe_key: str) -> Any:
        record = super().event_record(dedupe_key)
        assert record is not None and self.claim(record, "processor", NOW, 60_000) is not None
        return record


def test_every_failure_replayed_under_a_sweep_is_one_lost_race_and_no_alert(aws: Aws) -> None:
    for key in ("failed-1", "failed-2"):
        put_event(aws, key, "FAILED", NOW - 1, alertPending=1)
    lanes_have_read_up_to(aws, NOW)

    report = sweep(ReplayedMeanwhile(aws), AlertPublisher(aws.sns, aws.alerts_topic_arn), SETTINGS, NOW)

    assert (report.lost_races, report.alerts_resent) == (2, 0)
    assert aws.alerts() == []  # a replayed event's failure is no longer alerted


def test_every_lost_record_claimed_under_a_sweep_is_one_lost_race(aws: Aws) -> None:
    grace = SETTINGS.pending_grace_seconds * 1000
    for key in keys_in_distinct_intake_shards(2):
        put_record(aws, key, NOW - grace - 1_000)
    lanes_have_read_up_to(aws, NOW)
    store = ClaimedMeanwhile(aws.dynamodb, EVENTS_TABLE_NAME)

    report = sweep(store, AlertPublisher(aws.sns, aws.alerts_topic_arn), SETTINGS, NOW)

    assert (report.lost_races, report.woken) == (2, {})
