"""The functions' environment: each variable's name and bounds, defined once.

``infra/config.py`` sets these variables from cdk.json (its bounds are these bounds); the runtime
settings read them: ``plain_settings`` without pydantic (the ingest and the processor, for their
cold start), ``settings`` with it (the sweeper and the notifier). A variable the stack sets has no
default here: its value is written in cdk.json only, and a function without it refuses to start. A
function run outside the stack (tests, benchmarks) is given the stack's values
(``infra.config.stack_environment``); ``tests/infra/test_settings_contract.py`` holds all this.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

# The Slack webhook secret's value until an operator puts a URL in it: the notifier posts nothing.
NOT_CONFIGURED = "not-configured"


class EnvVar:
    """The names of the variables that are not numbers, as the stack sets them and the settings read
    them: the resources the stack names, and what operators configure. A numeric variable's name is
    its ``Setting``'s ``env`` (below), with its bounds."""

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
    """One numeric variable: its name, its bounds (inclusive unless ``exclusive_low``) and, for one the
    stack does not set, its default (``None``: the variable is required)."""

    env: str
    kind: type[int] | type[float] = int
    _: KW_ONLY
    default: Any = None
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


# Read by the functions only: no cdk.json setting, so a default here.
AWS_TIMEOUT = Setting("AWS_CALL_TIMEOUT_SECONDS", float, default=2.0, low=0, exclusive_low=True)
AWS_MAX_ATTEMPTS = Setting("AWS_MAX_ATTEMPTS", default=2, low=1, high=10)
IGNORED_RETENTION_DAYS = Setting("IGNORED_RETENTION_DAYS", default=1, low=1)
RETRY_AFTER_SECONDS = Setting("RETRY_AFTER_SECONDS", default=5, low=1)
# Stop claiming new records when less than this is left of the invocation.
DEADLINE_MARGIN_SECONDS = Setting("DEADLINE_MARGIN_SECONDS", float, default=10.0, low=0)

# Set by the stack from cdk.json (infra/config.py), the one place their values are written: no default.
MAX_BODY_BYTES = Setting("MAX_BODY_BYTES", low=0, exclusive_low=True)
MAX_ATTEMPTS = Setting("MAX_ATTEMPTS", low=1)
EVENT_RETENTION_DAYS = Setting("EVENT_RETENTION_DAYS", low=1)
SWEEP_SHARDS = Setting("SWEEP_SHARDS", low=1, high=256)
PENDING_GRACE_SECONDS = Setting("PENDING_GRACE_SECONDS", low=10)
LEASE_SECONDS = Setting("LEASE_SECONDS", low=5)
BACKOFF_BASE_SECONDS = Setting("BACKOFF_BASE_SECONDS", float, low=0, exclusive_low=True)
BACKOFF_CAP_SECONDS = Setting("BACKOFF_CAP_SECONDS", float, low=0, exclusive_low=True)
SWEEP_MAX_ITEMS = Setting("SWEEP_MAX_ITEMS", low=1)
# How long a FAILED event's alert may stay unconfirmed before the sweeper publishes it again.
ALERT_RETRY_SECONDS = Setting("ALERT_RETRY_SECONDS", low=1)
# An SQS delay is at most 900 s; the digest's flush needs some of it to settle.
ALERT_DIGEST_QUIET_SECONDS = Setting("ALERT_DIGEST_QUIET_SECONDS", low=1, high=840)
ALERT_DIGEST_MAX_SECONDS = Setting("ALERT_DIGEST_MAX_SECONDS", low=1)
