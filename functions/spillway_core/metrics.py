"""Metric names: the one list the handlers emit, the alarms watch and the dashboard plots.

The functions emit Powertools EMF metrics in ``NAMESPACE`` with one dimension, ``service``. An
alarm watches a metric by name, so a name that changes on one side only silences the alarm without
an error anywhere: both sides take the names from here, and ``tests/infra/test_metric_contract.py``
runs the handlers and checks that every metric an alarm of the template watches is emitted.
"""

from __future__ import annotations

from enum import StrEnum

NAMESPACE = "Spillway"


class Service(StrEnum):
    """The ``service`` dimension (and Powertools service name) of each function."""

    INGEST = "spillway-ingest"
    PROCESSOR = "spillway-processor"
    SWEEPER = "spillway-sweeper"
    NOTIFIER = "spillway-notifier"


class WebhookOutcome(StrEnum):
    """What the ingest did with a request; each is counted as ``Webhook_<outcome>``."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"
    STORE_REJECTED = "store_rejected"


class EventOutcome(StrEnum):
    """What the processor did with a stream record; each is counted as ``Event_<outcome>``."""

    SUCCEEDED = "succeeded"
    SUCCEEDED_ALREADY_APPLIED = "succeeded_already_applied"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    PROBE = "probe"


def webhook_metric(outcome: str) -> str:
    return f"Webhook_{outcome}"


def event_metric(outcome: str) -> str:
    return f"Event_{outcome}"


class Metric(StrEnum):
    """The metrics with fixed names (the outcome counts are named by the two functions above)."""

    # processor
    STREAM_RECORDS = "StreamRecords"
    # sweeper
    WOKEN_TOTAL = "WokenTotal"
    WOKEN_PENDING = "WokenPending"
    RELEASED_RUNNING = "ReleasedRunning"
    RETRIES_DUE = "RetriesDue"
    ALERTS_RESENT = "AlertsResent"
    BACKLOG_REMAINING = "BacklogRemaining"
    OLDEST_DUE_AGE = "OldestDueAge"
    LANES_BEHIND = "LanesBehind"
    # notifier
    ALERTS_RECEIVED = "AlertsReceived"
    ALERTS_SUMMARISED = "AlertsSummarised"
    SLACK_REJECTED = "SlackRejected"
    SLACK_NOT_CONFIGURED = "SlackNotConfigured"
