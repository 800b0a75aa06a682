"""The training loop: minibatch stochastic optimisation of -ELBO/N, with validation-based model
selection, early stopping, per-epoch history, atomic checkpoints and exact resume.

Reproducibility. One ``numpy.random.Generator`` (seeded by ``config.seed``) draws, in order, the
initial parameters, then for every epoch a permutation of the training set and for every step the
noise of ``config.train_samples`` Monte Carlo samples. Evaluation draws from generators seeded by
``(seed, epoch)``, so it never disturbs the training stream. A checkpoint stores the generator state
and the position in the epoch: resuming replays exactly the numbers an uninterrupted run would have
drawn, so the final parameters are bit-identical.

Signals. SIGINT and SIGTERM set a flag; the loop finishes the current step, writes a checkpoint (at
that step, mid-epoch if need be) and returns with ``interrupted=True``. SIGKILL cannot be caught:
the run then resumes from the last checkpoint written every ``checkpoint_every`` epochs.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import optim
from .checkpoint import Checkpoint, check_compatible, load_checkpoint, save_checkpoint
from .evaluate import evaluate
from .stable import sigmoid

CHECKPOINT = "checkpoint.npz"
HISTORY = "history.jsonl"


@dataclass
class TrainConfig:
    """Training options. The optimiser's defaults are the authors' (Adam 1e-3, batch 1024, no clipping, no
    annealing); the rest of their set-up is ``refimpl.presets.PRESETS["authors"]`` (docs/training.md)."""

    epochs: int = 100
    batch_size: int = 1024
    optimizer: str = "adam"                 # "adam" | "sgd"
    lr: float = 1e-3
    momentum: float = 0.9                   # sgd only
    lr_schedule: str = "constant"           # "constant" | "step" | "cosine"
    lr_decay_epochs: tuple = ()             # step schedule: multiply by lr_decay_factor at these epochs
    lr_decay_factor: float = 0.1
    clip_norm: float | None = None          # global gradient-norm clipping, off by default
    kl_anneal_epochs: int = 0               # linear KL annealing over this many epochs, off by default
    lr_mult_theta: float = 1.0              # per-group learning-rate multipliers (SPEC §7 knobs)
    lr_mult_scales: float = 1.0
    lr_mult_weights: float = 1.0
    theta_init: float | None = None         # override the authors' logit(0.99) initial inclusion logit
    train_samples: int = 1                  # Monte Carlo samples per step
    eval_samples: int = 10                  # Monte Carlo samples for validation predictions
    eval_batch_size: int = 4096
    patience: int | None = None             # early stopping on validation NLL (epochs without improvement)
    checkpoint_every: int = 1               # epochs
    seed: int = 0
    predictive_average: str = "probs"       # "probs" (default) | "logits" (the authors)
    fused: bool = True                      # the fused NumPy step (refimpl/fused.py); False: the reference path

    def __post_init__(self):
        ints = {"epochs": 1, "batch_size": 1, "train_samples": 1, "eval_samples": 1, "eval_batch_size": 1,
                "checkpoint_every": 1, "kl_anneal_epochs": 0, "seed": 0}
        for name, low in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {v!r}")
        for name in ("lr", "lr_mult_theta", "lr_mult_scales", "lr_mult_weights", "lr_decay_factor"):
            v = getattr(self, name)
            is_num = isinstance(v, (int, float)) and not isinstance(v, bool)
            low_ok = is_num and (v >= 0 if name.startswith("lr_mult") else v > 0)   # a multiplier of 0 freezes its group
            if not (is_num and math.isfinite(v) and low_ok):
                raise ValueError(f"{name}: expected a finite number {'>= 0' if name.startswith('lr_mult') else '> 0'}, got {v!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer: unknown {self.optimizer!r}; choose 'adam' or 'sgd'")
        if self.lr_schedule not in ("constant", "step", "cosine"):
            raise ValueError(f"lr_schedule: unknown {self.lr_schedule!r}; choose 'constant', 'step' or 'cosine'")
        if self.predictive_average not in ("probs", "logits"):
            raise ValueError(f"predictive_average: unknown {self.predictive_average!r}; choose 'probs' or 'logits'")
        if self.clip_norm is not None and not (self.clip_norm > 0):
            raise ValueError(f"clip_norm: expected a number > 0 or None, got {self.clip_norm!r}")
        if self.theta_init is not None and (isinstance(self.theta_init, bool) or not isinstance(self.theta_init, (int, float))
                                            or not math.isfinite(self.theta_init)):
            raise ValueError(f"theta_init: expected a finite logit (e.g. 2.0 for gamma = 0.88) or None, got {self.theta_init!r}")
        if isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float)) or not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        if self.patience is not None and (isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1):
            raise ValueError(f"patience: expected an integer >= 1 or None, got {self.patience!r}")
        if not isinstance(self.fused, bool):
            raise ValueError(f"fused: expected True (the fused NumPy step) or False (the reference path), got {self.fused!r}")
        self.lr_decay_epochs = tuple(int(e) for e in self.lr_decay_epochs)


@dataclass
class FitResult:
    params: dict                 # final parameters (backend arrays)
    best_params: dict            # parameters of the epoch with the best validation NLL (final if no validation)
    history: list = field(default_factory=list)
    interrupted: bool = False


def _optimizer(config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.lr_schedule == "constant":
        lr = optim.constant(config.lr)
    elif config.lr_schedule == "step":
        lr = optim.step_decay(config.lr, [e * steps_per_epoch for e in config.lr_decay_epochs], config.lr_decay_factor)
    else:
        lr = optim.cosine(config.lr, total)
    mult = optim.group_multipliers(theta=config.lr_mult_theta, scales=config.lr_mult_scales,
                                   weights=config.lr_mult_weights)
    if config.optimizer == "adam":
        return optim.adam(lr=lr, multipliers=mult), lr
    return optim.sgd(lr=lr, momentum=config.momentum, multipliers=mult), lr


class _SignalFlag:
    """SIGINT/SIGTERM set ``raised`` instead of killing the process (restored on exit)."""

    def __enter__(self):
        self.raised = None
        self._old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        self.raised = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def nodes_kept(model, params, threshold: float = 0.5) -> list[int]:
    """Number of hidden nodes with inclusion probability ``gamma > threshold``, per hidden layer."""
    b = model.backend
    out = []
    for l in range(len(model.widths) - 2):
        key = f"{l}.theta"
        out.append(int(np.sum(sigmoid(b.to_numpy(params[key])) > threshold)) if key in params else model.widths[l + 1])
    return out


def fit(model, x_train, y_train, x_val=None, y_val=None, config: TrainConfig | None = None, *,
        out_dir: str | None = None, resume: bool = False, y_scale: float = 1.0, log=sys.stderr) -> FitResult:
    """Train ``model`` on host arrays; see the module docstring. Writes ``checkpoint.npz`` and
    ``history.jsonl`` under ``out_dir`` when given. ``y_scale`` converts regression metrics to original units."""
    config = config or TrainConfig()
    b = model.backend
    x_train, y_train = np.asarray(x_train, dtype=b.dtype_name), np.asarray(y_train)   # features in the model's dtype
    n = x_train.shape[0]
    if n < 1 or y_train.shape[0] != n:
        raise ValueError(f"y_train: expected {n} targets to match x_train, got {y_train.shape[0]}")
    batch = min(config.batch_size, n)
    steps_per_epoch = math.ceil(n / batch)
    opt, lr_at = _optimizer(config, steps_per_epoch)
    train_config = asdict(config)
    ckpt_path = os.path.join(out_dir, CHECKPOINT) if out_dir else None

    rng = np.random.default_rng(config.seed)
    if resume:
        if ckpt_path is None:
            raise ValueError("resume: needs out_dir, the directory holding checkpoint.npz")
        ckpt = load_checkpoint(ckpt_path)
        check_compatible(ckpt, model.config, train_config, ckpt_path)
        state = _restore(model, ckpt, rng)
    else:
        params = model.init_params(rng)
        if config.theta_init is not None:
            params = {k: (b.asarray(np.full(v.shape, config.theta_init)) if k.endswith(".theta") else v)
                      for k, v in params.items()}
        state = dict(params=params, opt_state=opt.init(params), best_params=dict(params), epoch=0, step=0,
                     perm=np.zeros(0, np.int64), sums={}, best=None, bad_epochs=0, history=[], done=False)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        _write_history(out_dir, state["history"])

    def checkpoint():
        if ckpt_path is None:
            return
        meta = dict(model_config=model.config, train_config=train_config, epoch=state["epoch"], step=state["step"],
                    rng_state=rng.bit_generator.state, sums=state["sums"], best=state["best"],
                    bad_epochs=state["bad_epochs"], history=state["history"], done=state["done"])
        save_checkpoint(ckpt_path, params={k: b.to_numpy(v) for k, v in state["params"].items()},
                        opt_state=optim.state_to_arrays(state["opt_state"]),
                        best_params={k: b.to_numpy(v) for k, v in state["best_params"].items()},
                        perm=state["perm"], meta=meta)

    t_start = time.perf_counter()
    with _SignalFlag() as flag:
        while state["epoch"] < config.epochs and not state["done"]:
            epoch = state["epoch"]
            t_epoch = time.perf_counter()
            if state["step"] == 0:
                state["perm"] = rng.permutation(n)
                state["sums"] = {}
            for step in range(state["step"], steps_per_epoch):
                idx = state["perm"][step * batch:(step + 1) * batch]
                noise = model.sample_noise(rng, config.train_samples)
                global_step = epoch * steps_per_epoch + step
                w_kl = optim.kl_weight(global_step, config.kl_anneal_epochs * steps_per_epoch)
                step_fn = model.loss_and_grad_fused if config.fused else model.loss_and_grad
                loss, grads, terms = step_fn(state["params"], x_train[idx], y_train[idx], noise, n, kl_weight=w_kl)
                if config.clip_norm is not None:
                    grads, _ = optim.clip_by_global_norm(grads, config.clip_norm)
                state["params"], state["opt_state"] = opt.update(global_step, grads, state["opt_state"], state["params"])
                sums = state["sums"]
                for k, v in {"loss": loss, **terms}.items():
                    sums[k] = sums.get(k, 0.0) + float(b.to_numpy(v))
                state["step"] = step + 1
                if flag.raised is not None:
                    checkpoint()
                    print(f"\ninterrupted by signal {flag.raised} at epoch {epoch + 1} step {step + 1}; "
                          f"checkpoint written to {ckpt_path}; continue with --resume", file=log if log is not None else sys.stderr)
                    return FitResult(state["params"], state["best_params"], state["history"], interrupted=True)
            last_step = (epoch + 1) * steps_per_epoch - 1
            record = {"epoch": epoch + 1, **{k: v / steps_per_epoch for k, v in state["sums"].items()},
                      "lr": lr_at(last_step), "kl_weight": optim.kl_weight(last_step, config.kl_anneal_epochs * steps_per_epoch),
                      "nodes_kept": nodes_kept(model, state["params"])}
            if x_val is not None and len(x_val):
                metrics = evaluate(model, state["params"], x_val, y_val, config.eval_samples,
                                   np.random.default_rng([config.seed, epoch + 1]), batch_size=config.eval_batch_size,
                                   y_scale=y_scale, average=config.predictive_average)
                record.update({f"val_{k}": v for k, v in metrics.items()})
                improved = state["best"] is None or metrics["nll"] < state["best"]
                if improved:
                    state["best"], state["best_params"], state["bad_epochs"] = metrics["nll"], dict(state["params"]), 0
                else:
                    state["bad_epochs"] += 1
                if config.patience is not None and state["bad_epochs"] >= config.patience:
                    state["done"] = True
            else:
                state["best_params"] = dict(state["params"])
            record["epoch_time_s"] = time.perf_counter() - t_epoch
            state["history"].append(record)
            state["epoch"], state["step"] = epoch + 1, 0
            if out_dir:
                _append_history(out_dir, record)
            if ckpt_path and (state["epoch"] % config.checkpoint_every == 0 or state["epoch"] == config.epochs or state["done"]):
                checkpoint()
            _progress(log, record, state["epoch"], config.epochs, time.perf_counter() - t_start, steps_per_epoch)
    return FitResult(state["params"], state["best_params"], state["history"])


def _restore(model, ckpt: Checkpoint, rng) -> dict:
    b = model.backend
    meta = ckpt.meta
    rng.bit_generator.state = meta["rng_state"]
    to_b = lambda d: {k: b.asarray(v) for k, v in d.items()}  # noqa: E731
    return dict(params=to_b(ckpt.params), opt_state=optim.state_from_arrays(ckpt.opt_state, b),
                best_params=to_b(ckpt.best_params), epoch=meta["epoch"], step=meta["step"], perm=ckpt.perm,
                sums=meta["sums"], best=meta["best"], bad_epochs=meta["bad_epochs"], history=meta["history"],
                done=meta["done"])


def _write_history(out_dir: str, history: list):
    """Rewrite history.jsonl from the checkpoint's records (a resumed run drops epochs after it)."""
    with open(os.path.join(out_dir, HISTORY), "w") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")


def _append_history(out_dir: str, record: dict):
    with open(os.path.join(out_dir, HISTORY), "a") as f:
        f.write(json.dumps(record) + "\n")


def _progress(log, record, epoch, epochs, elapsed, steps_per_epoch):
    if log is None:
        return
    rate = epoch * steps_per_epoch / max(elapsed, 1e-9)
    eta = (epochs - epoch) * steps_per_epoch / max(rate, 1e-9)
    val = "".join(f" val_{k}={record[f'val_{k}']:.4g}" for k in ("nll", "accuracy", "rmse") if f"val_{k}" in record)
    print(f"epoch {epoch}/{epochs} loss={record['loss']:.4g}{val} nodes={record['nodes_kept']} "
          f"{rate:.1f} steps/s ETA {eta:.0f}s", file=log, flush=True)
