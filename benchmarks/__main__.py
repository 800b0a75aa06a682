"""``python -m benchmarks``: see ``benchmarks/run.py``.

The thread count goes into the environment before anything imports NumPy or PyTorch: OpenBLAS, MKL
and OpenMP read it when they load (``threadpoolctl`` then re-applies it in ``timing.set_threads``).
Idle pool threads are told to sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE`` for PyTorch's OpenMP,
``OPENBLAS_THREAD_TIMEOUT=4`` for NumPy's OpenBLAS) unless the caller set these: contenders share one
process, and on a machine shared with other jobs a spinning pool of one contender takes the cores of
the next (measured with 2 threads under a load of 5: PyTorch's step took 750-860 ms instead of 35-80 ms).
They change nothing with one thread.
"""
import os
import sys


def _threads(argv) -> str:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = _threads(sys.argv[1:])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .run import main  # noqa: E402

main()
