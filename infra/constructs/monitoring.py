"""CloudWatch alarms (all publishing to the alerts topic) and one dashboard for the pipeline."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import SpillwayConfig
from infra.constructs.alerts import Alerts
from infra.constructs.ingest_api import IngestApi
from infra.constructs.notifications import SlackNotifier
from infra.constructs.processing import Processing
from infra.constructs.sweeping import Sweeping
from spillway_core.lanes import Lane
from spillway_core.metrics import NAMESPACE, EventOutcome, Metric, Service, WebhookOutcome, event_metric, webhook_metric

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)


def spillway_metric(name: str, service: Service, period: Duration = FIVE_MINUTES) -> cloudwatch.Metric:
    """A Powertools EMF metric the functions emit (spillway_core.metrics: namespace, dimension service)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: SpillwayConfig,
        alerts: Alerts,
        ingest: IngestApi,
        processing: Processing,
        sweeping: Sweeping,
        notifier: SlackNotifier,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(alerts.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        self._alarm_at_least_one(
            "ProcessorDlqMessages",
            _queue_depth(processing.dlq),
            "A stream batch could not be processed after bisecting and retries; events are re-driven by the sweeper.",
        )
        self._alarm_at_least_one(
            "NotifierDlqMessages",
            _queue_depth(notifier.dlq),
            "Alerts could not be posted to Slack (check the webhook URL secret).",
        )
        self._alarm_at_least_one(
            "FailedEvents",
            spillway_metric(event_metric(EventOutcome.FAILED), Service.PROCESSOR),
            "Events ended FAILED: see the Slack alert or `spillway status`.",
        )
        for lane, part in processing.lanes.items():
            self._alarm_at_least_one(
                _lane_name(lane, "ProcessorErrors"),
                part.handler.function.metric_errors(period=FIVE_MINUTES),
                f"The {lane.value} processor crashed or timed out on a batch.",
            )
        self._alarm_at_least_one(
            "IngestUnavailable",
            spillway_metric(webhook_metric(WebhookOutcome.UNAVAILABLE), Service.INGEST),
            "The ingest answered 503: DynamoDB throttled or was unreachable.",
        )
        self._alarm_at_least_one(
            "IngestErrors",
            ingest.handler.function.metric_errors(period=FIVE_MINUTES),
            "The ingest function itself failed (API Gateway answers 5xx).",
        )
        self._alarm_at_least_one(
            "Api5xx",
            ingest.api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            "API Gateway answered 5xx to the provider.",
        )
        self._alarm_at_least_one(
            "SweeperErrors",
            sweeping.handler.function.metric_errors(period=FIVE_MINUTES),
            "The sweeper failed: stuck events are not being repaired.",
        )
        self._alarm_at_least_one(
            "NotifierErrors", notifier.handler.function.metric_errors(period=FIVE_MINUTES), "The Slack notifier failed."
        )

        for lane, part in processing.lanes.items():
            function, settings = part.handler.function, part.lane
            self._alarm(
                _lane_name(lane, "ProcessorIteratorAge"),
                function.metric("IteratorAge", statistic="Maximum", period=ONE_MINUTE),
                threshold=settings.iterator_age_alarm_seconds * 1000,
                evaluation_periods=3,
                description=f"The {lane.value} lane is more than {settings.iterator_age_alarm_seconds}s "
                "behind the stream.",
            )
            # With PF = the cap, one shard never throttles; a stream with more shards offers up to
            # shards x PF batches at once and the reserved concurrency throttles the rest.
            self._alarm(
                _lane_name(lane, "ProcessorThrottlesSustained"),
                function.metric_throttles(period=ONE_MINUTE, statistic="Sum"),
                threshold=1,
                evaluation_periods=config.throttle_alarm_minutes,
                description=f"The {lane.value} lane has been throttled at its cap of {settings.concurrency} for "
                f"{config.throttle_alarm_minutes} minutes in a row (short bursts are expected).",
            )
        self._alarm(
            "SweeperWokePending",
            spillway_metric(Metric.WOKEN_PENDING, Service.SWEEPER, period=Duration.minutes(15)),
            threshold=config.sweeper_woken_alarm_threshold,
            evaluation_periods=1,
            description="The sweeper had to wake many PENDING events: stream records are being lost.",
        )
        self.dashboard = _dashboard(self, ingest, processing, sweeping)

    def _alarm_at_least_one(self, name: str, metric: cloudwatch.IMetric, description: str) -> None:
        self._alarm(name, metric, threshold=1, evaluation_periods=1, description=description)

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, *, threshold: float, evaluation_periods: int, description: str
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_description=f"{description} Runbook: docs/operations.md#{name.lower()}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms[name] = alarm


def _lane_name(lane: Lane, name: str) -> str:
    """Bulk keeps the historical alarm names (the runbook anchors); the interactive lane is prefixed."""
    return name if lane is Lane.BULK else f"Interactive{name}"


def _queue_depth(queue: sqs.IQueue) -> cloudwatch.IMetric:
    return queue.metric_approximate_number_of_messages_visible(period=ONE_MINUTE, statistic="Maximum")


def _dashboard(scope: Construct, ingest: IngestApi, processing: Processing, sweeping: Sweeping) -> cloudwatch.Dashboard:
    api = ingest.api
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", default_interval=Duration.hours(3))

    def graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=metrics, width=8)

    def emf(names: list[str], service: Service) -> list[cloudwatch.IMetric]:
        return [spillway_metric(name, service, ONE_MINUTE) for name in names]

    def per_lane(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
        metrics: list[cloudwatch.IMetric] = [
            part.handler.function.metric(metric, statistic=statistic, label=f"{lane.value} {metric}")
            for lane, part in processing.lanes.items()
        ]
        return metrics

    webhooks = [webhook_metric(outcome) for outcome in WebhookOutcome]
    events = [event_metric(outcome) for outcome in EventOutcome if outcome is not EventOutcome.PROBE]
    repairs: list[str] = [
        Metric.WOKEN_PENDING,
        Metric.RELEASED_RUNNING,
        Metric.RETRIES_DUE,
        Metric.ALERTS_RESENT,
        Metric.BACKLOG_REMAINING,
    ]
    api_traffic: list[cloudwatch.IMetric] = [api.metric_count(), api.metric_client_error(), api.metric_server_error()]
    sweeper_ages: list[cloudwatch.IMetric] = [
        spillway_metric(Metric.OLDEST_DUE_AGE, Service.SWEEPER).with_(statistic="Maximum"),
        spillway_metric(Metric.LANES_BEHIND, Service.SWEEPER).with_(statistic="Maximum"),
    ]
    dashboard.add_widgets(
        graph("Webhooks by outcome", emf(webhooks, Service.INGEST)),
        graph("API Gateway requests, 4xx, 5xx", api_traffic),
        graph("Ingest duration p99 (ms)", [ingest.handler.function.metric_duration(statistic="p99")]),
    )
    dashboard.add_widgets(
        graph("Events by outcome", emf(events, Service.PROCESSOR)),
        graph("Backlog per lane: iterator age (ms)", per_lane("IteratorAge", "Maximum")),
        graph(
            "Per lane: concurrency (cap: the lane's concurrency), throttles, errors",
            per_lane("ConcurrentExecutions", "Maximum") + per_lane("Throttles", "Sum") + per_lane("Errors", "Sum"),
        ),
    )
    dashboard.add_widgets(
        graph("Sweeper repairs", emf(repairs, Service.SWEEPER)),
        graph("Processor dead-letter queue", [_queue_depth(processing.dlq)]),
        graph("Sweeper: oldest due age, lanes behind (ms)", sweeper_ages),
    )
    return dashboard
