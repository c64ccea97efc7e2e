"""`spillway` command line. Every command that reaches a stack takes --endpoint-url (the local emulator)
or none (AWS, with --region / --profile or your usual configuration), and behaves the same on both."""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

from infra.config import stage_names
from spillway_cli.target import Target, TargetError, stack_config
from spillway_core.errors import StoreUnavailable
from spillway_core.status import EventStatus

LOCAL_HINT = "the emulator's URL, e.g. http://127.0.0.1:4566; omit to use AWS with your usual credentials"
STAGE_HINT = "the stage (cdk.json spillway.stages) whose stack to use; default: cdk.json's spillway.stage"
STATUSES = [s.value for s in EventStatus]
LOCAL = "--endpoint-url http://127.0.0.1:4566"


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "AWS call")
        return f"{operation}: {error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, StoreUnavailable):
        return f"the events table is unavailable ({exc}); try again"
    return str(exc) or type(exc).__name__


class SpillwayGroup(click.Group):
    """Turns every expected failure (AWS, credentials, a missing stack) into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (TargetError, StoreUnavailable, ClientError, BotoCoreError) as exc:
            raise click.ClickException(_error_line(exc)) from None


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--endpoint-url, --stage, --stack-name, --region, --profile; passes ``target`` to the command."""

    @click.option("--endpoint-url", default=None, help=LOCAL_HINT)
    @click.option("--stage", type=click.Choice(stage_names()), default=None, help=STAGE_HINT)
    @click.option("--stack-name", default=None, help="the stack's name, if it differs from the stage's")
    @click.option("--region", default=None, help="AWS region (default: your profile's or AWS_REGION)")
    @click.option("--profile", default=None, help="AWS named profile (default: your usual credential chain)")
    @functools.wraps(command)
    def wrapper(
        endpoint_url: str | None,
        stage: str | None,
        stack_name: str | None,
        region: str | None,
        profile: str | None,
        **kwargs: Any,
    ) -> Any:
        target = make_target(endpoint_url, stage, stack_name, region, profile)
        return command(target=target, **kwargs)

    return wrapper


def make_target(
    endpoint_url: str | None = None,
    stage: str | None = None,
    stack_name: str | None = None,
    region: str | None = None,
    profile: str | None = None,
) -> Target:
    return Target(
        stack_name=stack_name or stack_config(stage).stack_name,
        endpoint_url=endpoint_url,
        region=region,
        profile=profile,
    )


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    @click.option(
        "--status", "status", type=click.Choice(STATUSES), default=None, help="the events' status (default FAILED)"
    )
    @click.option("--type", "event_types", multiple=True, help="event type, e.g. LEAD_REPLIED (repeatable)")
    @click.option("--workspace", default=None, help="the provider workspace id")
    @click.option(
        "--since", default=None, help="last change at or after: ISO time (UTC if no zone) or an age (30m, 2h)"
    )
    @click.option("--until", default=None, help="last change at or before: ISO time or an age")
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        return command(**kwargs)

    return wrapper


def build_filter(
    status: str, event_types: tuple[str, ...], workspace: str | None, since: str | None, until: str | None
) -> Any:
    from spillway_cli.render import parse_time_ms
    from spillway_core.event_store import EventFilter

    try:
        since_ms = parse_time_ms(since) if since else None
        until_ms = parse_time_ms(until) if until else None
    except ValueError as exc:
        raise click.BadParameter(f"not a time: {exc}") from None
    return EventFilter(status, tuple(event_types), workspace, since_ms, until_ms)


@click.group(cls=SpillwayGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    """Operate the Spillway webhook pipeline (locally on the emulator, or a deployed stack).

    \b
    On-call flow (see docs/operations.md):
      spillway status                                   # what is failing, paused, parked
      spillway events --status FAILED --since 1h        # which events
      spillway inspect '<key>'                          # why (redacted)
      spillway replay --status FAILED --dry-run         # after the fix: what would be replayed
      spillway replay --status FAILED                   # replay them, rate-limited
    """


# --- token, local, load --------------------------------------------------------------------------


@cli.group()
def token() -> None:
    """Webhook tokens."""


@token.command("new")
@click.option(
    "--provider",
    type=click.Choice(["emailbison", "inboxxia"]),
    default="emailbison",
    show_default=True,
    help="the provider whose path the token may write to",
)
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    required=True,
    help="a workspace id the token may write for (repeat for several)",
)
@click.option(
    "--instance",
    "instances",
    multiple=True,
    help="an instance host the token may write for (repeat; default: any instance)",
)
def token_new(provider: str, workspaces: tuple[str, ...], instances: tuple[str, ...]) -> None:
    """Create a token and print its digest and its binding entry.

    \b
    Example:
      spillway token new --provider emailbison --workspace 12 --workspace 13
    """
    from spillway_cli.tokens import binding, bindings_json, new_token, token_digest

    value = new_token()
    entry = bindings_json({token_digest(value): binding(provider, workspaces, instances)})
    click.echo(f"token:   {value}")
    click.echo(f"sha256:  {token_digest(value)}")
    click.echo(f"binding: {entry}")
    click.echo("Give the token to the provider (webhook URL ?token=... or X-Spillway-Token header).")
    click.echo("Add the binding's entry to the IngestTokenBindings JSON and deploy (docs/operations.md).")


@cli.group()
def local() -> None:
    """Run the pipeline on the local emulator."""


@local.command("up")
@click.option("--stage", type=click.Choice(stage_names()), default=None, help=STAGE_HINT)
@click.option("--port", type=int, default=4566, show_default=True, help="the emulator's port")
@click.option("--interval", type=float, default=2.0, show_default=True, help="seconds between live count lines")
@click.option("--no-follow", is_flag=True, help="deploy, print the URL, then stop the emulator")
def local_up(stage: str | None, port: int, interval: float, no_follow: bool) -> None:
    """Synthesize, start the emulator, deploy, and show live counts.

    \b
    Example:
      spillway local up --port 4566
    """
    from spillway_cli.local import run_local

    # `kill` (SIGTERM) should stop the emulator too, as Ctrl-C does: exit through the context managers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(run_local(port=port, follow=not no_follow, interval=interval, stage=stage))


@cli.command()
@target_options
@click.option("--url", required=True, help="the webhook URL (its ?token= is used unless --token is given)")
@click.option("--token", "token_value", default=None, help="the webhook token")
@click.option("--events", type=int, default=5000, show_default=True, help="how many webhooks to send")
@click.option("--concurrency", type=int, default=32, show_default=True, help="requests in flight")
@click.option("--rate", type=float, default=None, help="requests per second (default: as fast as possible)")
@click.option("--duplicates", type=float, default=0.2, show_default=True, help="share of exact re-sends")
@click.option("--seed", type=int, default=2026, show_default=True, help="the burst's random seed")
@click.option("--verify", is_flag=True, help="wait for the backlog, then check exactly-once effects")
@click.option("--allow-remote", is_flag=True, help="allow a non-loopback target (a staging stack)")
def load(
    target: Target,
    url: str,
    token_value: str | None,
    events: int,
    concurrency: int,
    rate: float | None,
    duplicates: float,
    seed: int,
    verify: bool,
    allow_remote: bool,
) -> None:
    """Send a burst of real-shaped webhooks, then verify effects.

    \b
    Example:
      spillway load --endpoint-url http://127.0.0.1:4566 --url '<webhook URL>?token=<token>' --events 500 --verify
    """
    from spillway_cli.load import check_target_is_local, plan_burst, send_burst, verify_exactly_once
    from spillway_cli.status import wait_until_drained

    parts = urllib.parse.urlsplit(url)
    token_value = token_value or dict(urllib.parse.parse_qsl(parts.query)).get("token", "")
    url = urllib.parse.urlunsplit(parts._replace(query=""))
    check_target_is_local(url, allow_remote)
    planned = plan_burst(events, duplicate_ratio=duplicates, seed=seed)
    report = send_burst(url, token_value, planned, concurrency, rate)
    click.echo(
        json.dumps(
            {
                "statusByKind": {k: dict(v) for k, v in report.by_kind().items()},
                "validNon2xx": report.valid_non_2xx(),
                "requestsPerSecond": round(report.throughput(), 1),
                "latencyMs": report.percentiles(),
            },
            indent=2,
        )
    )
    if not verify:
        sys.exit(0 if report.valid_non_2xx() == 0 else 1)
    drain_started = time.monotonic()
    click.echo(f"drained in {wait_until_drained(target) - drain_started:.1f}s after the last request")
    differences = verify_exactly_once(target.client("dynamodb"), target.domain_table, planned)
    click.echo("exactly once: OK" if not differences else "\n".join(differences[:20]))
    sys.exit(0 if not differences and report.valid_non_2xx() == 0 else 1)


# --- on-call -------------------------------------------------------------------------------------


@cli.command()
@target_options
@filter_options
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="events per page")
@click.option("--cursor", default=None, help="continue after a previous page (its printed --cursor value)")
@click.option("--all", "all_pages", is_flag=True, help="every page, not just the first")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def events(
    target: Target,
    status: str | None,
    event_types: tuple[str, ...],
    workspace: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """List events by status, newest change first (a query on the status index, never a scan).

    The listing holds no lead data (types, times, error classes, keys); `inspect` shows an event's
    fields, redacted unless --show-pii.

    \b
    Examples:
      spillway events --status FAILED --since 1h
      spillway events --status FAILED --type LEAD_REPLIED --workspace 42 --json
      spillway events --status PENDING --until 30m          # stuck for over 30 minutes
      spillway events --status FAILED --limit 20 --cursor '<cursor from the previous page>'
    """
    from rich.console import Console

    from spillway_cli.render import events_table, summary_json
    from spillway_cli.status import target_store

    flt = build_filter(status or EventStatus.FAILED.value, event_types, workspace, since, until)
    store = target_store(target)
    start: dict[str, Any] | None = json.loads(cursor) if cursor else None
    total = 0
    while True:
        page, start = store.list_events(flt, limit, start)
        total += len(page)
        if as_json:
            for event in page:
                click.echo(json.dumps(summary_json(event)))
        elif page:
            Console().print(events_table(page))
        if not all_pages or start is None:
            break
    if start is not None:
        click.echo(f"more: add --cursor '{json.dumps(start, separators=(',', ':'))}'", err=as_json)
    elif not as_json:
        click.echo(f"{total} {flt.status} event(s)")


@cli.command()
@target_options
@click.argument("dedupe_keys", nargs=-1)
@filter_options
@click.option("--limit", type=click.IntRange(min=1), default=None, help="replay at most this many (bulk)")
@click.option("--include-succeeded", is_flag=True, help="also replay SUCCEEDED events (their effects stay once)")
@click.option("--dry-run", is_flag=True, help="show what would be replayed; change nothing")
@click.option(
    "--rate", type=float, default=20.0, show_default=True, help="replays per second (protects the domain table)"
)
@click.option("--yes", is_flag=True, help="do not ask before a bulk replay of more than 100 events")
def replay(
    target: Target,
    dedupe_keys: tuple[str, ...],
    status: str | None,
    event_types: tuple[str, ...],
    workspace: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    include_succeeded: bool,
    dry_run: bool,
    rate: float,
    yes: bool,
) -> None:
    """Send FAILED events through the processor again, by key or in bulk by the `events` filters.

    Uses the deployed stack's settings (sweep shards, grace, retention), extends each event's TTL, and
    prints a summary. Run it after the cause is fixed.

    \b
    Examples:
      spillway replay 'emailbison:LEAD_REPLIED:123'
      spillway replay --status FAILED --type EMAIL_SENT --since 2h --dry-run
      spillway replay --status FAILED --since 2h --rate 10
      spillway replay --status SUCCEEDED --include-succeeded --since 10m --dry-run
    """
    from spillway_cli.operations import RateLimit, all_events
    from spillway_cli.operations import replay as run_replay
    from spillway_cli.status import target_store

    filtered = any([status, event_types, workspace, since, until])
    if dedupe_keys and filtered:
        raise click.UsageError("give dedupe keys or filters, not both")
    if not dedupe_keys and not filtered:
        raise click.UsageError("give dedupe keys, or filters such as --status FAILED --since 1h")
    if status == EventStatus.SUCCEEDED and not include_succeeded:
        raise click.UsageError("replaying SUCCEEDED events needs --include-succeeded")
    if status not in {None, EventStatus.FAILED, EventStatus.SUCCEEDED}:
        raise click.UsageError("only FAILED (and, with --include-succeeded, SUCCEEDED) events can be replayed")
    rate_limit = RateLimit(rate)  # validated before anything is read
    keys = list(dedupe_keys)
    if not keys:
        flt = build_filter(status or EventStatus.FAILED.value, event_types, workspace, since, until)
        keys = [e.dedupe_key for e in all_events(target_store(target), flt, limit)]  # a snapshot, then replay
    if len(keys) > 100 and not dry_run and not yes:
        click.confirm(f"replay {len(keys)} events?", abort=True)
    summary = run_replay(target, keys, include_succeeded=include_succeeded, dry_run=dry_run, rate=rate_limit)
    for key in summary.replayed:
        click.echo(f"{'would replay' if dry_run else 'replayed'}  {key}")
    for key, why in summary.skipped.items():
        click.echo(f"skipped       {key}  ({why})")
    click.echo(summary.line())
    if not summary.replayed and summary.skipped:
        sys.exit(1)


@cli.command()
@target_options
@click.argument("dedupe_key")
@click.option("--show-pii", is_flag=True, help="show lead data (addresses, names, subjects) unredacted")
@click.option("--raw", is_flag=True, help="include the stored raw payload (redacted unless --show-pii)")
def inspect(target: Target, dedupe_key: str, show_pii: bool, raw: bool) -> None:
    """Show one event and the domain items it produced (message, lead rollup, follow-up).

    \b
    Examples:
      spillway inspect 'emailbison:LEAD_REPLIED:123'
      spillway inspect 'emailbison:LEAD_REPLIED:123' --show-pii --raw
    """
    from spillway_cli.operations import inspect as inspect_event
    from spillway_cli.render import dumps, redact

    view = inspect_event(target, dedupe_key, show_raw=raw)
    if view is None:
        raise click.ClickException(f"no event {dedupe_key!r} in {target.stack_name}")
    click.echo(dumps(view if show_pii else redact(view)))


def _set_processing(target: Target, enabled: bool, function: str | None) -> None:
    from spillway_cli.deployed import set_processing

    for mapping in set_processing(target, enabled, function):
        click.echo(f"{mapping.function}: event source mapping {mapping.uuid} is {mapping.state}")


@cli.command()
@target_options
@click.option("--function", default=None, help="pause only this processor (one lane); default: every processor")
def pause(target: Target, function: str | None) -> None:
    """Stop processing: disable the processors' event source mappings. Ingest keeps accepting.

    Events wait in the table and the stream (24 h); `resume` picks them up, and the sweeper wakes any
    whose stream record has aged out.

    \b
    Examples:
      spillway pause --stage production
      spillway pause --function <processor function name>
    """
    _set_processing(target, False, function)


@cli.command()
@target_options
@click.option("--function", default=None, help="resume only this processor (one lane); default: every processor")
def resume(target: Target, function: str | None) -> None:
    """Restart processing: enable the processors' event source mappings.

    \b
    Example:
      spillway resume --stage production
    """
    _set_processing(target, True, function)


@cli.group()
def dlq() -> None:
    """The processor's on-failure DLQ (stream batches) and the notifier's DLQ (alerts Slack refused)."""


WHICH = click.Choice(["processor", "notifier"])


@dlq.command("show")
@target_options
@click.argument("which", type=WHICH)
@click.option(
    "--max", "max_messages", type=click.IntRange(1, 1000), default=100, show_default=True, help="messages to read"
)
def dlq_show(target: Target, which: str, max_messages: int) -> None:
    """Show a DLQ's messages; for the processor's, the events each batch stands for and their status.

    Nothing is deleted: each message is visible again once shown.

    \b
    Examples:
      spillway dlq show processor
      spillway dlq show notifier --max 10
    """
    from spillway_cli.operations import read_dlq, release_dlq_messages

    messages = read_dlq(target, which, max_messages)
    release_dlq_messages(target, which, messages)
    for message in messages:
        if which == "processor":
            info = message.body.get("DDBStreamBatchInfo", {})
            click.echo(
                f"batch shard={info.get('shardId')} sequences {info.get('startSequenceNumber')}.."
                f"{info.get('endSequenceNumber')} ({info.get('batchSize')} records) {message.note}"
            )
            for key, event_status in message.statuses.items():
                click.echo(f"  {event_status:<10} {key}")
        else:
            alert = message.body
            click.echo(f"{alert.get('kind', alert.get('AlarmName', 'alert'))}: {alert.get('dedupe_key', '')}")
    click.echo(f"{len(messages)} message(s) in the {which} DLQ")


@dlq.command("redrive")
@target_options
@click.argument("which", type=WHICH)
@click.option("--dry-run", is_flag=True, help="show what would be redriven; change nothing")
@click.option("--rate", type=float, default=20.0, show_default=True, help="replays per second")
def dlq_redrive(target: Target, which: str, dry_run: bool, rate: float) -> None:
    """Redrive a DLQ. Processor: replay the FAILED events of each parked batch, then delete the message
    once none of its events is left failed. Notifier: publish each parked alert to the alerts topic again.

    \b
    Examples:
      spillway dlq redrive processor --dry-run
      spillway dlq redrive notifier
    """
    from spillway_cli.operations import (
        RateLimit,
        delete_dlq_messages,
        read_dlq,
        release_dlq_messages,
        republish_alerts,
    )
    from spillway_cli.operations import replay as run_replay

    rate_limit = RateLimit(rate)
    messages = read_dlq(target, which)
    if which == "notifier":
        if dry_run:
            release_dlq_messages(target, which, messages)
        else:
            republish_alerts(target, messages)
            delete_dlq_messages(target, which, messages)
        click.echo(f"{'would republish' if dry_run else 'republished'} {len(messages)} alert(s)")
        return
    keys = [k for m in messages for k, s in m.statuses.items() if s == EventStatus.FAILED]
    summary = run_replay(target, keys, include_succeeded=False, dry_run=dry_run, rate=rate_limit)
    done = [
        m
        for m in messages
        if m.keys and all(s != EventStatus.FAILED or k in summary.replayed for k, s in m.statuses.items())
    ]
    if not dry_run:
        delete_dlq_messages(target, which, done)
    release_dlq_messages(target, which, [m for m in messages if dry_run or m not in done])
    for message in messages:
        if message.note:
            click.echo(f"kept: {message.note}")
    click.echo(
        f"{summary.line()}; {'would delete' if dry_run else 'deleted'} {len(done)} of {len(messages)} message(s)"
    )


@cli.command()
@target_options
@click.option("--since", default="24h", show_default=True, help="window for SUCCEEDED/IGNORED counts and duplicates")
@click.option("--watch", is_flag=True, help="refresh in place until Ctrl-C")
@click.option("--interval", type=float, default=5.0, show_default=True, help="seconds between refreshes with --watch")
@click.option("--json", "as_json", is_flag=True, help="one JSON object (per refresh)")
def status(target: Target, since: str, watch: bool, interval: float, as_json: bool) -> None:
    """Counts per status, oldest pending age, DLQ depths, duplicates, and whether processing is paused.

    From the status index (COUNT queries) and CloudWatch metrics: no scan, no log search.

    \b
    Examples:
      spillway status
      spillway status --watch --interval 2 --endpoint-url http://127.0.0.1:4566
    """
    from rich.console import Console
    from rich.live import Live

    from spillway_cli.operations import status_report
    from spillway_cli.render import parse_time_ms, status_json, status_table

    since_s = parse_time_ms(since) / 1000

    def report() -> Any:
        return status_report(target, since_s)

    console = Console()
    if as_json or not watch or not console.is_terminal:
        while True:
            current = report()
            if as_json:
                click.echo(json.dumps(status_json(current)))
            else:
                console.print(status_table(current))
            if not watch:
                return
            time.sleep(interval)  # until the next refresh of the table
    with Live(status_table(report()), console=console, auto_refresh=False) as live:
        while True:
            time.sleep(interval)  # until the next refresh of the table
            live.update(status_table(report()), refresh=True)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="spillway", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
