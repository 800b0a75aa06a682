"""Checkpoints: everything a run needs to continue exactly where it stopped, written atomically.

A checkpoint is one ``.npz`` file holding the parameters (``p.<name>``), the optimiser state
(``o.<name>``), the best parameters so far (``b.<name>``), the current epoch's permutation
(``perm``) and a JSON record ``meta`` (format version, model and training configuration, position in
the run, the random generator's state, epoch accumulators, early-stopping state, history).

Writing goes to a temporary file in the same directory, is flushed to disk, then renamed over the old
checkpoint (``os.replace`` is atomic on POSIX): a crash mid-write leaves the previous checkpoint
intact. Reading refuses corrupt, truncated, foreign or mismatched files with an error that says what
to do; a run never restarts silently.
"""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass

import numpy as np

FORMAT = "refimpl-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    params: dict
    opt_state: dict
    best_params: dict
    perm: np.ndarray
    meta: dict


def _atomic_write(path: str, write):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    try:  # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:    # someone else's live process
        return True
    return True


def remove_stale_temporaries(directory: str) -> list[str]:
    """Remove the temporary files ``.<name>.tmp-<pid>`` of :func:`_atomic_write` that a process killed mid-write
    left in ``directory`` (its pid is no longer alive, or it is this process's own); returns their paths. The
    file they were to replace is intact."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = re.fullmatch(r"\..+\.tmp-(\d+)", name)
        if m and (int(m.group(1)) == os.getpid() or not _pid_alive(int(m.group(1)))):
            path = os.path.join(directory, name)
            try:
                os.remove(path)
                removed.append(path)
            except OSError:
                pass
    return removed


def atomic_write_bytes(path: str, data: bytes):
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    _atomic_write(path, lambda f: f.write(data))


def save_checkpoint(path: str, *, params: dict, opt_state: dict, best_params: dict, perm, meta: dict):
    """Write a checkpoint atomically. Arrays are host NumPy arrays; ``meta`` must be JSON-serialisable."""
    arrays = {f"p.{k}": v for k, v in params.items()}
    arrays.update({f"o.{k}": v for k, v in opt_state.items()})
    arrays.update({f"b.{k}": v for k, v in best_params.items()})
    arrays["perm"] = np.asarray(perm, dtype=np.int64)
    arrays["meta"] = np.frombuffer(json.dumps({"format": FORMAT, "version": VERSION, **meta}).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; raise a clear error for anything else."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint: {path} does not exist; start without --resume or point --out at the run's directory")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(bytes(data.pop("meta")).decode())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ValueError(f"checkpoint: {path} is corrupt or truncated ({type(exc).__name__}: {exc}); "
                         "delete it to start afresh, or restore a good copy") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"checkpoint: {path} is not a refimpl checkpoint of format version {VERSION} "
                         f"(found {meta.get('format')!r} version {meta.get('version')!r})")
    pick = lambda prefix: {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}  # noqa: E731
    return Checkpoint(pick("p."), pick("o."), pick("b."), data.get("perm", np.zeros(0, np.int64)), meta)


def check_compatible(ckpt: Checkpoint, model_config: dict, train_config: dict, path: str):
    """Refuse to resume a checkpoint written for another model or another training configuration."""
    for label, saved, current in (("model", ckpt.meta.get("model_config"), model_config),
                                  ("training", ckpt.meta.get("train_config"), train_config)):
        saved_n, current_n = json.loads(json.dumps(saved)), json.loads(json.dumps(current))
        if saved_n != current_n:
            keys = sorted(k for k in set(saved_n or {}) | set(current_n) if (saved_n or {}).get(k) != current_n.get(k))
            raise ValueError(f"checkpoint: {path} was written with a different {label} configuration "
                             f"(differs in {keys}); resume with the same options or use a new --out directory")
