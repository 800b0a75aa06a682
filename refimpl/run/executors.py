"""One executor interface for every sweep of the project: the contraction and support-recovery experiments
(``experiments/contraction.py``, ``experiments/support.py``) and the experiment tables (``experiments/uci.py``,
``experiments/classification.py``).

:func:`make_executor` yields a ``concurrent.futures.Executor``: ``serial`` (each task runs at submission, in this
process: debugging, and the scripts' default), ``process`` (``workers`` local processes) or ``dask`` (the executor
of a ``dask.distributed.Client`` connected to a scheduler address, so a sweep spreads over a cluster; dask is an
optional extra). A task is a picklable call of a module-level function; results come back through futures.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib

EXECUTORS = ("serial", "process", "dask")


class SerialExecutor(cf.Executor):
    """Runs each task at submission, in this process (``--executor serial``)."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 -- delivered through the future, as a pool would
            future.set_exception(exc)
        return future


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
            raise ValueError("scheduler: --executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("--executor dask needs dask.distributed, which is not a dependency of this "
                               "package; install it with: pip install 'dask[distributed]'") from None
        with Client(scheduler) as client:
            yield client.get_executor()
    else:
        raise ValueError(f"executor: unknown {kind!r}; choose 'process', 'serial' or 'dask'")


def add_executor_arguments(ap, default: str = "process"):
    """``--executor``, ``--workers``, ``--scheduler``: the same three options on every command that sweeps."""
    ap.add_argument("--executor", choices=EXECUTORS, default=default,
                    help="serial (this process), process (local worker processes) or dask (a dask.distributed "
                         "cluster, with --scheduler)")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (--executor process; default: CPUs)")
    ap.add_argument("--scheduler", default=None, help="dask.distributed scheduler address (with --executor dask)")
