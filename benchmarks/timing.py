"""How every benchmark here is timed, and on what.

* :func:`set_threads` -- one thread count for every contender: ``threadpoolctl`` limits on the BLAS and
  OpenMP pools already loaded (NumPy's OpenBLAS, PyTorch's OpenMP/MKL) and ``torch.set_num_threads``.
  ``python -m benchmarks`` also sets ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS``
  before NumPy is imported, so the count holds when threadpoolctl is not installed.
* :func:`interleaved` -- contenders run round-robin (one call each per round, the starting contender
  rotating), after untimed warm-up calls, so that drifts of a shared machine hit all of them alike;
  every call is timed on the wall clock and on the process's CPU clock.
* :func:`ratio` -- the median over rounds of ``t_other / t_reference`` measured in the same round: a
  paired statistic, more robust on a busy machine than a ratio of medians.
* :func:`machine` -- CPU model (``/proc/cpuinfo``), cores, BLAS, thread pools and versions.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import time

import numpy as np

from refimpl.run import latency

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT",
              "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")   # the last two choose and tune OpenBLAS's kernels


def set_threads(n: int) -> dict:
    """Limit every thread pool to ``n`` threads; returns what was set (for the report).

    threadpoolctl only reaches libraries already loaded, so NumPy's and SciPy's OpenBLAS and PyTorch
    are imported first (a limit set before ``import numpy`` is silently lost: measured, a batch-16
    forward pass then ran on two spinning OpenBLAS threads at 60x the CPU time)."""
    import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS)
    done = {"threads": n, "env": {k: os.environ.get(k) for k in THREAD_ENV}}
    try:
        import torch
        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    except ImportError:
        done["torch"] = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        loaded_with = os.environ.get("OPENBLAS_NUM_THREADS")
        if loaded_with is not None and loaded_with != str(n):
            raise RuntimeError(f"threads: {n} requested, but NumPy's OpenBLAS was loaded with OPENBLAS_NUM_THREADS="
                               f"{loaded_with} and only threadpoolctl can change that now: pip install threadpoolctl "
                               "(or pip install -e '.[bench]')") from None
        done["threadpoolctl"] = False
        return done
    threadpool_limits(n)
    done["threadpoolctl"] = True
    return done


def thread_pools() -> list[dict]:
    """``threadpoolctl.threadpool_info()`` reduced to library, API, version and threads (``[]`` without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "prefix", "version", "num_threads", "architecture", "threading_layer")
    return [{k: p.get(k) for k in keys if p.get(k) is not None} for p in threadpool_info()]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def interleaved(contenders: dict, repeats: int, warmup: int = 2) -> dict:
    """``{clock: {name: [seconds per call]}}`` over ``repeats`` rounds, each round calling every contender
    once (:func:`refimpl.run.latency.interleaved`), on two clocks: ``wall`` (``time.perf_counter``) and ``cpu``
    (``time.process_time``, CPU time of all the process's threads). With one thread, CPU time is the robust one
    on a shared machine: it does not count the time the process waits for a core (a wall-clock median over 15
    calls of 50 ms moved by 2x between runs under a load of 5 on 2 cores; CPU time by a few per cent). With
    several threads it also counts threads spinning at barriers, so use wall time there."""
    return latency.interleaved(contenders, repeats, warmup, CLOCKS)


summary = latency.summary       # median and interquartile range (seconds) of one contender's times


def ratio(times: dict, other: str, reference: str) -> float:
    """Median over rounds of ``t_other / t_reference`` (> 1: the reference is faster)."""
    return statistics.median(a / b for a, b in zip(times[other], times[reference]))


def fit_exponent(xs, ys) -> float:
    """Least-squares slope of ``log y`` on ``log x`` (the exponent p of ``y ~ x^p``)."""
    return float(np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    """NumPy's BLAS from ``numpy.show_config`` (NumPy >= 1.26 returns a dict)."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:   # older NumPy: no dict mode
        return "unknown"


def machine() -> dict:
    """What the numbers were measured on."""
    info = {"cpu": _cpu_model(), "logical_cpus": os.cpu_count(),
            "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "numpy_blas": _blas(),
            "thread_pools": thread_pools()}
    for dist in ("scipy", "autograd", "torch", "threadpoolctl"):
        try:
            info[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info[dist] = None
    try:
        import torch
        info["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "other"
    except ImportError:
        pass
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info
