"""AWS calls per request and per processed event (counted through botocore hooks against moto),
DynamoDB capacity from the real item sizes, and the modelled cost per million webhooks."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from tests.support.pipeline import InProcessPipeline
from tests.support.scenario import EVENTS
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, create_tables

# Public list prices, us-east-1, as published by AWS in 2025 (check before relying on them).
PRICES_AS_OF = "2025 list prices, us-east-1"
PRICES = {
    "api_gateway_http_per_million": 1.00,
    "lambda_request_per_million": 0.20,
    "lambda_arm64_gb_second": 0.0000133334,
    "dynamodb_on_demand_per_million_wru": 0.625,
    "dynamodb_on_demand_per_million_rru": 0.125,
    "cloudwatch_logs_ingest_per_gb": 0.50,
}
# What the model assumes about time and logs (stated, not measured on AWS).
ASSUMED = {
    "ingest_ms": 12,  # warm: ~2 ms of CPU (bench) plus one PutItem round trip
    "processor_ms_per_event": 25,  # four DynamoDB calls per event
    "memory_gb": 0.5,
    "processor_batch": 10,
    "log_bytes_per_event": 900,  # two structured lines + Lambda START/END/REPORT, amortised
    "sweeper_gsi_writes_per_event": 3,  # sparse index: put, claim (dueAt moves), removal
}


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (close enough for capacity units)."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        ((kind, raw),) = value.items()
        total += len(str(raw).encode()) if kind in {"S", "N"} else len(raw) if kind == "B" else 1
    return total


def units(size: int, unit_kb: int = 1) -> int:
    return max(1, math.ceil(size / (unit_kb * 1024)))


class Counting:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


def measure() -> dict[str, Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(dynamodb)
        counter = Counting()
        dynamodb.meta.events.register("before-call.*.*", counter)
        pipeline = InProcessPipeline(dynamodb)
        per_type: dict[str, dict[str, int]] = {}
        ingest_calls, duplicate_calls = [], []
        for payload in EVENTS.values():
            counter.calls.clear()
            _, body = pipeline.post(payload)
            ingest_calls.append(sum(counter.calls.values()))
            counter.calls.clear()
            pipeline.process(body["id"])
            per_type.setdefault(payload["event"]["type"], dict(counter.calls))
            counter.calls.clear()
            pipeline.post(payload)  # the provider retries: a duplicate
            duplicate_calls.append(sum(counter.calls.values()))
        events = dynamodb.scan(TableName=EVENTS_TABLE_NAME)["Items"]
        domain = dynamodb.scan(TableName=DOMAIN_TABLE_NAME)["Items"]
    event_size = max(item_size(i) for i in events)
    domain_sizes = sorted(item_size(i) for i in domain)
    # Per processed event: put (ingest), claim and outcome updates, each billed by the event's size;
    # a transactional read of ~3 items; a transactional write of ~4 items (2 units each).
    typical_domain_item = domain_sizes[len(domain_sizes) // 2]
    wru = 3 * units(event_size) + ASSUMED["sweeper_gsi_writes_per_event"] + 2 * 4 * units(typical_domain_item)
    rru = 2 * 3 * units(typical_domain_item, 4)
    per_million = {
        "api_gateway": PRICES["api_gateway_http_per_million"],
        "lambda_requests": PRICES["lambda_request_per_million"] * (1 + 1 / ASSUMED["processor_batch"]),
        "lambda_duration": PRICES["lambda_arm64_gb_second"] * ASSUMED["memory_gb"] * 1e6
        * (ASSUMED["ingest_ms"] + ASSUMED["processor_ms_per_event"]) / 1000,
        "dynamodb_writes": PRICES["dynamodb_on_demand_per_million_wru"] * wru,
        "dynamodb_reads": PRICES["dynamodb_on_demand_per_million_rru"] * rru,
        "cloudwatch_logs": PRICES["cloudwatch_logs_ingest_per_gb"] * ASSUMED["log_bytes_per_event"] * 1e6 / 1e9,
    }  # fmt: skip
    return {
        "calls_per_ingest_request": sorted(set(ingest_calls)),
        "calls_per_duplicate_request": sorted(set(duplicate_calls)),
        "calls_per_rejected_request": 0,
        "calls_per_processed_event": {t: {"total": sum(c.values()), **c} for t, c in sorted(per_type.items())},
        "event_item_bytes_max": event_size,
        "domain_item_bytes_median": typical_domain_item,
        "write_units_per_event": wru,
        "read_units_per_event": rru,
        "prices": {"as_of": PRICES_AS_OF, **PRICES},
        "assumptions": ASSUMED,
        "cost_per_million_usd": {k: round(v, 3) for k, v in per_million.items()},
        "cost_per_million_total_usd": round(sum(per_million.values()), 2),
        "comparison_per_million_usd": {"straightforward design": "3.67-6.45", "Hookdeck": "3.30-10"},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
