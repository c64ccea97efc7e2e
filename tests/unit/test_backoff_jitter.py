"""The retry delay is full jitter: spread over the whole range below the ceiling, short delays included."""

from __future__ import annotations

import random

from processor.logic import backoff_ms


def test_full_jitter_spreads_delays_over_the_whole_range_including_short_ones() -> None:
    rng = random.Random(11)
    for attempts in (1, 3, 6):
        ceiling_ms = 2_000 * 2 ** (attempts - 1)
        delays = [backoff_ms(attempts, 2.0, 900.0, rng) for _ in range(400)]
        assert len(set(delays)) > 350  # many distinct delays, not a handful of steps
        assert min(delays) < ceiling_ms * 0.05  # short delays happen: the herd is spread from the start
        assert max(delays) > ceiling_ms * 0.95
        # Roughly uniform: each quarter of the range gets its share.
        quarters = [sum(1 for d in delays if q * ceiling_ms / 4 <= d < (q + 1) * ceiling_ms / 4) for q in range(4)]
        assert min(quarters) > 60, quarters


def test_the_ceiling_doubles_from_the_base_and_stops_at_the_cap() -> None:
    top = random.Random(0)
    top.uniform = lambda a, b: b  # type: ignore[method-assign]
    assert [backoff_ms(a, 2.0, 900.0, top) for a in (1, 2, 3, 4, 9, 10, 30)] == [
        2_000,
        4_000,
        8_000,
        16_000,
        512_000,
        900_000,
        900_000,
    ]
