"""`make bench`: every benchmark, one report. Writes bench/results/{results.json,report.md,*.png}.
`make bench ARGS=--quick` writes into bench/results/quick/ (git-ignored) instead, so a quick run never
overwrites the committed full results.

Absolute times on a shared 2-core machine are noisy; the figures that matter are ratios against a
baseline measured in the same run (cold start vs the boto3 floor, warm CPU vs a minimal handler,
ingest vs the emulator's raw PutItem, drain rate vs its bound, enqueue-first vs synchronous).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import infra  # noqa: F401  (silences jsii's Node banner)
from bench import burst, calls_and_cost, cold_start, lambda_cold_start, reply_under_burst, warm_cost

RESULTS = Path(__file__).resolve().parent / "results"
QUICK_RESULTS = RESULTS / "quick"  # git-ignored


def write_results_into(directory: Path) -> None:
    """Points every benchmark that writes files at ``directory`` (the runner passes it to its own writers)."""
    directory.mkdir(parents=True, exist_ok=True)
    before = Path(calls_and_cost.RESULTS) / "cost_before.json"  # an input: the cost report compares with it
    if before.exists() and directory != before.parent:
        shutil.copyfile(before, directory / before.name)
    # Every module that writes result files, each into its own RESULTS folder.
    calls_and_cost.RESULTS = directory
    lambda_cold_start.RESULTS = directory
    reply_under_burst.RESULTS = directory


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def plots(results: dict[str, Any], directory: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    side = results["side_by_side"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, key in (("enqueue-first (Spillway)", "enqueue_first"), ("synchronous baseline", "synchronous")):
        seconds = [p["second"] for p in side[key]["per_second"]]
        ax.plot(seconds, [p["p99"] for p in side[key]["per_second"]], label=f"{label} p99")
        ax.plot(seconds, [p["p50"] for p in side[key]["per_second"]], linestyle="--", label=f"{label} p50")
    ax.axhline(side["gateway_timeout_s"] * 1000, color="grey", linestyle=":", label="gateway timeout")
    ax.set(
        xlabel="second of the run",
        ylabel="webhook latency (ms)",
        yscale="log",
        title=f"{side['events']} webhooks at {side['offered_rate_per_second']}/s, "
        f"{side['injected_domain_write_latency_ms']:.0f} ms per domain write",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / "latency_side_by_side.png", dpi=110)
    written.append("latency_side_by_side.png")

    per_second = results["burst"]["per_second"]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot([p["second"] for p in per_second], [p["p99"] for p in per_second], label="p99")
    ax.plot([p["second"] for p in per_second], [p["p50"] for p in per_second], label="p50")
    ax2 = ax.twinx()
    ax2.bar([p["second"] for p in per_second], [p["requests"] for p in per_second], alpha=0.2, color="grey")
    ax.set(
        xlabel="second of the burst",
        ylabel="ingest latency (ms)",
        yscale="log",
        title=f"Burst of {results['burst']['events']} webhooks on the local emulator",
    )
    ax2.set_ylabel("requests answered")
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / "burst_latency.png", dpi=110)
    written.append("burst_latency.png")
    return written


def report(results: dict[str, Any]) -> str:
    c, w, k, b = results["cold_start"], results["warm_cost"], results["calls_and_cost"], results["burst"]
    lm, lr = results["lambda_cold_start"]["median_ms"], results["lambda_cold_start"]["median_ratio_to_floor"]
    s, p = results["side_by_side"], results["processor_efficiency"]
    e, y = s["enqueue_first"], s["synchronous"]
    lines = [
        "# Spillway benchmark report",
        "",
        f"Machine: {results['machine']['cpus']} CPUs, {results['machine']['machine']}, Python "
        f"{results['machine']['python']}, {results['machine']['date']}. Ratios are against baselines measured in the same run.",
        "",
        "| measure | result | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| ingest cold start as Lambda loads the asset (read-only, no bytecode writes; [cold_start.md](cold_start.md)) | {lm['ingest_after']} ms | runtime SDK + client: {lm['floor']} ms | {lr['ingest_after']} | ≤ 1.25 (stretch 1.1) |",
        f"| processor cold start, the same way | {lm['processor_after']} ms | runtime SDK + client: {lm['floor']} ms | {lr['processor_after']} | ≤ 1.5 |",
        f"| secondary: ingest cold start from the dev venv (bytecode cached, not how Lambda loads it), median of {c['runs']} | {c['ingest_ms']} ms | boto3 + client: {c['floor_ms']} ms | {c['ratio']} | |",
        f"| ingest warm CPU per request | {w['real_us']} µs | json.loads + PutItem: {w['minimal_us']} µs | {w['ratio']} | ≤ 2 |",
        f"| AWS calls per ingest request / duplicate / rejected | {k['calls_per_ingest_request']} / {k['calls_per_duplicate_request']} / {k['calls_per_rejected_request']} | | | 1 |",
        f"| burst: ingest throughput on the emulator | {b['requests_per_second']} req/s | raw conditional PutItem: {b['raw_putitem_per_second']} /s | {b['ingest_vs_raw_putitem']} | ≥ 0.5 |",
        f"| burst: non-2xx for valid requests | {b['valid_non_2xx']} of {b['events']} | | | 0 |",
        f"| burst: exactly-once differences | {len(b['exactly_once_differences'])} | | | 0 |",
        f"| processor drain rate (cap {p['effective_concurrency']}, batch {p['batch_size']}, {p['injected_latency_ms_per_event']:.0f} ms/event) | {p['achieved_events_per_second']} ev/s | bound: {p['bound_events_per_second']} ev/s | {p['ratio']} | ≥ 0.8 |",
        "",
        "Top import costs of the ingest: "
        + ", ".join(f"{i['package']} {i['ms']} ms" for i in c["top_imports"][:6])
        + ".",
        "",
        f"Burst: {b['events']} webhooks at concurrency {b['concurrency']}, latency p50/p95/p99 "
        f"{b['latency_ms']['p50']}/{b['latency_ms']['p95']}/{b['latency_ms']['p99']} ms, sent in {b['send_seconds']} s, "
        f"backlog drained {b['drain_seconds_after_last_request']} s after the last request. Answers by kind: {b['status_by_kind']}.",
        "",
        f"## Side by side: {s['events']} webhooks offered at {s['offered_rate_per_second']}/s, {s['injected_domain_write_latency_ms']:.0f} ms per domain write",
        "",
        "| design | non-2xx (valid) | 504 / no answer | p50 | p95 | p99 |",
        "|---|---|---|---|---|---|",
        f"| enqueue-first (Spillway on the emulator) | {e['valid_non_2xx']} | {e['timeouts_504_or_none']} | {e['latency_ms']['p50']} | {e['latency_ms']['p95']} | {e['latency_ms']['p99']} |",
        f"| synchronous ({s['sync_workers']} workers, {s['gateway_timeout_s']} s gateway timeout) | {y['valid_non_2xx']} | {y['timeouts_504_or_none']} | {y['latency_ms']['p50']} | {y['latency_ms']['p95']} | {y['latency_ms']['p99']} |",
        "",
        "![latency over time](latency_side_by_side.png)",
        "",
        "## Cost model per million webhooks",
        "",
        "Calls per processed event by type: "
        + ", ".join(f"{t} {v['total']}" for t, v in k["calls_per_processed_event"].items())
        + ".",
        f"Write and read units metered from the items written, real-sized payloads. Prices: {k['prices_as_of']}. "
        "Full table, before and after, in [cost.md](cost.md).",
        "",
        "| scenario | WRU | RRU | USD per million |",
        "|---|---|---|---|",
        *[f"| {name} | {row['wru']} | {row['rru']} | {row['usd_per_million']} |" for name, row in k["cost"].items()],
        "",
        "![burst](burst_latency.png)",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--reply-under-burst",
        action="store_true",
        help="only the reply-under-burst benchmark (its own files: bench/results/reply_under_burst.*)",
    )
    args = parser.parse_args()
    quick = args.quick
    directory = QUICK_RESULTS if quick else RESULTS
    write_results_into(directory)
    if args.reply_under_burst:
        print(reply_under_burst.write(events=args.events or (500 if quick else 5000), grace_s=60))
        return
    results: dict[str, Any] = {"machine": machine()}
    print("cold start...", flush=True)
    results["cold_start"] = cold_start.measure(runs=9 if quick else 15)
    print("cold start as Lambda loads the asset...", flush=True)
    results["lambda_cold_start"] = lambda_cold_start.measure(runs=15)
    lambda_cold_start.write(results["lambda_cold_start"])
    print("warm cost...", flush=True)
    results["warm_cost"] = warm_cost.measure(requests=300 if quick else 1000, rounds=5)
    print("calls and cost...", flush=True)
    results["calls_and_cost"] = calls_and_cost.summary(calls_and_cost.write())  # also cost.json and cost.md
    print("bursts on the emulator...", flush=True)
    results |= burst.run(
        events=args.events or (500 if quick else 5000),
        concurrency=args.concurrency,
        side_events=120 if quick else 600,
        side_rate=60 if quick else 100,
        latency_ms=250,
    )
    (directory / "results.json").write_text(json.dumps(results, indent=2))
    written = plots(results, directory)
    (directory / "report.md").write_text(report(results))
    print((directory / "report.md").read_text())
    print("wrote", ", ".join(["results.json", "report.md", *written]))


if __name__ == "__main__":
    main()
