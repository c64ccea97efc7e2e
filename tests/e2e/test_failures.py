"""Failure semantics on the emulator: a processor that fails then recovers, a processor killed
mid-event, a poison event that ends FAILED with one Slack message (to a local Slack stand-in).

Faults are made the way they happen in production, without test hooks in the product: a
misconfigured processor (its domain table name points nowhere), an event left RUNNING with an
expired lease (what a killed processor leaves), a corrupt stored event.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from infra import config as names
from spillway_cli.target import stack_config
from spillway_core.event_store import body_attributes
from spillway_core.lanes import lane_of
from spillway_core.lifecycle import intake_shard, lifecycle_key, sweep_shard
from tests.conftest import load_fixture
from tests.e2e.conftest import Deployed, wait_for
from tests.support.slack import SlackStandIn

pytestmark = pytest.mark.e2e
SWEEP_PERIOD_S = 60


def set_processor_env(deployed: Deployed, **changes: str) -> dict[str, str]:
    lambda_client = deployed.target.client("lambda")
    function = deployed.target.outputs[names.OUTPUT_PROCESSOR_FUNCTION]
    env = lambda_client.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    lambda_client.update_function_configuration(FunctionName=function, Environment={"Variables": env | changes})
    return dict(env)


def put_event(deployed: Deployed, key: str, status: str, normalised: str, due_ms: int, **extra: Any) -> None:
    """An event left in ``status`` (as a crash or a lost record leaves it): its lifecycle item, then its
    record, whose INSERT the processor skips (the lifecycle item is not PENDING) unless ``status`` is."""
    now = int(time.time() * 1000)
    config = stack_config()
    event_type = key.split(":")[1]
    lane = lane_of(event_type)
    common = {
        "provider": {"S": "emailbison"},
        "eventType": {"S": event_type},
        "lane": {"S": lane.value},  # as ingest writes it: each lane reads its own
        "receivedAt": {"N": str(now)},
        "maxAttempts": {"N": str(config.max_attempts)},
    }
    lifecycle = {
        "pk": {"S": lifecycle_key(key)},
        **common,
        "status": {"S": status},
        "updatedAt": {"N": str(now)},
        "runAt": {"N": str(now)},
        "attempts": {"N": "1" if status == "RUNNING" else "0"},
        "sweepShard": {"S": sweep_shard(key, lane, config.sweep_shards)},
        "dueAt": {"N": str(due_ms)},
        **extra,
    }
    record = {
        "pk": {"S": key},
        **common,
        "intake": {"S": "PENDING"},
        "sweepShard": {"S": intake_shard(key, lane, config.sweep_shards)},
        "dueAt": {"N": str(now + config.pending_grace_seconds * 1000)},
        "expiresAt": {"N": str(now // 1000 + 86_400)},
        **body_attributes(normalised, b"{}"),
    }
    client = deployed.target.client("dynamodb")
    client.put_item(TableName=deployed.target.events_table, Item=lifecycle)
    client.put_item(TableName=deployed.target.events_table, Item=record)


def status_of(deployed: Deployed, key: str) -> str | None:
    event = deployed.event(key)
    return event["status"]["S"] if event else None


def test_failures_recover_or_fail_visibly(deployed: Deployed, slack: SlackStandIn) -> None:
    # 1. A processor that fails: its domain table is misconfigured for the first attempt.
    original = set_processor_env(deployed, DOMAIN_TABLE="spillway-missing-table")
    flaky = load_fixture("email_sent.json")
    flaky["data"]["scheduled_email"]["id"] = 990001
    flaky["data"]["lead"]["email"] = "flaky.lead@prospect.example"  # not the sample lead other tests count on
    status, body = deployed.post(flaky)
    assert status == 200
    flaky_key = body["id"]
    retrying = wait_for(
        lambda: (e := deployed.event(flaky_key)) and e["status"]["S"] == "RETRY_WAIT" and e,
        what="the first attempt to fail",
    )
    assert retrying["attempts"]["N"] == "1"
    assert retrying["errorClass"]["S"] == "RetryableProcessingError"
    set_processor_env(deployed, DOMAIN_TABLE=original["DOMAIN_TABLE"])

    # 2. A processor killed mid-event: RUNNING, lease already expired.
    killed_at = time.monotonic()
    stuck_key = "emailbison:LEAD_REPLIED:990002"
    replied = json.dumps(
        {
            "provider": "emailbison",
            "event_type": "LEAD_REPLIED",
            "workspace_id": "12",
            "lead_email": "stuck@prospect.example",
            "reply_id": "990002",
        }
    )
    now = int(time.time() * 1000)
    put_event(
        deployed, stuck_key, "RUNNING", replied, now - 1, leaseOwner={"S": "dead"}, leaseExpiresAt={"N": str(now - 1)}
    )

    # 3. A poison event: its stored form cannot be processed, ever.
    poison_key = "emailbison:EMAIL_OPENED:event-990003"
    put_event(deployed, poison_key, "PENDING", '{"provider": "emailbison"}', now + 300_000)

    wait_for(
        lambda: status_of(deployed, stuck_key) == "SUCCEEDED",
        timeout_s=2 * SWEEP_PERIOD_S + 30,
        what="the killed event to be released and processed",
    )
    stuck_recovery_s = time.monotonic() - killed_at
    wait_for(
        lambda: status_of(deployed, flaky_key) == "SUCCEEDED",
        timeout_s=2 * SWEEP_PERIOD_S + 30,
        what="the failing event to succeed after the fix",
    )
    wait_for(lambda: status_of(deployed, poison_key) == "FAILED", what="the poison event to fail")
    [message] = slack.wait_for_messages(1, timeout_s=120)

    print(f"\nstuck RUNNING event recovered in {stuck_recovery_s:.1f}s (sweeper period {SWEEP_PERIOD_S}s)")
    assert stuck_recovery_s <= 2 * SWEEP_PERIOD_S
    text = json.dumps(message)
    assert poison_key in text and "FAILED" in text
    assert "@" not in text.replace("hooks.slack", "")  # no addresses in an alert
    flaky_event = deployed.event(flaky_key)
    assert flaky_event is not None and int(flaky_event["attempts"]["N"]) >= 2
    poison = deployed.event(poison_key)
    assert poison is not None and "alertPending" not in poison
