"""Cost per million webhooks, metered from what the pipeline actually writes and reads.

The real ingest, processor and sweeper logic run in-process against moto with real-sized payloads
(``bench.realistic_payloads``). ``bench.ddb_meter`` bills every DynamoDB call from the item images
before and after it (item sizes, index writes, transactions 2x, failed conditional writes), so the
model follows whatever layout the code writes. Scenarios: each type at first contact and in steady
state (lead and campaign exist), a duplicate request, a retry (one retryable failure, the sweeper's
wake, success), and a realistic mix. Log bytes are what the handlers print, captured in-process.

``python -m bench.calls_and_cost [--label before]`` writes bench/results/cost.json and cost.md
(or cost_<label>.json); ``cost.md`` shows the "before" file side by side when it exists.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from bench.ddb_meter import Bill, DynamoMeter
from bench.realistic_payloads import TYPES, WORKSPACE, body_bytes, payload
from processor.logic import process_event
from spillway_cli.tokens import binding, bindings_json
from spillway_core.event_store import EventRecord, EventStore
from spillway_core.lifecycle import lifecycle_key
from spillway_core.settings import SweeperSettings
from sweeper.logic import sweep
from tests.support.pipeline import TOKEN, InProcessPipeline, processor_deps
from tests.support.tables import EVENTS_TABLE_NAME, create_tables

RESULTS = Path(__file__).resolve().parent / "results"
REGION = "us-east-1"
# Public on-demand list prices, us-east-1, as published on the AWS pricing pages (checked 2026-11-29;
# DynamoDB's on-demand prices are those after the November 2024 reduction).
PRICES_AS_OF = "AWS list prices, us-east-1, checked 2026-11-29"
PRICES = {
    "api_gateway_http_per_million": 1.00,  # HTTP API, first 300 M requests a month
    "lambda_request_per_million": 0.20,
    "lambda_arm64_gb_second": 0.0000133334,
    "dynamodb_on_demand_per_million_wru": 0.625,
    "dynamodb_on_demand_per_million_rru": 0.125,
    "cloudwatch_logs_ingest_per_gb": 0.50,
}
# What the model assumes (stated, not measured on AWS): Lambda time is CPU plus one round trip per
# DynamoDB call, billed per millisecond at the functions' memory (cdk.json: 512 MB for both).
ASSUMED = {
    "ingest_cpu_ms": 2,
    "processor_cpu_ms_per_event": 3,
    "dynamodb_round_trip_ms": 6,
    "memory_gb": 0.5,
    "processor_batch": 10,
    # Lambda's own START / END / REPORT lines per invocation (the REPORT line with its fields).
    "platform_log_bytes_per_invocation": 330,
}
MIX = {  # share of unique webhooks; duplicates come on top as a share of all requests
    "EMAIL_SENT": 0.70,
    "EMAIL_OPENED": 0.20,
    "LEAD_REPLIED": 0.04,
    "UNTRACKED_REPLY_RECEIVED": 0.01,
    "MANUAL_EMAIL_SENT": 0.015,
    "LEAD_INTERESTED": 0.015,
    "EMAIL_BOUNCED": 0.01,
    "LEAD_UNSUBSCRIBED": 0.01,
}
DUPLICATE_SHARE = 0.20
MIX_REQUESTS = 500
# Before each measured event in steady state, its lead already has these (unmetered).
HISTORY = {
    "EMAIL_SENT": ["EMAIL_SENT"],
    "MANUAL_EMAIL_SENT": ["EMAIL_SENT"],
    "EMAIL_OPENED": ["EMAIL_SENT", "EMAIL_OPENED"],
    "LEAD_REPLIED": ["EMAIL_SENT"],
    "UNTRACKED_REPLY_RECEIVED": ["UNTRACKED_REPLY_RECEIVED"],
    "LEAD_INTERESTED": ["EMAIL_SENT", "LEAD_REPLIED"],
    "EMAIL_BOUNCED": ["EMAIL_SENT"],
    "LEAD_UNSUBSCRIBED": ["EMAIL_SENT"],
}


class _FailFirstTransaction:
    """The processor's client, whose first domain transaction fails with a retryable AWS error
    (nothing is sent, so nothing is billed)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failed = False

    def transact_write_items(self, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class World:
    client: Any
    side: Any
    meter: DynamoMeter
    pipeline: InProcessPipeline

    def ingest(self, document: dict[str, Any]) -> tuple[int, str | None]:
        status, body = self.pipeline.post(document)
        return status, body.get("id")

    def run(self, document: dict[str, Any]) -> str:
        status, key = self.ingest(document)
        assert status == 200 and key, (status, key)
        outcome = self.process_new(key)
        assert outcome == "succeeded", outcome
        return key

    def process_new(self, key: str) -> str:
        """The processor on a new event's stream record: its image carries the event record, so the
        processor reads nothing (the side client, unbilled, plays the stream)."""
        image = self.side.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": key}})["Item"]
        return process_event(key, "proc", self.pipeline.deps, EventRecord.from_item(image))


@contextlib.contextmanager
def world() -> Iterator[World]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        side = boto3.client("dynamodb", region_name=REGION)
        create_tables(side)
        yield World(client, side, DynamoMeter(client, side), InProcessPipeline(client))


def _bill_row(ingest: Bill, processing: Bill) -> dict[str, Any]:
    return {
        "ingest": ingest.summary(),
        "processing": processing.summary(),
        "wru": ingest.wru + processing.wru,
        "rru": ingest.rru + processing.rru,
    }


def per_type() -> dict[str, Any]:
    """Each type's ingest and processing, at first contact and in steady state, and a duplicate."""
    rows: dict[str, Any] = {}
    with world() as w:
        for n, event_type in enumerate(TYPES):
            first_lead, steady_lead = 100 + n, 200 + n
            row: dict[str, Any] = {"body_bytes": body_bytes(payload(event_type, first_lead))}
            for label, lead_no, history in (
                ("first_contact", first_lead, []),
                ("steady", steady_lead, HISTORY[event_type]),
            ):
                for step, prior in enumerate(history):
                    w.run(payload(prior, lead_no, step))
                document = payload(event_type, lead_no, len(history))
                with w.meter.measure() as ingest:
                    status, key = w.ingest(document)
                assert status == 200 and key
                with w.meter.measure() as processing:
                    assert w.process_new(key) == "succeeded"
                row[label] = _bill_row(ingest, processing)
                if label == "steady":
                    with w.meter.measure() as duplicate:
                        assert w.ingest(document)[0] == 200
                    row["duplicate"] = duplicate.summary()
                    row["writes"] = processing.writes
            rows[event_type] = row
    return rows


def retry_and_wake() -> dict[str, Any]:
    """One retryable failure, the sweeper's wake when the backoff is over, then success."""
    rows: dict[str, Any] = {}
    for event_type in ("EMAIL_SENT", "LEAD_REPLIED"):
        with world() as w:
            w.run(payload("EMAIL_SENT", 1, 0))
            failing = _FailFirstTransaction(w.client)
            w.pipeline.deps = processor_deps(failing, w.pipeline.alerts, w.pipeline.tick, seed=0)
            status, key = w.ingest(payload(event_type, 1, 1))
            assert status == 200 and key
            with w.meter.measure() as attempt:
                assert w.process_new(key) == "retry"
            item = w.side.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": lifecycle_key(key)}})["Item"]
            due = int(item["dueAt"]["N"])
            settings = SweeperSettings.from_env({"EVENTS_TABLE": EVENTS_TABLE_NAME, "ALERTS_TOPIC_ARN": "arn:x"})
            with w.meter.measure() as wake:
                report = sweep(EventStore(w.client, EVENTS_TABLE_NAME), w.pipeline.alerts, settings, due)  # type: ignore[arg-type]
            assert report.woken == Counter({"RETRY_WAIT": 1}), report
            with w.meter.measure() as success:
                assert w.pipeline.process(key) == "succeeded"
            wake_writes = [r for r in wake.writes if r["table"] == EVENTS_TABLE_NAME and r["pk"] == lifecycle_key(key)]
            rows[event_type] = {
                "failed_attempt": attempt.summary(),
                "sweep_run": wake.summary(),
                "wake_write": wake_writes,
                "wake_wru": sum(r["table_wru"] + r["index_wru"] for r in wake_writes),
                "second_attempt": success.summary(),
            }
    return rows


def _mix_requests(rng: random.Random) -> list[tuple[str, int, int] | int]:
    """The requests of the mix: (type, lead, step) for a new webhook, or the index of an earlier
    request it repeats."""
    unique = round(MIX_REQUESTS * (1 - DUPLICATE_SHARE))
    types = [t for t, share in MIX.items() for _ in range(round(unique * share))]
    rng.shuffle(types)
    steps: Counter[tuple[str, int]] = Counter()
    requests: list[tuple[str, int, int] | int] = []
    for event_type in types:
        lead_no = rng.randrange(60)
        requests.append((event_type, lead_no, steps[(event_type, lead_no)]))
        steps[(event_type, lead_no)] += 1
    for _ in range(MIX_REQUESTS - len(requests)):
        at = rng.randrange(1, len(requests) + 1)
        requests.insert(at, rng.randrange(at))
    return requests


def mix() -> dict[str, Any]:
    rng = random.Random(12)
    requests = _mix_requests(rng)
    documents: list[dict[str, Any]] = []
    count: Counter[str] = Counter()
    with world() as w, w.meter.measure() as total:
        ingest_total, processing_total = Bill(), Bill()
        for request in requests:
            document = documents[request] if isinstance(request, int) else payload(*request)
            documents.append(document)
            with w.meter.measure() as ingest:
                status, key = w.ingest(document)
            ingest_total.add(ingest)
            assert status == 200 and key
            if isinstance(request, int):
                count["duplicate"] += 1
                continue
            count[request[0]] += 1
            with w.meter.measure() as processing:
                assert w.process_new(key) == "succeeded"
            processing_total.add(processing)
    return {
        "requests": len(requests),
        "by_kind": dict(count),
        "total": total.summary(),
        "ingest": ingest_total.summary(),
        "processing": processing_total.summary(),
        "processed_events": len(requests) - count["duplicate"],
    }


# --- logs --------------------------------------------------------------------------------------------


def log_bytes() -> dict[str, Any]:
    """What the ingest and processor handlers print per request and per event (Powertools' JSON
    lines and EMF metrics), run in-process against moto with their real entry points."""
    from aws_lambda_powertools.utilities.typing import LambdaContext  # noqa: F401  (loads powertools once)

    env = {
        "EVENTS_TABLE": EVENTS_TABLE_NAME,
        "DOMAIN_TABLE": "spillway-domain-test",
        "ALERTS_TOPIC_ARN": "arn:x",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "Spillway",
    }
    saved = {k: os.environ.get(k) for k in [*env, "INGEST_TOKEN_BINDINGS"]}
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            create_tables(client)
            env["INGEST_TOKEN_BINDINGS"] = bindings_json(
                {hashlib.sha256(TOKEN.encode()).hexdigest(): binding("emailbison", (WORKSPACE,))}
            )
            os.environ.update(env)
            return _run_handlers(client)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _run_handlers(client: Any) -> dict[str, Any]:
    from ingest import handler as ingest_handler
    from processor import handler as processor_handler

    def post(document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = {
            "version": "2.0",
            "rawPath": "/webhooks/emailbison",
            "headers": {"content-type": "application/json"},
            "queryStringParameters": {"token": TOKEN},
            "pathParameters": {"provider": "emailbison"},
            "isBase64Encoded": False,
            "body": json.dumps(document),
            "requestContext": {"http": {"method": "POST"}, "requestId": "r"},
        }
        out = _captured(lambda: ingest_handler.lambda_handler(request, _Context()), ingest_handler.logger)
        key = json.loads(out["result"]["body"])["id"]
        image = client.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": key}})["Item"]
        record = {
            "eventID": key,
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "dynamodb": {
                "Keys": {"pk": image["pk"]},
                "NewImage": image,
                "SequenceNumber": "1",
                "SizeBytes": 100,
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/x",
        }
        return out["bytes"], record

    def process(*records: dict[str, Any]) -> int:
        event = {"Records": list(records)}
        return int(
            _captured(lambda: processor_handler.lambda_handler(event, _Context()), processor_handler.logger)["bytes"]
        )

    ingest_handler._dependencies.cache_clear()
    processor_handler._dependencies.cache_clear()
    sizes: dict[str, Any] = {}
    for event_type in TYPES:
        posted = [post(payload(event_type, 300, step)) for step in range(3)]
        one = process(posted[0][1])
        two = process(posted[1][1], posted[2][1])
        # A batch prints one EMF document and the records' own lines: split the fixed part from the per-record part.
        sizes[event_type] = {
            "ingest_bytes_per_request": sum(b for b, _ in posted) / 3,
            "processor_bytes_per_record": two - one,
            "processor_bytes_per_batch": 2 * one - two,
        }
    ingest_handler._dependencies.cache_clear()
    processor_handler._dependencies.cache_clear()
    return sizes


def _captured(call: Any, logger: Any) -> dict[str, Any]:
    buffer = io.StringIO()
    handler = logger.registered_handler
    stream = handler.setStream(buffer)
    try:
        with contextlib.redirect_stdout(buffer):
            result = call()
    finally:
        handler.setStream(stream)
    return {"result": result, "bytes": len(buffer.getvalue().encode())}


# --- money -------------------------------------------------------------------------------------------


def dollars_per_million(
    *, ingest_calls: float, processing_calls: float, processed: float, wru: float, rru: float, log_bytes: float
) -> dict[str, float]:
    """All-in USD per million webhooks, from per-webhook averages."""
    a = ASSUMED
    processor_invocations = processed / a["processor_batch"]
    ingest_ms = a["ingest_cpu_ms"] + a["dynamodb_round_trip_ms"] * ingest_calls
    processor_ms = processed * a["processor_cpu_ms_per_event"] + a["dynamodb_round_trip_ms"] * processing_calls
    per_million = {
        "api_gateway": PRICES["api_gateway_http_per_million"],
        "lambda_requests": PRICES["lambda_request_per_million"] * (1 + processor_invocations),
        "lambda_duration": PRICES["lambda_arm64_gb_second"] * a["memory_gb"] * 1e6 * (ingest_ms + processor_ms) / 1000,
        "dynamodb_writes": PRICES["dynamodb_on_demand_per_million_wru"] * wru,
        "dynamodb_reads": PRICES["dynamodb_on_demand_per_million_rru"] * rru,
        "cloudwatch_logs": PRICES["cloudwatch_logs_ingest_per_gb"] * log_bytes * 1e6 / 1e9,
    }
    return {k: round(v, 4) for k, v in per_million.items()} | {"total": round(sum(per_million.values()), 3)}


def _logs_per_webhook(logs: dict[str, Any], event_type: str | None, processed: float) -> float:
    """Log bytes per webhook: the ingest's lines, and per processed event its own line plus its share of
    a batch's metrics document and of the invocations' platform lines."""
    platform, batch = ASSUMED["platform_log_bytes_per_invocation"], ASSUMED["processor_batch"]
    rows = [logs[event_type]] if event_type else list(logs.values())

    def mean(name: str) -> float:
        return sum(r[name] for r in rows) / len(rows)

    per_event = mean("processor_bytes_per_record") + (mean("processor_bytes_per_batch") + platform) / batch
    return mean("ingest_bytes_per_request") + platform + processed * per_event


def cost_table(types: dict[str, Any], mixed: dict[str, Any], logs: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for event_type, row in types.items():
        for scenario in ("steady", "first_contact"):
            r = row[scenario]
            table[f"{event_type} ({scenario.replace('_', ' ')})"] = {
                "wru": r["wru"],
                "rru": r["rru"],
                "body_bytes": row["body_bytes"],
                "usd_per_million": dollars_per_million(
                    ingest_calls=sum(r["ingest"]["calls"].values()),
                    processing_calls=sum(r["processing"]["calls"].values()),
                    processed=1,
                    wru=r["wru"],
                    rru=r["rru"],
                    log_bytes=_logs_per_webhook(logs, event_type, 1),
                ),
            }
    n = mixed["requests"]
    processed = mixed["processed_events"] / n
    table["mix (70% sent, 20% opens, 5% replies, 5% rest; 20% duplicates)"] = {
        "wru": round(mixed["total"]["wru"] / n, 3),
        "rru": round(mixed["total"]["rru"] / n, 3),
        "body_bytes": None,
        "usd_per_million": dollars_per_million(
            ingest_calls=sum(mixed["ingest"]["calls"].values()) / n,
            processing_calls=sum(mixed["processing"]["calls"].values()) / n,
            processed=processed,
            wru=mixed["total"]["wru"] / n,
            rru=mixed["total"]["rru"] / n,
            log_bytes=_logs_per_webhook(logs, None, processed),
        ),
    }
    return table


def measure() -> dict[str, Any]:
    types = per_type()
    mixed = mix()
    logs = log_bytes()
    return {
        "prices": {"as_of": PRICES_AS_OF, "region": REGION, **PRICES},
        "assumptions": ASSUMED,
        "mix": {"shares": MIX, "duplicate_share": DUPLICATE_SHARE, **mixed},
        "per_type": types,
        "retry_and_wake": retry_and_wake(),
        "log_bytes": logs,
        "cost": cost_table(types, mixed, logs),
        "comparison_per_million_usd": {"straightforward design": "3.67-6.45", "Hookdeck": "3.30-10"},
    }


def markdown(after: dict[str, Any], before: dict[str, Any] | None) -> str:
    lines = [
        "# Cost per million webhooks",
        "",
        f"Prices: {after['prices']['as_of']} (API Gateway HTTP API ${PRICES['api_gateway_http_per_million']}/M, Lambda "
        f"${PRICES['lambda_request_per_million']}/M + ${PRICES['lambda_arm64_gb_second']}/GB-s arm64, "
        f"DynamoDB on-demand ${PRICES['dynamodb_on_demand_per_million_wru']}/M WRU and "
        f"${PRICES['dynamodb_on_demand_per_million_rru']}/M RRU, "
        f"CloudWatch Logs ${PRICES['cloudwatch_logs_ingest_per_gb']}/GB ingested).",
        "Write and read units are metered from the items the code writes (bench/ddb_meter.py), per webhook: "
        "ingest + processing. Lambda time: CPU + one round trip per DynamoDB call (assumed, see cost.json); "
        "logs: bytes the handlers print, measured in-process, plus Lambda's platform lines. "
        "Steady: the lead and the campaign exist (for opens, an earlier open too); first contact: a new lead "
        "(the first EMAIL_SENT is also its campaign's first event). Mix: USD per million requests received, "
        "duplicates included; the sweeper's fixed per-run cost is not in it.",
        "",
        "| scenario | body | WRU before | WRU after | RRU before | RRU after | USD/M before | USD/M after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in after["cost"].items():
        old = (before or {}).get("cost", {}).get(name)
        body = f"{row['body_bytes'] / 1024:.1f} KB" if row["body_bytes"] else ""
        was = (old["wru"], old["rru"], old["usd_per_million"]["total"]) if old else ("-", "-", "-")
        now = (row["wru"], row["rru"], row["usd_per_million"]["total"])
        lines.append(f"| {name} | {body} | {was[0]} | {now[0]} | {was[1]} | {now[1]} | {was[2]} | **{now[2]}** |")
    mix_row = after["cost"][next(k for k in after["cost"] if k.startswith("mix"))]
    lines += ["", "Mix, by part (USD per million webhooks, after):", "", "| part | USD/M |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in mix_row["usd_per_million"].items()]
    lines += [
        "",
        "A retry, the sweeper's wake, the second attempt: write units (before -> after)",
        "",
        "| event | failed attempt | wake write | second attempt |",
        "|---|---|---|---|",
    ]
    for event_type, r in after["retry_and_wake"].items():
        o = (before or {}).get("retry_and_wake", {}).get(event_type, r)
        lines.append(
            f"| {event_type} | {o['failed_attempt']['wru']} -> {r['failed_attempt']['wru']} "
            f"| {o['wake_wru']} -> {r['wake_wru']} | {o['second_attempt']['wru']} -> {r['second_attempt']['wru']} |"
        )
    lines += [
        "",
        "Duplicate request (the failed conditional put), write units per type: "
        + ", ".join(f"{t} {r['duplicate']['wru']}" for t, r in after["per_type"].items())
        + ".",
    ]

    def moto(row: dict[str, Any]) -> float:
        return float(row["ingest"]["moto_consumed_capacity"] + row["processing"]["moto_consumed_capacity"])

    crosscheck = ", ".join(
        f"{t} {r['steady']['wru'] + r['steady']['rru']} vs {moto(r['steady'])}" for t, r in after["per_type"].items()
    )
    lines += [
        "",
        "Cross-check with the backend's ConsumedCapacity (moto answers a fixed figure per call, whatever "
        "the size, so it confirms the calls, not the units): steady, ingest + processing, model WRU + RRU "
        f"vs moto: {crosscheck}.",
    ]
    comparison = ", ".join(f"{k} ${v}" for k, v in after["comparison_per_million_usd"].items())
    lines += ["", f"For comparison, per million: {comparison}.", ""]
    return "\n".join(lines)


def write(label: str | None = None) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = measure()
    if label:
        (RESULTS / f"cost_{label}.json").write_text(json.dumps(results, indent=2) + "\n")
        return results
    (RESULTS / "cost.json").write_text(json.dumps(results, indent=2) + "\n")
    before_file = RESULTS / "cost_before.json"
    before = json.loads(before_file.read_text()) if before_file.exists() else None
    (RESULTS / "cost.md").write_text(markdown(results, before))
    return results


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """What the benchmark report shows of this model (the full tables are in cost.md)."""
    types = results["per_type"]
    return {
        "calls_per_ingest_request": sorted({sum(r["steady"]["ingest"]["calls"].values()) for r in types.values()}),
        "calls_per_duplicate_request": sorted({sum(r["duplicate"]["calls"].values()) for r in types.values()}),
        "calls_per_rejected_request": 0,
        "calls_per_processed_event": {
            t: {"total": sum(r["steady"]["processing"]["calls"].values()), **r["steady"]["processing"]["calls"]}
            for t, r in types.items()
        },
        "cost": {
            name: {"wru": row["wru"], "rru": row["rru"], "usd_per_million": row["usd_per_million"]["total"]}
            for name, row in results["cost"].items()
        },
        "prices_as_of": results["prices"]["as_of"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", help="write bench/results/cost_<label>.json only (e.g. before)")
    args = parser.parse_args()
    results = write(args.label)
    for name, row in results["cost"].items():
        print(f"{name:70s} WRU {row['wru']:7} RRU {row['rru']:6} USD/M {row['usd_per_million']['total']}")
    if not args.label:
        print((RESULTS / "cost.md").read_text())


if __name__ == "__main__":
    main()
