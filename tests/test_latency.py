"""Latency utilities: a fast function against a deliberately slow one; structure of the table."""
from __future__ import annotations

import time

import numpy as np
import pytest

from refimpl.run import latency
from refimpl.run.latency import latency_table, speedup, time_callable

SLOW_S = 2e-3  # time.sleep sleeps at least this long; a no-op takes microseconds


def fast(x):
    return x


def slow(x):
    time.sleep(SLOW_S)
    return x


def test_time_callable():
    calls = []
    out = time_callable(lambda: calls.append(1), repeats=7, warmup=2)
    assert len(calls) == 9 and out["repeats"] == 7
    assert set(out) == {"median_s", "iqr_s", "repeats"} and out["iqr_s"] >= 0
    assert time_callable(lambda: slow(None), repeats=3, warmup=0)["median_s"] >= SLOW_S  # sleep is a lower bound


def test_latency_table_order_and_structure():
    seen = []

    def make_input(batch):
        seen.append(batch)
        return np.zeros((batch, 3))

    order = []
    fns = {"slow": lambda x: order.append("slow") or slow(x), "fast": lambda x: order.append("fast") or fast(x)}
    rows = latency_table(fns, make_input, batch_sizes=[1, 8], repeats=4, warmup=1)
    assert seen == [1, 8]  # one shared input per batch size
    assert [(r["batch_size"], r["name"]) for r in rows] == [(1, "slow"), (1, "fast"), (8, "slow"), (8, "fast")]
    assert all(set(r) == {"batch_size", "name", "median_s", "iqr_s", "repeats", "speedup"} for r in rows)
    assert all(r["repeats"] == 4 for r in rows)
    # round-robin: warmup pair, then every round runs both, the first contender alternating
    per_batch = order[:10]
    assert per_batch[:2] == ["slow", "fast"]
    assert [sorted(per_batch[i:i + 2]) for i in range(2, 10, 2)] == [["fast", "slow"]] * 4
    assert per_batch[2:10:2] == ["slow", "fast", "slow", "fast"]
    by = {(r["batch_size"], r["name"]): r for r in rows}
    for b in (1, 8):
        assert by[b, "slow"]["median_s"] >= SLOW_S > by[b, "fast"]["median_s"]  # sleep is a lower bound
        assert by[b, "slow"]["speedup"] == 1.0 and by[b, "fast"]["speedup"] > 1.0  # reference = first contender
    # speedup against another reference
    again = speedup(rows, "fast")
    assert all(r["speedup"] == by[r["batch_size"], "fast"]["median_s"] / r["median_s"] for r in again)


def test_bad_arguments():
    with pytest.raises(ValueError, match="forward_fns"):
        latency_table({}, np.zeros, [1])
    with pytest.raises(ValueError, match="reference"):
        latency_table({"a": fast}, np.zeros, [1], repeats=1, reference="b")
    with pytest.raises(ValueError, match="repeats"):
        time_callable(fast, repeats=0)
    with pytest.raises(ValueError, match="batch_sizes"):
        latency_table({"a": fast}, np.zeros, [0])


def test_timer_is_the_clock_used():
    """A counting clock: each timed call reads it twice, so every interval is exactly one tick."""
    ticks = iter(range(10**6))

    def clock():
        return float(next(ticks))

    assert time_callable(lambda: None, repeats=5, warmup=2, timer=clock) == {"median_s": 1.0, "iqr_s": 0.0, "repeats": 5}
    rows = latency_table({"a": fast, "b": fast}, np.zeros, [2], repeats=3, warmup=0, timer=clock)
    assert all(r["median_s"] == 1.0 and r["speedup"] == 1.0 for r in rows)
    # CPU time does not advance while sleeping: the sleeper is no slower than a no-op on that clock
    assert time_callable(lambda: slow(None), repeats=3, warmup=0, timer=time.process_time)["median_s"] < SLOW_S / 2
    with pytest.raises(ValueError, match="^timer:"):
        time_callable(lambda: None, timer=0.0)
    with pytest.raises(ValueError, match="^timer:"):
        latency_table({"a": fast}, np.zeros, [1], timer="perf_counter")


def test_interleaved_rotates_and_reads_every_clock_around_each_call():
    """One loop for the latency tables and the benchmarks: the call order rotates by one per round, and each
    clock is read just before and just after its call (so a call that advances a fake clock by k shows k)."""
    calls, ticks = [], {"a": 0.0, "b": 0.0}

    def clock(key):
        return lambda: ticks[key]

    def contender(name, cost):
        def run():
            calls.append(name)
            ticks["a"] += cost
            ticks["b"] += 10 * cost
        return run

    fns = {"x": contender("x", 1.0), "y": contender("y", 2.0), "z": contender("z", 3.0)}
    times = latency.interleaved(fns, repeats=3, warmup=1, clocks={"a": clock("a"), "b": clock("b")})
    assert calls == ["x", "y", "z"] + ["x", "y", "z", "y", "z", "x", "z", "x", "y"]
    assert times == {"a": {"x": [1.0] * 3, "y": [2.0] * 3, "z": [3.0] * 3},
                     "b": {"x": [10.0] * 3, "y": [20.0] * 3, "z": [30.0] * 3}}
    with pytest.raises(ValueError, match="timer"):
        latency.interleaved(fns, repeats=1, clocks={"a": 1.0})
