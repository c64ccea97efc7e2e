"""The lifecycle transitions as declared in the event store: the requests they make, and their rules."""

from __future__ import annotations

import pytest

from spillway_core import event_store
from spillway_core.event_store import ALERT_SENT, REPLAY, SUCCEED, Transition, Values


def test_a_transition_request_derives_names_and_types_values() -> None:
    request = SUCCEED.request({"running": "RUNNING", "owner": "w1", "outcome": "SUCCEEDED", "now": 7})
    assert request == {
        "ConditionExpression": "#status = :running AND #leaseOwner = :owner",
        "UpdateExpression": "SET #status = :outcome, #updatedAt = :now, #completedAt = :now "
        "REMOVE #leaseOwner, #leaseExpiresAt, #sweepShard, #dueAt",
        "ExpressionAttributeNames": {
            f"#{name}": name
            for name in ("completedAt", "dueAt", "leaseExpiresAt", "leaseOwner", "status", "sweepShard", "updatedAt")
        },
        "ExpressionAttributeValues": {
            ":running": {"S": "RUNNING"},
            ":owner": {"S": "w1"},
            ":outcome": {"S": "SUCCEEDED"},
            ":now": {"N": "7"},
        },
    }
    # A bool is typed BOOL, not N (it is an int to Python).
    assert ALERT_SENT.request({"true": True, "failedAt": 5})["ExpressionAttributeValues"][":true"] == {"BOOL": True}


def test_a_transition_takes_exactly_the_values_its_placeholders_name() -> None:
    values: Values = {"running": "RUNNING", "owner": "w1", "outcome": "SUCCEEDED", "now": 7}
    with pytest.raises(TypeError, match="placeholders"):
        SUCCEED.request({k: v for k, v in values.items() if k != "owner"})  # one missing
    with pytest.raises(TypeError, match="placeholders"):
        SUCCEED.request(values | {"unused": 1})  # DynamoDB refuses an unused value too


def test_every_lifecycle_transition_is_conditional() -> None:
    declared = [value for value in vars(event_store).values() if isinstance(value, Transition)]
    assert len(declared) >= 7
    assert all(t.condition for t in declared if t is not REPLAY)
    with pytest.raises(TypeError, match=r"^a transition is conditional: it needs a condition$"):
        REPLAY.request({})  # its condition is given per call (the statuses it replays from)


def test_also_adds_to_a_transition_without_changing_it() -> None:
    more = SUCCEED.also(sets={"workspace": ":ws"}, removes=("wakes",))
    assert more.sets == SUCCEED.sets | {"workspace": ":ws"} and more.removes == (*SUCCEED.removes, "wakes")
    assert "workspace" not in SUCCEED.sets and more.condition == SUCCEED.condition
    assert SUCCEED.also(condition="#status = :other").condition == "#status = :other"


def test_a_transition_with_several_additions_lists_them_apart() -> None:
    counted = Transition(condition="#status = :seen", adds={"wakes": ":one", "attempts": ":one"})
    request = counted.request({"seen": "PENDING", "one": 1})
    assert request["UpdateExpression"] == "ADD #wakes :one, #attempts :one"
