"""Every alarm can reach on-call on AWS: an explicit topic policy replaces SNS's default one, so the
topic must allow CloudWatch to publish, and the topic's key must let CloudWatch use it, both limited
to this account's alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def _source_conditions_hold(statement: dict[str, Any]) -> bool:
    conditions = statement.get("Condition", {})
    account = conditions.get("StringEquals", {}).get("aws:SourceAccount")
    source_arn = conditions.get("ArnLike", {}).get("aws:SourceArn")
    if account != {"Ref": "AWS::AccountId"} or not isinstance(source_arn, dict):
        return False
    parts = source_arn["Fn::Join"][1]
    return ":cloudwatch:" in parts and ":alarm:*" in parts and {"Ref": "AWS::AccountId"} in parts


def _allows(statement: dict[str, Any], action: str) -> bool:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    return (
        statement["Effect"] == "Allow"
        and statement.get("Principal") == CLOUDWATCH
        and any(a == action or (a.endswith("*") and action.startswith(a[:-1])) for a in actions)
    )


def test_every_alarm_action_topic_lets_cloudwatch_publish_with_its_key(template: Template) -> None:
    resources = template.to_json()["Resources"]
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) >= 10
    topic_ids = {action["Ref"] for alarm in alarms for action in alarm["Properties"]["AlarmActions"]}
    assert topic_ids, "alarms have no actions"
    for topic_id in topic_ids:
        topic = resources[topic_id]
        assert topic["Type"] == "AWS::SNS::Topic"
        policies = [
            r["Properties"]["PolicyDocument"]
            for r in resources.values()
            if r["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": topic_id} in r["Properties"]["Topics"]
        ]
        publish = [s for p in policies for s in _statements(p) if _allows(s, "sns:Publish")]
        assert publish, f"{topic_id}: no Allow for CloudWatch to publish"
        assert all(_source_conditions_hold(s) for s in publish)
        assert all(s["Resource"] == {"Ref": topic_id} for s in publish)

        key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        key_statements = _statements(resources[key_id]["Properties"]["KeyPolicy"])
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            granted = [s for s in key_statements if _allows(s, action)]
            assert granted, f"{key_id}: CloudWatch may not {action}"
            assert all(_source_conditions_hold(s) for s in granted), f"{key_id}: {action} without source conditions"


def test_the_topic_still_denies_insecure_transport(template: Template) -> None:
    policies = [r for r in template.to_json()["Resources"].values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    denies = [s for p in policies for s in _statements(p["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies)
