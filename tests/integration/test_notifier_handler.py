"""The notifier against Secrets Manager (moto) and a local Slack stand-in: nothing is acknowledged
until Slack took it, and the webhook URL never reaches a log line. Alarms are posted at once, so they
show it directly; failed events go through digests (tests/integration/test_alert_digests.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import notifier.handler
from tests.support.capture import function_output
from tests.support.digests import DigestWorld, notifier_aws
from tests.support.lambda_events import FakeContext
from tests.support.slack import SlackStandIn
from tests.unit.test_notifier import ALARM

RECORDS = [{"messageId": f"m-{n}", "body": json.dumps(ALARM)} for n in range(3)]
ALL_FAILED = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in RECORDS]}


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[DigestWorld]:
    """The notifier's Slack secret (``set_slack``), in moto with the rest the notifier's settings name."""
    with notifier_aws(monkeypatch, DigestWorld) as world:
        yield world


def invoke(output: list[str] | None = None) -> dict[str, Any]:
    with function_output(notifier.handler.logger) as buffer:
        result = notifier.handler.lambda_handler({"Records": RECORDS}, FakeContext())
    if output is not None:
        output.append(buffer.getvalue())
    return result


def test_alerts_wait_while_unconfigured_and_are_delivered_once_configured(secret: DigestWorld) -> None:
    with SlackStandIn() as slack:
        assert invoke() == ALL_FAILED  # the placeholder: nothing acknowledged, nothing posted
        assert slack.messages == []

        secret.set_slack(slack.url)  # the operator sets the URL; the same warm container picks it up
        assert invoke() == {"batchItemFailures": []}
        [message] = slack.wait_for_messages(1, timeout_s=5)

    assert "3 alerts in one burst" in json.dumps(message)


@pytest.mark.parametrize("status", [400, 404, 500])
def test_a_slack_that_refuses_leaves_the_alerts_queued_and_the_url_out_of_logs(
    secret: DigestWorld, status: int
) -> None:
    output: list[str] = []
    with SlackStandIn(answer_status=status) as slack:
        secret.set_slack(slack.url)
        assert invoke(output) == ALL_FAILED

    assert "Slack did not take the alerts" in output[0]
    assert "SlackRejected" in output[0]  # the metric
    assert slack.url not in output[0] and "/services/" not in output[0]


@pytest.mark.parametrize(
    "bad_url",
    [
        "hooks.slack.com/services/T0SECRET/B0SECRET/XSECRETXSECRET",  # no scheme
        "http://hooks.slack.com/services/T0SECRET/B0SECRET/XSECRETXSECRET",
        "https://evil.example/services/T0SECRET/B0SECRET/XSECRETXSECRET",
    ],
)
def test_a_secret_that_is_not_a_slack_url_leaves_alerts_queued_and_is_never_logged(
    secret: DigestWorld, bad_url: str
) -> None:
    secret.set_slack(bad_url)
    output: list[str] = []

    assert invoke(output) == ALL_FAILED
    assert "does not hold an https Slack incoming-webhook URL" in output[0]
    assert "SECRET" not in output[0]


def test_an_unreachable_slack_leaves_alerts_queued_without_the_url(
    secret: DigestWorld,
) -> None:
    with SlackStandIn() as slack:
        url = slack.url
    secret.set_slack(url)  # the stand-in is gone: connection refused
    output: list[str] = []

    assert invoke(output) == ALL_FAILED
    assert "Slack did not take the alerts" in output[0]
    assert url not in output[0] and "/services/" not in output[0]
