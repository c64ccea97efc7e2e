"""How the domain store turns DynamoDB's answers into the processor's outcomes: a cancelled marker is
"already applied", a refused version is a concurrent change, anything else is retryable and says
which call failed and why (the event's last error, as the on-call reads it)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from spillway_core.domain import EffectPlan, plan_effect
from spillway_core.domain_store import MARKER_RETENTION_S, AlreadyApplied, ConcurrentChange, DomainStore, Snapshot
from spillway_core.errors import RetryableProcessingError
from spillway_core.keys import effect_marker_pk
from spillway_core.payloads import dedupe_key, normalise, parse_payload
from spillway_core.stored_event import NormalisedEvent
from tests.support.scenario import EVENTS

TABLE = "domain"
NOW_MS = 1_795_000_000_000
EMPTY = Snapshot(applied=False, lead=None, message=None)


def client_error(code: str, operation: str, **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "refused"}, **extra}
    return ClientError(response, operation)


class ScriptedClient:
    """A DynamoDB client whose every call gives the next scripted answer (a response or an exception)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, name: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def batch_get_item(self, **kwargs: Any) -> Any:
        return self._answer("batch_get_item", kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        return self._answer("put_item", kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        return self._answer("transact_write_items", kwargs)


def sent_plan() -> EffectPlan:
    """A send: with an empty snapshot it creates the message (its mark), the lead and more in one
    transaction; with its message already stored, its marker leads the transaction."""
    document = EVENTS["sent_a"]
    event = normalise("emailbison", parse_payload(document))
    return plan_effect(dedupe_key(event, document), event, NOW_MS)


# The send's message as another event (an open that came first) created it: the send adds to it.
MESSAGE_STORED = Snapshot(
    applied=False, lead=None, message={"direction": "OUTBOUND", "kind": "CAMPAIGN", "version": 1, "createdBy": "x"}
)


def marker_only_plan() -> EffectPlan:
    """An unsubscribe without a lead address: nothing to write but the effect marker."""
    event = NormalisedEvent.model_validate_json('{"provider": "emailbison", "event_type": "LEAD_UNSUBSCRIBED"}')
    return plan_effect("emailbison::12:LEAD_UNSUBSCRIBED:1", event, NOW_MS)


def cancelled(*reasons: str) -> ClientError:
    return client_error(
        "TransactionCanceledException", "TransactWriteItems", CancellationReasons=[{"Code": r} for r in reasons]
    )


@pytest.mark.parametrize(
    ("failure", "raised", "message"),
    [
        (cancelled("ConditionalCheckFailed", "None", "None"), AlreadyApplied, ""),
        (cancelled("None", "ConditionalCheckFailed", "None"), ConcurrentChange, ""),
        (cancelled("None", "None", "TransactionConflict"), ConcurrentChange, ""),
        (
            cancelled("None", "ThrottlingError", "None"),
            RetryableProcessingError,
            "transaction cancelled: ['None', 'ThrottlingError', 'None']",
        ),
        (cancelled(), RetryableProcessingError, "transaction cancelled: []"),
        (
            client_error("TransactionCanceledException", "TransactWriteItems", CancellationReasons=[{}, {}]),
            RetryableProcessingError,
            "transaction cancelled: ['None', 'None']",
        ),
        (ClientError({}, "TransactWriteItems"), RetryableProcessingError, "transact: "),
        (
            client_error("TransactionCanceledException", "TransactWriteItems"),
            RetryableProcessingError,
            "transaction cancelled: []",
        ),
        (
            client_error("InternalServerError", "TransactWriteItems"),
            RetryableProcessingError,
            "transact: InternalServerError",
        ),
        (EndpointConnectionError(endpoint_url="x"), RetryableProcessingError, "transact: EndpointConnectionError"),
    ],
)
def test_a_refused_transaction_is_already_applied_a_concurrent_change_or_retryable(
    failure: Exception, raised: type[Exception], message: str
) -> None:
    plan = sent_plan()
    client = ScriptedClient(failure)

    with pytest.raises(raised) as error:
        DomainStore(client, TABLE).apply(plan, MESSAGE_STORED, NOW_MS)

    assert str(error.value) == message
    [(name, call)] = client.calls
    assert name == "transact_write_items"
    first = call["TransactItems"][0]["Put"]
    assert (first["Item"]["pk"], first["ConditionExpression"]) == (
        {"S": effect_marker_pk(plan.dedupe_key)},
        "attribute_not_exists(pk)",
    )


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        # The message appeared since the read (another event, or this one on a second worker): the
        # re-read tells which, so it is a concurrent change, never "already applied" on its own.
        (cancelled("ConditionalCheckFailed", "None", "None"), ConcurrentChange),
        (cancelled("None", "ConditionalCheckFailed", "None"), ConcurrentChange),
        (cancelled("None", "ThrottlingError", "None"), RetryableProcessingError),
    ],
)
def test_an_effect_that_creates_its_message_is_marked_by_it_and_a_refusal_is_a_concurrent_change(
    failure: Exception, raised: type[Exception]
) -> None:
    plan = sent_plan()
    client = ScriptedClient(failure)

    with pytest.raises(raised):
        DomainStore(client, TABLE).apply(plan, EMPTY, NOW_MS)

    [(name, call)] = client.calls
    assert name == "transact_write_items"
    items = [write["Put"]["Item"] for write in call["TransactItems"] if "Put" in write]
    assert all(item["sk"] != {"S": "EFFECT"} for item in items)  # no marker item
    first = call["TransactItems"][0]["Put"]
    assert first["Item"]["sk"] == {"S": "MESSAGE"}
    assert first["Item"]["createdBy"] == {"S": plan.dedupe_key}
    assert first["ConditionExpression"] == "attribute_not_exists(pk)"


def message_only_plan() -> EffectPlan:
    """An untracked reply from no known address: nothing to write but its new message."""
    document = '{"provider": "emailbison", "event_type": "UNTRACKED_REPLY_RECEIVED", "reply_id": "9"}'
    return plan_effect(
        "emailbison::12:UNTRACKED_REPLY_RECEIVED:9", NormalisedEvent.model_validate_json(document), NOW_MS
    )


def single_item(kind: str) -> tuple[EffectPlan, dict[str, Any]]:
    """An effect of one item, and what that item must hold: an unsubscribe without a lead address
    (its marker, which says which event it marks and when, kept longer than the events table keeps
    the event), or an untracked reply from no known address (its new message, marked by its creator)."""
    if kind == "marker":
        plan = marker_only_plan()
        return plan, {
            "pk": {"S": effect_marker_pk(plan.dedupe_key)},
            "dedupeKey": {"S": plan.dedupe_key},
            "appliedAt": {"N": str(NOW_MS)},
            "expiresAt": {"N": str(NOW_MS // 1000 + MARKER_RETENTION_S)},
        }
    plan = message_only_plan()
    assert plan.message is not None and plan.lead_pk is None and plan.campaign is None
    return plan, {"pk": {"S": plan.message.pk}, "sk": {"S": "MESSAGE"}, "createdBy": {"S": plan.dedupe_key}}


@pytest.mark.parametrize(
    ("kind", "refused", "what"),
    [("marker", AlreadyApplied, "put marker"), ("message", ConcurrentChange, "put message")],
)
@pytest.mark.parametrize(
    ("failure", "raised", "message"),
    [
        (client_error("ConditionalCheckFailedException", "PutItem"), None, ""),  # None: the item's own refusal
        (
            client_error("ProvisionedThroughputExceededException", "PutItem"),
            RetryableProcessingError,
            "{what}: ProvisionedThroughputExceededException",
        ),
        (ClientError({}, "PutItem"), RetryableProcessingError, "{what}: "),
        (EndpointConnectionError(endpoint_url="x"), RetryableProcessingError, "{what}: EndpointConnectionError"),
    ],
)
def test_an_effect_of_one_item_is_one_conditional_put_refused_as_that_item_says(
    kind: str,
    refused: type[Exception],
    what: str,
    failure: Exception,
    raised: type[Exception] | None,
    message: str,
) -> None:
    """A refused marker is "already applied"; a refused new message a concurrent change (the re-read
    tells whose); anything else is retryable and says which put failed."""
    plan, expected = single_item(kind)
    client = ScriptedClient(failure)

    with pytest.raises(raised or refused) as error:
        DomainStore(client, TABLE).apply(plan, EMPTY, NOW_MS)

    assert str(error.value) == message.format(what=what)
    [(name, call)] = client.calls
    assert (name, call["TableName"], call["ConditionExpression"]) == ("put_item", TABLE, "attribute_not_exists(pk)")
    assert {attribute: call["Item"].get(attribute) for attribute in expected} == expected


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            client_error("ProvisionedThroughputExceededException", "BatchGetItem"),
            "read snapshot: ProvisionedThroughputExceededException",
        ),
        (ClientError({}, "BatchGetItem"), "read snapshot: ClientError"),
        (EndpointConnectionError(endpoint_url="x"), "read snapshot: EndpointConnectionError"),
    ],
)
def test_a_failed_snapshot_read_is_retryable_and_says_why(failure: Exception, message: str) -> None:
    with pytest.raises(RetryableProcessingError) as error:
        DomainStore(ScriptedClient(failure), TABLE).read_snapshot(sent_plan())

    assert str(error.value) == message


def test_keys_left_unprocessed_are_read_again_a_bounded_number_of_times() -> None:
    plan = sent_plan()
    marker_key = {"pk": {"S": effect_marker_pk(plan.dedupe_key)}, "sk": {"S": "EFFECT"}}
    marker_item = {**marker_key, "dedupeKey": {"S": plan.dedupe_key}}
    unprocessed = {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": [marker_key]}}}

    # Left unprocessed once, then read: the second request asks for that key only. (An answer may
    # leave out what it has nothing for: the responses, or the keys left.)
    client = ScriptedClient({"UnprocessedKeys": unprocessed["UnprocessedKeys"]}, {"Responses": {TABLE: [marker_item]}})
    snapshot = DomainStore(client, TABLE).read_snapshot(plan)
    assert snapshot.applied is True
    assert [call["RequestItems"][TABLE]["Keys"] for _, call in client.calls][1] == [marker_key]
    assert all(call["RequestItems"][TABLE]["ConsistentRead"] is True for _, call in client.calls)

    # Left unprocessed on every try: a retryable failure after three reads.
    stuck = ScriptedClient(unprocessed, unprocessed, unprocessed, unprocessed)
    with pytest.raises(RetryableProcessingError, match=r"^read snapshot: keys left unprocessed$"):
        DomainStore(stuck, TABLE).read_snapshot(plan)
    assert len(stuck.calls) == 3


@pytest.mark.parametrize(
    ("creator", "applied"), [("self", True), ("emailbison::12:EMAIL_OPENED:7001", False), (None, False)]
)
def test_a_message_marks_the_effect_applied_only_for_the_event_that_created_it(
    creator: str | None, applied: bool
) -> None:
    plan = sent_plan()
    assert plan.message is not None
    message = {"pk": {"S": plan.message.pk}, "sk": {"S": "MESSAGE"}, "version": {"N": "1"}}
    if creator is not None:
        message["createdBy"] = {"S": plan.dedupe_key if creator == "self" else creator}
    client = ScriptedClient({"Responses": {TABLE: [message]}})

    assert DomainStore(client, TABLE).read_snapshot(plan).applied is applied
