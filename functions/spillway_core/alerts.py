"""Failure alerts: safe metadata only (no emails, bodies or secrets), published to the alerts topic."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from spillway_core.errors import StoreUnavailable
from spillway_core.event_store import FailedEvent

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_SECRETISH = re.compile(r"(?i)\b(token|secret|password|authorization|api[_-]?key)\b\s*[:=]?\s*\S+")
MAX_ERROR_CHARS = 300


def scrub(message: str) -> str:
    """Remove addresses and secret-looking fragments, and bound the length of an error message."""
    cleaned = _SECRETISH.sub(r"\1=<redacted>", _EMAIL.sub("<email>", message))
    return cleaned[:MAX_ERROR_CHARS]


def inspect_command(dedupe_key: str) -> str:
    # Quoted for the shell: the on-call pastes it, and a key is provider data.
    return f"spillway inspect {shlex.quote(dedupe_key)}"


def replay_command(dedupe_key: str) -> str:
    return f"spillway replay {shlex.quote(dedupe_key)}"


@dataclass(frozen=True)
class FailureAlert:
    dedupe_key: str
    provider: str
    event_type: str
    attempts: int
    error_class: str
    message: str
    inspect_command: str


def failure_alert(failed: FailedEvent) -> FailureAlert:
    return FailureAlert(
        dedupe_key=failed.dedupe_key,
        provider=failed.provider,
        event_type=failed.event_type,
        attempts=failed.attempts,
        error_class=failed.error_class,
        message=scrub(failed.message),
        inspect_command=inspect_command(failed.dedupe_key),
    )


class AlertPublisher:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn

    def publish(self, alert: FailureAlert) -> None:
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=f"Spillway: {alert.event_type} event FAILED"[:100],
                Message=json.dumps({"kind": "event_failed", **asdict(alert)}),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert publish: {type(exc).__name__}") from exc
