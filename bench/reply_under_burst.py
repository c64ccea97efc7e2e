"""Reply under burst, on the local emulator: a backlog of EMAIL_SENT webhooks with replies spread
through it, every domain write slowed to 250 ms by the latency proxy.

Run twice on one deployed stack: with the two lanes as deployed, then with the lanes merged (the
interactive mapping disabled, the bulk mapping's filter widened to every lane: one mapping in stream
order, as before lanes) as the baseline. Reports reply latency (POST to SUCCEEDED, from the event's
own completedAt) next to the bulk drain time, the in-flight backlog per lane over time, each lane's
drain rate against its bound, and how many events the sweeper woke during the burst.

The emulator runs each stream mapping's readers on their own, up to ParallelizationFactor batches
at once (emulator/stream_pollers.py), and enforces each function's reserved concurrency, so a lane's
bound is the same as on AWS: its cap over the time of one event's domain writes. The pending grace
is shortened (``--grace``) so the backlog outlives it several times: any wake during the burst
would be sweeper amplification. Where a reply's time goes is measured per stage: the POST, the wait
from the item's write until a stream reader hands its record over (the readers log each hand-over
to ``STREAM_HANDOFF_LOG``), and the processing to SUCCEEDED.

    .venv/bin/python -m bench.reply_under_burst --events 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import infra  # noqa: F401  (silences jsii's Node banner)
from bench.latency_proxy import LatencyProxy
from infra import config as names
from spillway_cli.deploy import deploy, synthesize
from spillway_cli.emulator import Emulator
from spillway_cli.load import plan_typed, send_burst
from spillway_cli.status import wait_until_drained
from spillway_cli.target import Target, stack_config
from spillway_cli.tokens import binding, bindings_json, new_token, token_digest
from spillway_core.event_store import event_views
from spillway_core.lanes import Lane, probe_key, watermark_key

RESULTS = Path(__file__).resolve().parent / "results"
REPLIES = 20
# Few senders: each concurrent request can start another ingest worker process on the emulator, and
# on a small shared machine that costs more than it gains.
SEND_CONCURRENCY = 4
LATENCY_MS = 250.0


def plan(events: int, replies: int, workspace: int) -> list[str]:
    """The order of the burst: ``events`` sends with ``replies`` replies spread evenly through them."""
    types = ["EMAIL_SENT"] * events
    for n in range(replies):
        types.insert((n + 1) * len(types) // (replies + 1), "LEAD_REPLIED")
    return types


def lane_functions(target: Target) -> dict[Lane, str]:
    outputs = target.outputs
    return {
        Lane.BULK: outputs[names.OUTPUT_PROCESSOR_FUNCTION],
        Lane.INTERACTIVE: outputs[names.OUTPUT_INTERACTIVE_PROCESSOR_FUNCTION],
    }


def mappings(target: Target) -> dict[Lane, dict[str, Any]]:
    lambda_client = target.client("lambda")
    found = {}
    for lane, function in lane_functions(target).items():
        [mapping] = [
            m
            for m in lambda_client.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
            if ":dynamodb:" in m["EventSourceArn"]
        ]
        found[lane] = mapping
    return found


def merge_lanes(target: Target) -> None:
    """The baseline: one mapping reads every lane in stream order (and both lanes' probes)."""
    lanes = mappings(target)
    lambda_client = target.client("lambda")
    lambda_client.update_event_source_mapping(UUID=lanes[Lane.INTERACTIVE]["UUID"], Enabled=False)
    patterns = [
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"intake": {"S": ["PENDING"]}}}},
        {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}},
        {"dynamodb": {"Keys": {"pk": {"S": [probe_key(lane) for lane in Lane]}}}},
    ]
    lambda_client.update_event_source_mapping(
        UUID=lanes[Lane.BULK]["UUID"], FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}
    )


def events_of_run(target: Target, keys: set[str]) -> list[dict[str, Any]]:
    """The run's events, each as one item: its record with its lifecycle item over it."""
    ddb = target.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(
        TableName=target.events_table,
        ProjectionExpression="pk, lane, #s, intake, receivedAt, completedAt, wakes, attempts, errorClass",
        ExpressionAttributeNames={"#s": "status"},
    ):
        items += page["Items"]
    return [view for key, view in event_views(items).items() if key in keys]


def wakes_by_cause(items: list[dict[str, Any]]) -> dict[str, int]:
    """Which rule woke the events, read from what each one went through. An event claimed once and never
    failed was woken while PENDING (amplification, or a lost record repaired); one claimed more than once
    or with an error was woken after a failed attempt (retry backoff) or a lost lease (its processor died
    or timed out)."""
    causes = {"pending": 0, "retry_or_lost_lease": 0}
    for item in items:
        wakes = int(item.get("wakes", {"N": "0"})["N"])
        failed_before = int(item.get("attempts", {"N": "0"})["N"]) > 1 or "errorClass" in item
        causes["retry_or_lost_lease" if failed_before else "pending"] += wakes
    return causes


def _wake_causes(run: dict[str, Any]) -> str:
    causes = run.get("sweeper_wakes_by_cause", {})
    return (
        f"{run['label']}: {causes.get('pending', 'n/a')} while PENDING (amplification or a lost record), "
        f"{causes.get('retry_or_lost_lease', 'n/a')} after a failed attempt or a lost lease"
    )


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def first_handoffs(handoff_log: Path) -> dict[str, float]:
    """When the emulator's stream reader first handed each item's record to a processor (epoch s)."""
    handed: dict[str, float] = {}
    if handoff_log.exists():
        for line in handoff_log.read_text().splitlines():
            batch = json.loads(line)
            for keys in batch["keys"]:
                handed.setdefault(keys["pk"]["S"], batch["handed"])
    return handed


def reply_stages(report: Any, started: float, items: list[dict[str, Any]], handed: dict[str, float]) -> dict[str, Any]:
    """Where each reply's time went: the POST itself (ingest answered), the wait from the item's write
    until a stream reader handed its record to the interactive processor, and the processing (from
    the hand-over to SUCCEEDED, with its 250 ms domain writes)."""
    answered = {
        json.loads(r.answer)["id"]: (started + r.started_s, started + r.started_s + r.latency_ms / 1000)
        for r in report.results
        if r.status == 200
    }
    stages: dict[str, list[float]] = {"post_answered": [], "written_to_handed": [], "handed_to_succeeded": []}
    for item in items:
        key = item["pk"]["S"]
        if item["lane"]["S"] != "interactive" or key not in handed:
            continue
        posted, done = answered[key]
        written, completed = int(item["receivedAt"]["N"]) / 1000, int(item["completedAt"]["N"]) / 1000
        stages["post_answered"].append(done - posted)
        stages["written_to_handed"].append(handed[key] - written)
        stages["handed_to_succeeded"].append(completed - handed[key])
    return {
        name: {"p50": round(percentile(v, 50), 2), "max": round(max(v), 2)} if v else None for name, v in stages.items()
    }


def one_run(
    target: Target, token: str, events: int, replies: int, workspace: int, label: str, handoff_log: Path
) -> dict[str, Any]:
    types = plan(events, replies, workspace)
    planned = plan_typed(types, leads=max(1, events // 8), workspace=workspace)
    url = target.webhook_url("emailbison")
    started = time.time()
    report = send_burst(url, token, planned, concurrency=SEND_CONCURRENCY, timeout_s=120, progress=False)
    sent_s = time.time() - started
    wait_until_drained(target, timeout_s=4 * 3600)
    keys = {json.loads(r.answer)["id"] for r in report.results if r.status == 200}
    posted_at = {json.loads(r.answer)["id"]: started + r.started_s for r in report.results if r.status == 200}
    items = events_of_run(target, keys)
    if not items or len(items) != len(keys):  # every accepted event is found (non-2xx are reported)
        statuses = dict(report.by_kind())
        raise RuntimeError(
            f"{label}: {len(items)} of {len(planned)} events found; answers {statuses}, "
            f"first answer {report.results[0].answer if report.results else None!r}"
        )
    by_lane: dict[str, list[dict[str, Any]]] = {lane.value: [] for lane in Lane}
    for item in items:
        by_lane[item["lane"]["S"]].append(item)
    reply_latency_s = sorted(
        int(i["completedAt"]["N"]) / 1000 - posted_at[i["pk"]["S"]] for i in by_lane["interactive"]
    )
    bulk_done_s = max(int(i["completedAt"]["N"]) / 1000 for i in by_lane["bulk"]) - started
    timeline = []  # in-flight per lane every second: received and not yet completed
    for second in range(int(bulk_done_s) + 2):
        moment = (started + second) * 1000
        timeline.append(
            {
                "second": second,
                **{
                    lane: sum(1 for i in lane_items if int(i["receivedAt"]["N"]) <= moment < int(i["completedAt"]["N"]))
                    for lane, lane_items in by_lane.items()
                },
            }
        )
    completions = sorted(int(i["completedAt"]["N"]) / 1000 - started for i in by_lane["interactive"])
    return {
        "label": label,
        "events": events,
        "replies": replies,
        "requests_non_2xx": sum(1 for r in report.results if r.status != 200),
        "send_seconds": round(sent_s, 1),
        "statuses": sorted({i["status"]["S"] for i in items}),
        "reply_latency_s": {
            "p50": round(percentile(reply_latency_s, 50), 2),
            "p95": round(percentile(reply_latency_s, 95), 2),
            "max": round(max(reply_latency_s), 2),
            "all": [round(v, 2) for v in reply_latency_s],
        },
        "reply_stages_s": reply_stages(report, started, items, first_handoffs(handoff_log)),
        "bulk_drain_s": round(bulk_done_s, 1),
        "bulk_events_per_s": round(len(by_lane["bulk"]) / bulk_done_s, 2),
        "sweeper_wakes": sum(int(i.get("wakes", {"N": "0"})["N"]) for i in items),
        "sweeper_wakes_by_cause": wakes_by_cause(items),
        "reply_completions_s": [round(v, 2) for v in completions],
        "timeline": timeline,
    }


def watermarks(target: Target) -> dict[str, int]:
    ddb = target.client("dynamodb")
    found = {}
    for lane in Lane:
        item = ddb.get_item(TableName=target.events_table, Key={"pk": {"S": watermark_key(lane)}}).get("Item", {})
        found[lane.value] = int(item.get("watermark", {"N": "0"})["N"])
    return found


def run(events: int, grace_s: int, latency_ms: float = LATENCY_MS) -> dict[str, Any]:
    outdir = Path(tempfile.mkdtemp(prefix="spillway-reply-bench-"))
    assembly = synthesize("local", outdir / "cdk", overrides={"pendingGraceSeconds": grace_s})
    config = stack_config()
    results: dict[str, Any] = {
        "events": events,
        "replies": REPLIES,
        "injected_domain_write_latency_ms": latency_ms,
        "pending_grace_s": grace_s,
        "caps": {lane.value: config.lane(lane).concurrency for lane in Lane},
    }
    handoff_log = outdir / "handoffs.jsonl"
    os.environ["STREAM_HANDOFF_LOG"] = str(handoff_log)  # read by the emulator's stream readers
    with Emulator(log_path=outdir / "emulator.log") as emulator:
        target = Target(stack_name=assembly.stack_name, endpoint_url=emulator.endpoint_url)
        token = new_token()
        deploy(target, assembly, bindings_json({token_digest(token): binding("emailbison", [31, 32, 33])}))
        with LatencyProxy(emulator.endpoint_url, latency_ms) as proxy:
            lambda_client = target.client("lambda")
            for function in lane_functions(target).values():
                env = lambda_client.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
                lambda_client.update_function_configuration(
                    FunctionName=function, Environment={"Variables": env | {"AWS_ENDPOINT_URL_DYNAMODB": proxy.url}}
                )
                lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function)
            one_run(target, token, 40, 4, workspace=31, label="warm-up", handoff_log=handoff_log)
            if proxy.slowed < 40:  # every send writes the domain once at least
                raise RuntimeError(f"only {proxy.slowed} domain writes went through the latency proxy in the warm-up")
            slowed_before = proxy.slowed
            print("lanes...", flush=True)
            results["lanes"] = one_run(
                target, token, events, REPLIES, workspace=32, label="two lanes", handoff_log=handoff_log
            )
            results["lanes"]["domain_writes_slowed"] = proxy.slowed - slowed_before
            slowed_before = proxy.slowed
            results["watermarks_after_lanes_run"] = watermarks(target)
            merge_lanes(target)
            print("lanes merged (baseline)...", flush=True)
            results["merged"] = one_run(
                target, token, events, REPLIES, workspace=33, label="lanes merged", handoff_log=handoff_log
            )
            results["merged"]["domain_writes_slowed"] = proxy.slowed - slowed_before
    # A lane's bound: its cap (reserved concurrency = ParallelizationFactor), each batch taking one
    # slowed domain write per send. The merged baseline is the bulk mapping, with the bulk cap.
    bound = config.lane(Lane.BULK).concurrency / (latency_ms / 1000)
    for key in ("lanes", "merged"):
        results[key]["bulk_bound_events_per_s"] = round(bound, 2)
        results[key]["bulk_ratio_to_bound"] = round(results[key]["bulk_events_per_s"] / bound, 3)
        results[key]["domain_writes_per_event"] = round(results[key]["domain_writes_slowed"] / (events + REPLIES), 2)
    results["aws_bound_events_per_s"] = {
        lane.value: round(config.lane(lane).concurrency / (latency_ms / 1000), 1) for lane in Lane
    }
    return results


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key in zip(axes, ("lanes", "merged"), strict=True):
        run_ = results[key]
        seconds = [p["second"] for p in run_["timeline"]]
        ax.plot(seconds, [p["bulk"] for p in run_["timeline"]], label="bulk lane in flight")
        ax.plot(seconds, [p["interactive"] for p in run_["timeline"]], label="interactive lane in flight")
        for n, done in enumerate(run_["reply_completions_s"]):
            ax.axvline(done, color="tab:red", alpha=0.35, linewidth=0.8, label="reply SUCCEEDED" if n == 0 else None)
        ax.set(
            xlabel="seconds since the burst started",
            title=f"{run_['label']}: reply p95 "
            f"{run_['reply_latency_s']['p95']} s, bulk drained in {run_['bulk_drain_s']} s",
        )
        ax.legend(fontsize=8)
    axes[0].set_ylabel("events in flight (received, not yet SUCCEEDED)")
    fig.suptitle(
        f"{results['events']} EMAIL_SENT + {results['replies']} replies, "
        f"{results['injected_domain_write_latency_ms']:.0f} ms per domain write (local emulator)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(results: dict[str, Any]) -> str:
    lanes, merged = results["lanes"], results["merged"]
    rows = [
        f"| {r['label']} | {r['reply_latency_s']['p50']} s | {r['reply_latency_s']['p95']} s | "
        f"{r['reply_latency_s']['max']} s | {r['bulk_drain_s']} s | {r['bulk_events_per_s']} ev/s "
        f"(bound {r['bulk_bound_events_per_s']}, ratio {r['bulk_ratio_to_bound']}) | {r['sweeper_wakes']} |"
        for r in (lanes, merged)
    ]
    return "\n".join(
        [
            "# Reply under burst",
            "",
            f"{results['events']} `EMAIL_SENT` webhooks with {results['replies']} `LEAD_REPLIED` spread evenly "
            f"through them, posted at concurrency {SEND_CONCURRENCY} to the stack on the local emulator; every domain "
            "write takes "
            f"{results['injected_domain_write_latency_ms']:.0f} ms (latency proxy). Caps as deployed: "
            f"{results['caps']}. Pending grace shortened to {results['pending_grace_s']} s: the backlog outlives it. "
            "Reply latency is POST to `SUCCEEDED` (the event's `completedAt`).",
            "",
            "| run | reply p50 | reply p95 | reply max | bulk drain | bulk drain rate | sweeper wakes |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Goal: reply p95 ≤ 5 s while the bulk backlog takes minutes. "
            f"With lanes: p95 {lanes['reply_latency_s']['p95']} s "
            f"against a {lanes['bulk_drain_s']} s drain; merged: p95 {merged['reply_latency_s']['p95']} s.",
            "",
            "The emulator polls each lane's mapping on its own, with up to its ParallelizationFactor (= the lane's "
            "cap) batches at once, fills a batch with records that pass the filter, and enforces each function's "
            "reserved concurrency (emulator/stream_pollers.py; ministack alone polls all mappings from one thread, "
            "one batch at a time, and filters a batch after reading it). The AWS settings are unchanged. "
            "Bounds at this latency, one "
            f"slowed write per send: {results['aws_bound_events_per_s']} events/s; measured domain writes per "
            f"event: {lanes['domain_writes_per_event']} (lanes), {merged['domain_writes_per_event']} (merged). "
            "Not emulated: the bulk lane's 1 s batching window (a batch is handed over as soon as it is read).",
            "",
            "Sweeper wakes count every wake. By cause, read from each event's attempts and error: "
            + "; ".join(_wake_causes(r) for r in (lanes, merged))
            + ".",
            "",
            "Where a reply's time went (p50 / max, seconds): the POST until ingest answered; the item's write "
            "until a stream reader handed its record to a processor; the hand-over until `SUCCEEDED`.",
            "",
            "| run | POST answered | written → handed over | handed over → SUCCEEDED |",
            "|---|---|---|---|",
            *[
                f"| {r['label']} | "
                + " | ".join(
                    f"{r['reply_stages_s'][stage]['p50']} / {r['reply_stages_s'][stage]['max']}"
                    for stage in ("post_answered", "written_to_handed", "handed_to_succeeded")
                )
                + " |"
                for r in (lanes, merged)
            ],
            "",
            "![in flight per lane](reply_under_burst.png)",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="EMAIL_SENT events in the backlog")
    parser.add_argument("--grace", type=int, default=60, help="pendingGraceSeconds for this stack")
    parser.add_argument("--from-json", action="store_true", help="only redraw the plot and table from the JSON")
    parser.add_argument(
        "--name", default="reply_under_burst", help="results file name (a smaller run keeps the full one's files)"
    )
    args = parser.parse_args()
    print(write(args.events, args.grace, from_json=args.from_json, name=args.name))


def write(events: int, grace_s: int, from_json: bool = False, name: str = "reply_under_burst") -> str:
    """Runs the benchmark (or reloads its JSON) and writes bench/results/<name>.{json,md,png}."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if from_json:
        results = json.loads((RESULTS / f"{name}.json").read_text())
    else:
        results = run(events, grace_s)
        (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2))
    plot(results, RESULTS / f"{name}.png")
    (RESULTS / f"{name}.md").write_text(report(results).replace("reply_under_burst.png", f"{name}.png"))
    return report(results)


if __name__ == "__main__":
    main()
