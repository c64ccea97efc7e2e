"""The on-call flow on the emulator: a poison burst of 50 events ends FAILED with one Slack summary;
after the fix, `events`, `replay --dry-run` and `replay` bring every event to SUCCEEDED, effects once.

The fault is made as in production, without hooks in the product: the processor's domain table name
points nowhere, and the ingest stores the events with a single attempt, so each fails for good.
Slack: the emulator ignores the notifier mapping's batching window and hands it at most 10 alerts at a
time; the notifier still posts one summary, because the burst's alerts join one digest whose delayed flush
posts it once the failures pause for the quiet time (functions/notifier/digests.py). The mapping is left
running, as deployed.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import pytest
from click.testing import CliRunner

from infra import config as names
from spillway_cli.deployed import function_environments
from spillway_cli.main import cli
from tests.conftest import load_fixture
from tests.e2e.conftest import Deployed, wait_for
from tests.support.slack import SlackStandIn

pytestmark = pytest.mark.e2e
BURST = 50
FIRST_ID = 880_000


def set_env(deployed: Deployed, marker: str, **changes: str) -> dict[str, str]:
    """Changes the environment of every function of the stack that has ``marker`` set (both processor
    lanes have the domain table); returns the first one's old environment."""
    found = [(n, e) for n, e in function_environments(deployed.target).items() if marker in e]
    assert found, marker
    for name, env in found:
        deployed.target.client("lambda").update_function_configuration(
            FunctionName=name, Environment={"Variables": env | changes}
        )
    return found[0][1]


def alerts_queue_settled(deployed: Deployed) -> bool:
    """Nothing left on the notifier's queue: no alert to join, no flush pending, so no summary to come."""
    [queue_url] = [
        e[names.EnvVar.ALERT_QUEUE_URL]
        for e in function_environments(deployed.target).values()
        if names.EnvVar.ALERT_QUEUE_URL in e
    ]
    counts = deployed.target.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    waiting = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return all(int(counts["Attributes"].get(name, 0)) == 0 for name in waiting)


def spillway(deployed: Deployed, *args: str) -> Any:
    where = ["--endpoint-url", str(deployed.target.endpoint_url), "--stack-name", deployed.target.stack_name]
    result = CliRunner().invoke(cli, [*args, *where], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_poison_burst_is_listed_replayed_and_succeeds_once(deployed: Deployed, slack: SlackStandIn) -> None:
    started_ms = int(time.time() * 1000) - 1000
    ingest_env = set_env(deployed, names.EnvVar.INGEST_TOKEN_BINDINGS, MAX_ATTEMPTS="1")
    processor_env = set_env(deployed, names.EnvVar.DOMAIN_TABLE, DOMAIN_TABLE="spillway-missing-table")
    keys = []
    for n in range(BURST):
        payload = load_fixture("email_sent.json")
        payload["data"]["scheduled_email"]["id"] = FIRST_ID + n
        status, body = deployed.post(payload)
        assert status == 200, body
        keys.append(body["id"])
    set_env(deployed, names.EnvVar.INGEST_TOKEN_BINDINGS, MAX_ATTEMPTS=ingest_env.get("MAX_ATTEMPTS", "8"))

    def failed() -> int:
        return sum(1 for k in keys if (e := deployed.event(k)) and e["status"]["S"] == "FAILED")

    wait_for(lambda: failed() == BURST, timeout_s=180, what="the burst to fail")
    print(f"\nthe burst of {BURST} was sent and FAILED within {time.time() - started_ms / 1000 - 1:.1f}s")
    wait_for(lambda: not any("alertPending" in (deployed.event(k) or {}) for k in keys), what="the alerts to be sent")
    [summary] = slack.wait_for_messages(1, timeout_s=180)
    alerted = time.monotonic()
    # A second digest's flush would be due within the quiet time (60 s) plus its settle time.
    wait_for(lambda: alerts_queue_settled(deployed), timeout_s=120, what="the notifier's queue to settle")
    checking_s = time.monotonic() - alerted  # the test's own check, not part of the on-call flow
    headers = [m["blocks"][0]["text"]["text"] for m in slack.messages]
    assert len(headers) == 1, headers  # one summary for the burst, and none still to come
    assert summary["blocks"][0]["text"]["text"] == f"Spillway: {BURST} alerts in one burst"
    text = json.dumps(summary)
    assert f"{BURST} x EMAIL_SENT event FAILED" in text
    assert "@" not in text.replace("hooks.slack", "")  # no addresses in an alert
    line = next(b["text"]["text"] for b in summary["blocks"] if "See all:" in b.get("text", {}).get("text", ""))
    command = shlex.split(line.split("See all: `", 1)[1].split("`", 1)[0])[1:]  # as an on-call engineer pastes it

    # The fix: the processor's configuration is put right. Then the on-call flow, from the alert.
    set_env(deployed, names.EnvVar.DOMAIN_TABLE, DOMAIN_TABLE=processor_env["DOMAIN_TABLE"])
    listed = spillway(deployed, *command, "--json", "--all")
    assert sorted(json.loads(line)["dedupeKey"] for line in listed.stdout.splitlines()) == sorted(keys)
    status = json.loads(spillway(deployed, "status", "--json").stdout)
    assert status["byStatus"]["FAILED"] >= BURST and status["processing"] and not status["paused"]
    since = ["--since", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_ms / 1000))]
    dry = spillway(deployed, "replay", "--status", "FAILED", "--type", "EMAIL_SENT", *since, "--dry-run")
    assert f"would replay {BURST}; skipped: none" in dry.stdout
    assert failed() == BURST  # the dry run changed nothing
    replayed = spillway(deployed, "replay", "--status", "FAILED", "--type", "EMAIL_SENT", *since, "--rate", "50")
    assert f"replayed {BURST}; skipped: none" in replayed.stdout

    def succeeded() -> int:
        return sum(1 for k in keys if (e := deployed.event(k)) and e["status"]["S"] == "SUCCEEDED")

    wait_for(lambda: succeeded() == BURST, timeout_s=180, what="every replayed event to succeed")
    recovered_s = time.monotonic() - alerted - checking_s

    print(
        f"\non-call scenario: {BURST} FAILED events replayed to SUCCEEDED {recovered_s:.1f}s after the Slack alert"
        f" (not counting the test's {checking_s:.1f}s check that no other summary was pending)"
    )
    messages = [i for i in deployed.domain_items() if i["sk"]["S"] == "MESSAGE" and "#SE#88" in i["pk"]["S"]]
    assert sorted(int(i["pk"]["S"].rsplit("#", 1)[1]) for i in messages) == list(range(FIRST_ID, FIRST_ID + BURST))
    # Each effect applied once: its mark is the message it created (createdBy), or else its marker.
    marks = [i.get("createdBy", i.get("dedupeKey", {})).get("S") for i in deployed.domain_items()]
    assert sorted(mark for mark in marks if mark in set(keys)) == sorted(keys)
