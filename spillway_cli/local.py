"""`spillway local up`: the whole pipeline on this machine, from the same template as AWS."""

from __future__ import annotations

import time

from spillway_cli.deploy import deploy, synthesize
from spillway_cli.emulator import Emulator
from spillway_cli.load import WORKSPACE as LOAD_WORKSPACE
from spillway_cli.status import pipeline_counts
from spillway_cli.target import Target
from spillway_cli.tokens import SAMPLE_WORKSPACE, binding, bindings_json, new_token, token_digest

SAMPLE_PAYLOAD = "tests/fixtures/emailbison/email_sent.json"


def run_local(port: int, follow: bool, interval: float, stage: str | None = None) -> int:
    started = time.monotonic()
    print(f"synthesizing the stack (target=local, stage={stage or 'default'})...", flush=True)
    assembly = synthesize("local", stage=stage)
    with Emulator(port=port) as emulator:
        print(f"emulator up at {emulator.endpoint_url} (log: {emulator.log_path}); deploying...", flush=True)
        target = Target(stack_name=assembly.stack_name, endpoint_url=emulator.endpoint_url)
        token = new_token()
        # Bound like a production token: to the sample payloads' workspace and `spillway load`'s.
        workspaces = [SAMPLE_WORKSPACE, str(LOAD_WORKSPACE)]
        deploy(target, assembly, bindings_json({token_digest(token): binding("emailbison", workspaces)}))
        url = f"{target.webhook_url('emailbison')}?token={token}"
        print(f"\nSpillway is up in {time.monotonic() - started:.0f}s.\n")
        print(f"  webhook URL: {url}")
        endpoint = f"--endpoint-url {emulator.endpoint_url} --stack-name {assembly.stack_name}"
        print(f"  try it:      curl -s -H 'content-type: application/json' --data @{SAMPLE_PAYLOAD} '{url}'")
        print(f"  status:      .venv/bin/spillway status {endpoint}")
        sample_key = "emailbison:send.example-outreach.com:12:EMAIL_SENT:<scheduled email id>"
        print(f"  inspect:     .venv/bin/spillway inspect '{sample_key}' {endpoint}")
        print("\nlive counts (Ctrl-C to stop):", flush=True)
        if not follow:
            return 0
        while True:
            print(f"  {time.strftime('%H:%M:%S')}  {pipeline_counts(target).line()}", flush=True)
            time.sleep(interval)  # one line of counts per interval
