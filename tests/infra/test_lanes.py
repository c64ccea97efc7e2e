"""The two processor lanes as deployed: two mappings on the one stream, disjoint filters that cover
every supported type, and a cap per lane that is one honest number."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import SpillwayConfig, cdk_context
from ingest.logic import event_to_store
from spillway_cli.tokens import binding, bindings_json
from spillway_core.event_store import EventStore
from spillway_core.http import WebhookRequest
from spillway_core.lanes import Lane, probe_key, watermark_key
from spillway_core.lifecycle import lifecycle_key
from spillway_core.payloads import SUPPORTED_EVENT_TYPES, PayloadRejected, event_type_of, tenant_of
from spillway_core.settings import IngestSettings
from spillway_core.status import EventStatus
from tests.infra.test_stack import resources
from tests.support.environment import stack_with

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emailbison"
CONFIG = SpillwayConfig.from_context(cdk_context()["spillway"])
SETTINGS = IngestSettings.from_env(
    stack_with(
        {"EVENTS_TABLE": "events", "INGEST_TOKEN_BINDINGS": bindings_json({"0" * 64: binding("emailbison", ["12"])})}
    )
)


def matches(pattern: Any, record: Any) -> bool:
    """Lambda's filter semantics for the subset the stack uses: nested objects, lists of values."""
    if isinstance(pattern, dict):
        return isinstance(record, dict) and all(k in record and matches(v, record[k]) for k, v in pattern.items())
    return record in pattern


def stream_mappings(template: Template) -> dict[str, dict[str, Any]]:
    """The events stream's mappings by the lane their function serves."""
    functions = resources(template, "AWS::Lambda::Function")
    found = {}
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        if "StreamArn" not in json.dumps(props["EventSourceArn"]):
            continue
        function = functions[props["FunctionName"]["Ref"]]["Properties"]
        lane = "interactive" if "interactive" in function["Description"] else "bulk"
        found[lane] = props | {"function": function, "function_id": props["FunctionName"]["Ref"]}
    return found


def record_matches(mapping: dict[str, Any], record: dict[str, Any]) -> bool:
    return any(matches(json.loads(f["Pattern"]), record) for f in mapping["FilterCriteria"]["Filters"])


class _CapturedPut:
    """A DynamoDB client that keeps the item of the one put it is given."""

    item: dict[str, Any]

    def put_item(self, **kwargs: Any) -> None:
        self.item = kwargs["Item"]


def ingested_record(fixture: Path) -> tuple[str, dict[str, Any]]:
    """The stream record of an event as the real ingest stores it (its INSERT)."""
    document = json.loads(fixture.read_bytes())
    request = WebhookRequest("emailbison", {"content-type": "application/json"}, {}, fixture.read_bytes())
    event_type, tenant = event_type_of(document), tenant_of(request.provider, document)
    stored = event_to_store(request, document, event_type, tenant, SETTINGS, now_ms=1_795_000_000_000)
    client = _CapturedPut()
    EventStore(client, "events").put_new(stored)
    image = client.item
    return event_type_of(document), {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"pk": image["pk"]}, "NewImage": image},
    }


def lifecycle_record(event: dict[str, Any], status: EventStatus, name: str = "MODIFY") -> dict[str, Any]:
    """A stream record of the event's lifecycle item in ``status``."""
    key = lifecycle_key(event["dynamodb"]["Keys"]["pk"]["S"])
    image = {"pk": {"S": key}, "status": {"S": status.value}, "lane": event["dynamodb"]["NewImage"]["lane"]}
    return {"eventName": name, "dynamodb": {"Keys": {"pk": image["pk"]}, "NewImage": image}}


def test_two_mappings_on_the_events_stream_each_with_its_own_function(template: Template) -> None:
    mappings = stream_mappings(template)

    assert set(mappings) == {"bulk", "interactive"}
    assert mappings["bulk"]["function_id"] != mappings["interactive"]["function_id"]
    for mapping in mappings.values():
        assert mapping["function"]["Handler"] == "processor.handler.lambda_handler"
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
    assert mappings["bulk"]["BatchSize"] == CONFIG.bulk_batch_size
    assert mappings["bulk"]["MaximumBatchingWindowInSeconds"] == CONFIG.bulk_batching_window_seconds
    assert mappings["interactive"]["BatchSize"] == CONFIG.interactive_batch_size
    assert mappings["interactive"]["MaximumBatchingWindowInSeconds"] == 0  # a reply is handed over at once


def test_every_supported_type_reaches_exactly_one_lane_as_the_lane_rule_says(template: Template) -> None:
    mappings = stream_mappings(template)
    seen_types = set()
    for fixture in sorted(FIXTURES.glob("*.json")):
        try:
            event_type, record = ingested_record(fixture)
        except PayloadRejected:
            continue  # refused by ingest: nothing is stored, so nothing is streamed
        lanes = {lane for lane, mapping in mappings.items() if record_matches(mapping, record)}
        if event_type not in SUPPORTED_EVENT_TYPES:
            assert lanes == set(), fixture.name  # IGNORED: never processed
            continue
        seen_types.add(event_type)
        lane = record["dynamodb"]["NewImage"]["lane"]["S"]
        assert lanes == {lane}, fixture.name
        # Its lifecycle item reaches the same lane when put back to PENDING (created so by the sweeper,
        # woken, replayed), and no lane in any other state: only PENDING runs.
        for name in ("INSERT", "MODIFY"):
            pending = lifecycle_record(record, EventStatus.PENDING, name)
            assert {n for n, m in mappings.items() if record_matches(m, pending)} == {lane}, fixture.name
        for status in (EventStatus.RUNNING, EventStatus.SUCCEEDED, EventStatus.RETRY_WAIT, EventStatus.FAILED):
            assert not any(record_matches(m, lifecycle_record(record, status)) for m in mappings.values())
        # The event record's own image is never written again; were it, it would not run twice.
        again = copy.deepcopy(record) | {"eventName": "MODIFY"}
        assert not any(record_matches(m, again) for m in mappings.values())
    assert seen_types == SUPPORTED_EVENT_TYPES


def test_each_lane_reads_its_own_probe_and_no_lane_reads_a_watermark(template: Template) -> None:
    mappings = stream_mappings(template)
    for lane in Lane:
        probe_image = {"pk": {"S": probe_key(lane)}, "lane": {"S": lane.value}, "probeAt": {"N": "1"}}
        probe = {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": probe_image["pk"]}, "NewImage": probe_image}}
        mark_image = {"pk": {"S": watermark_key(lane)}, "watermark": {"N": "1"}}
        mark = {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": mark_image["pk"]}, "NewImage": mark_image}}
        assert {name for name, m in mappings.items() if record_matches(m, probe)} == {lane.value}
        assert not any(record_matches(m, mark) for m in mappings.values())


@pytest.mark.parametrize("shards", [1, 2, 8])
def test_each_lanes_cap_is_its_configured_concurrency_on_any_number_of_shards(template: Template, shards: int) -> None:
    mappings = stream_mappings(template)
    expected = {"bulk": CONFIG.bulk_concurrency, "interactive": CONFIG.interactive_concurrency}

    for lane, mapping in mappings.items():
        reserved = mapping["function"]["ReservedConcurrentExecutions"]
        # Lambda: concurrency = min(reserved, shards x ParallelizationFactor).
        assert min(reserved, shards * mapping["ParallelizationFactor"]) == expected[lane]
        assert reserved == expected[lane]


@pytest.mark.parametrize("key", ["bulkConcurrency", "interactiveConcurrency"])
@pytest.mark.parametrize("value", [0, 11])
def test_a_cap_one_shard_cannot_reach_is_refused(key: str, value: int) -> None:
    with pytest.raises(ValueError, match=key):
        SpillwayConfig.from_context(cdk_context()["spillway"], {key: value})
