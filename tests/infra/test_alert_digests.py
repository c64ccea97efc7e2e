"""What the notifier's alert digests need from the stack: their table, the notifier's own queue for the
delayed flush messages, the window from cdk.json, and the rights to use both."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from pydantic import ValidationError

from infra.config import SpillwayConfig
from spillway_cli.target import stack_config
from tests.infra.conftest import PRODUCTION
from tests.infra.test_stack import function_by_handler, resources, role_statements
from tests.support.digests import create_digest_table

NOTIFIER = "notifier.handler.lambda_handler"


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _resource_refs(statement: dict[str, Any]) -> str:
    return str(statement["Resource"])


def test_the_notifier_gets_its_digest_table_queue_and_window(template: Template) -> None:
    notifier_id, notifier = function_by_handler(template, NOTIFIER)
    variables = notifier["Environment"]["Variables"]
    [table_id] = [k for k, v in resources(template, "AWS::DynamoDB::Table").items() if "Digests" in k]
    table = resources(template, "AWS::DynamoDB::Table")[table_id]["Properties"]
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": notifier_id}
    ]
    buffer_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]

    assert variables["DIGEST_TABLE"] == {"Ref": table_id}
    # Flush messages go to the queue the notifier reads, so they come back to it when due.
    assert variables["ALERT_QUEUE_URL"] == {"Ref": buffer_id}
    config = stack_config(PRODUCTION)
    assert variables["ALERT_DIGEST_QUIET_SECONDS"] == str(config.alert_digest_quiet_seconds)
    assert variables["ALERT_DIGEST_MAX_SECONDS"] == str(config.alert_digest_max_seconds)
    assert {"AttributeName": "pk", "KeyType": "HASH"} in table["KeySchema"]
    assert {"AttributeName": "sk", "KeyType": "RANGE"} in table["KeySchema"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # The tests' moto table is this one.
    created: dict[str, Any] = {}
    create_digest_table(type("Recorder", (), {"create_table": lambda _, **kw: created.update(kw)})())
    assert created["KeySchema"] == table["KeySchema"]
    assert sorted(created["AttributeDefinitions"], key=str) == sorted(table["AttributeDefinitions"], key=str)

    statements = role_statements(template, notifier)
    on_table = set().union(*(_actions(s) for s in statements if table_id in _resource_refs(s)))
    on_buffer = set().union(*(_actions(s) for s in statements if buffer_id in _resource_refs(s)))
    # Join is a transaction (a condition check on the digest plus the member's put); close reads them.
    assert {"dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"} <= on_table
    assert "dynamodb:Query" in on_table
    assert "sqs:SendMessage" in on_buffer


def test_the_digest_times_are_read_from_cdk_json_and_fit_the_queue() -> None:
    context = stack_config(PRODUCTION).model_dump(by_alias=True)
    window = context["notifierBatchWindowSeconds"]

    changed = SpillwayConfig.model_validate(context | {"alertDigestQuietSeconds": 90, "alertDigestMaxSeconds": 300})
    assert (changed.alert_digest_quiet_seconds, changed.alert_digest_max_seconds) == (90, 300)
    for wrong in (
        {"alertDigestQuietSeconds": 900},  # SQS delays a message by at most 900 s, settle time included
        # AWS hands a burst's alerts over up to a batching window apart: a shorter quiet time splits it.
        {"alertDigestQuietSeconds": window - 1},
        {"alertDigestQuietSeconds": window + 30, "alertDigestMaxSeconds": window},
    ):
        with pytest.raises(ValidationError):
            SpillwayConfig.model_validate(context | wrong)
