"""A small burst through the deployed pipeline: every valid request 2xx, every effect exactly once.

This asserts behaviour, not speed; `make bench` runs the large version and reports the numbers.
"""

from __future__ import annotations

import pytest

from spillway_cli.load import plan_burst, send_burst, verify_exactly_once
from spillway_cli.status import pipeline_counts
from tests.e2e.conftest import Deployed, wait_for

pytestmark = pytest.mark.e2e


def test_a_burst_with_duplicates_is_absorbed_and_applied_exactly_once(deployed: Deployed) -> None:
    planned = plan_burst(300, duplicate_ratio=0.25, invalid=10, seed=7)
    url = deployed.target.webhook_url("emailbison")

    # Patient senders: under load the emulator starts an ingest worker per concurrent request.
    report = send_burst(url, deployed.token, planned, concurrency=8, progress=False, timeout_s=120)

    by_kind = report.by_kind()
    assert report.valid_non_2xx() == 0, by_kind
    assert set(by_kind["unauthenticated"]) == {401}
    assert set(by_kind["malformed"]) == {400}
    assert report.accepted_once_each(planned)
    assert sum('"duplicate"' in r.answer for r in report.results) >= 0.2 * len(planned)
    wait_for(lambda: pipeline_counts(deployed.target).in_flight == 0, timeout_s=120, what="the backlog to drain")
    assert verify_exactly_once(deployed.target.client("dynamodb"), deployed.target.domain_table, planned) == []
