"""Sweep shards: per lane, spread, and the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

from spillway_core.lanes import Lane
from spillway_core.lifecycle import sweep_shard, sweep_shards


def test_a_lanes_events_spread_over_exactly_that_lanes_shards() -> None:
    for lane in Lane:
        used = {sweep_shard(f"emailbison:app.example:7:EMAIL_SENT:{n}", lane, 16) for n in range(2000)}
        assert used == set(sweep_shards(lane, 16))
    assert set(sweep_shards(Lane.BULK, 16)).isdisjoint(sweep_shards(Lane.INTERACTIVE, 16))


def test_an_events_shard_is_the_same_in_another_process() -> None:
    """Ingest writes the shard and the sweeper (another process, another hash seed) must query it."""
    keys = [
        ("emailbison:app.example:7:EMAIL_SENT:1", Lane.BULK),
        ("emailbison:app.example:7:LEAD_REPLIED:99", Lane.INTERACTIVE),
    ]
    here = [sweep_shard(key, lane, 16) for key, lane in keys]
    code = (
        "from spillway_core.lanes import Lane; from spillway_core.lifecycle import sweep_shard; "
        f"print(' '.join(sweep_shard(k, Lane(l), 16) for k, l in {[(k, lane.value) for k, lane in keys]!r}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)}
    there = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert there.stdout.split() == here
    assert here == ["bulk-008", "interactive-005"]  # pinned: a change of formula moves every live event
