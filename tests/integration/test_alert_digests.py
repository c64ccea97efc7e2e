"""Alert digests through the real notifier handler, moto and a local Slack stand-in, on a clock the test
plays: a burst handed over in batches of 10 (as the emulator does), with redeliveries and pauses shorter
than the quiet time, is one summary that counts every failed event once; other groups, later bursts and
alerts that come after their digest closed get their own, and nothing is lost or posted twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import notifier.handler
from tests.support.digests import MAX_S, QUIET_S, DigestWorld, alert_record, notifier_aws
from tests.support.lambda_events import FakeContext
from tests.support.slack import SlackStandIn
from tests.unit.test_notifier import FAILED

BURST = 50


def failed_alert(n: int, workspace: str = "42", event_type: str = "EMAIL_SENT") -> dict[str, Any]:
    key = f"emailbison:mail.example.com:{workspace}:{event_type}:{880_000 + n}"
    return FAILED | {"dedupe_key": key, "event_type": event_type, "inspect_command": f"spillway inspect {key}"}


class World(DigestWorld):
    def invoke(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(notifier.handler.lambda_handler({"Records": records}, FakeContext()))

    def deliver(self, alerts: list[dict[str, Any]], batch: int = 10) -> None:
        """The alerts, queued now, handed over in batches."""
        records = [alert_record(a, self.now_ms, f"m-{self.now_ms}-{n}") for n, a in enumerate(alerts)]
        for start in range(0, len(records), batch):
            assert self.invoke(records[start : start + batch]) == {"batchItemFailures": []}

    def flush(self) -> dict[str, Any]:
        return self.invoke(self.due_flushes())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with notifier_aws(monkeypatch, World) as world:
        yield world


def counted(messages: list[dict[str, Any]]) -> int:
    """How many failed events the summaries count (a single alert is a detailed message)."""
    total = 0
    for message in messages:
        header = message["blocks"][0]["text"]["text"]
        total += int(header.split()[1]) if header.endswith("alerts in one burst") else 1
    return total


def test_a_burst_in_batches_with_pauses_and_redeliveries_is_one_summary_counting_each_event_once(
    world: World,
) -> None:
    alerts = [failed_alert(n) for n in range(BURST)]
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        world.deliver(alerts[:30])
        world.deliver(alerts[:10])  # SQS delivers at least once: a batch comes again
        world.advance(QUIET_S - 10)  # a pause shorter than the quiet time: the same burst
        world.deliver(alerts[30:])
        world.deliver(alerts[10:15])  # the sweeper re-publishes alerts it was unsure of
        world.advance(15)  # the first flush is due: the burst went on, so it waits again
        assert world.flush() == {"batchItemFailures": []}
        assert slack.messages == []
        world.advance(QUIET_S)
        assert world.flush() == {"batchItemFailures": []}
        [summary] = slack.wait_for_messages(1, timeout_s=5)

    # Each flush asked for the quiet time after the last join (plus a settle time).
    assert all(0 < delay <= QUIET_S + 10 for delay in world.delays) and len(world.delays) == 2
    text = json.dumps(summary)
    assert summary["blocks"][0]["text"]["text"] == f"Spillway: {BURST} alerts in one burst"
    assert f"{BURST} x EMAIL_SENT event FAILED" in text
    assert "--workspace 42" in text  # its see-all command lists this group's events only
    assert all(len(b["text"]["text"]) <= 3000 for b in summary["blocks"] if "text" in b)


def test_groups_and_later_bursts_get_their_own_summary_and_no_alert_is_lost(world: World) -> None:
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        world.deliver([failed_alert(n) for n in range(12)])
        world.deliver([failed_alert(n, workspace="43") for n in range(3)])
        world.deliver([failed_alert(n, event_type="LEAD_REPLIED") for n in range(4)])
        world.advance(QUIET_S + 1)
        due = world.due_flushes()
        assert world.invoke(due) == {"batchItemFailures": []}
        first = slack.wait_for_messages(3, timeout_s=5)
        # Handed over after its group's digest closed (the sweeper re-published it, say): not lost,
        # it opens the group's next digest.
        world.deliver([failed_alert(100)])
        world.advance(QUIET_S * 2)  # a later burst of another group
        world.deliver([failed_alert(200, workspace="43"), failed_alert(201, workspace="43")])
        world.advance(QUIET_S + 1)
        assert world.flush() == {"batchItemFailures": []}
        everything = slack.wait_for_messages(5, timeout_s=5)

    assert len(due) == 3
    assert sorted(counted([m]) for m in first) == [3, 4, 12]
    assert len(everything) == 5
    assert counted(everything) == 12 + 3 + 4 + 1 + 2  # every failed event counted exactly once
    texts = [json.dumps(m) for m in everything[3:]]
    assert any("880100" in t for t in texts) and any("880200" in t and "880201" in t for t in texts)


def test_failures_that_never_pause_are_still_summarised_when_the_digest_is_at_its_age(world: World) -> None:
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        n = 0
        while not slack.messages:
            world.deliver([failed_alert(n)])
            n += 1
            world.advance(QUIET_S - 1)
            assert world.flush() == {"batchItemFailures": []}
            assert n <= MAX_S // (QUIET_S - 1) + 2, "no summary after the digest's maximum age"
        [summary] = slack.wait_for_messages(1, timeout_s=5)

    assert counted([summary]) == n


def test_while_slack_is_unconfigured_alerts_are_kept_and_the_summary_waits_then_posts_once(world: World) -> None:
    world.deliver([failed_alert(n) for n in range(20)])  # joined, whatever Slack's state
    world.advance(QUIET_S + 1)
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
    world.deliver([failed_alert(n) for n in range(3)])
    world.advance(QUIET_S + 1)
    flushes = world.due_flushes()
    with SlackStandIn(answer_status=500) as refusing:
        world.set_slack(refusing.url)
        assert world.invoke(flushes)["batchItemFailures"]
    with SlackStandIn() as slack:
        world.set_slack(slack.url)
        assert world.invoke(flushes) == {"batchItemFailures": []}
        [summary] = slack.wait_for_messages(1, timeout_s=5)

    assert counted([summary]) == 3
