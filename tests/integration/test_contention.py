"""Real concurrency on a handful of leads: with two lanes and a ParallelizationFactor above 1, a
reply and a send of the same lead are processed at the same moment. Many threads run the events of
5 leads at once, every event delivered twice (a stream redelivery racing the first delivery), and
the end state must equal a sequential run's: every effect exactly once, no event FAILED.

DynamoDB makes each request atomic; so does the client here (one lock per call), while the threads
interleave freely between calls, which is where the processor's optimistic concurrency is tested.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from processor.logic import process_event
from spillway_cli.load import WORKSPACE, plan_burst
from spillway_core.domain_store import ConcurrentChange, DomainStore
from spillway_core.status import EventStatus
from tests.support.pipeline import InProcessPipeline
from tests.support.tables import DOMAIN_TABLE_NAME, EVENTS_TABLE_NAME, create_tables

LEADS = 5
WORKERS = 8
DELIVERIES = 2


class AtomicCalls:
    """A client whose every call is atomic, as each DynamoDB request is; threads switch between calls."""

    def __init__(self, real: Any, lock: threading.Lock) -> None:
        self._real = real
        self._lock = lock
        self.exceptions = real.exceptions
        self.meta = real.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                result = method(*args, **kwargs)
            time.sleep(0)  # let another worker run its next call here (a switch point, not a wait)
            return result

        return call


class CountingDomainStore(DomainStore):
    """Counts the optimistic-concurrency conflicts the processor had to fold again."""

    conflicts: Counter[str]

    def apply(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().apply(*args, **kwargs)
        except ConcurrentChange:
            self.conflicts["ConcurrentChange"] += 1
            raise


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client)
        yield client


def events_of_five_leads() -> list[dict[str, Any]]:
    # plan_burst puts total // 8 leads in a plan: 40 real-shaped events of all kinds on 5 leads.
    planned = plan_burst(40, duplicate_ratio=0.0, invalid=0, seed=11)
    assert len({r.lead for r in planned}) == LEADS
    return [json.loads(r.body) for r in planned]


def reset(dynamodb: Any) -> None:
    for table in (EVENTS_TABLE_NAME, DOMAIN_TABLE_NAME):
        dynamodb.delete_table(TableName=table)
    create_tables(dynamodb)


def run(dynamodb: Any, payloads: list[dict[str, Any]], workers: int) -> tuple[InProcessPipeline, Counter[str]]:
    """Ingests everything, then has ``workers`` threads process every event ``DELIVERIES`` times;
    events left RETRY_WAIT (the lead kept changing) are retried, as the sweeper would, until done."""
    client = AtomicCalls(dynamodb, threading.Lock())
    pipeline = InProcessPipeline(client, workspaces=(WORKSPACE,))
    domain = CountingDomainStore(client, DOMAIN_TABLE_NAME)
    domain.conflicts = Counter()
    pipeline.deps.domain = domain
    keys = [pipeline.post(payload)[1]["id"] for payload in payloads]
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def deliver(job: tuple[int, str]) -> None:
        n, key = job
        outcome = process_event(key, f"worker-{n}", pipeline.deps)
        with lock:
            outcomes[outcome] += 1

    pending = list(keys)
    for _ in range(10):
        jobs = [(n, key) for n, key in enumerate(k for k in pending for _ in range(DELIVERIES))]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(deliver, jobs))
        statuses = pipeline.event_statuses()
        pending = [k for k in keys if statuses[k] == EventStatus.RETRY_WAIT]
        for key in pending:  # the sweeper's wake, without waiting out the backoff
            pipeline.crash_after_effect(key)
        if not pending:
            break
    return pipeline, domain.conflicts + Counter({f"outcome:{k}": v for k, v in outcomes.items()})


def test_concurrent_workers_on_five_leads_reach_the_sequential_end_state(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = events_of_five_leads()
    sequential, _ = run(dynamodb, payloads, workers=1)
    expected = sequential.domain_state()
    assert set(sequential.event_statuses().values()) == {EventStatus.SUCCEEDED}
    reset(dynamodb)

    concurrent, counts = run(dynamodb, payloads, workers=WORKERS)

    assert set(concurrent.event_statuses().values()) == {EventStatus.SUCCEEDED}  # none FAILED by contention
    assert concurrent.domain_state() == expected  # every effect exactly once, same final leads
    # The races really happened: folds retried after a conflict, and deliveries that lost the claim.
    assert counts["ConcurrentChange"] > 0
    assert counts["outcome:skipped"] > 0
    with capsys.disabled():
        print(
            f"\ncontention on {LEADS} leads, {WORKERS} workers, {DELIVERIES} deliveries per event "
            f"(workspace {WORKSPACE}): {dict(counts)}"
        )
