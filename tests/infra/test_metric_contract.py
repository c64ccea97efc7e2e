"""The metric contract: every metric an alarm of the synthesized stack watches is one the handlers emit.

An alarm on a metric nobody emits never fires and never errs (missing data is not breaching), so a
renamed outcome would silence it without a sign. This runs the real handlers in-process against
moto along the paths the alarms are about, collects the EMF metrics they print, and compares them
with the alarms' namespace, metric name and service dimension.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

import ingest.handler
import processor.handler
import processor.logic
import sweeper.handler
from spillway_core.errors import PermanentProcessingError
from spillway_core.metrics import NAMESPACE
from tests.conftest import load_fixture
from tests.integration.conftest import TOKEN, Aws, aws  # noqa: F401  (the moto fixture)
from tests.support.lambda_events import FakeContext, api_request, stream_event, stream_record

MetricId = tuple[str, str, str]  # namespace, metric name, service dimension


def watched_by_alarms(template: Template) -> set[MetricId]:
    """The functions' own metrics the alarms watch (AWS/* metrics are emitted by AWS itself)."""
    watched = set()
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") != NAMESPACE:
            continue
        dimensions = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        watched.add((props["Namespace"], props["MetricName"], dimensions.get("service", "")))
    return watched


def emitted(output: str) -> set[MetricId]:
    """The metrics in Powertools' EMF lines (one JSON document per flush, on stdout)."""
    found = set()
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.add((directive["Namespace"], metric["Name"], str(document.get("service", ""))))
    return found


def _ingest(payload: dict[str, Any], token: str = TOKEN) -> dict[str, Any]:
    return ingest.handler.lambda_handler(api_request(payload, token=token), FakeContext())


def _process(key: str) -> dict[str, Any]:
    # The processor reads the key (and a probe's time) from the record, then the event from the table.
    return processor.handler.lambda_handler(stream_event(stream_record({"pk": {"S": key}})), FakeContext())


def _run_every_alarmed_path(monkeypatch: pytest.MonkeyPatch) -> None:
    sent, replied = load_fixture("email_sent.json"), load_fixture("lead_replied.json")
    # ingest: accepted, duplicate, rejected
    sent_key = json.loads(_ingest(sent)["body"])["id"]
    _ingest(sent)
    _ingest(sent, token="wrong")
    replied_key = json.loads(_ingest(replied)["body"])["id"]
    # processor: one event succeeds, one can never succeed
    _process(sent_key)

    def poison(*_: Any) -> bool:
        raise PermanentProcessingError("the stored payload cannot be read")

    monkeypatch.setattr(processor.logic, "apply_effect", poison)
    _process(replied_key)
    # sweeper: one scheduled run
    sweeper.handler._dependencies.cache_clear()
    sweeper.handler.lambda_handler({}, FakeContext())
    sweeper.handler._dependencies.cache_clear()
    # ingest: the events table cannot be reached (503)
    monkeypatch.setenv("EVENTS_TABLE", "spillway-missing-table")
    ingest.handler._dependencies.cache_clear()
    assert _ingest(sent)["statusCode"] == 503
    ingest.handler._dependencies.cache_clear()


def test_every_metric_an_alarm_watches_is_emitted_by_a_handler(
    template: Template,
    aws: Aws,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    watched = watched_by_alarms(template)
    assert len(watched) >= 3  # failed events, ingest unavailable, PENDING events woken

    _run_every_alarmed_path(monkeypatch)

    assert watched - emitted(capsys.readouterr().out) == set()
