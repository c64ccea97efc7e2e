"""Domain writes pay only for change: items an event would leave as they are are not written again,
counted from the calls the processor actually makes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from spillway_core.domain import FOLLOW_UP_SK
from spillway_core.keys import effect_marker_pk
from tests.support.pipeline import APPLIED, InProcessPipeline
from tests.support.scenario import EVENTS
from tests.support.tables import DOMAIN_TABLE_NAME, recreate_tables


class DomainCalls:
    """Every call the client makes on the domain table, with its parameters."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.dynamodb.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if DOMAIN_TABLE_NAME in str(params):
            self.calls.append((model.name, params))

    def written(self) -> list[tuple[str, str]]:
        """(pk, sk) of every domain item written, in order."""
        items = []
        for name, params in self.calls:
            specs = [next(iter(t.values())) for t in params["TransactItems"]] if name == "TransactWriteItems" else []
            if name in {"PutItem", "UpdateItem"}:
                specs = [params]
            for spec in specs:
                key = spec.get("Key") or spec["Item"]
                items.append((key["pk"]["S"], key["sk"]["S"]))
        return items

    def kinds(self) -> list[str]:
        return [sk for _, sk in self.written()]


@pytest.fixture
def world(moto_dynamodb: Any) -> Iterator[tuple[InProcessPipeline, DomainCalls]]:
    recreate_tables(moto_dynamodb)
    client = boto3.client("dynamodb", region_name="us-east-1")  # its own hooks, same backend
    yield InProcessPipeline(client), DomainCalls(client)


def run(pipeline: InProcessPipeline, calls: DomainCalls, payload: dict[str, Any], outcome: str = "succeeded") -> None:
    calls.calls.clear()
    status, body = pipeline.post(payload)
    assert status == 200, body
    assert pipeline.process(body["id"]) == outcome


def test_a_second_send_writes_neither_the_campaign_nor_the_unchanged_follow_up(
    world: tuple[InProcessPipeline, DomainCalls],
) -> None:
    pipeline, calls = world
    run(pipeline, calls, EVENTS["sent_a"])
    assert sorted(calls.kinds()) == sorted(["MESSAGE", "LEAD", FOLLOW_UP_SK, "CAMPAIGN"])
    run(pipeline, calls, EVENTS["sent_b"])
    # Same lead, same campaign, the sequence still ACTIVE since the first send: only what changed.
    assert sorted(calls.kinds()) == sorted(["MESSAGE", "LEAD"])
    # One consistent batch read, not a transactional one.
    reads = [(n, p) for n, p in calls.calls if n not in {"TransactWriteItems", "PutItem"}]
    assert [n for n, _ in reads] == ["BatchGetItem"]
    assert reads[0][1]["RequestItems"][DOMAIN_TABLE_NAME]["ConsistentRead"] is True


def test_an_event_that_creates_its_message_is_marked_applied_by_it_and_not_applied_twice(
    world: tuple[InProcessPipeline, DomainCalls],
) -> None:
    """No marker item: the message it creates carries its dedupe key, in the same atomic write."""
    pipeline, calls = world
    status, body = pipeline.post(EVENTS["sent_a"])
    assert status == 200
    key = body["id"]
    assert pipeline.process(key) == "succeeded"
    pipeline.crash_after_effect(key)  # as if the worker had died after the effect, before its outcome
    message_pk = next(pk for pk, sk in calls.written() if sk == "MESSAGE")
    assert "EFFECT" not in calls.kinds()
    stored = pipeline.dynamodb.get_item(
        TableName=DOMAIN_TABLE_NAME, Key={"pk": {"S": message_pk}, "sk": {"S": "MESSAGE"}}
    )
    assert stored["Item"]["createdBy"] == {"S": key}
    state = pipeline.domain_state()

    calls.calls.clear()
    assert pipeline.process(key) == "succeeded_already_applied"  # the retry after the crash

    assert calls.written() == []
    assert pipeline.domain_state() == state
    assert state[APPLIED] == {"keys": [key]}
    # A later event that only updates the message leaves its creator as it was.
    run(pipeline, calls, EVENTS["open_a1"])
    stored = pipeline.dynamodb.get_item(
        TableName=DOMAIN_TABLE_NAME, Key={"pk": {"S": message_pk}, "sk": {"S": "MESSAGE"}}
    )
    assert stored["Item"]["createdBy"] == {"S": key}


def test_the_follow_up_is_written_again_when_it_changes(world: tuple[InProcessPipeline, DomainCalls]) -> None:
    pipeline, calls = world
    run(pipeline, calls, EVENTS["sent_a"])
    run(pipeline, calls, EVENTS["replied"])  # stops the sequence
    assert FOLLOW_UP_SK in calls.kinds() and "CAMPAIGN" not in calls.kinds()
    lead_pk = next(pk for pk, sk in calls.written() if sk == "LEAD")
    item = pipeline.dynamodb.get_item(
        TableName=DOMAIN_TABLE_NAME, Key={"pk": {"S": lead_pk}, "sk": {"S": FOLLOW_UP_SK}}
    )
    assert item["Item"]["state"]["S"] == "STOPPED"


def test_a_message_the_event_leaves_as_it_is_is_not_written(world: tuple[InProcessPipeline, DomainCalls]) -> None:
    pipeline, calls = world
    run(pipeline, calls, EVENTS["interested"])  # the reply, marked interested, arrives first
    run(pipeline, calls, EVENTS["replied"])  # the same reply: nothing new about the message
    assert "MESSAGE" not in calls.kinds() and "LEAD" in calls.kinds()  # the lead gains the replied flag


def test_an_event_that_changes_nothing_writes_only_its_marker_once(
    world: tuple[InProcessPipeline, DomainCalls],
) -> None:
    pipeline, calls = world
    run(pipeline, calls, EVENTS["bounced"])
    state = pipeline.domain_state()
    # A later bounce of another email to the same (already bounced) lead: a new event, but no news.
    again = copy.deepcopy(EVENTS["bounced"])
    del again["data"]["reply"]
    again["data"]["scheduled_email"] = {"id": 1003}
    again["data"]["campaign_event"] |= {"id": 8102, "created_at": "2026-11-28T10:20:00.000000Z"}
    run(pipeline, calls, again)
    assert [name for name, _ in calls.calls if name != "BatchGetItem"] == ["PutItem"]
    assert calls.kinds() == ["EFFECT"]
    after = pipeline.domain_state()
    assert after.keys() == state.keys()  # no domain item appeared: only the marker was written
    [new] = set(after[APPLIED]["keys"]) - set(state[APPLIED]["keys"])
    assert calls.written() == [(effect_marker_pk(new), "EFFECT")]
    # The same event redelivered after its effect: the marker stops it, nothing is written.
    status, body = pipeline.post(again)
    assert status == 200
    pipeline.crash_after_effect(body["id"])
    calls.calls.clear()
    assert pipeline.process(body["id"]) == "succeeded_already_applied"
    assert calls.written() == []
