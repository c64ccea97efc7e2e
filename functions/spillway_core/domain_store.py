"""Data access for the domain table: leads, campaigns, messages, follow-ups, open counters.

Key design (single table, everything scoped by tenant; keys are built in ``spillway_core.keys``,
where ``<tenant>`` is ``<provider>:<instance host>:<workspace>``, each component percent-encoded):

| item              | pk                                            | sk                       |
|-------------------|-----------------------------------------------|--------------------------|
| lead              | ``WS#<tenant>#LEAD#<sha256(email)[:32]>``     | ``LEAD``                 |
| follow-up         | the lead's pk                                 | ``FOLLOWUP#NO_RESPONSE`` |
| message           | ``WS#<tenant>#MSG#<OUT|IN>#<SE|RE>#<id>``     | ``MESSAGE``              |
| open counter      | the outbound message's pk                     | ``OPENS``                |
| campaign          | ``WS#<tenant>#CAMPAIGN#<campaign id>``        | ``CAMPAIGN``             |
| effect marker     | ``EFFECT#<dedupe key>``                       | ``EFFECT``               |

One event's effect is one read (a consistent ``BatchGetItem``: marker, lead, message, campaign) and
one write (``TransactWriteItems``). The write puts the event's marker with ``attribute_not_exists``,
so a redelivered event cancels the whole transaction and changes nothing; the lead and the message
are written with a condition on the version read, so concurrent events never lose each other's
updates (the loser re-reads and folds again).

An event whose effect creates its message needs no marker item: the new message, put with
``attribute_not_exists``, carries ``createdBy`` = the event's dedupe key, in the same atomic write
as the rest of the effect. The message exists exactly when that write committed, and ``createdBy``
never changes after, so it says "applied" as the marker would, for 2 write units less (a marker put
in a transaction is 2). A message is never deleted and outlives a marker, which expires.

Writes pay only for change: an item the event would leave as it is (the campaign, the follow-up, a
message, a lead, apart from bookkeeping) is not written, and when only the marker is left it is one
conditional ``PutItem`` instead of a transaction (1 write unit, not 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from spillway_core.domain import FOLLOW_UP_SK, EffectPlan, Lead, Message, fold_lead, follow_up_for, merge_message
from spillway_core.errors import RetryableProcessingError
from spillway_core.keys import campaign_pk, effect_marker_pk

MARKER_RETENTION_S = 30 * 86_400  # longer than the events table keeps events (14 days)
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


class AlreadyApplied(Exception):
    """This event's effect is already in the domain table (a redelivery or a retry after a crash)."""


class ConcurrentChange(Exception):
    """Another event changed the lead or the message since we read them."""


@dataclass(frozen=True)
class Snapshot:
    applied: bool
    lead: Lead | None
    message: Message | None
    campaign: dict[str, Any] | None = None


# What changes on every write of a lead or a message without saying anything new about it.
_BOOKKEEPING = frozenset({"version", "updatedAt"})
_SNAPSHOT_READ_TRIES = 3


def _same(stored: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """True when writing ``new`` would change nothing but bookkeeping in ``stored``."""
    if stored is None:
        return False
    return {k: v for k, v in stored.items() if k not in _BOOKKEEPING} == {
        k: v for k, v in new.items() if k not in _BOOKKEEPING and v is not None
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    return value


def to_python(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    return {k: _plain(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


def to_dynamodb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in item.items() if v is not None}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _versioned_put(table: str, item: Mapping[str, Any], read_version: int | None) -> dict[str, Any]:
    """Put with optimistic concurrency: the item must still be as we read it (or still absent)."""
    put: dict[str, Any] = {"TableName": table, "Item": to_dynamodb(item)}
    if read_version is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "#v = :v"
        put["ExpressionAttributeNames"] = {"#v": "version"}
        put["ExpressionAttributeValues"] = {":v": {"N": str(read_version)}}
    return {"Put": put}


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


class DomainStore:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self._table = table_name

    def read_snapshot(self, plan: EffectPlan) -> Snapshot:
        """The items this event's effect depends on, each read strongly consistent.

        Not one atomic snapshot (``TransactGetItems``, which costs twice as much), and it need not
        be: every write that depends on what was read is conditioned on it. The marker is put with
        ``attribute_not_exists``; the lead and the message with ``version = <read>`` (or absent).
        If all conditions hold when the transaction commits, each of those items still had the
        version read, and versions grow on every write, so each held its read value from its read
        up to the commit: the items read are exactly those at commit time, as if read atomically
        then. Any change in between fails a condition and the event re-reads and folds again.
        Items written without a condition are only skipped when unchanged (see ``apply``): their
        contents are joins, which only grow, so what this event would add is still in them later.
        """
        keys = [_key(effect_marker_pk(plan.dedupe_key), "EFFECT")]
        if plan.lead_pk:
            keys.append(_key(plan.lead_pk, "LEAD"))
        if plan.message:
            keys.append(_key(plan.message.pk, "MESSAGE"))
        if plan.campaign:
            keys.append(_key(campaign_pk(plan.tenant, plan.campaign[0]), "CAMPAIGN"))
        found: dict[str, dict[str, Any] | None] = {k["pk"]["S"]: None for k in keys}
        pending = keys
        try:
            for _ in range(_SNAPSHOT_READ_TRIES):
                response = self._ddb.batch_get_item(
                    RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self._table, []):
                    found[item["pk"]["S"]] = to_python(item)
                pending = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not pending:
                    break
        except (ClientError, BotoCoreError) as exc:
            raise RetryableProcessingError(f"read snapshot: {_describe(exc)}") from exc
        if pending:
            raise RetryableProcessingError("read snapshot: keys left unprocessed")
        # The items as the domain types them: what this store wrote from them (fold_lead, merge_message).
        message = cast(Message | None, found.get(plan.message.pk) if plan.message else None)
        return Snapshot(
            applied=found[effect_marker_pk(plan.dedupe_key)] is not None
            or (message is not None and message.get("createdBy") == plan.dedupe_key),
            lead=cast(Lead | None, found.get(plan.lead_pk) if plan.lead_pk else None),
            message=message,
            campaign=found.get(campaign_pk(plan.tenant, plan.campaign[0])) if plan.campaign else None,
        )

    def apply(self, plan: EffectPlan, snapshot: Snapshot, now_ms: int) -> None:
        """Writes the event's effect atomically. Raises AlreadyApplied or ConcurrentChange.

        ``snapshot`` must not be applied (``read_snapshot``): a message it lacks is created by this
        event, and is then its marker."""
        table = self._table
        writes: list[dict[str, Any]] = []
        if plan.message:
            writes += self._message_writes(plan, snapshot)
        if plan.lead_pk:
            writes += self._lead_writes(plan, snapshot, now_ms)
        if plan.opens_pk:
            writes.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key(plan.opens_pk, "OPENS"),
                        "UpdateExpression": "ADD openCount :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        if plan.campaign:
            writes += self._campaign_writes(plan, snapshot)
        if plan.message and snapshot.message is None:
            # The new message is the marker: its attribute_not_exists fails if anyone created it
            # since the read, this event included (a concurrent worker); the re-read tells which.
            self._commit(writes, ConcurrentChange, "put message")
        else:
            self._commit([{"Put": self._marker_put(plan, now_ms)}, *writes], AlreadyApplied, "put marker")

    def _marker_put(self, plan: EffectPlan, now_ms: int) -> dict[str, Any]:
        marker = {
            "pk": effect_marker_pk(plan.dedupe_key),
            "sk": "EFFECT",
            "dedupeKey": plan.dedupe_key,
            "appliedAt": now_ms,
            "expiresAt": now_ms // 1000 + MARKER_RETENTION_S,
        }
        return {
            "TableName": self._table,
            "Item": to_dynamodb(marker),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def _commit(self, writes: list[dict[str, Any]], first_refused: type[Exception], what: str) -> None:
        """The effect's writes, atomically. A refused condition on the first (the marker, or the
        message this event creates) raises ``first_refused``. One item alone, with nothing to keep
        atomic with it, is a plain conditional put: 1 write unit, not a transaction's 2."""
        if len(writes) == 1:
            self._put(writes[0]["Put"], first_refused, what)
        else:
            self._transact(writes, first_refused)

    def _message_writes(self, plan: EffectPlan, snapshot: Snapshot) -> list[dict[str, Any]]:
        assert plan.message is not None
        stored = snapshot.message
        message = merge_message(stored, plan.message)
        message |= {"pk": plan.message.pk, "sk": "MESSAGE", "version": int((stored or {}).get("version", 0)) + 1}
        if stored is None:
            message["createdBy"] = plan.dedupe_key
        if plan.lead_pk:
            message["leadPk"] = plan.lead_pk
        if _same(stored, message):
            return []  # joins only grow: the stored message already holds all this event says about it
        return [_versioned_put(self._table, message, stored["version"] if stored else None)]

    def _lead_writes(self, plan: EffectPlan, snapshot: Snapshot, now_ms: int) -> list[dict[str, Any]]:
        assert plan.lead_pk is not None
        stored = snapshot.lead
        lead = fold_lead(stored, plan, message_is_new=plan.message is not None and snapshot.message is None)
        lead |= {
            "pk": plan.lead_pk,
            "sk": "LEAD",
            "workspaceId": plan.workspace_id,
            "version": int((stored or {}).get("version", 0)) + 1,
            "createdAt": (stored or {}).get("createdAt", now_ms),
            "updatedAt": now_ms,
        }
        follow_up = follow_up_for(lead)
        if _same(stored, lead):
            # No counter moved (they only move on change) and every other field is a join already
            # holding this event's part; the follow-up, derived from the lead, is unchanged too.
            return []
        writes = [_versioned_put(self._table, lead, stored["version"] if stored else None)]
        # The follow-up is derived from the lead and always written with it, under the lead's version
        # condition: the stored one is follow_up_for(stored lead), so an equal one needs no write.
        if follow_up is not None and (stored is None or follow_up != follow_up_for(stored)):
            item = {"pk": plan.lead_pk, "sk": FOLLOW_UP_SK, **follow_up}
            writes.append({"Put": {"TableName": self._table, "Item": to_dynamodb(item)}})
        return writes

    def _campaign_writes(self, plan: EffectPlan, snapshot: Snapshot) -> list[dict[str, Any]]:
        assert plan.campaign is not None
        campaign_id, name = plan.campaign
        stored = snapshot.campaign
        if stored is not None and stored.get("campaignId") == campaign_id and (not name or stored.get("name")):
            return []  # the upsert below would leave it as it is (the first name seen is kept)
        values: dict[str, Any] = {":id": {"S": campaign_id}}
        expression = "SET campaignId = :id"
        if name:
            values[":name"] = {"S": name}
            expression += ", #name = if_not_exists(#name, :name)"
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(campaign_pk(plan.tenant, campaign_id), "CAMPAIGN"),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if name:
            update["ExpressionAttributeNames"] = {"#name": "name"}
        return [{"Update": update}]

    def _put(self, put: dict[str, Any], condition_failed: type[Exception], what: str) -> None:
        """One conditional put; its failed condition raises ``condition_failed``."""
        try:
            self._ddb.put_item(**put)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise condition_failed from exc
            raise RetryableProcessingError(f"{what}: {code}") from exc
        except BotoCoreError as exc:
            raise RetryableProcessingError(f"{what}: {type(exc).__name__}") from exc

    def _transact(self, writes: list[dict[str, Any]], first_refused: type[Exception]) -> None:
        """One atomic write; a failed condition on the first item raises ``first_refused``, on any
        other item (a version read) or a conflict ``ConcurrentChange``."""
        try:
            self._ddb.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise first_refused from exc
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                    raise ConcurrentChange from exc
                raise RetryableProcessingError(f"transaction cancelled: {reasons}") from exc
            raise RetryableProcessingError(f"transact: {code}") from exc
        except BotoCoreError as exc:
            raise RetryableProcessingError(f"transact: {type(exc).__name__}") from exc
