"""Cost per million webhooks, metered from what the pipeline actually writes and reads.

The ingest, processor and sweeper run through their Lambda entry points (``bench.lambda_events``),
in a fresh interpreter, against moto with real-sized payloads (``bench.realistic_payloads``): the
stream is played by handing the processor the record DynamoDB would stream. ``bench.ddb_meter`` hooks
the botocore session the functions build their clients from, and bills every DynamoDB call from the
item images before and after it (item sizes, index writes, transactions 2x, failed conditional
writes), so the model follows whatever layout the code writes. Scenarios: each type at first contact
and in steady state (lead and campaign exist), a duplicate request, a retry (one retryable failure,
the sweeper's wake, success), and a realistic mix. Log bytes are what the handlers print to stdout.

``python -m bench.calls_and_cost [--label before]`` writes bench/results/cost.json and cost.md
(or cost_<label>.json); ``cost.md`` shows the "before" file side by side when it exists.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from bench.ddb_meter import Bill, DynamoMeter
from bench.lambda_events import FakeContext, api_request, entry_point, stdout_to, stream_event, stream_record
from bench.realistic_payloads import TYPES, WORKSPACE, body_bytes, payload
from bench.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, create_tables
from infra.config import INGEST_HANDLER, PROCESSOR_HANDLER, SWEEPER_HANDLER, stack_environment
from spillway_cli.tokens import binding, bindings_json
from spillway_core import environment as env
from spillway_core.environment import EnvVar
from spillway_core.event_store import EventStore
from spillway_core.lifecycle import lifecycle_key
from spillway_core.status import EventAttr, EventStatus

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


TOKEN = "cost-bench-token"
ALERTS_TOPIC = "spillway-cost-alerts"
# The functions' environment: what the stack sets, over moto. The retry scenario's backoff is a few
# milliseconds, so the sweeper's wake is due at once (its cost does not depend on the wait).
ENVIRONMENT = {
    **stack_environment(),  # what the stack sets from cdk.json
    "AWS_DEFAULT_REGION": REGION,
    EnvVar.EVENTS_TABLE: EVENTS_TABLE_NAME,
    EnvVar.DOMAIN_TABLE: DOMAIN_TABLE_NAME,
    EnvVar.ALERTS_TOPIC_ARN: f"arn:aws:sns:{REGION}:123456789012:{ALERTS_TOPIC}",
    EnvVar.INGEST_TOKEN_BINDINGS: bindings_json(
        {hashlib.sha256(TOKEN.encode()).hexdigest(): binding("emailbison", (WORKSPACE,))}
    ),
    env.BACKOFF_BASE_SECONDS.env: "0.001",
    env.BACKOFF_CAP_SECONDS.env: "0.005",
}


class FailNextTransaction:
    """Answers the next ``TransactWriteItems`` with a server error, as DynamoDB can, before it is sent
    (a 5xx writes nothing, and the meter bills nothing for it)."""

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.armed:
            return None
        self.armed = False
        error = {"Code": "InternalServerError", "Message": "injected by the cost model"}
        return AWSResponse("https://dynamodb", 500, HTTPHeaders(), None), {"Error": error, "ResponseMetadata": {}}


@contextlib.contextmanager
def stdout_bytes(printed: Counter[str], label: str) -> Iterator[None]:
    """Counts what is written to stdout (file descriptor 1, as Lambda collects it) under ``label``."""
    with tempfile.TemporaryFile() as sink:
        with stdout_to(sink):
            yield
        printed[label] += sink.seek(0, os.SEEK_END)


@dataclass
class Functions:
    """The three functions by their entry points, sharing one botocore session with the meter."""

    side: Any  # a client the meter does not see: it plays the stream and reads statuses, unbilled
    meter: DynamoMeter
    fail_next_transaction: FailNextTransaction
    ingest_handler: Callable[[dict[str, Any], Any], dict[str, Any]] = field(init=False)
    processor_handler: Callable[[dict[str, Any], Any], dict[str, Any]] = field(init=False)
    sweeper_handler: Callable[[dict[str, Any], Any], dict[str, Any]] = field(init=False)
    printed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.ingest_handler = entry_point(INGEST_HANDLER)
        self.processor_handler = entry_point(PROCESSOR_HANDLER)
        self.sweeper_handler = entry_point(SWEEPER_HANDLER)

    def ingest(self, document: dict[str, Any]) -> tuple[int, str | None]:
        with stdout_bytes(self.printed, "ingest"):
            response = self.ingest_handler(api_request(document, token=TOKEN), FakeContext())
        return int(response["statusCode"]), json.loads(response["body"]).get("id")

    def run(self, document: dict[str, Any]) -> str:
        status, key = self.ingest(document)
        assert status == 200 and key, (status, key)
        assert self.process_new(key) == EventStatus.SUCCEEDED
        return key

    def process(self, *images: dict[str, Any], event_name: str = "INSERT") -> None:
        records = [stream_record(image, event_name, sequence=n + 1) for n, image in enumerate(images)]
        with stdout_bytes(self.printed, "processor"):
            response = self.processor_handler(stream_event(*records), FakeContext())
        assert response == {"batchItemFailures": []}, response

    def process_new(self, key: str) -> str:
        """The processor on a new event's stream record: its image carries the event record, so the
        processor reads nothing before its claim."""
        self.process(self.item(key))
        return self.status(key)

    def process_woken(self, key: str) -> str:
        """The processor on the stream record of a lifecycle item the sweeper changed."""
        self.process(self.item(lifecycle_key(key)), event_name="MODIFY")
        return self.status(key)

    def sweep(self) -> dict[str, Any]:
        with stdout_bytes(self.printed, "sweeper"):
            return self.sweeper_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, FakeContext())

    def item(self, pk: str) -> dict[str, Any]:
        return dict(self.side.get_item(TableName=EVENTS_TABLE_NAME, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"])

    def status(self, key: str) -> str:
        view = EventStore(self.side, EVENTS_TABLE_NAME).get(key)
        assert view is not None, key
        return str(view[EventAttr.STATUS]["S"])


@contextlib.contextmanager
def functions() -> Iterator[Functions]:
    """The functions over an empty moto backend. Run once per interpreter: a function builds its
    clients at its first invocation, and they must be built from the metered session."""
    saved = dict(os.environ)
    os.environ.update(ENVIRONMENT)
    try:
        with mock_aws():
            boto3.setup_default_session()
            side = boto3.client("dynamodb", region_name=REGION)  # before the session is hooked
            session = boto3.DEFAULT_SESSION
            assert session is not None
            meter = DynamoMeter(session.events, side)
            failure = FailNextTransaction()
            # A before-call handler's answer replaces the call (botocore); its stubs type handlers as returning None.
            session.events.register("before-call.dynamodb.TransactWriteItems", cast("Callable[..., None]", failure))
            yield Functions(side, meter, failure)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def world(functions: Functions) -> Iterator[Functions]:
    """Empty tables (and the alert topic) for the next scenario, with the same warm functions."""
    client = functions.side
    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
    create_tables(client)
    boto3.client("sns", region_name=REGION).create_topic(Name=ALERTS_TOPIC)
    yield functions


def _bill_row(ingest: Bill, processing: Bill) -> dict[str, Any]:
    return {
        "ingest": ingest.summary(),
        "processing": processing.summary(),
        "wru": ingest.wru + processing.wru,
        "rru": ingest.rru + processing.rru,
    }


def per_type(f: Functions) -> dict[str, Any]:
    """Each type's ingest and processing, at first contact and in steady state, and a duplicate."""
    rows: dict[str, Any] = {}
    with world(f) as w:
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
                    assert w.process_new(key) == EventStatus.SUCCEEDED
                row[label] = _bill_row(ingest, processing)
                if label == "steady":
                    with w.meter.measure() as duplicate:
                        assert w.ingest(document)[0] == 200
                    row["duplicate"] = duplicate.summary()
                    row["writes"] = processing.writes
            rows[event_type] = row
    return rows


def retry_and_wake(f: Functions) -> dict[str, Any]:
    """One retryable failure, the sweeper's wake when the backoff is over, then success."""
    rows: dict[str, Any] = {}
    for event_type in ("EMAIL_SENT", "LEAD_REPLIED"):
        with world(f) as w:
            w.run(payload("EMAIL_SENT", 1, 0))
            status, key = w.ingest(payload(event_type, 1, 1))
            assert status == 200 and key
            w.fail_next_transaction.armed = True
            with w.meter.measure() as attempt:
                assert w.process_new(key) == EventStatus.RETRY_WAIT
            due_ms = int(w.item(lifecycle_key(key))[EventAttr.DUE_AT]["N"])
            while time.time() * 1000 < due_ms:  # the backoff is a few milliseconds (ENVIRONMENT)
                time.sleep(0.001)
            with w.meter.measure() as wake:
                report = w.sweep()
            assert report["woken"] == {EventStatus.RETRY_WAIT: 1}, report
            with w.meter.measure() as success:
                assert w.process_woken(key) == EventStatus.SUCCEEDED
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


def mix(f: Functions) -> dict[str, Any]:
    rng = random.Random(12)
    requests = _mix_requests(rng)
    documents: list[dict[str, Any]] = []
    count: Counter[str] = Counter()
    with world(f) as w, w.meter.measure() as total:
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
                assert w.process_new(key) == EventStatus.SUCCEEDED
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


def log_bytes(f: Functions) -> dict[str, Any]:
    """What the ingest and processor handlers print per request and per event (Powertools' JSON
    lines and EMF metrics), counted on stdout as Lambda collects it."""
    sizes: dict[str, Any] = {}
    with world(f) as w:
        for event_type in TYPES:
            printed = w.printed
            before = printed["ingest"]
            keys = [w.ingest(payload(event_type, 300, step))[1] for step in range(3)]
            ingest_bytes = printed["ingest"] - before
            images = [w.item(str(key)) for key in keys]
            before = printed["processor"]
            w.process(images[0])
            one = printed["processor"] - before
            w.process(images[1], images[2])
            two = printed["processor"] - before - one
            # A batch prints one EMF document and the records' own lines: split the fixed part from the per-record part.
            sizes[event_type] = {
                "ingest_bytes_per_request": ingest_bytes / 3,
                "processor_bytes_per_record": two - one,
                "processor_bytes_per_batch": 2 * one - two,
            }
    return sizes


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
    with functions() as f:
        types = per_type(f)
        mixed = mix(f)
        logs = log_bytes(f)
        retries = retry_and_wake(f)
    return {
        "prices": {"as_of": PRICES_AS_OF, "region": REGION, **PRICES},
        "assumptions": ASSUMED,
        "mix": {"shares": MIX, "duplicate_share": DUPLICATE_SHARE, **mixed},
        "per_type": types,
        "retry_and_wake": retries,
        "log_bytes": logs,
        "cost": cost_table(types, mixed, logs),
        "comparison_per_million_usd": {"straightforward design": "3.67-6.45", "Hookdeck": "3.30-10"},
    }


def measure_in_fresh_process() -> dict[str, Any]:
    """``measure()`` in a new interpreter: the functions must build their clients from the metered
    session at their first invocation, as a cold Lambda environment does, whatever ran before."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cost.json"
        subprocess.run(
            [sys.executable, "-m", "bench.calls_and_cost", "--measure-to", str(out)],
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
        )
        results: dict[str, Any] = json.loads(out.read_text())
        return results


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
    results = measure_in_fresh_process()
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
    parser.add_argument("--measure-to", type=Path, help=argparse.SUPPRESS)  # measure_in_fresh_process's child
    args = parser.parse_args()
    if args.measure_to:
        args.measure_to.write_text(json.dumps(measure()))
        return
    results = write(args.label)
    for name, row in results["cost"].items():
        print(f"{name:70s} WRU {row['wru']:7} RRU {row['rru']:6} USD/M {row['usd_per_million']['total']}")
    if not args.label:
        print((RESULTS / "cost.md").read_text())


if __name__ == "__main__":
    main()
