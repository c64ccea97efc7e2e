"""`spillway` command line. Every command takes --endpoint-url (the local emulator) or none (AWS)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import urllib.parse
from typing import Any

from infra.config import stage_names
from spillway_cli.target import Target

LOCAL_HINT = "the emulator's URL, e.g. http://127.0.0.1:4566; omit to use AWS with your usual credentials"
STAGE_HINT = "the stage (cdk.json spillway.stages) whose stack to use; default: cdk.json's spillway.stage"


def _target(args: argparse.Namespace) -> Target:
    from spillway_cli.target import stack_config

    return Target(stack_name=args.stack_name or stack_config(args.stage).stack_name, endpoint_url=args.endpoint_url)


def cmd_token_new(args: argparse.Namespace) -> int:
    from spillway_cli.tokens import binding, bindings_json, new_token, token_digest

    token = new_token()
    entry = bindings_json({token_digest(token): binding(args.provider, args.workspace, args.instance)})
    print(f"token:   {token}")
    print(f"sha256:  {token_digest(token)}")
    print(f"binding: {entry}")
    print("Give the token to the provider (webhook URL ?token=... or X-Spillway-Token header).")
    print("Add the binding's entry to the IngestTokenBindings JSON and deploy (docs/operations.md).")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from spillway_cli.status import pipeline_counts

    target = _target(args)
    while True:
        counts = pipeline_counts(target)
        print(counts.line(), flush=True)
        if not args.watch:
            return 0
        time.sleep(args.interval)  # a display refresh, not synchronisation


def cmd_inspect(args: argparse.Namespace) -> int:
    from spillway_cli.inspect import inspect_event

    item = inspect_event(_target(args), args.dedupe_key, show_raw=args.raw, show_pii=args.show_pii)
    if item is None:
        print(f"no event {args.dedupe_key!r}", file=sys.stderr)
        return 1
    print(json.dumps(item, indent=2, sort_keys=True, default=str))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from spillway_cli.inspect import replay_event

    if replay_event(_target(args), args.dedupe_key):
        print(f"{args.dedupe_key}: FAILED -> PENDING; the processor picks it up from the stream")
        return 0
    print(f"{args.dedupe_key}: not replayed (only FAILED events can be)", file=sys.stderr)
    return 1


def cmd_load(args: argparse.Namespace) -> int:
    from spillway_cli.load import check_target_is_local, plan_burst, send_burst, verify_exactly_once
    from spillway_cli.status import wait_until_drained

    parts = urllib.parse.urlsplit(args.url)
    token = args.token or dict(urllib.parse.parse_qsl(parts.query)).get("token", "")
    url = urllib.parse.urlunsplit(parts._replace(query=""))
    check_target_is_local(url, args.allow_remote)
    planned = plan_burst(args.events, duplicate_ratio=args.duplicates, seed=args.seed)
    report = send_burst(url, token, planned, args.concurrency, args.rate)
    print(json.dumps({"statusByKind": {k: dict(v) for k, v in report.by_kind().items()},
                      "validNon2xx": report.valid_non_2xx(), "requestsPerSecond": round(report.throughput(), 1),
                      "latencyMs": report.percentiles()}, indent=2))  # fmt: skip
    if not args.verify:
        return 0 if report.valid_non_2xx() == 0 else 1
    target = _target(args)
    drain_started = time.monotonic()
    print(f"drained in {wait_until_drained(target) - drain_started:.1f}s after the last request")
    differences = verify_exactly_once(target.client("dynamodb"), target.domain_table, planned)
    print("exactly once: OK" if not differences else "\n".join(differences[:20]))
    return 0 if not differences and report.valid_non_2xx() == 0 else 1


def cmd_local_up(args: argparse.Namespace) -> int:
    from spillway_cli.local import run_local

    # `kill` (SIGTERM) should stop the emulator too, as Ctrl-C does: exit through the context managers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run_local(port=args.port, follow=not args.no_follow, interval=args.interval, stage=args.stage)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spillway", description="Operate the Spillway webhook pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)

    stages = stage_names()

    def with_stage(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--stage", choices=stages, default=None, help=STAGE_HINT)
        return p

    def with_target(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--endpoint-url", default=None, help=LOCAL_HINT)
        with_stage(p)
        p.add_argument("--stack-name", default=None, help="the stack's name, if it differs from the stage's")
        return p

    local = sub.add_parser("local", help="run the pipeline on the local emulator")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = with_stage(local_sub.add_parser("up", help="synthesize, start the emulator, deploy, and show live counts"))
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--interval", type=float, default=2.0, help="seconds between live count lines")
    up.add_argument("--no-follow", action="store_true", help="deploy, print the URL, then stop the emulator")
    up.set_defaults(func=cmd_local_up)

    token = sub.add_parser("token", help="webhook tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    new = token_sub.add_parser("new", help="create a token and print its digest and binding")
    new.add_argument("--provider", choices=["emailbison", "inboxxia"], default="emailbison")
    new.add_argument("--workspace", action="append", required=True, help="a workspace id it may write (repeat)")
    new.add_argument("--instance", action="append", default=[], help="an instance host it may write (repeat)")
    new.set_defaults(func=cmd_token_new)

    status = with_target(sub.add_parser("status", help="events by state, duplicates"))
    status.add_argument("--watch", action="store_true")
    status.add_argument("--interval", type=float, default=2.0)
    status.set_defaults(func=cmd_status)

    inspect = with_target(sub.add_parser("inspect", help="show one stored event"))
    inspect.add_argument("dedupe_key")
    inspect.add_argument("--raw", action="store_true", help="include the raw payload (its size unless --show-pii)")
    inspect.add_argument(
        "--show-pii", action="store_true", help="show lead addresses, names, subjects and bodies (redacted by default)"
    )
    inspect.set_defaults(func=cmd_inspect)

    load = with_target(sub.add_parser("load", help="send a burst of real-shaped webhooks, then verify effects"))
    load.add_argument("--url", required=True, help="the webhook URL (its ?token= is used unless --token is given)")
    load.add_argument("--token", default=None)
    load.add_argument("--events", type=int, default=5000)
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--rate", type=float, default=None, help="requests per second (default: as fast as possible)")
    load.add_argument("--duplicates", type=float, default=0.2, help="share of exact re-sends (default 0.2)")
    load.add_argument("--seed", type=int, default=2026)
    load.add_argument("--verify", action="store_true", help="wait for the backlog, then check exactly-once effects")
    load.add_argument("--allow-remote", action="store_true", help="allow a non-loopback target (a staging stack)")
    load.set_defaults(func=cmd_load)

    replay = with_target(sub.add_parser("replay", help="send a FAILED event through the processor again"))
    replay.add_argument("dedupe_key")
    replay.set_defaults(func=cmd_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
