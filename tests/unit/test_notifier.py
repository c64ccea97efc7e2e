"""Slack message formatting: details for one alert, one summary for a burst, nothing unsafe."""

from __future__ import annotations

import json

from notifier.logic import parse_alert, slack_message

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
    alerts = [parse_alert(json.dumps(FAILED | {"dedupe_key": f"emailbison:EMAIL_SENT:{n}", "event_type": "EMAIL_SENT"}))
              for n in range(500)] + [parse_alert(json.dumps(ALARM))]  # fmt: skip

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
