"""Data access for the domain table: leads, campaigns, messages, follow-ups and rollups.

Key design (single table, everything scoped by provider workspace):

| item        | pk                                   | sk                     |
|-------------|--------------------------------------|------------------------|
| lead        | ``WS#<ws>#LEAD#<sha256(email)[:32]>`` | ``LEAD``               |
| follow-up   | the lead's pk                        | ``FOLLOWUP#NO_RESPONSE`` |
| message     | ``WS#<ws>#MSG#OUT#<scheduled id>``    | ``MESSAGE``            |
| campaign    | ``WS#<ws>#CAMPAIGN#<campaign id>``    | ``CAMPAIGN``           |

Lead keys hash the normalised email so that keys (which end up in logs and alerts) carry no PII.
A message and its rollup contribution are written in one transaction, guarded by the message's
``attribute_not_exists``: a redelivered event cancels the transaction instead of counting twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from spillway_core.errors import THROTTLING_CODES, RetryableProcessingError

NO_RESPONSE_SEQUENCE = "FOLLOWUP#NO_RESPONSE"
MISSING_WORKSPACE = "_"


def workspace_key(workspace_id: str | None) -> str:
    return f"WS#{workspace_id or MISSING_WORKSPACE}"


def lead_pk(workspace_id: str | None, email: str) -> str:
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return f"{workspace_key(workspace_id)}#LEAD#{digest}"


def outbound_message_pk(workspace_id: str | None, scheduled_email_id: str) -> str:
    return f"{workspace_key(workspace_id)}#MSG#OUT#{scheduled_email_id}"


def campaign_pk(workspace_id: str | None, campaign_id: str) -> str:
    return f"{workspace_key(workspace_id)}#CAMPAIGN#{campaign_id}"


@dataclass(frozen=True)
class OutboundMessage:
    workspace_id: str | None
    scheduled_email_id: str
    dedupe_key: str
    sent_at_ms: int
    subject: str | None
    campaign_id: str | None
    campaign_name: str | None
    sender_email_id: str | None
    lead_email: str | None
    lead_id: str | None
    lead_first_name: str | None
    lead_last_name: str | None


@dataclass(frozen=True)
class LeadSnapshot:
    exists: bool
    version: int
    last_outbound_at_ms: int


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class LeadChanged(Exception):
    """The lead changed between our read and our transaction (optimistic concurrency)."""


class DomainStore:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self._table = table_name

    def read_lead(self, pk: str) -> LeadSnapshot:
        try:
            response = self._ddb.get_item(
                TableName=self._table,
                Key={"pk": _s(pk), "sk": _s("LEAD")},
                ConsistentRead=True,
                ProjectionExpression="#v, lastOutboundAt",
                ExpressionAttributeNames={"#v": "version"},
            )
        except (ClientError, BotoCoreError) as exc:
            raise RetryableProcessingError(f"read lead: {_describe(exc)}") from exc
        item = response.get("Item")
        if not item:
            return LeadSnapshot(exists=False, version=0, last_outbound_at_ms=0)
        return LeadSnapshot(
            exists=True,
            version=int(item.get("version", {"N": "0"})["N"]),
            last_outbound_at_ms=int(item.get("lastOutboundAt", {"N": "0"})["N"]),
        )

    def record_outbound(self, message: OutboundMessage, lead: LeadSnapshot | None, now_ms: int) -> bool:
        """Write the message, its lead rollup, follow-up start and campaign upsert atomically.

        Returns False when the message already existed (a duplicate delivery: nothing changed).
        Raises LeadChanged when the lead moved under us; the caller re-reads and tries again.
        """
        ws = message.workspace_id
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _message_item(message, now_ms),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if message.lead_email and lead is not None:
            pk = lead_pk(ws, message.lead_email)
            items.append(_lead_rollup_update(self._table, pk, message, lead, now_ms))
            items.append(_start_follow_up(self._table, pk, message, now_ms))
        if message.campaign_id:
            items.append(_campaign_upsert(self._table, campaign_pk(ws, message.campaign_id), message, now_ms))
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise LeadChanged from exc
                raise RetryableProcessingError(f"transaction cancelled: {reasons}") from exc
            raise RetryableProcessingError(f"transact: {code}") from exc
        except BotoCoreError as exc:
            raise RetryableProcessingError(f"transact: {type(exc).__name__}") from exc
        return True


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        return f"{code} (throttled)" if code in THROTTLING_CODES else code
    return type(exc).__name__


def _message_item(message: OutboundMessage, now_ms: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(outbound_message_pk(message.workspace_id, message.scheduled_email_id)),
        "sk": _s("MESSAGE"),
        "direction": _s("OUTBOUND"),
        "scheduledEmailId": _s(message.scheduled_email_id),
        "sentAt": _n(message.sent_at_ms),
        "createdAt": _n(now_ms),
        "dedupeKey": _s(message.dedupe_key),
    }
    optional = {
        "subject": message.subject,
        "campaignId": message.campaign_id,
        "senderEmailId": message.sender_email_id,
        "leadPk": lead_pk(message.workspace_id, message.lead_email) if message.lead_email else None,
    }
    item.update({name: _s(value) for name, value in optional.items() if value})
    return item


def _lead_rollup_update(
    table: str, pk: str, message: OutboundMessage, lead: LeadSnapshot, now_ms: int
) -> dict[str, Any]:
    names = {"#v": "version"}
    values: dict[str, Any] = {
        ":email": _s(message.lead_email or ""),
        ":now": _n(now_ms),
        ":one": _n(1),
        ":nextVersion": _n(lead.version + 1),
        # Monotonic maximum, computed from the version we read; the version condition makes it safe.
        ":lastOut": _n(max(lead.last_outbound_at_ms, message.sent_at_ms)),
    }
    sets = [
        "email = :email",
        "createdAt = if_not_exists(createdAt, :now)",
        "updatedAt = :now",
        "lastOutboundAt = :lastOut",
        "#v = :nextVersion",
    ]
    for attr, value in (
        ("providerLeadId", message.lead_id),
        ("firstName", message.lead_first_name),
        ("lastName", message.lead_last_name),
    ):
        if value:
            values[f":{attr}"] = _s(value)
            sets.append(f"{attr} = :{attr}")
    if lead.exists:
        condition = "#v = :expectedVersion"
        values[":expectedVersion"] = _n(lead.version)
    else:
        condition = "attribute_not_exists(pk)"
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": _s(pk), "sk": _s("LEAD")},
            "UpdateExpression": f"SET {', '.join(sets)} ADD outboundCount :one",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _start_follow_up(table: str, pk: str, message: OutboundMessage, now_ms: int) -> dict[str, Any]:
    # if_not_exists makes the start idempotent: the first outbound email starts the sequence, later
    # ones (and redeliveries) leave it as it is.
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": _s(pk), "sk": _s(NO_RESPONSE_SEQUENCE)},
            "UpdateExpression": (
                "SET #state = if_not_exists(#state, :active), startedAt = if_not_exists(startedAt, :sentAt), "
                "startedBy = if_not_exists(startedBy, :dedupeKey), createdAt = if_not_exists(createdAt, :now)"
            ),
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":active": _s("ACTIVE"),
                ":sentAt": _n(message.sent_at_ms),
                ":dedupeKey": _s(message.dedupe_key),
                ":now": _n(now_ms),
            },
        }
    }


def _campaign_upsert(table: str, pk: str, message: OutboundMessage, now_ms: int) -> dict[str, Any]:
    values: dict[str, Any] = {":now": _n(now_ms), ":id": _s(message.campaign_id or "")}
    sets = ["campaignId = :id", "createdAt = if_not_exists(createdAt, :now)"]
    if message.campaign_name:
        values[":name"] = _s(message.campaign_name)
        sets.append("#name = :name")
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": _s(pk), "sk": _s("CAMPAIGN")},
        "UpdateExpression": f"SET {', '.join(sets)}",
        "ExpressionAttributeValues": values,
    }
    if message.campaign_name:
        update["ExpressionAttributeNames"] = {"#name": "name"}
    return {"Update": update}
