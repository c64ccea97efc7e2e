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
