"""Every supported event type through the deployed pipeline, plus an unknown one."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from spillway_core.keys import NO_INSTANCE, Tenant, lead_pk
from tests.conftest import load_fixture
from tests.e2e.conftest import Deployed, wait_for
from tests.support.keys import key_of
from tests.support.scenario import EVENTS, LEAD_EMAIL

pytestmark = pytest.mark.e2e

# What each type must leave behind on its lead (besides the event reaching SUCCEEDED).
LEAD_EFFECT: dict[str, dict[str, object]] = {
    "sent_a": {"outboundCount": "1", "status": "CONTACTED"},
    "manual": {"outboundCount": "1", "status": "CONTACTED"},
    "open_a1": {"openCount": "1"},
    "replied": {"inboundCount": "1", "replied": True, "status": "REPLIED"},
    "interested": {"inboundCount": "1", "interested": True, "status": "INTERESTED"},
    "untracked": {"inboundCount": "1", "replied": True},
    "bounced": {"bounced": True, "status": "BLACKLISTED"},
    "unsubscribed": {"unsubscribed": True, "status": "BLACKLISTED"},
}


def in_workspace(payload: dict[str, Any], workspace: int) -> dict[str, Any]:
    moved = copy.deepcopy(payload)
    moved["event"]["workspace_id"] = workspace
    return moved


def lead_item(deployed: Deployed, workspace: int, provider: str = "emailbison") -> dict[str, Any] | None:
    ddb = deployed.target.client("dynamodb")
    tenant = Tenant(provider, NO_INSTANCE, str(workspace))  # the scenario's events name no instance
    key = {"pk": {"S": lead_pk(tenant, LEAD_EMAIL)}, "sk": {"S": "LEAD"}}
    return ddb.get_item(TableName=deployed.target.domain_table, Key=key, ConsistentRead=True).get("Item")


def wait_succeeded(deployed: Deployed, key: str) -> dict[str, Any]:
    return wait_for(
        lambda: (e := deployed.event(key)) and e["status"]["S"] == "SUCCEEDED" and e, what=f"{key} to succeed"
    )


@pytest.mark.parametrize("name", sorted(LEAD_EFFECT))
def test_each_type_flows_end_to_end(deployed: Deployed, name: str) -> None:
    workspace = 1000 + sorted(LEAD_EFFECT).index(name)

    status, body = deployed.post(in_workspace(EVENTS[name], workspace))

    assert (status, body["status"]) == (200, "accepted")
    assert body["id"] == key_of(in_workspace(EVENTS[name], workspace))
    wait_succeeded(deployed, body["id"])
    lead = lead_item(deployed, workspace)
    assert lead is not None
    for attribute, value in LEAD_EFFECT[name].items():
        stored = lead[attribute]
        assert stored.get("N", stored.get("S", stored.get("BOOL"))) == value, attribute


def test_unknown_type_is_answered_2xx_and_kept_as_ignored(deployed: Deployed) -> None:
    status, body = deployed.post(load_fixture("unknown_tag_attached.json"))

    assert (status, body["status"]) == (200, "ignored")
    event = deployed.event(body["id"])
    assert event is not None
    assert event["status"]["S"] == "IGNORED"
    assert "sweepShard" not in event


def test_all_types_for_one_lead_in_random_order_end_in_one_state(deployed: Deployed) -> None:
    workspace = 2000
    names = list(EVENTS)
    random.Random(2026).shuffle(names)
    keys = []
    for name in names + names[:3]:  # and a few provider retries
        # Through the other provider: same provider ids as the test above, so other dedupe keys.
        status, body = deployed.post(in_workspace(EVENTS[name], workspace), provider="inboxxia")
        assert status == 200
        keys.append(body["id"])

    for key in set(keys):
        wait_succeeded(deployed, key)
    lead = lead_item(deployed, workspace, "inboxxia")
    assert lead is not None
    assert lead["status"]["S"] == "BLACKLISTED"
    assert (lead["outboundCount"]["N"], lead["inboundCount"]["N"], lead["openCount"]["N"]) == ("3", "2", "2")
    ddb = deployed.target.client("dynamodb")
    follow_up = ddb.get_item(
        TableName=deployed.target.domain_table,
        Key={"pk": lead["pk"], "sk": {"S": "FOLLOWUP#NO_RESPONSE"}},
        ConsistentRead=True,
    )["Item"]
    assert follow_up["state"]["S"] == "STOPPED"
    assert follow_up["stopReason"]["S"] == "UNSUBSCRIBED"
