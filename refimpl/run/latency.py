"""Wall-clock latency of forward passes: medians over repeats, contenders interleaved (docs/spec.md §7,
"dense vs compressed, same batch sizes, medians over repeats").

* :func:`time_callable` -- median and interquartile range of ``fn()`` over ``repeats`` calls.
* :func:`latency_table` -- several contenders (e.g. ``{"dense": f, "compressed": g}``) on the same
  inputs for each batch size. Within each repeat every contender runs once, round-robin, starting
  with a different contender each repeat, so slow drifts of the machine (clock boost, other jobs,
  thermal state) hit all contenders alike instead of whichever was timed last.
* :func:`speedup` -- ``median(reference) / median(contender)`` per batch size.
* :func:`interleaved` -- the round-robin loop itself, on any set of clocks: what :func:`latency_table` and the
  benchmarks (``benchmarks/timing.py``, wall and CPU time at once) both time with.

Timing uses ``time.perf_counter`` unless a ``timer`` is given: ``time.process_time`` (CPU time of the
process) does not count the time spent waiting for a core, which makes single-threaded medians
reproducible on a machine shared with other jobs (it would count threads spinning at barriers, so it
is no measure of multi-threaded latency). On asynchronous devices (CuPy) ``fn`` must block until its
result is ready (e.g. end with ``cupy.cuda.get_current_stream().synchronize()`` or a ``to_numpy``),
otherwise only the launch is timed. What this is not: a profiler or a statistical benchmark suite.
"""
from __future__ import annotations

import time
from numbers import Integral

import numpy as np


def _check_count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_timer(timer):
    if not callable(timer):
        raise ValueError(f"timer: expected a zero-argument clock in seconds such as time.perf_counter, got {timer!r}")
    return timer


def interleaved(contenders: dict, repeats: int, warmup: int = 2, clocks=None) -> dict:
    """``{clock: {name: [seconds per call]}}``: ``warmup`` untimed rounds, then ``repeats`` rounds in which every
    contender ``contenders[name]()`` runs once, the first one rotating from round to round; each call is read on
    every clock of ``clocks`` (``{name: zero-argument clock in seconds}``, default ``{"wall": time.perf_counter}``),
    the clocks read in order before the call and in reverse order after it."""
    clocks = {"wall": time.perf_counter} if clocks is None else {k: _check_timer(c) for k, c in clocks.items()}
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    times = {clock: {name: [] for name in names} for clock in clocks}
    readers = list(clocks.items())
    for r in range(repeats):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            start = [clock() for _, clock in readers]
            contenders[name]()
            end = [clock() for _, clock in reversed(readers)][::-1]
            for (key, _), t0, t1 in zip(readers, start, end):
                times[key][name].append(t1 - t0)
    return times


def summary(times) -> dict:
    """``median_s``, ``iqr_s`` (75th minus 25th percentile, linear interpolation) and ``repeats``."""
    q25, q50, q75 = np.percentile(np.asarray(times, dtype=float), [25, 50, 75])
    return {"median_s": float(q50), "iqr_s": float(q75 - q25), "repeats": len(times)}


def time_callable(fn, repeats: int = 20, warmup: int = 3, timer=time.perf_counter) -> dict:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed calls on the clock ``timer``.

    Returns ``{"median_s", "iqr_s", "repeats"}`` (seconds per call)."""
    if not callable(fn):
        raise ValueError(f"fn: expected a callable taking no arguments, got {type(fn).__name__}")
    repeats, warmup = _check_count("repeats", repeats, 1), _check_count("warmup", warmup, 0)
    return summary(interleaved({"fn": fn}, repeats, warmup, {"t": timer})["t"]["fn"])


def latency_table(forward_fns: dict, make_input, batch_sizes, repeats: int = 20, warmup: int = 3,
                  reference: str | None = None, timer=time.perf_counter) -> list[dict]:
    """Median latency of every contender ``forward_fns[name](x)`` on ``x = make_input(batch)``.

    For each batch size, one input is made and shared by all contenders; each contender runs
    ``warmup`` untimed calls, then ``repeats`` rounds in which each contender runs once (the starting
    contender rotates each round). Returns one row per (batch size, contender)::

        {"batch_size", "name", "median_s", "iqr_s", "repeats", "speedup"}

    with ``speedup = median_s(reference) / median_s(name)`` at the same batch size (> 1: faster
    than the reference); ``reference`` defaults to the first contender. ``timer`` is the clock
    (``time.perf_counter`` by default; see the module docstring).
    """
    if not isinstance(forward_fns, dict) or not forward_fns or not all(callable(f) for f in forward_fns.values()):
        raise ValueError("forward_fns: expected a non-empty dict name -> function(x), e.g. {'dense': f, 'compressed': g}")
    names = list(forward_fns)
    reference = names[0] if reference is None else reference
    if reference not in forward_fns:
        raise ValueError(f"reference: {reference!r} is not one of the contenders {names}")
    batch_sizes = [_check_count("batch_sizes", b, 1) for b in batch_sizes]
    repeats, warmup = _check_count("repeats", repeats, 1), _check_count("warmup", warmup, 0)
    timer = _check_timer(timer)
    rows = []
    for batch in batch_sizes:
        x = make_input(batch)
        calls = {name: (lambda f=forward_fns[name]: f(x)) for name in names}
        times = interleaved(calls, repeats, warmup, {"t": timer})["t"]
        rows.extend({"batch_size": batch, "name": name, **summary(times[name])} for name in names)
    return speedup(rows, reference)


def speedup(rows: list[dict], reference: str) -> list[dict]:
    """Copies of ``rows`` with ``speedup = median_s(reference) / median_s(row)`` per batch size."""
    ref = {r["batch_size"]: r["median_s"] for r in rows if r["name"] == reference}
    missing = sorted({r["batch_size"] for r in rows} - set(ref))
    if missing:
        raise ValueError(f"reference: no {reference!r} row for batch sizes {missing}")
    return [{**r, "speedup": ref[r["batch_size"]] / r["median_s"] if r["median_s"] > 0 else float("inf")}
            for r in rows]
