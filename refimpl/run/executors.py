"""One executor interface for every sweep of the project: the contraction and support-recovery experiments
(``experiments/contraction.py``, ``experiments/support.py``) and the experiment tables (``experiments/uci.py``,
``experiments/classification.py``).

:func:`make_executor` yields a ``concurrent.futures.Executor``: ``serial`` (each task runs at submission, in this
process: debugging, and the scripts' default), ``process`` (``workers`` local processes) or ``dask`` (the executor
of a ``dask.distributed.Client`` connected to a scheduler address, so a sweep spreads over a cluster; dask is an
optional extra). A task is a picklable call of a module-level function; results come back through futures.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import importlib

EXECUTORS = ("serial", "process", "dask")
NO_SCHEDULER = "--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)"
NO_DASK = ("--executor dask needs dask.distributed, which is not a dependency of this package; install it with: "
           "pip install 'dask[distributed]'")


class SerialExecutor(cf.Executor):
    """Runs each task at submission, in this process (``--executor serial``)."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 -- delivered through the future, as a pool would
            future.set_exception(exc)
        return future


def sweep(fn, tasks: list, executor, report=None) -> list:
    """``[fn(task) for task in tasks]`` through ``executor`` (:func:`make_executor`), in task
    order; ``report(task, result)`` as each finishes. Serially, one task at a time, so that an interrupted fit stops
    the sweep there (its rerun resumes it); in a pool or on a dask cluster, every task at once."""
    if isinstance(executor, SerialExecutor):
        results = []
        for task in tasks:
            results.append(fn(task))
            if report is not None:
                report(task, results[-1])
        return results
    futures = {executor.submit(fn, task): i for i, task in enumerate(tasks)}
    results = [None] * len(tasks)
    for future in cf.as_completed(futures):
        i = futures[future]
        results[i] = future.result()
        if report is not None:
            report(tasks[i], results[i])
    return results


@contextlib.contextmanager
def make_executor(kind: str = "process", workers: int | None = None, scheduler: str | None = None):
    """A ``concurrent.futures.Executor``: ``serial``, ``process`` (``workers`` processes) or ``dask``
    (the executor of a ``dask.distributed.Client`` connected to ``scheduler``; dask is optional)."""
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "process":
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
    elif kind == "dask":
        if not scheduler:
            raise ValueError(f"scheduler: {NO_SCHEDULER}")
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError(NO_DASK) from None
        with Client(scheduler) as client:
            yield client.get_executor()
    else:
        raise ValueError(f"executor: unknown {kind!r}; choose 'process', 'serial' or 'dask'")


def add_executor_arguments(ap, default: str = "process"):
    """``--executor``, ``--workers``, ``--scheduler``: the same three options on every command that sweeps."""
    ap.add_argument("--executor", choices=EXECUTORS, default=default,
                    help="serial (this process), process (local worker processes) or dask (a dask.distributed "
                         "cluster, with --scheduler)")
    ap.add_argument("--workers", type=_process_count, default=None,
                    help="worker processes (--executor process; default: CPUs)")
    ap.add_argument("--scheduler", default=None, help="dask.distributed scheduler address (with --executor dask)")


def _process_count(text: str) -> int:
    """``--workers``: a whole number >= 1 (argparse reports anything else as one line)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a process count >= 1, got {text!r}")
    return value


def executor_from_args(ap, args):
    """:func:`make_executor` of the parsed ``--executor``, ``--workers``, ``--scheduler``; a combination that cannot
    run (dask without ``--scheduler`` or without dask installed) is ``ap.error``: one line, exit status 2."""
    if args.executor == "dask":
        if not args.scheduler:
            ap.error(NO_SCHEDULER)
        try:
            importlib.import_module("distributed")
        except ImportError:
            ap.error(NO_DASK)
    return make_executor(args.executor, args.workers, args.scheduler)
