"""Alert digests: the failed events of one burst become one Slack summary, on AWS and on the emulator.

The alerts queue hands the notifier batches (the emulator at most 10 messages, whatever the mapping
says), so a summary per batch is several per burst. Instead, a failed-event alert joins the digest of
its group (provider, instance, workspace, event type). The first alert of a group opens one and sends a
flush message to the notifier's own queue, delayed by ``quiet_s``. A flush that finds an alert joined
less than ``quiet_s`` ago sends itself again for later (the burst goes on), until the digest is
``max_s`` old; otherwise it closes the digest and the handler posts one summary of its members. So a
summary follows a burst's last failure by about ``quiet_s``, and a failure that never stops is still
summarised every ``max_s``.

Every alert is counted in exactly one summary: joining is a transaction that updates the open digest
(and fails once it is closed), and the flush closes it before reading the members, so an alert either
joins before the close (and is read) or finds it closed and opens the group's next digest. A
redelivered or re-published alert joins once: its member item is keyed by its event. A flush that finds
no member (its opener lost the race to another notifier) posts nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from spillway_core.errors import StoreUnavailable
from spillway_core.keys import is_valid_key

DIGEST_DUE = "digest_due"  # the kind of a flush message
# Digests outlive the notifier DLQ's 14-day retention, so a redriven flush still finds its members.
DIGEST_RETENTION_SECONDS = 15 * 24 * 3600
# A flush waits this much longer than the quiet time, for an alert being joined as it comes due.
FLUSH_SETTLE_SECONDS = 5
MAX_DELAY_SECONDS = 900  # SQS's cap on DelaySeconds
_DIGEST_ID = re.compile(r"[0-9a-f]{32}:[0-9]{1,15}")
_CONDITION_FAILED = "ConditionalCheckFailed"
_HEADER_SK = "#HEADER"
_MEMBER_PREFIX = "EVENT#"


@dataclass(frozen=True)
class Group:
    """Which failed events share a summary, and so a `spillway events` listing."""

    provider: str
    instance: str
    workspace: str
    event_type: str

    @property
    def id(self) -> str:
        # Hashed: the parts come from a key of up to 2,000 bytes, a DynamoDB key holds less.
        joined = "\x1f".join((self.provider, self.instance, self.workspace, self.event_type))
        return hashlib.sha256(joined.encode()).hexdigest()[:32]


def group_of_key(key: str | None) -> Group | None:
    """The group a dedupe key ``<provider>:<instance>:<workspace>:<TYPE>:<occurrence>`` names, decoded."""
    parts = key.split(":", 4) if key and is_valid_key(key) else []
    return Group(*(unquote(part) for part in parts[:4])) if len(parts) == 5 else None


def group_of(alert: dict[str, Any]) -> Group:
    """The group of a failed-event alert (its JSON): from its dedupe key, else from its fields."""
    group = group_of_key(str(alert.get("dedupe_key")))
    return group or Group(str(alert.get("provider")), "", "", str(alert.get("event_type")))


def is_digest_id(value: object) -> bool:
    return isinstance(value, str) and _DIGEST_ID.fullmatch(value) is not None


def flush_message(digest_id: str) -> str:
    return json.dumps({"kind": DIGEST_DUE, "digest": digest_id})


@dataclass(frozen=True)
class Member:
    body: str  # the alert as published (safe metadata only)
    queued_at_ms: int


@dataclass(frozen=True)
class ClosedDigest:
    members: list[Member]
    already_posted: bool


class DigestStore:
    """Digests in DynamoDB (pk/sk, TTL ``expiresAt``); flush messages on the notifier's queue.

    Items: ``GROUP#<group>``/``CURRENT`` points at the group's latest digest; ``DIGEST#<id>``/``#HEADER``
    holds when an alert last joined, when the digest closed and when its summary was posted;
    ``DIGEST#<id>``/``EVENT#<hash>`` is one member (the alert as published). AWS errors become
    ``StoreUnavailable``: the alert stays queued and is tried again.
    """

    def __init__(self, dynamodb: Any, sqs: Any, table: str, queue_url: str, quiet_s: int, max_s: int) -> None:
        self._ddb = dynamodb
        self._sqs = sqs
        self._table = table
        self._queue_url = queue_url
        self._quiet_ms = quiet_s * 1000
        self._max_ms = max_s * 1000

    def add(self, alert_body: str, alert: dict[str, Any], queued_at_ms: int, now_ms: int) -> str:
        """Adds a failed-event alert to its group's open digest (opening one if needed); returns the digest id."""
        group = group_of(alert)
        key = str(alert.get("dedupe_key"))
        # A member is its event: the same failure alerted twice (a redelivery, a re-publish) counts once.
        member = (key if is_valid_key(key) else alert_body, alert_body, queued_at_ms, now_ms)
        for _ in range(5):
            current = self._current(group)
            # A digest past its age (its flush chain broken, e.g. parked in the DLQ) takes no more.
            open_for_more = current is not None and now_ms - current[1] < self._max_ms + self._quiet_ms
            if current and open_for_more and self._join(current[0], *member):
                return current[0]
            # The next digest (ids grow, so a closed one is never opened again).
            opened = self._open(group, current, now_ms if current is None else max(now_ms, current[1] + 1), now_ms)
            if opened is not None and self._join(opened, *member):
                return opened
        raise StoreUnavailable("alert digest: no open digest after 5 tries")

    def close_if_quiet(self, digest_id: str, now_ms: int) -> ClosedDigest | None:
        """A due flush: None if the burst goes on (the flush was sent again for later), else the closed digest."""
        try:
            header = self._ddb.get_item(
                TableName=self._table, Key=_key(f"DIGEST#{digest_id}", _HEADER_SK), ConsistentRead=True
            ).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert digest read: {type(exc).__name__}") from exc
        opened_ms = int(digest_id.rsplit(":", 1)[1])
        last_joined_ms = int(header.get("lastJoinedMs", {"N": "0"})["N"])
        if "closedAt" not in header and now_ms - last_joined_ms < self._quiet_ms and now_ms - opened_ms < self._max_ms:
            self._send_flush(digest_id, last_joined_ms + self._quiet_ms - now_ms)
            return None
        return self.close(digest_id, now_ms)

    def close(self, digest_id: str, now_ms: int) -> ClosedDigest:
        """Closes the digest (no alert joins it afterwards) and reads its members."""
        try:
            header = self._ddb.update_item(
                TableName=self._table,
                Key=_key(f"DIGEST#{digest_id}", _HEADER_SK),
                UpdateExpression="SET closedAt = if_not_exists(closedAt, :now), expiresAt = :exp",
                ExpressionAttributeValues={":now": {"N": str(now_ms)}, ":exp": _expires(now_ms)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
            members: list[Member] = []
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :member)",
                "ExpressionAttributeValues": {":pk": {"S": f"DIGEST#{digest_id}"}, ":member": {"S": _MEMBER_PREFIX}},
                "ConsistentRead": True,
            }
            while True:
                page = self._ddb.query(**query)
                members += [Member(i["alert"]["S"], int(i["queuedAtMs"]["N"])) for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert digest close: {type(exc).__name__}") from exc
        return ClosedDigest(sorted(members, key=lambda m: m.queued_at_ms), "postedAt" in header)

    def mark_posted(self, digest_id: str, now_ms: int) -> None:
        """Best effort: a redelivered flush then posts nothing again."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(f"DIGEST#{digest_id}", _HEADER_SK),
                UpdateExpression="SET postedAt = :now",
                ExpressionAttributeValues={":now": {"N": str(now_ms)}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert digest mark: {type(exc).__name__}") from exc

    def _current(self, group: Group) -> tuple[str, int] | None:
        try:
            item = self._ddb.get_item(
                TableName=self._table, Key=_key(f"GROUP#{group.id}", "CURRENT"), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert digest read: {type(exc).__name__}") from exc
        return (item["digestId"]["S"], int(item["openedAtMs"]["N"])) if item else None

    def _open(self, group: Group, current: tuple[str, int] | None, opened_ms: int, now_ms: int) -> str | None:
        """Opens the group's next digest; None if another notifier opened one first."""
        digest_id = f"{group.id}:{opened_ms}"
        try:
            # The flush is sent first: a notifier that stops between the two leaves a flush without
            # members (a no-op), never members without a flush.
            self._send_flush(digest_id, self._quiet_ms)
            condition = "attribute_not_exists(pk)"
            values: dict[str, Any] = {}
            if current is not None:
                condition += " OR digestId = :seen"
                values[":seen"] = {"S": current[0]}
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    **_key(f"GROUP#{group.id}", "CURRENT"),
                    "digestId": {"S": digest_id},
                    "openedAtMs": {"N": str(opened_ms)},
                    "expiresAt": _expires(now_ms),
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise StoreUnavailable(f"alert digest open: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"alert digest open: {type(exc).__name__}") from exc
        return digest_id

    def _send_flush(self, digest_id: str, due_in_ms: int) -> None:
        delay_s = math.ceil(max(0, due_in_ms) / 1000) + FLUSH_SETTLE_SECONDS
        try:
            self._sqs.send_message(
                QueueUrl=self._queue_url,
                MessageBody=flush_message(digest_id),
                DelaySeconds=min(delay_s, MAX_DELAY_SECONDS),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"alert digest flush: {type(exc).__name__}") from exc

    def _join(self, digest_id: str, member_id: str, body: str, queued_at_ms: int, now_ms: int) -> bool:
        """True once the alert is a member (now or before); False if the digest is closed."""
        pk = f"DIGEST#{digest_id}"
        member_sk = _MEMBER_PREFIX + hashlib.sha256(member_id.encode()).hexdigest()
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {  # the burst goes on: the flush waits for a quiet time after this
                            "TableName": self._table,
                            "Key": _key(pk, _HEADER_SK),
                            "UpdateExpression": "SET lastJoinedMs = :now, expiresAt = :exp",
                            "ConditionExpression": "attribute_not_exists(closedAt)",
                            "ExpressionAttributeValues": {":now": {"N": str(now_ms)}, ":exp": _expires(now_ms)},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_key(pk, member_sk),
                                "alert": {"S": body},
                                "queuedAtMs": {"N": str(queued_at_ms)},
                                "expiresAt": _expires(now_ms),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) == 2 and reasons[1] == _CONDITION_FAILED:
                return True  # a redelivery: it is a member already
            if len(reasons) == 2 and reasons[0] == _CONDITION_FAILED:
                return False
            raise StoreUnavailable(f"alert digest join: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"alert digest join: {type(exc).__name__}") from exc
        return True


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _expires(now_ms: int) -> dict[str, str]:
    return {"N": str(now_ms // 1000 + DIGEST_RETENTION_SECONDS)}
