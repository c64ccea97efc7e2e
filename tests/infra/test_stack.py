"""CDK assertions for every setting the runtime depends on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from spillway_cli.target import stack_config
from spillway_core.lanes import Lane
from spillway_core.metrics import NAMESPACE, EventOutcome, Metric, WebhookOutcome, event_metric, webhook_metric
from tests.infra.conftest import PRODUCTION, Synthesized
from tests.support.tables import DOMAIN_TABLE, EVENTS_TABLE

# Values come from the stage's settings (cdk.json) and metric names from spillway_core.metrics: the
# tests hold the wiring, not a second copy of either.
CONFIG = stack_config(PRODUCTION)
BULK, INTERACTIVE = CONFIG.lane(Lane.BULK), CONFIG.lane(Lane.INTERACTIVE)


def resources(template: Template, type_name: str) -> dict[str, Any]:
    return dict(template.find_resources(type_name))


def function_by_handler(template: Template, handler: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [
        (k, v) for k, v in resources(template, "AWS::Lambda::Function").items() if v["Properties"]["Handler"] == handler
    ]
    return logical_id, resource["Properties"]


def role_statements(template: Template, function_props: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = function_props["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_processor_lease_outlives_its_timeout(template: Template) -> None:
    processors = [
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "processor.handler.lambda_handler"
    ]

    assert len(processors) == 2  # one per lane (tests/infra/test_lanes.py)
    for processor in processors:
        assert processor["Timeout"] == CONFIG.processor_timeout_seconds
        assert int(processor["Environment"]["Variables"]["LEASE_SECONDS"]) > processor["Timeout"]


def dead_letter_queues(template: Template) -> set[str]:
    """Every queue something dead-letters into: a queue's redrive target or a stream mapping's on-failure."""
    targets = [
        q["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        for q in resources(template, "AWS::SQS::Queue").values()
    ]
    targets += [
        m["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
    ]
    return {target["Fn::GetAtt"][0] for target in targets if target}


def test_every_dlq_is_encrypted_keeps_messages_14_days_and_is_ssl_only(template: Template) -> None:
    dlqs = dead_letter_queues(template)
    policies = resources(template, "AWS::SQS::QueuePolicy").values()

    assert len(dlqs) == 2  # the processor lanes' DLQ and the notifier's
    for dlq in dlqs:
        queue = resources(template, "AWS::SQS::Queue")[dlq]["Properties"]
        assert queue["SqsManagedSseEnabled"] is True, dlq
        assert queue["MessageRetentionPeriod"] == 14 * 86_400, dlq
        ssl_only = [
            statement
            for policy in policies
            if {"Ref": dlq} in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
            and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert ssl_only, dlq


def test_events_table_has_stream_ttl_sweep_and_status_indexes_pitr_and_encryption(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": EVENTS_TABLE["KeySchema"],
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            "GlobalSecondaryIndexes": [
                {"IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index["Projection"]}
                for index in EVENTS_TABLE["GlobalSecondaryIndexes"]
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_moto_table_definitions_match_the_template(template: Template) -> None:
    tables = [t["Properties"] for t in resources(template, "AWS::DynamoDB::Table").values()]
    by_keys = {json.dumps(t["KeySchema"]): t for t in tables}

    for expected in (EVENTS_TABLE, DOMAIN_TABLE):
        actual = by_keys[json.dumps(expected["KeySchema"])]
        assert sorted(actual["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)


def test_sweeper_runs_on_a_schedule(template: Template) -> None:
    sweeper_id, sweeper = function_by_handler(template, "sweeper.handler.lambda_handler")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [sweeper_id, "Arn"]}})],
        },
    )
    assert sweeper["ReservedConcurrentExecutions"] == 1


def test_functions_run_python_3_13_on_arm64_from_one_asset(template: Template) -> None:
    # python3.13, not 3.14: the asset's bytecode needs an interpreter of the runtime's version (see
    # infra/lambda_asset.py and the README's cold-start figures).
    functions = [f["Properties"] for f in resources(template, "AWS::Lambda::Function").values()]

    assert len(functions) == 5
    assert {f["Runtime"] for f in functions} == {"python3.13"}
    assert {tuple(f["Architectures"]) for f in functions} == {("arm64",)}
    assert len({json.dumps(f["Code"]) for f in functions}) == 1


def test_ingest_may_only_put_into_the_events_table(template: Template) -> None:
    _, ingest = function_by_handler(template, "ingest.handler.lambda_handler")
    data_statements = [s for s in role_statements(template, ingest) if not str(s["Action"]).startswith("['logs")]

    assert len(data_statements) == 1
    assert data_statements[0]["Action"] == "dynamodb:PutItem"
    assert data_statements[0]["Resource"]["Fn::GetAtt"][0].startswith("EventsTable")
    assert ingest["Timeout"] == 10
    assert ingest["Environment"]["Variables"]["MAX_BODY_BYTES"] == str(CONFIG.max_body_bytes)


def test_every_processor_may_read_its_snapshot_and_write_its_effect_in_the_domain_table(template: Template) -> None:
    processors = [
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "processor.handler.lambda_handler"
    ]
    assert processors
    for processor in processors:
        [domain] = [
            s
            for s in role_statements(template, processor)
            if str(s.get("Resource", "")).count("DomainTable") and "dynamodb:PutItem" in s["Action"]
        ]
        # The snapshot is one BatchGetItem; the effect a transaction of puts and updates, or one put.
        assert {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(domain["Action"])


def events_table_actions(template: Template, function: dict[str, Any]) -> set[str]:
    """The actions a function may take on the events table's items (not its indexes or stream)."""
    actions: set[str] = set()
    for statement in role_statements(template, function):
        resource = json.dumps(statement.get("Resource", ""))
        if "EventsTable" in resource and "/index/" not in resource and "StreamArn" not in resource:
            actions |= set(statement["Action"]) if isinstance(statement["Action"], list) else {statement["Action"]}
    return actions


def test_the_processor_and_the_sweeper_may_do_what_the_event_layout_needs_and_no_more(template: Template) -> None:
    # A new event's stream record carries its record; a woken one's is read (GetItem). The lifecycle
    # item is claimed and finished with conditional updates; the processor never puts or deletes.
    for function in (f["Properties"] for f in resources(template, "AWS::Lambda::Function").values()):
        if function["Handler"] == "processor.handler.lambda_handler":
            assert events_table_actions(template, function) == {"dynamodb:UpdateItem", "dynamodb:GetItem"}
    _, sweeper = function_by_handler(template, "sweeper.handler.lambda_handler")
    # The sweeper also checks intake entries (BatchGetItem) and creates a lost event's lifecycle item (PutItem).
    assert events_table_actions(template, sweeper) == {
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
    }


def test_http_api_route_throttling_and_access_logs(template: Template) -> None:
    template.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "POST /webhooks/{provider}"})
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": CONFIG.api_throttle_burst,
                "ThrottlingRateLimit": CONFIG.api_throttle_rate,
            },
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
        },
    )
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    assert "querystring" not in stage["Properties"]["AccessLogSettings"]["Format"].lower()


def test_alerts_topic_is_encrypted_with_a_rotating_key(template: Template) -> None:
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_no_token_or_digest_is_in_the_template(aws_stack: Synthesized) -> None:
    text = _without_asset_hashes(aws_stack.template_dict)

    assert not re.search(r"[0-9a-f]{64}", text)
    parameter = aws_stack.template_dict["Parameters"]["IngestTokenBindings"]
    assert parameter["NoEcho"] is True


def test_cdk_nag_is_clean_and_every_acknowledgement_has_a_reason(aws_stack: Synthesized) -> None:
    report = aws_stack.validation_report

    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["violations"]
        for suppressed in plugin.get("suppressedViolations", []):
            reason = suppressed.get("reason") or suppressed.get("acknowledgment", {}).get("reason", "")
            assert len(str(reason)) > 30, suppressed


def test_cfn_lint_passes(aws_stack: Synthesized) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            ".cfnlintrc.yaml",
            str(aws_stack.template_path),
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _without_asset_hashes(template: dict[str, Any]) -> str:
    # The asset's hash names its zip and (in the asset metadata the CDK CLI adds) its staged directory.
    return re.sub(r"(?<=asset\.)[0-9a-f]{64}|[0-9a-f]{64}(?=\.zip)", "<asset>", json.dumps(template, sort_keys=True))


def test_local_target_deploys_the_same_template_but_the_asset(aws_stack: Synthesized, local_stack: Synthesized) -> None:
    assert _without_asset_hashes(aws_stack.template_dict) == _without_asset_hashes(local_stack.template_dict)


@pytest.mark.parametrize("bad_lease", [20, 30])
def test_a_lease_shorter_than_the_processor_timeout_is_refused(bad_lease: int) -> None:
    import aws_cdk as cdk

    from infra.app import build_app
    from infra.config import cdk_context

    with pytest.raises(ValueError, match="leaseSeconds"):
        build_app(cdk.App(context=cdk_context()), overrides={"leaseSeconds": bad_lease})


def alarm_by_name(template: Template, name: str) -> dict[str, Any]:
    matches = [
        a["Properties"]
        for k, a in resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith(f"Monitoring{name}")
    ]
    assert len(matches) == 1, f"alarm {name}: {len(matches)} found"
    return matches[0]


@pytest.mark.parametrize(
    ("name", "metric", "namespace", "threshold", "periods"),
    [
        ("ProcessorDlqMessages", "ApproximateNumberOfMessagesVisible", "AWS/SQS", 1, 1),
        ("NotifierDlqMessages", "ApproximateNumberOfMessagesVisible", "AWS/SQS", 1, 1),
        ("FailedEvents", event_metric(EventOutcome.FAILED), NAMESPACE, 1, 1),
        ("ProcessorErrors", "Errors", "AWS/Lambda", 1, 1),
        ("ProcessorIteratorAge", "IteratorAge", "AWS/Lambda", BULK.iterator_age_alarm_seconds * 1000, 3),
        ("ProcessorThrottlesSustained", "Throttles", "AWS/Lambda", 1, CONFIG.throttle_alarm_minutes),
        ("InteractiveProcessorErrors", "Errors", "AWS/Lambda", 1, 1),
        (
            "InteractiveProcessorIteratorAge",
            "IteratorAge",
            "AWS/Lambda",
            INTERACTIVE.iterator_age_alarm_seconds * 1000,
            3,
        ),
        ("InteractiveProcessorThrottlesSustained", "Throttles", "AWS/Lambda", 1, CONFIG.throttle_alarm_minutes),
        ("IngestUnavailable", webhook_metric(WebhookOutcome.UNAVAILABLE), NAMESPACE, 1, 1),
        ("IngestErrors", "Errors", "AWS/Lambda", 1, 1),
        ("Api5xx", "5xx", "AWS/ApiGateway", 1, 1),
        ("SweeperWokePending", Metric.WOKEN_PENDING, NAMESPACE, CONFIG.sweeper_woken_alarm_threshold, 1),
        ("SweeperErrors", "Errors", "AWS/Lambda", 1, 1),
        ("NotifierErrors", "Errors", "AWS/Lambda", 1, 1),
    ],
)
def test_every_alarm_has_its_metric_threshold_and_notifies_the_alerts_topic(
    template: Template, name: str, metric: str, namespace: str, threshold: int, periods: int
) -> None:
    [topic_id] = resources(template, "AWS::SNS::Topic")
    alarm = alarm_by_name(template, name)

    assert (alarm["MetricName"], alarm["Namespace"]) == (metric, namespace)
    assert alarm["Threshold"] == threshold
    assert alarm["EvaluationPeriods"] == periods
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert "Runbook: docs/operations.md#" in alarm["AlarmDescription"]


def test_alarm_runbook_anchors_exist_in_the_operations_doc(template: Template) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text().lower()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        anchor = alarm["Properties"]["AlarmDescription"].rsplit("#", 1)[1]
        assert f'<a id="{anchor}"></a>' in doc, anchor


def test_slack_notifier_collects_bursts_from_the_alerts_topic(template: Template) -> None:
    notifier_id, notifier = function_by_handler(template, "notifier.handler.lambda_handler")
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "sqs", "RawMessageDelivery": True, "TopicArn": Match.any_value()}
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": notifier_id},
            "BatchSize": 1000,
            "MaximumBatchingWindowInSeconds": CONFIG.notifier_batch_window_seconds,
            # Unposted alerts are reported as failed, so they stay queued instead of being dropped.
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": Match.any_value()}, "VisibilityTimeout": 180},
    )
    assert notifier["ReservedConcurrentExecutions"] == 1
    # The webhook URL is read from Secrets Manager at run time; the template holds only a placeholder.
    assert set(notifier["Environment"]["Variables"]) >= {"SLACK_WEBHOOK_SECRET_ARN"}
    [secret] = resources(template, "AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["SecretString"] == "not-configured"


def _referenced_id(reference: dict[str, Any]) -> str:
    """A reference in the dashboard's body (a function, a queue, the region) as the logical id it names."""
    return str(reference["Ref"]) if "Ref" in reference else str(reference["Fn::GetAtt"][0])


def dashboard_metrics(template: Template) -> set[tuple[str, ...]]:
    """(namespace, name, dimension name, dimension value...) of every metric the dashboard's widgets plot."""
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(part if isinstance(part, str) else _referenced_id(part) for part in parts)
    plotted = set()
    for widget in json.loads(text)["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            plotted.add(tuple(str(field) for field in metric if not isinstance(field, dict)))
    return plotted


def test_the_dashboard_plots_every_outcome_every_alarmed_metric_and_each_lanes_backlog(template: Template) -> None:
    plotted = dashboard_metrics(template)
    emitted_names = {metric[1] for metric in plotted if metric[0] == NAMESPACE}

    assert {webhook_metric(outcome) for outcome in WebhookOutcome} <= emitted_names
    assert {event_metric(o) for o in EventOutcome if o is not EventOutcome.PROBE} <= emitted_names
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == NAMESPACE:
            [service] = props["Dimensions"]
            assert (NAMESPACE, props["MetricName"], "service", service["Value"]) in plotted, props["MetricName"]
    processors = [
        logical_id
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "processor.handler.lambda_handler"
    ]
    for function_id in processors:
        assert ("AWS/Lambda", "IteratorAge", "FunctionName", function_id) in plotted
    assert any(m[:2] == ("AWS/SQS", "ApproximateNumberOfMessagesVisible") for m in plotted)


def test_sweeper_can_republish_alerts(template: Template) -> None:
    _, sweeper = function_by_handler(template, "sweeper.handler.lambda_handler")
    actions = {str(s["Action"]) for s in role_statements(template, sweeper)}

    assert "sns:Publish" in actions
    assert "dynamodb:Query" in actions


def test_the_on_call_cli_finds_what_it_needs_in_the_stack(template: Template) -> None:
    """`spillway` reads the DLQs from outputs, replay settings from the functions, and alerts link the runbook."""
    outputs = template.to_json()["Outputs"]
    assert {"ProcessorDlqUrl", "NotifierDlqUrl", "AlertsTopicArn", "EventsTableName"} <= set(outputs)
    _, notifier = function_by_handler(template, "notifier.handler.lambda_handler")
    assert notifier["Environment"]["Variables"]["RUNBOOK_BASE_URL"] == stack_config(PRODUCTION).runbook_base_url
    _, ingest = function_by_handler(template, "ingest.handler.lambda_handler")
    _, sweeper = function_by_handler(template, "sweeper.handler.lambda_handler")
    for variable in ("SWEEP_SHARDS", "PENDING_GRACE_SECONDS", "EVENT_RETENTION_DAYS"):
        assert variable in ingest["Environment"]["Variables"]
    assert sweeper["Environment"]["Variables"]["SWEEP_SHARDS"] == ingest["Environment"]["Variables"]["SWEEP_SHARDS"]
