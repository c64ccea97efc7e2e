"""Starts the local emulator (ministack) with its DynamoDB-stream event source mappings polled the
way Lambda polls them: each mapping independently, with up to ParallelizationFactor batches of one
stream in flight at once.

Run by this repo's emulator environment (``.venv-emulator/bin/python emulator/stream_pollers.py``);
spillway_cli/emulator.py starts it. Why: ministack 1.5.33 polls every mapping from ONE thread, one
batch at a time (``lambda_svc._poll_loop`` calls ``_poll_dynamodb_streams``, which walks all
mappings and invokes each one's batch synchronously). So a mapping waits for every other mapping's
batch in progress, and a lane's cap (reserved concurrency, ParallelizationFactor) never applies.
It also reads ``BatchSize`` raw records per pass and filters afterwards, so a filtering mapping
advances at most ``BatchSize`` records per pass, however few of them match.

What this keeps from ministack: the stream, the filter matching (``_apply_filter_criteria``), the
invocation (``_execute_function``, which enforces reserved concurrency and reports throttles), the
failure handling (a failed or throttled batch is retried after a short back-off, without advancing;
a batch older than MaximumRecordAgeInSeconds goes to the on-failure destination). SQS and Kinesis
mappings stay on ministack's own loop. What this changes, and only for DynamoDB-stream mappings:

- every mapping has its own readers, so one lane never waits for another lane's batch;
- a mapping has ParallelizationFactor readers; records go to reader ``hash(keys) % PF``, so one
  item's records stay in order (as on AWS, where a shard's batches are split by partition key);
- a batch is up to ``BatchSize`` records that pass the filter (AWS filters before batching).

Not emulated: MaximumBatchingWindowInSeconds (a batch is handed over as soon as it is read, as in
stock ministack), retry-attempt counting and bisection (as in stock ministack).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import zlib
from typing import Any

from ministack.services import dynamodb as ddb
from ministack.services import lambda_svc

# How many stream records one read looks at, at most, while filling a batch.
SCAN_RECORDS = 1000
# A reader with nothing to do waits this long for a new stream record before looking again.
IDLE_WAIT_SECONDS = 1.0

_appended = threading.Condition()
_readers: dict[tuple[Any, int], threading.Thread] = {}
_positions: dict[tuple[Any, int], int] = {}
_backoff_until: dict[tuple[Any, int], float] = {}
_readers_lock = threading.Lock()
# Benchmarks only: a file to append one line per batch to (when handed over and when the function
# returned, and the items' keys), to see where an event's time goes. Unset: nothing is written.
HANDOFF_LOG = os.environ.get("STREAM_HANDOFF_LOG", "")
_handoff_lock = threading.Lock()


def _log_handoff(esm: dict[str, Any], slot: int, batch: list[dict[str, Any]], handed: float, error: bool) -> None:
    if not HANDOFF_LOG:
        return
    line = {"mapping": esm["UUID"], "reader": slot, "handed": handed, "returned": time.time(), "error": error,
            "keys": [(r.get("dynamodb") or {}).get("Keys") for r in batch]}  # fmt: skip
    with _handoff_lock, open(HANDOFF_LOG, "a") as log:
        log.write(json.dumps(line) + "\n")


def _slot(record: dict[str, Any], factor: int) -> int:
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    return zlib.crc32(json.dumps(keys, sort_keys=True).encode()) % factor


def _factor(esm: dict[str, Any]) -> int:
    return max(1, int(esm.get("ParallelizationFactor") or 1))


def _is_dynamodb_stream(esm: dict[str, Any]) -> bool:
    return ":dynamodb:" in esm.get("EventSourceArn", "") and "/stream/" in esm.get("EventSourceArn", "")


def _supervise() -> bool:
    """Replaces ``lambda_svc._poll_dynamodb_streams`` on ministack's poll loop: starts the readers
    of new mappings (and of a raised ParallelizationFactor) and leaves the polling to them."""
    with _readers_lock:
        for scoped_key, esm in list(lambda_svc._esms._data.items()):
            if not _is_dynamodb_stream(esm):
                continue
            for slot in range(_factor(esm)):
                if (scoped_key, slot) in _readers and _readers[(scoped_key, slot)].is_alive():
                    continue
                reader = threading.Thread(
                    target=_read, args=(scoped_key, slot), daemon=True, name=f"stream-reader-{esm['UUID']}-{slot}"
                )
                _readers[(scoped_key, slot)] = reader
                reader.start()
    return False


def _read(scoped_key: Any, slot: int) -> None:
    account_id, region = (scoped_key[0], scoped_key[1]) if len(scoped_key) == 3 else (scoped_key[0], lambda_svc.REGION)
    lambda_svc._request_account_id.set(account_id)
    lambda_svc._request_region.set(region)
    while True:
        esm = lambda_svc._esms._data.get(scoped_key)
        if esm is None or slot >= _factor(esm):
            return  # mapping deleted, or fewer readers now
        with _appended:
            generation_before = _appended_generation()
        try:
            worked = _one_batch(scoped_key, slot, esm)
        except Exception as error:  # a reader must survive anything one batch does
            lambda_svc.logger.error("stream reader %s/%s: %s", esm.get("UUID"), slot, error)
            worked = False
        if not worked:
            with _appended:
                if _appended_generation() == generation_before:
                    _appended.wait(IDLE_WAIT_SECONDS)


_generation = [0]


def _appended_generation() -> int:
    return _generation[0]


def _emit_counting(*args: Any, **kwargs: Any) -> Any:
    result = _original_emit(*args, **kwargs)
    with _appended:
        _generation[0] += 1
        _appended.notify_all()
    return result


def _one_batch(scoped_key: Any, slot: int, esm: dict[str, Any]) -> bool:
    """Reads, filters and invokes one batch for reader ``slot``; True when the position moved."""
    if not esm.get("Enabled", True):
        return False
    if _backoff_until.get((scoped_key, slot), 0) > time.time():
        return False
    source_arn = esm["EventSourceArn"]
    table_name = source_arn.split("/stream/")[0].split("/")[-1]
    table = ddb._tables.get(table_name)
    if not table or table.get("LatestStreamArn") != source_arn:
        return False
    func_rec, _config = lambda_svc._get_func_record_for_qualifier(esm["FunctionName"], esm.get("Qualifier"))
    if func_rec is None:
        return False
    key = (scoped_key, slot)
    horizon = ddb.stream_start_position(table_name)
    if key not in _positions:
        # Where the mapping starts (ministack set it on CreateEventSourceMapping from StartingPosition).
        with lambda_svc._dynamodb_stream_positions_lock:
            start = lambda_svc._dynamodb_stream_positions.get(esm["UUID"])
        if start is None:
            start = horizon if esm.get("StartingPosition") == "TRIM_HORIZON" else ddb.stream_end_position(table_name)
        _positions[key] = start
    position = max(_positions[key], horizon)
    factor = _factor(esm)
    batch_size = int(esm.get("BatchSize") or 100)
    batch: list[dict[str, Any]] = []
    consumed = 0
    for record in ddb.stream_records_since(table_name, position, SCAN_RECORDS):
        consumed += 1
        if _slot(record, factor) == slot and lambda_svc._apply_filter_criteria([record], esm):
            batch.append(record)
            if len(batch) == batch_size:
                break
    if not batch:
        _positions[key] = position + consumed
        return consumed > 0
    handed = time.time()
    result = lambda_svc._execute_function(func_rec, {"Records": batch})
    failed = bool(result.get("error") or result.get("throttle"))
    _log_handoff(esm, slot, batch, handed, failed)
    if failed:
        esm["LastProcessingResult"] = "FAILED"
        max_age = int(esm.get("MaximumRecordAgeInSeconds") or 0)
        oldest = min(float((r.get("dynamodb") or {}).get("ApproximateCreationDateTime", time.time())) for r in batch)
        if max_age > 0 and time.time() - oldest > max_age:
            lambda_svc._send_ddb_stream_failure_record(esm, func_rec, batch, source_arn, result, "MaxRecordAgeExceeded")
            _positions[key] = position + consumed
            return True
        # Not advanced: the same batch is read again after the back-off (a throttle too, as on AWS).
        _backoff_until[key] = time.time() + lambda_svc._ESM_BACKOFF_SECONDS
        return False
    _backoff_until.pop(key, None)
    _positions[key] = position + consumed
    esm["LastProcessingResult"] = f"OK - {len(batch)} records"
    return True


_original_emit = ddb._emit_stream_event


# ministack's internals this module builds on (pinned in emulator/requirements.txt): an upgrade that
# renames one fails here, at start, rather than leaving the mappings unpolled.
_NEEDED = {
    lambda_svc: ("_poll_dynamodb_streams", "_esms", "_execute_function", "_apply_filter_criteria",
                 "_get_func_record_for_qualifier", "_send_ddb_stream_failure_record", "_ESM_BACKOFF_SECONDS",
                 "_dynamodb_stream_positions", "_dynamodb_stream_positions_lock", "_request_account_id",
                 "_request_region", "REGION", "logger"),
    ddb: ("_emit_stream_event", "_tables", "stream_start_position", "stream_end_position", "stream_records_since"),
}  # fmt: skip


def main() -> None:
    missing = [f"{module.__name__}.{name}" for module, names in _NEEDED.items() for name in names
               if not hasattr(module, name)]  # fmt: skip
    if missing:
        raise SystemExit(f"this ministack lacks {missing}: emulator/stream_pollers.py needs updating")
    ddb._emit_stream_event = _emit_counting
    lambda_svc._poll_dynamodb_streams = _supervise
    from ministack.app import main as ministack_main

    sys.argv = sys.argv[:1]
    sys.exit(ministack_main())


if __name__ == "__main__":
    main()
