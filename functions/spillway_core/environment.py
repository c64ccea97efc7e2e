"""The functions' environment: each variable's name, default and bounds, defined once.

``infra/config.py`` sets these variables from cdk.json (its bounds are these bounds); the runtime
settings read them: ``plain_settings`` without pydantic (the ingest and the processor, for their
cold start), ``settings`` with it (the sweeper and the notifier). A default here is what a function
run outside the stack (tests, benchmarks) gets; a deployed stack sets every variable that has a
cdk.json setting, and ``tests/infra/test_settings_contract.py`` holds those defaults equal to cdk.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The Slack webhook secret's value until an operator puts a URL in it: the notifier posts nothing.
NOT_CONFIGURED = "not-configured"


class EnvVar:
    """The names of the variables that are not numbers, as the stack sets them and the settings read
    them: the resources the stack names, and what operators configure. A numeric variable's name is
    its ``Setting``'s ``env`` (below), with its default and bounds."""

    EVENTS_TABLE = "EVENTS_TABLE"
    DOMAIN_TABLE = "DOMAIN_TABLE"
    ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
    INGEST_TOKEN_BINDINGS = "INGEST_TOKEN_BINDINGS"  # noqa: S105 - a variable name, not a secret
    SLACK_WEBHOOK_SECRET_ARN = "SLACK_WEBHOOK_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
    RUNBOOK_BASE_URL = "RUNBOOK_BASE_URL"
    DIGEST_TABLE = "DIGEST_TABLE"
    ALERT_QUEUE_URL = "ALERT_QUEUE_URL"


@dataclass(frozen=True)
class Setting:
    """One numeric variable: its name, its default and its bounds (inclusive unless ``exclusive_low``)."""

    env: str
    default: Any
    kind: type[int] | type[float] = int
    low: float | None = None
    high: float | None = None
    exclusive_low: bool = False

    # The bounds as pydantic's Field takes them.
    @property
    def gt(self) -> float | None:
        return self.low if self.exclusive_low else None

    @property
    def ge(self) -> float | None:
        return None if self.exclusive_low else self.low


AWS_TIMEOUT = Setting("AWS_CALL_TIMEOUT_SECONDS", 2.0, float, low=0, exclusive_low=True)
AWS_MAX_ATTEMPTS = Setting("AWS_MAX_ATTEMPTS", 2, low=1, high=10)
MAX_BODY_BYTES = Setting("MAX_BODY_BYTES", 256 * 1024, low=0, exclusive_low=True)
MAX_ATTEMPTS = Setting("MAX_ATTEMPTS", 8, low=1)
EVENT_RETENTION_DAYS = Setting("EVENT_RETENTION_DAYS", 14, low=1)
IGNORED_RETENTION_DAYS = Setting("IGNORED_RETENTION_DAYS", 1, low=1)
RETRY_AFTER_SECONDS = Setting("RETRY_AFTER_SECONDS", 5, low=1)
SWEEP_SHARDS = Setting("SWEEP_SHARDS", 16, low=1, high=256)
PENDING_GRACE_SECONDS = Setting("PENDING_GRACE_SECONDS", 300, low=10)
LEASE_SECONDS = Setting("LEASE_SECONDS", 45, low=5)
# Stop claiming new records when less than this is left of the invocation.
DEADLINE_MARGIN_SECONDS = Setting("DEADLINE_MARGIN_SECONDS", 10.0, float, low=0)
BACKOFF_BASE_SECONDS = Setting("BACKOFF_BASE_SECONDS", 2.0, float, low=0, exclusive_low=True)
BACKOFF_CAP_SECONDS = Setting("BACKOFF_CAP_SECONDS", 900.0, float, low=0, exclusive_low=True)
SWEEP_MAX_ITEMS = Setting("SWEEP_MAX_ITEMS", 500, low=1)
# How long a FAILED event's alert may stay unconfirmed before the sweeper publishes it again.
ALERT_RETRY_SECONDS = Setting("ALERT_RETRY_SECONDS", 60, low=1)
# An SQS delay is at most 900 s; the digest's flush needs some of it to settle.
ALERT_DIGEST_QUIET_SECONDS = Setting("ALERT_DIGEST_QUIET_SECONDS", 60, low=1, high=840)
ALERT_DIGEST_MAX_SECONDS = Setting("ALERT_DIGEST_MAX_SECONDS", 600, low=1)
