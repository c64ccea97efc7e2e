"""Shared test set-up: no test may reach AWS, so credentials are fake and the region fixed."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench.lambda_events import load_fixture

# Set before any boto3 client exists: a stray real call fails on these credentials instead of
# touching an account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "SpillwayTest",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)

__all__ = ["load_fixture"]  # the tests import the sample loader from here


@pytest.fixture
def email_sent() -> dict[str, Any]:
    return load_fixture("email_sent.json")


# The longest files first. Each worker takes whole files (--dist loadfile), so a long file that starts
# last decides when the run ends: the property test alone ran 8 minutes after everything else had.
# They run without coverage tracing, which more than doubled their time (they drive moto through
# thousands of calls); the code they reach is covered by the other tests too.
LONGEST_FIRST = (
    "tests/integration/test_domain_properties.py",
    "tests/integration/test_interleavings.py",
    "tests/integration/test_fault_injection.py",
    "tests/integration/test_lanes_sweeper.py",
)


# The interleaving harness's report (how many schedules of each race this run explored), printed at
# the end of the run: a worker's captured output reaches the controller only in its test reports.
SCHEDULES_REPORT = "tests/integration/test_interleavings.py::test_report_schedules_explored"
_schedules_explored: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid == SCHEDULES_REPORT and report.when == "call" and report.passed:
        _schedules_explored.append(report.capstdout)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for text in _schedules_explored:
        terminalreporter.write_sep("-", "interleaving schedules explored in this run")
        terminalreporter.write_line(text.strip())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    for item in items:
        if item.nodeid.split("::")[0] in rank:
            item.add_marker(pytest.mark.no_cover)
