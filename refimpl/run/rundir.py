"""Run directories: what ``train``, ``evaluate`` and ``prune`` may do to ``--out``.

* **A usable path.** :func:`check_out` refuses an empty path, a path that is a file or lies under one, and a
  directory this process cannot write in, before any data is loaded.
* **One process at a time.** :func:`locked` holds an exclusive ``fcntl.flock`` on ``OUT/.lock`` while a command
  works in the directory; a second process is refused at once, not queued. The kernel releases the lock when the
  process ends, however it ends (SIGKILL included), so a left-over ``.lock`` file never blocks a later run.
* **No silent overwrite.** A directory :func:`holds_run` (a checkpoint or any result of a trained run) is not
  trained into afresh: ``train`` continues it with ``--resume`` or replaces it with ``--overwrite``. Starting
  afresh first removes every file of the old run (:func:`remove_run_files`), so no result of the old run sits
  beside the new one.
* **No debris.** Temporary files of an atomic write cut short by SIGKILL are removed on the next start
  (:func:`refimpl.run.checkpoint.remove_stale_temporaries`).

Errors are ``ValueError`` whose message names the directory, what is wrong and what to do.
"""
from __future__ import annotations

import glob
import os
from contextlib import contextmanager

from .checkpoint import remove_stale_temporaries

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None

LOCK = ".lock"
#: Every file of a run (docs/training.md, "The output directory"), besides the plots ``*.png``.
RUN_FILES = ("run.json", "history.jsonl", "checkpoint.npz", "metrics.json", "evaluate.json", "prune.json",
             "compressed.npz", "front.json")
#: The sub-directory of a run's fine-tuning (``refimpl finetune``), a run directory of its own.
FINETUNE_DIR = "finetune"
#: A directory holding one of these holds a trained run (``run.json`` and ``history.jsonl`` alone are a run
#: stopped before its first checkpoint: nothing to continue).
TRAINED = ("checkpoint.npz", "metrics.json", "evaluate.json", "prune.json", "compressed.npz")


def check_out(out_dir, name: str = "--out", write: bool = True) -> str:
    """``out_dir`` as a path, after checking that it is, or can become, a directory this process writes in (only
    that it is not a file if not ``write``). Creates nothing. ``name``: the option the messages name."""
    if not isinstance(out_dir, (str, os.PathLike)) or not os.fspath(out_dir).strip():
        raise ValueError(f"out: expected a directory path, got {out_dir!r}; give one, e.g. {name} out/run")
    out_dir = os.fspath(out_dir)
    path = probe = os.path.abspath(out_dir)
    while not os.path.lexists(probe):      # the nearest ancestor that exists
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        where = "is a file" if probe == path else f"lies under {probe}, which is a file"
        raise ValueError(f"out: {out_dir} {where}, not a directory; choose another {name}")
    if write and not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"out: cannot write in {probe} (permission denied); choose a writable {name}")
    return out_dir


def make_dir(out_dir, name: str = "--out") -> str:
    """:func:`check_out`, then create the directory."""
    out_dir = check_out(out_dir, name)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out: cannot create {out_dir} ({exc.strerror}); choose a writable {name}") from None
    return out_dir


@contextmanager
def locked(out_dir: str, command: str):
    """Hold ``OUT/.lock`` exclusively while the body runs (the directory must exist); refuse at once, with the
    holder's command and pid, if another process holds it. Removes stale temporary files once it holds it."""
    path = os.path.join(out_dir, LOCK)
    try:
        f = open(path, "a+")
    except OSError as exc:
        raise ValueError(f"out: cannot write in {out_dir} ({exc.strerror}); choose a writable --out") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise ValueError(f"out: {out_dir} is in use by {holder}; wait until it ends, or choose another "
                                 "--out") from None
        f.seek(0)
        f.truncate()
        f.write(f"refimpl {command} (pid {os.getpid()})\n")
        f.flush()
        remove_stale_temporaries(out_dir)
        yield out_dir
    finally:
        f.close()   # releases the lock


def holds_run(out_dir: str) -> bool:
    return any(os.path.lexists(os.path.join(out_dir, name)) for name in TRAINED)


def start_afresh(out_dir: str, overwrite: bool):
    """Before training from scratch in ``out_dir`` (held by :func:`locked`): refuse a directory that holds a
    trained run unless ``overwrite``; then remove every file of the old run."""
    if holds_run(out_dir) and not overwrite:
        found = [name for name in TRAINED if os.path.lexists(os.path.join(out_dir, name))]
        raise ValueError(f"out: {out_dir} holds a trained run ({', '.join(found)}); continue it with --resume, "
                         "replace it with --overwrite, or choose another --out")
    remove_run_files(out_dir)


def remove_run_files(out_dir: str) -> list[str]:
    """Remove the files of a run (:data:`RUN_FILES`, ``*.png``) from ``out_dir``, and those of its fine-tuning in
    ``out_dir/finetune`` (the directory and its ``.lock`` stay); returns their paths."""
    paths = [os.path.join(out_dir, name) for name in RUN_FILES] + sorted(glob.glob(os.path.join(out_dir, "*.png")))
    check_files(out_dir, [os.path.basename(p) for p in paths])
    removed = [p for p in paths if os.path.lexists(p)]
    for p in removed:
        os.remove(p)
    sub = os.path.join(out_dir, FINETUNE_DIR)
    if os.path.isdir(sub) and not os.path.islink(sub):
        removed += remove_run_files(sub)
    return removed


def check_files(out_dir: str, names):
    """Refuse if any of ``names`` in ``out_dir``, files a command reads or writes, is a directory."""
    for name in names:
        path = os.path.join(out_dir, name)
        if os.path.isdir(path):
            raise ValueError(f"out: {path} is a directory, but a run keeps a file there; move or remove the "
                             "directory, then rerun")
