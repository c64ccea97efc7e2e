"""The on-call operations behind `spillway events | replay | dlq | status | inspect`.

Everything goes through the core's stores (the events table's status index, the domain store); the
stack's own settings come from ``spillway_cli.deployed``. Output formatting lives in ``render``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from infra import config as names
from spillway_cli.deployed import DeployedSettings, deployed_settings
from spillway_cli.status import target_store
from spillway_cli.target import Target, TargetError
from spillway_core.domain import FOLLOW_UP_SK, UnsupportedEvent, plan_effect
from spillway_core.domain_store import DomainStore, to_python
from spillway_core.event_store import EventFilter, EventStore, EventSummary, stored_body
from spillway_core.lanes import LANE_OF_TYPE, Lane, lane_of
from spillway_core.lifecycle import sweep_shard
from spillway_core.payloads import STORED_EVENT
from spillway_core.status import EventAttr as A
from spillway_core.status import EventStatus

REPLAYABLE = (EventStatus.FAILED, EventStatus.SUCCEEDED)
REPLAY_MIN_REMAINING_MS = 86_400_000  # a replayed event's retention left: its retries, then inspection


def event_store(target: Target) -> EventStore:
    """The target's event store for reads and writes by key (inspect, replay, the DLQ's events)."""
    return EventStore(target.client("dynamodb"), target.events_table)


def all_events(store: EventStore, flt: EventFilter, limit: int | None, page_size: int = 100) -> Iterator[EventSummary]:
    """Every event matching ``flt`` (up to ``limit``), newest change first, page by page."""
    cursor: dict[str, Any] | None = None
    seen = 0
    while limit is None or seen < limit:
        size = page_size if limit is None else min(page_size, limit - seen)
        page, cursor = store.list_events(flt, size, cursor)
        yield from page
        seen += len(page)
        if cursor is None:
            return


# --- replay ------------------------------------------------------------------------------------


@dataclass
class ReplaySummary:
    replayed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why
    dry_run: bool = False

    def line(self) -> str:
        verb = "would replay" if self.dry_run else "replayed"
        reasons: dict[str, int] = {}
        for why in self.skipped.values():
            reasons[why] = reasons.get(why, 0) + 1
        skipped = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items())) or "none"
        return f"{verb} {len(self.replayed)}; skipped: {skipped}"


class RateLimit:
    """At most ``per_second`` calls per second (a pacing delay; protects the domain table)."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise TargetError("--rate must be positive")
        self._interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._next = clock()

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
        self._next = max(now, self._next) + self._interval


def replay(
    target: Target,
    keys: Iterable[str],
    *,
    include_succeeded: bool,
    dry_run: bool,
    rate: RateLimit,
    settings: DeployedSettings | None = None,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> ReplaySummary:
    """Send events back through the processor: status -> PENDING in the shard the deployed sweeper
    watches, within the retention the event got at ingest. A SUCCEEDED event (only when asked)
    changes nothing in the domain: its effect marker (or the message it created) makes the processor
    skip the effect."""
    settings = settings or deployed_settings(target)
    store = event_store(target)
    allowed = REPLAYABLE if include_succeeded else (EventStatus.FAILED,)
    summary = ReplaySummary(dry_run=dry_run)
    for key in keys:
        item = store.get(key)
        if item is None or A.STATUS not in item:  # absent, or a lane probe (not an event)
            summary.skipped[key] = "not found"
            continue
        status = item[A.STATUS]["S"]
        if status not in allowed:
            hint = " (add --include-succeeded)" if status == EventStatus.SUCCEEDED else ""
            summary.skipped[key] = f"{status}{hint}"
            continue
        # The event record is written once and keeps the retention it got at ingest; a replay must
        # finish, and stay inspectable, well within it.
        expires_at_s = int(item[A.EXPIRES_AT]["N"]) if A.EXPIRES_AT in item else 0
        if expires_at_s * 1000 < now_ms() + REPLAY_MIN_REMAINING_MS:
            summary.skipped[key] = "expires within a day (retention is counted from ingest)"
            continue
        if dry_run:
            summary.replayed.append(key)
            continue
        rate.wait()
        now = now_ms()
        done = store.replay(
            key,
            now,
            sweep_shard(key, _lane(item), settings.sweep_shards),
            now + settings.pending_grace_seconds * 1000,
            from_statuses=allowed,
            max_attempts=settings.max_attempts,
        )
        if done:
            summary.replayed.append(key)
        else:
            summary.skipped[key] = "changed meanwhile"
    return summary


def _lane(item: dict[str, Any]) -> Lane:
    """The event's lane, as ingest wrote it (else derived from its type, which decides it)."""
    if A.LANE in item:
        return Lane(item[A.LANE]["S"])
    return lane_of(item[A.EVENT_TYPE]["S"])


# --- inspect -------------------------------------------------------------------------------------


def inspect(target: Target, dedupe_key: str, show_raw: bool = False) -> dict[str, Any] | None:
    """The stored event and the domain items its effect wrote (message, lead rollup, follow-up)."""
    item = event_store(target).get(dedupe_key)
    if item is None:
        return None
    deserializer = TypeDeserializer()
    view: dict[str, Any] = {
        k: deserializer.deserialize(v)
        for k, v in item.items()
        if k not in {A.BODY_ZLIB, A.NORMALISED, A.RAW, A.RAW_ZLIB}
    }
    body = stored_body(item)
    if body is None:  # the record's retention ran out before its lifecycle item's
        return view
    normalised, raw = body
    view[A.NORMALISED] = json.loads(normalised)
    view["rawBytes"] = len(raw) if raw is not None else None
    if show_raw and raw is not None:
        view["raw"] = json.loads(raw)
    view["effects"] = _effects(target, dedupe_key, view)
    return view


def _effects(target: Target, dedupe_key: str, view: dict[str, Any]) -> dict[str, Any]:
    try:
        event = STORED_EVENT.validate_python(view[A.NORMALISED])
        plan = plan_effect(dedupe_key, event, int(view.get(A.RECEIVED_AT, 0)))
    except (ValueError, UnsupportedEvent):
        return {"applied": False, "note": "no domain effect for this event"}
    client = target.client("dynamodb")
    domain_table = target.domain_table
    snapshot = DomainStore(client, domain_table).read_snapshot(plan)
    effects: dict[str, Any] = {"applied": snapshot.applied, "message": snapshot.message, "lead": snapshot.lead}
    if plan.lead_pk:
        follow_up = client.get_item(TableName=domain_table, Key={"pk": {"S": plan.lead_pk}, "sk": {"S": FOLLOW_UP_SK}})
        effects["followUp"] = to_python(follow_up.get("Item"))
    return effects


# --- dead-letter queues ----------------------------------------------------------------------------


@dataclass
class DlqMessage:
    receipt_handle: str
    body: dict[str, Any]
    keys: list[str] = field(default_factory=list)  # the events it stands for (processor DLQ)
    statuses: dict[str, str] = field(default_factory=dict)
    note: str = ""


def dlq_url(target: Target, which: str) -> str:
    output = names.OUTPUT_DLQ_URL if which == "processor" else names.OUTPUT_NOTIFIER_DLQ_URL
    try:
        return target.outputs[output]
    except KeyError as exc:
        raise TargetError(f"the stack has no {output} output: deploy this version first") from exc


def dlq_depth(target: Target, which: str) -> int:
    attributes = target.client("sqs").get_queue_attributes(
        QueueUrl=dlq_url(target, which), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def read_dlq(target: Target, which: str, max_messages: int = 100, visibility_s: int = 60) -> list[DlqMessage]:
    """Messages of a DLQ (hidden for ``visibility_s`` while we look; not deleted)."""
    sqs = target.client("sqs")
    url = dlq_url(target, which)
    messages: list[DlqMessage] = []
    while len(messages) < max_messages:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, max_messages - len(messages)), VisibilityTimeout=visibility_s
        ).get("Messages", [])
        if not batch:
            break
        for raw in batch:
            try:
                body = json.loads(raw["Body"])
            except ValueError:
                body = {"unreadable": True}
            messages.append(DlqMessage(raw["ReceiptHandle"], body if isinstance(body, dict) else {"body": body}))
    if which == "processor":
        store = event_store(target)
        for message in messages:
            _map_to_events(target, message)
            for key in message.keys:
                item = store.get(key)
                message.statuses[key] = item[A.STATUS]["S"] if item else "expired"
    return messages


def _map_to_events(target: Target, message: DlqMessage) -> None:
    """A stream on-failure record names a shard and a sequence range, not events: read that range of
    the stream back to find the dedupe keys (the stream keeps records for 24 hours)."""
    info = message.body.get("DDBStreamBatchInfo")
    if not isinstance(info, dict):
        message.note = "not a stream batch record"
        return
    streams = target.client("dynamodbstreams")
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        keys: list[str] = []
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records", [])
            for record in records:
                sequence = int(record["dynamodb"]["SequenceNumber"])
                if sequence > last:
                    iterator = None
                    break
                key = record["dynamodb"]["Keys"][A.PK]["S"]
                if sequence >= first and key not in keys:
                    keys.append(key)
            else:
                iterator = response.get("NextShardIterator") if records else None
        message.keys = keys
    except streams.exceptions.TrimmedDataAccessException:
        message.note = "the stream no longer holds this range (over 24 h): list the events by status instead"
    except streams.exceptions.ResourceNotFoundException:
        message.note = "the stream or shard is gone: list the events by status instead"


def release_dlq_messages(target: Target, which: str, messages: Iterable[DlqMessage]) -> None:
    """Make messages we read visible again at once (a later `show` or `redrive` sees them)."""
    sqs = target.client("sqs")
    url = dlq_url(target, which)
    for message in messages:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0)


def delete_dlq_messages(target: Target, which: str, messages: Iterable[DlqMessage]) -> None:
    sqs = target.client("sqs")
    url = dlq_url(target, which)
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message.receipt_handle)


def republish_alerts(target: Target, messages: Iterable[DlqMessage]) -> int:
    """Notifier DLQ redrive: publish each parked alert to the alerts topic again (one Slack try more)."""
    sns = target.client("sns")
    topic = target.outputs[names.OUTPUT_ALERTS_TOPIC]
    sent = 0
    for message in messages:
        sns.publish(TopicArn=topic, Message=json.dumps(message.body))
        sent += 1
    return sent


# --- status --------------------------------------------------------------------------------------

DUPLICATE_METRIC = "Webhook_duplicate"  # the ingest's outcome metric for a re-sent webhook
INGEST_SERVICE = "spillway-ingest"


OTHER_LANE = "other"  # event types no lane processes (IGNORED ones)


@dataclass(frozen=True)
class StatusReport:
    by_status: dict[str, int]
    by_lane: dict[str, dict[str, int]]  # status -> lane -> count ("other": types no lane processes)
    oldest_pending_age_s: float | None
    dlq_depths: dict[str, int | None]
    duplicates: int | None  # None: no metric (e.g. the emulator keeps none)
    processing: list[tuple[str, str]]  # (function, mapping state) per processor mapping / lane

    @property
    def paused(self) -> bool:
        return any(state in {"Disabled", "Disabling"} for _, state in self.processing)


def lane_counts(by_type: Counter[str]) -> dict[str, int]:
    """Counts per lane from counts per event type (the lane is a function of the type)."""
    lanes = dict.fromkeys([lane.value for lane in Lane], 0)
    for event_type, count in by_type.items():
        lane = LANE_OF_TYPE.get(event_type)
        name = lane.value if lane else OTHER_LANE
        lanes[name] = lanes.get(name, 0) + count
    return lanes


def duplicate_count(target: Target, since_s: float, now_s: float) -> int | None:
    """Duplicates from the ingest's CloudWatch metric (Sum over the window); never from log text."""
    try:
        response = target.client("cloudwatch").get_metric_statistics(
            Namespace=names.METRICS_NAMESPACE,
            MetricName=DUPLICATE_METRIC,
            Dimensions=[{"Name": "service", "Value": INGEST_SERVICE}],
            StartTime=since_s,
            EndTime=now_s,
            Period=max(60, int((now_s - since_s) // 60 * 60) or 60),
            Statistics=["Sum"],
        )
    except Exception:  # the metric service may be missing (emulator) or denied: status still shows the rest
        return None
    points = response.get("Datapoints", [])
    return int(sum(p.get("Sum", 0) for p in points)) if points else 0


def status_report(target: Target, since_s: float, now_s: float | None = None) -> StatusReport:
    from spillway_cli.deployed import processor_mappings

    now_s = time.time() if now_s is None else now_s
    store = target_store(target)
    # Terminal successes pile up for the whole retention: those are counted over the window only.
    windowed = {EventStatus.SUCCEEDED, EventStatus.IGNORED}
    by_type = {
        status.value: store.count_by_type(
            EventFilter(status=status.value, since_ms=int(since_s * 1000) if status in windowed else None)
        )
        for status in EventStatus
    }
    counts = {status: sum(types.values()) for status, types in by_type.items()}
    by_lane = {status: lane_counts(types) for status, types in by_type.items()}
    oldest = [store.oldest_update_ms(s) for s in (EventStatus.PENDING, EventStatus.RETRY_WAIT)]
    oldest_ms = min((ms for ms in oldest if ms is not None), default=None)
    depths: dict[str, int | None] = {}
    for which in ("processor", "notifier"):
        try:
            depths[which] = dlq_depth(target, which)
        except TargetError:
            depths[which] = None
    return StatusReport(
        by_status=counts,
        by_lane=by_lane,
        oldest_pending_age_s=None if oldest_ms is None else max(0.0, now_s - oldest_ms / 1000),
        dlq_depths=depths,
        duplicates=duplicate_count(target, since_s, now_s),
        processing=[(m.function, m.state) for m in processor_mappings(target)],
    )
