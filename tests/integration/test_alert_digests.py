"""Alert digests through the real notifier handler, moto and a local Slack stand-in: a burst handed over
in batches of 10 (as the emulator does), with redeliveries, is one summary that counts every failed
event once; late alerts and other groups get their own summary, and none is lost or posted twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

import notifier.handler
from tests.support.digests import WINDOW_S, DigestWorld, alert_record
from tests.support.lambda_events import FakeContext
from tests.support.slack import SlackStandIn
from tests.unit.test_notifier import FAILED

BURST = 50


def failed_alert(n: int, workspace: str = "42", event_type: str = "EMAIL_SENT") -> dict[str, Any]:
    key = f"emailbison:mail.example.com:{workspace}:{event_type}:{880_000 + n}"
    return FAILED | {"dedupe_key": key, "event_type": event_type, "inspect_command": f"spillway inspect {key}"}


class World(DigestWorld):
    def set_slack(self, url: str) -> None:
        boto3.client("secretsmanager").put_secret_value(SecretId=self.secret_arn, SecretString=url)

    def invoke(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(notifier.handler.lambda_handler({"Records": records}, FakeContext()))

    def deliver(self, alerts: list[dict[str, Any]], queued_at_ms: int, batch: int = 10) -> None:
        records = [alert_record(a, queued_at_ms + n, f"m-{queued_at_ms}-{n}") for n, a in enumerate(alerts)]
        for start in range(0, len(records), batch):
            assert self.invoke(records[start : start + batch]) == {"batchItemFailures": []}

    def flush(self) -> dict[str, Any]:
        return self.invoke(self.due_flushes())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="slack", SecretString="not-configured")["ARN"]
        monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
        monkeypatch.setattr(notifier.handler, "SECRET_MAX_AGE_SECONDS", 0)
        notifier.handler._secrets.cache_clear()
        world = World(monkeypatch)
        world.secret_arn = arn  # type: ignore[attr-defined]
        yield world
        world.close()
        notifier.handler._secrets.cache_clear()


def counted(messages: list[dict[str, Any]]) -> int:
    """How many failed events the summaries count (a single alert is a detailed message)."""
    total = 0
    for message in messages:
        header = message["blocks"][0]["text"]["text"]
        total += int(header.split()[1]) if header.endswith("alerts in one burst") else 1
    return total


def test_a_burst_in_batches_of_ten_with_redeliveries_is_one_summary_counting_each_event_once(world: World) -> None:
    now = int(time.time() * 1000)
    alerts = [failed_alert(n) for n in range(BURST)]
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        world.deliver(alerts, now)
        world.deliver(alerts[:10], now)  # SQS delivers at least once: a batch comes again
        world.deliver(alerts[10:15], now + 500)  # and the sweeper re-publishes alerts it was unsure of
        assert slack.messages == []  # nothing is posted before the window has passed

        assert world.flush() == {"batchItemFailures": []}
        [summary] = slack.wait_for_messages(1, timeout_s=5)

    # One flush, asked for when the window after the first alert has passed (plus the settle time).
    [delay] = world.delays
    assert WINDOW_S <= delay <= WINDOW_S + 10
    text = json.dumps(summary)
    assert summary["blocks"][0]["text"]["text"] == f"Spillway: {BURST} alerts in one burst"
    assert f"{BURST} x EMAIL_SENT event FAILED" in text
    assert "--workspace 42" in text  # its see-all command lists this group's events only
    assert all(len(b["text"]["text"]) <= 3000 for b in summary["blocks"] if "text" in b)


def test_groups_get_their_own_summary_and_a_late_alert_the_next_one(world: World) -> None:
    now = int(time.time() * 1000)
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        world.deliver([failed_alert(n) for n in range(12)], now)
        world.deliver([failed_alert(n, workspace="43") for n in range(3)], now)
        world.deliver([failed_alert(n, event_type="LEAD_REPLIED") for n in range(4)], now)
        assert world.flush() == {"batchItemFailures": []}
        first = slack.wait_for_messages(3, timeout_s=5)
        # Queued inside the first digest's window but handed over after it closed: it is not lost,
        # it opens the next digest of its group.
        world.deliver([failed_alert(100)], now + 1000)
        # Queued after the window: a digest of its own too.
        world.deliver([failed_alert(200, workspace="43")], now + WINDOW_S * 1000 + 1)
        assert world.flush() == {"batchItemFailures": []}
        everything = slack.wait_for_messages(5, timeout_s=5)

    assert sorted(counted([m]) for m in first) == [3, 4, 12]
    assert counted(everything) == 12 + 3 + 4 + 1 + 1  # every failed event counted exactly once
    texts = [json.dumps(m) for m in everything[3:]]
    assert any("880100" in t for t in texts) and any("880200" in t for t in texts)


def test_while_slack_is_unconfigured_alerts_are_kept_and_the_summary_waits_then_posts_once(world: World) -> None:
    now = int(time.time() * 1000)
    world.deliver([failed_alert(n) for n in range(20)], now)  # joined, whatever Slack's state
    flushes = world.due_flushes()

    assert world.invoke(flushes) == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in flushes]}
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        assert world.invoke(flushes) == {"batchItemFailures": []}  # the flush comes again, now posted
        assert world.invoke(flushes) == {"batchItemFailures": []}  # and once more: not posted twice
        [summary] = slack.wait_for_messages(1, timeout_s=5)

    assert len(slack.messages) == 1
    assert counted([summary]) == 20


def test_a_slack_that_refuses_keeps_the_flush_and_the_digest(world: World) -> None:
    now = int(time.time() * 1000)
    world.deliver([failed_alert(n) for n in range(3)], now)
    flushes = world.due_flushes()
    with SlackStandIn(answer_status=500) as refusing:
        world.set_slack(refusing.url)
        assert world.invoke(flushes)["batchItemFailures"]
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        assert world.invoke(flushes) == {"batchItemFailures": []}
        [summary] = slack.wait_for_messages(1, timeout_s=5)

    assert counted([summary]) == 3
