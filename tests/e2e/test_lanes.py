"""A reply posted behind a bulk backlog reaches SUCCEEDED before the backlog drains."""

from __future__ import annotations

import json

import pytest

from bench.latency_proxy import LatencyProxy
from infra import config as names
from spillway_cli.load import plan_typed, send_burst
from spillway_cli.status import pipeline_counts
from spillway_core.status import EventStatus
from tests.e2e.conftest import Deployed, wait_for

pytestmark = pytest.mark.e2e

# Sends at 250 ms per domain write: at the bulk cap of 4 the backlog takes 12.5 s at least, longer
# than posting it takes, so the reply (posted last) lands behind it.
BACKLOG = 200


def test_a_reply_behind_a_bulk_backlog_succeeds_before_the_backlog_drains(deployed: Deployed) -> None:
    target = deployed.target
    lambda_client = target.client("lambda")
    functions = [
        target.outputs[names.OUTPUT_PROCESSOR_FUNCTION],
        target.outputs[names.OUTPUT_INTERACTIVE_PROCESSOR_FUNCTION],
    ]
    envs = {f: lambda_client.get_function_configuration(FunctionName=f)["Environment"]["Variables"] for f in functions}
    with LatencyProxy(deployed.emulator.endpoint_url, latency_ms=250) as proxy:
        for function, env in envs.items():
            lambda_client.update_function_configuration(
                FunctionName=function, Environment={"Variables": env | {"AWS_ENDPOINT_URL_DYNAMODB": proxy.url}}
            )
        try:
            planned = plan_typed(["EMAIL_SENT"] * BACKLOG + ["LEAD_REPLIED"], leads=10, workspace=91)
            # Few senders, patient ones: each concurrent request may start another ingest worker here.
            report = send_burst(
                target.webhook_url("emailbison"), deployed.token, planned[:-1], 4, timeout_s=120, progress=False
            )
            assert report.valid_non_2xx() == 0
            status, body = deployed.post(json.loads(planned[-1].body))  # the reply, last in the stream
            assert (status, body["status"]) == (200, "accepted")

            reply = wait_for(
                lambda: (e := deployed.event(body["id"])) and e["status"]["S"] == EventStatus.SUCCEEDED and e,
                timeout_s=120,
                what="the reply to succeed",
            )
            in_flight_when_reply_done = pipeline_counts(target).in_flight
            wait_for(lambda: pipeline_counts(target).in_flight == 0, timeout_s=600, what="the backlog to drain")
        finally:
            for function, env in envs.items():
                lambda_client.update_function_configuration(FunctionName=function, Environment={"Variables": env})

    assert reply["lane"]["S"] == "interactive"
    # The sends were still queued in their lane when the reply, posted after all of them, was done
    # (merged into one mapping, the reply would wait for all but the last few batches).
    assert in_flight_when_reply_done > BACKLOG // 4, in_flight_when_reply_done
