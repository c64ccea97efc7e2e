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
    """The alert of one failure of an event."""

    failed: FailedEvent

    def document(self) -> dict[str, Any]:
        """What the alerts topic carries: the failure's metadata (not which failure it was: the store
        uses that), its error message scrubbed, and the command that shows the rest."""
        metadata = {name: value for name, value in asdict(self.failed).items() if name != "failed_at_ms"}
        return {
            "kind": "event_failed",
            **metadata,
            "message": scrub(self.failed.message),
            "inspect_command": inspect_command(self.failed.dedupe_key),
        }


class AlertPublisher:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn

    def publish(self, alert: FailureAlert) -> None:
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=f"Spillway: {alert.failed.event_type} event FAILED"[:100],
                Message=json.dumps(alert.document()),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert publish: {type(exc).__name__}") from exc
