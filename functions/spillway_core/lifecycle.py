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
