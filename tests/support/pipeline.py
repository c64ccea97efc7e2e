"""The pipeline run in-process against moto: the real ingest and processor logic, no Lambda runtime.

The stream is played by the test: after each ingest it hands the event's key to the processor, and
it can redeliver, or "crash" the processor between the effect and the outcome, at will.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingest.logic import ingest_webhook
from processor.logic import ProcessorDeps, process_event
from spillway_cli.tokens import binding, bindings_json
from spillway_core.alerts import FailureAlert
from spillway_core.domain_store import DomainStore
from spillway_core.event_store import EventStore
from spillway_core.http import WebhookRequest
from spillway_core.lifecycle import lifecycle_key
from spillway_core.settings import IngestSettings, ProcessorSettings
from tests.support.environment import stack_with
from tests.support.scenario import WORKSPACE
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, scan_events

TOKEN = "property-test-token"
INBOXXIA_TOKEN = "property-test-token-inboxxia"
BOOKKEEPING = frozenset({"version", "createdAt", "updatedAt", "appliedAt", "expiresAt"})
# Which item says an event's effect is applied depends on arrival order: the message it created
# (``createdBy``), or else its marker item. The state compares the set of applied events instead.
APPLIED = ("APPLIED EFFECTS", "")


def domain_view(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The domain items without bookkeeping (versions, wall-clock stamps, which item marks an effect
    applied), and under ``APPLIED`` the dedupe keys of the events whose effect is applied."""
    hidden = BOOKKEEPING | {"createdBy"}
    state: dict[tuple[str, str], dict[str, Any]] = {}
    applied: list[str] = []
    for item in items:
        if item["sk"]["S"] == "EFFECT":
            applied.append(item["dedupeKey"]["S"])
            continue
        if "createdBy" in item:
            applied.append(item["createdBy"]["S"])
        state[(item["pk"]["S"], item["sk"]["S"])] = {k: v for k, v in item.items() if k not in hidden}
    if applied:
        assert len(applied) == len(set(applied)), sorted(applied)  # one mark per applied event
        state[APPLIED] = {"keys": sorted(applied)}
    return state


@dataclass
class CapturedAlerts:
    sent: list[FailureAlert] = field(default_factory=list)

    def publish(self, alert: FailureAlert) -> None:
        self.sent.append(alert)


def processor_deps(dynamodb: Any, alerts: Any, clock_ms: Callable[[], int], seed: int) -> ProcessorDeps:
    """The processor's dependencies over the test tables, with any client, alert sink and clock."""
    return ProcessorDeps(
        settings=ProcessorSettings.from_env(
            stack_with(
                {"EVENTS_TABLE": EVENTS_TABLE_NAME, "DOMAIN_TABLE": DOMAIN_TABLE_NAME, "ALERTS_TOPIC_ARN": "arn:x"}
            )
        ),
        events=EventStore(dynamodb, EVENTS_TABLE_NAME),
        domain=DomainStore(dynamodb, DOMAIN_TABLE_NAME),
        alerts=alerts,
        clock_ms=clock_ms,
        rng=random.Random(seed),
    )


class InProcessPipeline:
    def __init__(self, dynamodb: Any, seed: int = 0, workspaces: tuple[str | int, ...] = (WORKSPACE,)) -> None:
        self.dynamodb = dynamodb
        self.clock = 1_795_000_000_000
        self.alerts = CapturedAlerts()
        self.ingest_settings = IngestSettings.from_env(
            stack_with(
                {
                    "EVENTS_TABLE": EVENTS_TABLE_NAME,
                    "INGEST_TOKEN_BINDINGS": bindings_json(
                        {
                            hashlib.sha256(TOKEN.encode()).hexdigest(): binding("emailbison", workspaces),
                            hashlib.sha256(INBOXXIA_TOKEN.encode()).hexdigest(): binding("inboxxia", workspaces),
                        }
                    ),
                }
            )
        )
        self.events = EventStore(dynamodb, EVENTS_TABLE_NAME)
        self.deps = processor_deps(dynamodb, self.alerts, self.tick, seed)

    def tick(self) -> int:
        self.clock += 7
        return self.clock

    def post(self, payload: dict[str, Any], provider: str = "emailbison") -> tuple[int, dict[str, Any]]:
        request = WebhookRequest(
            provider=provider,
            headers={"content-type": "application/json"},
            query={"token": TOKEN if provider == "emailbison" else INBOXXIA_TOKEN},
            body=json.dumps(payload).encode(),
        )
        response = ingest_webhook(request, self.ingest_settings, self.events, self.tick()).response
        return response.status, response.body

    def process(self, key: str, owner: str = "proc") -> str:
        return process_event(key, owner, self.deps)

    def crash_after_effect(self, key: str) -> None:
        """The processor applied the effect but died before recording it; the lease ran out and the
        sweeper put the event back to PENDING."""
        self.dynamodb.update_item(
            TableName=EVENTS_TABLE_NAME,
            Key={"pk": {"S": lifecycle_key(key)}},
            UpdateExpression="SET #s = :p REMOVE leaseOwner",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "PENDING"}},
        )

    def event_statuses(self) -> dict[str, str]:
        return {key: view["status"]["S"] for key, view in scan_events(self.dynamodb).items()}

    def domain_state(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every domain item, as ``domain_view`` shows it."""
        paginator = self.dynamodb.get_paginator("scan")
        pages = paginator.paginate(TableName=DOMAIN_TABLE_NAME, ConsistentRead=True)
        return domain_view([item for page in pages for item in page["Items"]])
