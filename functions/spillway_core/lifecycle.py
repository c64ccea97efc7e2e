"""Where the sweeper finds a live event: the sweep-index partitions ("sweep shards"), one set per lane.

A live event carries ``sweepShard`` and ``dueAt`` (see ``sweeper.logic``). Its shard names its lane, so
the sweeper can judge each lane's PENDING events against that lane's own watermark: a bulk backlog
never holds back the repair of an interactive event. Within a lane, crc32 of the key (stable across
processes, unlike ``hash()``) spreads the events over ``shards`` partitions, so the index never
becomes one hot partition under a burst.
"""

from __future__ import annotations

import zlib

from spillway_core.lanes import Lane


def sweep_shard(key: str, lane: Lane, shards: int) -> str:
    """The sweep shard of the live event ``key`` in ``lane``."""
    return _shard_name(lane, zlib.crc32(key.encode()) % shards)


def sweep_shards(lane: Lane, shards: int) -> list[str]:
    """Every sweep shard of ``lane``: what the sweeper queries for it."""
    return [_shard_name(lane, n) for n in range(shards)]


def _shard_name(lane: Lane, number: int) -> str:
    return f"{lane.value}-{number:03d}"


# --- the two items of an event (see spillway_core.event_store) -----------------------------------
#
# The event record sits at its dedupe key and is written once, by the ingest. Everything that changes
# afterwards lives in a small lifecycle item at ``STATE#<dedupe key>``, created by the processor's claim
# (or by the sweeper for an event whose stream record was lost). ``#`` is outside the dedupe keys'
# alphabet (spillway_core.keys), so no event's key can be another event's lifecycle key.
LIFECYCLE_KEY_PREFIX = "STATE#"
# A live event record's own sweep entry: ``intake-<lane>-NNN``, read once per event by the sweeper.
INTAKE_SHARD_PREFIX = "intake-"
_CHECKPOINT_KEY_PREFIX = "CHECKPOINT#"


def lifecycle_key(dedupe_key: str) -> str:
    return f"{LIFECYCLE_KEY_PREFIX}{dedupe_key}"


def dedupe_key_of(lifecycle_pk: str) -> str | None:
    """The event of a lifecycle item's key; None for any other key."""
    if lifecycle_pk.startswith(LIFECYCLE_KEY_PREFIX):
        return lifecycle_pk[len(LIFECYCLE_KEY_PREFIX) :]
    return None


def intake_shard(key: str, lane: Lane, shards: int) -> str:
    """The intake shard of a live event record: where the sweeper checks that its processing began."""
    return f"{INTAKE_SHARD_PREFIX}{sweep_shard(key, lane, shards)}"


def intake_shards(lane: Lane, shards: int) -> list[str]:
    return [f"{INTAKE_SHARD_PREFIX}{shard}" for shard in sweep_shards(lane, shards)]


def lifecycle_shard_of(intake: str) -> str:
    """The sweep shard of an event's lifecycle item: its intake shard's lane and number."""
    return intake.removeprefix(INTAKE_SHARD_PREFIX)


def checkpoint_key(lane: Lane) -> str:
    """The item holding how far the sweeper has checked each of ``lane``'s intake shards."""
    return f"{_CHECKPOINT_KEY_PREFIX}{INTAKE_SHARD_PREFIX}{lane.value}"
