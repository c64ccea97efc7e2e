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
    """A send: with an empty snapshot it writes the marker, message, lead and more in one transaction."""
    document = EVENTS["sent_a"]
    event = normalise("emailbison", parse_payload(document))
    return plan_effect(dedupe_key(event, document), event, NOW_MS)


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
    client = ScriptedClient(failure)

    with pytest.raises(raised) as error:
        DomainStore(client, TABLE).apply(sent_plan(), EMPTY, NOW_MS)

    assert str(error.value) == message
    [(name, call)] = client.calls
    assert name == "transact_write_items"
    assert call["TransactItems"][0]["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"


@pytest.mark.parametrize(
    ("failure", "raised", "message"),
    [
        (client_error("ConditionalCheckFailedException", "PutItem"), AlreadyApplied, ""),
        (
            client_error("ProvisionedThroughputExceededException", "PutItem"),
            RetryableProcessingError,
            "put marker: ProvisionedThroughputExceededException",
        ),
        (ClientError({}, "PutItem"), RetryableProcessingError, "put marker: "),
        (EndpointConnectionError(endpoint_url="x"), RetryableProcessingError, "put marker: EndpointConnectionError"),
    ],
)
def test_a_refused_marker_alone_is_already_applied_or_retryable(
    failure: Exception, raised: type[Exception], message: str
) -> None:
    plan = marker_only_plan()
    client = ScriptedClient(failure)

    with pytest.raises(raised) as error:
        DomainStore(client, TABLE).apply(plan, EMPTY, NOW_MS)

    assert str(error.value) == message
    [(name, call)] = client.calls
    assert (name, call["TableName"], call["ConditionExpression"]) == ("put_item", TABLE, "attribute_not_exists(pk)")
    assert call["Item"]["pk"] == {"S": effect_marker_pk(plan.dedupe_key)}
    # Which event it marks, kept longer than the events table keeps the event.
    assert call["Item"]["dedupeKey"] == {"S": plan.dedupe_key}
    assert call["Item"]["expiresAt"] == {"N": str(NOW_MS // 1000 + MARKER_RETENTION_S)}


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
