"""Bursts end to end on the local emulator, and the same load against the synchronous design.

1. The emulator's own raw conditional-PutItem throughput (the ceiling for any ingest here).
2. A burst through the deployed pipeline: answers, latency per second, drain time, exactly once.
3. Side by side, with the same latency injected into domain writes in both designs: the deployed
   pipeline (its processor's DynamoDB endpoint goes through the latency proxy) and the synchronous
   baseline (its inline domain writes go through the same proxy).
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.latency_proxy import LatencyProxy
from bench.sync_baseline import SyncWebhookServer
from infra import config as names
from spillway_cli.deploy import deploy, synthesize
from spillway_cli.emulator import Emulator
from spillway_cli.load import BurstReport, plan_burst, send_burst, verify_exactly_once
from spillway_cli.status import pipeline_counts, wait_until_drained
from spillway_cli.target import Target, stack_config
from spillway_cli.tokens import binding, bindings_json, new_token, token_digest
from spillway_core.lanes import Lane


def raw_putitem_throughput(target: Target, requests: int, concurrency: int) -> float:
    dynamodb = target.client("dynamodb")
    table = "bench-raw-putitem"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    body = "x" * 1200  # about an event item's size

    def put(n: int) -> None:
        client = clients[n % concurrency]
        client.put_item(
            TableName=table,
            Item={"pk": {"S": f"k{n}"}, "raw": {"S": body}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    clients = [target.client("dynamodb") for _ in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, range(requests)))
    return requests / (time.perf_counter() - started)


def summarise(report: BurstReport) -> dict[str, Any]:
    return {
        "requests": len(report.results),
        "status_by_kind": {
            kind: {str(k): v for k, v in statuses.items()} for kind, statuses in report.by_kind().items()
        },
        "valid_non_2xx": report.valid_non_2xx(),
        "timeouts_504_or_none": sum(1 for r in report.results if r.status in {0, 504}),
        "requests_per_second": round(report.throughput(), 1),
        "latency_ms": {k: round(v, 1) for k, v in report.percentiles().items()},
        "per_second": report.per_second(),
    }


def run(events: int, concurrency: int, side_events: int, side_rate: float, latency_ms: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    outdir = Path(tempfile.mkdtemp(prefix="spillway-bench-"))
    assembly = synthesize("local", outdir / "cdk")
    with Emulator(log_path=outdir / "emulator.log") as emulator:
        target = Target(stack_name=assembly.stack_name, endpoint_url=emulator.endpoint_url)
        token = new_token()
        deploy(target, assembly, bindings_json({token_digest(token): binding("emailbison", [1, 2, 3])}))
        url = target.webhook_url("emailbison")
        # Warm up as many ingest workers as the burst will use (the emulator starts them lazily).
        send_burst(url, token, plan_burst(4 * concurrency, seed=1, workspace=1), concurrency, progress=False)
        wait_until_drained(target)

        raw = raw_putitem_throughput(target, min(events, 2000), concurrency)
        planned = plan_burst(events, seed=2, workspace=2)
        burst = send_burst(url, token, planned, concurrency)
        last_request = time.monotonic()
        drained = wait_until_drained(target)
        results["burst"] = summarise(burst) | {
            "events": events,
            "concurrency": concurrency,
            "send_seconds": round(burst.sent_s, 1),
            "drain_seconds_after_last_request": round(drained - last_request, 1),
            "exactly_once_differences": verify_exactly_once(target.client("dynamodb"), target.domain_table, planned, 2),
            "raw_putitem_per_second": round(raw, 1),
            "ingest_vs_raw_putitem": round(burst.throughput() / raw, 3),
            "final_counts": dict(pipeline_counts(target).by_status),
        }

        with LatencyProxy(emulator.endpoint_url, latency_ms) as proxy:
            lambda_client = target.client("lambda")
            # Both lanes' processors write through the proxy (the plan has every event type).
            functions = [
                target.outputs[names.OUTPUT_PROCESSOR_FUNCTION],
                target.outputs[names.OUTPUT_INTERACTIVE_PROCESSOR_FUNCTION],
            ]
            envs = {
                f: lambda_client.get_function_configuration(FunctionName=f)["Environment"]["Variables"]
                for f in functions
            }
            for function, env in envs.items():
                lambda_client.update_function_configuration(
                    FunctionName=function, Environment={"Variables": env | {"AWS_ENDPOINT_URL_DYNAMODB": proxy.url}}
                )
            planned = plan_burst(side_events, seed=3, workspace=3)
            started = time.monotonic()
            enqueue = send_burst(url, token, planned, concurrency=256, rate=side_rate)
            drained = wait_until_drained(target)
            drain_s = drained - started
            for function, env in envs.items():
                lambda_client.update_function_configuration(FunctionName=function, Environment={"Variables": env})

            with SyncWebhookServer(_client_via(proxy.url), target.domain_table, token) as sync:
                sync_report = send_burst(
                    sync.url, token, plan_burst(side_events, seed=3, workspace=4), concurrency=256, rate=side_rate
                )

            stream_arn = target.client("dynamodb").describe_table(TableName=target.events_table)["Table"][
                "LatestStreamArn"
            ]
            shards = len(
                target.client("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
            )
            bulk = stack_config().lane(Lane.BULK)
            ddb = target.client("dynamodb")
            # The emulator's mapping poller runs one batch at a time across both lanes, whatever the
            # caps (on AWS: bulk.effective_concurrency(shards) at once): its bound is one batch.
            effective_cap = 1
            processed = sum(1 for r in planned if r.kind == "valid")
            bound = effective_cap * bulk.batch_size / (bulk.batch_size * latency_ms / 1000)
            results["side_by_side"] = {
                "events": side_events,
                "offered_rate_per_second": side_rate,
                "injected_domain_write_latency_ms": latency_ms,
                "sync_workers": 8,
                "gateway_timeout_s": 10,
                "enqueue_first": summarise(enqueue),
                "synchronous": summarise(sync_report),
            }
            results["processor_efficiency"] = {
                "stream_shards": shards,
                "reserved_concurrency": bulk.concurrency,
                "effective_concurrency": effective_cap,
                "deployed_effective_concurrency": bulk.effective_concurrency(shards),
                "batch_size": bulk.batch_size,
                "injected_latency_ms_per_event": latency_ms,
                "bound_events_per_second": round(bound, 2),
                "achieved_events_per_second": round(processed / drain_s, 2),
                "ratio": round(processed / drain_s / bound, 3),
                "target": 0.8,
                "exactly_once_differences": verify_exactly_once(ddb, target.domain_table, planned, 3),
            }
    return results


def _client_via(endpoint: str) -> Any:
    import boto3

    from spillway_cli.target import LOCAL_CREDENTIALS

    credentials: dict[str, Any] = dict(LOCAL_CREDENTIALS)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **credentials)
