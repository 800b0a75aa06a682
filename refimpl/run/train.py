"""The training loop: minibatch stochastic optimisation of -ELBO/N, with validation-based model
selection (:mod:`refimpl.run.selection`), early stopping, per-epoch history, atomic checkpoints and exact resume.
Every epoch's record holds the Monte Carlo predictive's validation metrics and those of the compressed
network (PR-2: nodes with ``gamma > 1/2``, weights at the variational mean), and its FLOPs kept (M-8).

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

from .. import optim
from . import rundir
from . import shrink
from .checkpoint import Checkpoint, check_compatible, load_checkpoint, remove_stale_temporaries, save_checkpoint
from .evaluate import evaluate, network_metrics
from .metrics import NonFiniteError, flops_kept
from .prune import compress, inclusion_probabilities, node_masks
from . import selection
from .selection import SELECT_RULES, complete_train_config, within_budget
from ..checks import check_arrays

CHECKPOINT = "checkpoint.npz"
HISTORY = "history.jsonl"


@dataclass
class TrainConfig:
    """Training options. Adam 1e-3, batch 1024, no clipping and no annealing are the authors'; the node-selection
    defaults are not: the indicator logits start staggered (``theta_init_sd``) and move by the natural-gradient
    step (O-6), and the selected epoch is the sparsest compressed network near the best (``select="sparse"``), as
    measured in docs/training.md ("Robust node selection"). ``refimpl.run.presets.PRESETS["authors"]`` restores the
    authors' whole set-up."""

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
    lr_mult_theta: float = 1.0              # per-group learning-rate multipliers (docs/spec.md §7 knobs)
    lr_mult_scales: float = 1.0
    lr_mult_weights: float = 1.0
    theta_init: float | None = None         # override the authors' logit(0.99) initial inclusion logit
    rho_init: float | None = None           # override the authors' initial rho = -6 of every weight and bias
    theta_init_sd: float = 2.0              # spread of the initial logits: theta + theta_init_sd * N(0, 1) per node
    theta_optimizer: str = "natural"        # "adam" (theta as every parameter) | "natural" (O-6, rate theta_lr)
    theta_lr: float = 0.03                  # theta_optimizer="natural": the natural-gradient step size
    train_samples: int = 1                  # Monte Carlo samples per step
    eval_samples: int = 10                  # Monte Carlo samples for validation predictions
    eval_batch_size: int = 4096
    patience: int | None = None             # early stopping on validation NLL (epochs without improvement)
    checkpoint_every: int = 1               # epochs
    seed: int = 0
    predictive_average: str = "probs"       # "probs" (default) | "logits" (the authors)
    fused: bool = True                      # the fast schedule (elbo.loss_and_grad_fast); False: the reference
    select: str = "sparse"                  # model selection: "nll" | "compressed" | "sparse" (refimpl/run/selection.py)
    flops_budget: float = 1.0               # select="compressed": largest fraction of the dense FLOPs kept
    select_tolerance: float = 0.01          # select="sparse": accuracy points (regression: fraction of the RMSE)
    prune_below: float | None = None        # remove nodes with gamma below this during training (refimpl/run/shrink.py)

    def __post_init__(self):
        ints = {"epochs": 1, "batch_size": 1, "train_samples": 1, "eval_samples": 1, "eval_batch_size": 1,
                "checkpoint_every": 1, "kl_anneal_epochs": 0, "seed": 0}
        for name, low in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {v!r}")
        if self.rho_init is not None and (isinstance(self.rho_init, bool) or not isinstance(self.rho_init, (int, float))
                                          or not math.isfinite(self.rho_init)):
            raise ValueError(f"rho_init: expected a finite number (sigma = softplus(rho), e.g. -4 for 0.018) or None, "
                             f"got {self.rho_init!r}")
        if isinstance(self.theta_init_sd, bool) or not isinstance(self.theta_init_sd, (int, float)) \
                or not (math.isfinite(self.theta_init_sd) and self.theta_init_sd >= 0):
            raise ValueError(f"theta_init_sd: expected a finite number >= 0 (0: every node starts at the same logit), "
                             f"got {self.theta_init_sd!r}")
        for name in ("lr", "theta_lr", "lr_mult_theta", "lr_mult_scales", "lr_mult_weights", "lr_decay_factor"):
            v = getattr(self, name)
            is_num = isinstance(v, (int, float)) and not isinstance(v, bool)
            low_ok = is_num and (v >= 0 if name.startswith("lr_mult") else v > 0)   # a multiplier of 0 freezes its group
            if not (is_num and math.isfinite(v) and low_ok):
                raise ValueError(f"{name}: expected a finite number {'>= 0' if name.startswith('lr_mult') else '> 0'}, got {v!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer: unknown {self.optimizer!r}; choose 'adam' or 'sgd'")
        if self.theta_optimizer not in ("adam", "natural"):
            raise ValueError(f"theta_optimizer: unknown {self.theta_optimizer!r}; choose 'adam' (theta stepped by the "
                             "main optimiser) or 'natural' (the natural-gradient step of docs/derivations.md (O-6))")
        if self.lr_schedule not in ("constant", "step", "cosine"):
            raise ValueError(f"lr_schedule: unknown {self.lr_schedule!r}; choose 'constant', 'step' or 'cosine'")
        if self.predictive_average not in ("probs", "logits"):
            raise ValueError(f"predictive_average: unknown {self.predictive_average!r}; choose 'probs' or 'logits'")
        if self.clip_norm is not None and (isinstance(self.clip_norm, bool) or not isinstance(self.clip_norm, (int, float))
                                           or not self.clip_norm > 0):
            raise ValueError(f"clip_norm: expected a number > 0 or None, got {self.clip_norm!r}")
        if self.theta_init is not None and (isinstance(self.theta_init, bool) or not isinstance(self.theta_init, (int, float))
                                            or not math.isfinite(self.theta_init)):
            raise ValueError(f"theta_init: expected a finite logit (e.g. 2.0 for gamma = 0.88) or None, got {self.theta_init!r}")
        if isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float)) or not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        if self.patience is not None and (isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1):
            raise ValueError(f"patience: expected an integer >= 1 or None, got {self.patience!r}")
        if self.select not in SELECT_RULES:
            raise ValueError(f"select: unknown {self.select!r}; choose 'nll' (the lowest validation NLL of the predictive), "
                             "'compressed' (the compressed network's best validation score within flops_budget) or "
                             "'sparse' (the fewest FLOPs within select_tolerance of the best compressed score)")
        fb = self.flops_budget
        if isinstance(fb, bool) or not isinstance(fb, (int, float)) or not 0.0 < fb <= 1.0:
            raise ValueError(f"flops_budget: expected the largest fraction of the dense network's FLOPs the selected "
                             f"compressed network may keep, a number in (0, 1], got {fb!r}")
        tol = self.select_tolerance
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"select_tolerance: expected a number >= 0 (accuracy points, e.g. 0.01; regression: a "
                             f"fraction of the best RMSE), got {tol!r}")
        if self.select != "compressed" and fb != 1.0:
            raise ValueError(f"flops_budget: {fb!r} applies only with select='compressed' (--select compressed); add "
                             "it, or drop flops_budget")
        pb = self.prune_below
        if pb is not None and (isinstance(pb, bool) or not isinstance(pb, (int, float)) or not 0.0 < pb < 0.5):
            raise ValueError(f"prune_below: expected an inclusion probability in (0, 0.5), e.g. 1e-3 (nodes with gamma "
                             f"below it are removed during training), or None, got {pb!r}")
        if not isinstance(self.fused, bool):
            raise ValueError(f"fused: expected True (the fused NumPy step) or False (the reference path), got {self.fused!r}")
        decay = self.lr_decay_epochs
        if (isinstance(decay, (str, bytes)) or not hasattr(decay, "__iter__")
                or not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in decay)
                or any(e < 1 for e in decay) or any(a >= b for a, b in zip(decay, list(decay)[1:]))):
            raise ValueError(f"lr_decay_epochs: expected increasing whole epoch numbers >= 1 (the step schedule "
                             f"multiplies the rate by lr_decay_factor after each of these epochs), e.g. (30, 60), got {decay!r}")
        self.lr_decay_epochs = tuple(int(e) for e in decay)


@dataclass
class FitResult:
    params: dict                 # final parameters (backend arrays)
    best_params: dict            # parameters of the selected epoch (config.select; the final one if no validation)
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
    main = (optim.adam(lr=lr, multipliers=mult) if config.optimizer == "adam"
            else optim.sgd(lr=lr, momentum=config.momentum, multipliers=mult))
    if config.theta_optimizer == "adam":
        return main, lr
    # theta follows the main schedule's shape, scaled to theta_lr (and by lr_mult_theta: 0 freezes it)
    rate = config.theta_lr * config.lr_mult_theta / config.lr
    return optim.by_group({"theta": optim.bernoulli_natural(lambda step: rate * lr(step)), "rest": main}), lr


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


def spread_logits(params: dict, sd: float, seed: int, backend) -> dict:
    """``theta + sd * N(0, 1)`` for every node's logit, drawn from a generator of its own (seeded by ``[seed,
    1]``, so the training stream is the same with and without it). Staggers the nodes' times of reaching
    ``gamma = 1/2``: with identical logits every node of a layer crosses at once (docs/training.md, "Why nodes
    are pruned in lockstep")."""
    rng = np.random.default_rng([seed, 1])
    out = {}
    for k in sorted(params):
        v = params[k]
        if k.endswith(".theta"):
            host = backend.to_numpy(v)
            v = backend.asarray(host + sd * rng.standard_normal(host.shape))
        out[k] = v
    return {k: out[k] for k in params}


def nodes_kept(model, params, threshold: float = 0.5) -> list[int]:
    """Number of hidden nodes with inclusion probability ``gamma > threshold``, per hidden layer: the sizes of
    :func:`refimpl.run.prune.node_masks` (the one place nodes are counted; every width without indicators)."""
    return [int(np.sum(keep)) for keep in node_masks(model, params, threshold)]


def theta_spread(model, params) -> dict:
    """``{"theta_spread": [[min, median, max] of theta per hidden layer]}`` (empty without indicators): the
    diagnostic of whether nodes leave one by one (a wide spread) or a layer at once (every theta together)."""
    b = model.backend
    spread = [[float(q) for q in np.quantile(b.to_numpy(params[f"{l}.theta"]), (0.0, 0.5, 1.0))]
              for l in range(len(model.widths) - 2) if f"{l}.theta" in params]
    return {"theta_spread": spread} if spread else {}


def fit(model, x_train, y_train, x_val=None, y_val=None, config: TrainConfig | None = None, *,
        out_dir: str | None = None, resume: bool = False, y_scale: float = 1.0, init_params: dict | None = None,
        log=sys.stderr) -> FitResult:
    """Train ``model`` on host arrays; see the module docstring. Writes ``checkpoint.npz`` and
    ``history.jsonl`` under ``out_dir`` when given. ``y_scale`` converts regression metrics to original units.
    ``init_params`` (a dict of the model's parameters) starts from those instead of drawing initial ones (the
    generator then draws no initial parameters; :mod:`refimpl.run.finetune`); a resumed run starts from its checkpoint."""
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config: expected a TrainConfig, got {type(config).__name__}; build one with "
                        f"TrainConfig(epochs=..., ...), from a dict with TrainConfig(**options)")
    b = model.backend
    x_train, y_train = np.asarray(x_train, dtype=b.dtype_name), np.asarray(y_train)   # features in the model's dtype
    if x_train.ndim != 2 or x_train.shape[0] < 1:
        raise ValueError(f"x_train: expected at least one training row, an array of shape (n >= 1, "
                         f"{model.widths[0]}), got shape {x_train.shape}")
    n = x_train.shape[0]
    if y_train.ndim < 1 or y_train.shape[0] != n:
        raise ValueError(f"y_train: expected {n} targets to match x_train, got shape {y_train.shape}")
    if (x_val is None) != (y_val is None):
        given, missing = ("x_val", "y_val") if y_val is None else ("y_val", "x_val")
        raise ValueError(f"{missing}: {given} was given without {missing}; pass both validation arrays or neither")
    if x_val is not None and (np.ndim(x_val) < 1 or np.ndim(y_val) < 1 or len(x_val) != len(y_val)):
        raise ValueError(f"y_val: expected one target per validation row ({np.shape(x_val)[:1]} rows), got shape "
                         f"{np.shape(y_val)}")
    if config.select == "compressed" and (x_val is None or not len(x_val)):
        raise ValueError("select: 'compressed' ranks epochs by the compressed network's validation score, and there "
                         "is no validation data; hold some out (--val-fraction > 0, or pass x_val and y_val), or "
                         "select 'nll'")
    for name in ("theta_init", "rho_init"):
        if init_params is not None and getattr(config, name) is not None:
            raise ValueError(f"{name}: sets a part of freshly drawn parameters, and init_params are given; drop one")
    if out_dir is not None:
        rundir.make_dir(out_dir, "out_dir")     # a file, or no permission: say so before training
        remove_stale_temporaries(out_dir)
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
        ckpt.meta["train_config"] = complete_train_config(ckpt.meta.get("train_config"), TrainConfig)
        check_compatible(ckpt, model.config, train_config, ckpt_path)
        state = _restore(model, ckpt, rng)
    else:
        if init_params is None:
            params = model.init_params(rng)
        else:
            check_arrays("init_params", init_params, model.param_shapes(), b)
            params = dict(init_params)
        if config.theta_init is not None:
            params = {k: (b.asarray(np.full(v.shape, config.theta_init)) if k.endswith(".theta") else v)
                      for k, v in params.items()}
        if config.rho_init is not None:
            params = {k: (b.asarray(np.full(v.shape, config.rho_init)) if k.endswith(("w_rho", "b_rho")) else v)
                      for k, v in params.items()}
        if config.theta_init_sd > 0:
            params = spread_logits(params, config.theta_init_sd, config.seed, b)
        state = dict(params=params, opt_state=opt.init(params), best_params=dict(params), epoch=0, step=0,
                     perm=np.zeros(0, np.int64), sums={}, best=None, bad_epochs=0, history=[], done=False,
                     alive=None if config.prune_below is None else shrink.all_alive(model))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        _write_history(out_dir, state["history"])

    def checkpoint():
        if ckpt_path is None:
            return
        meta = dict(model_config=model.config, train_config=train_config, epoch=state["epoch"], step=state["step"],
                    rng_state=rng.bit_generator.state, sums=state["sums"], best=state["best"],
                    bad_epochs=state["bad_epochs"], history=state["history"], done=state["done"],
                    alive=None if state["alive"] is None else [a.tolist() for a in state["alive"]])
        try:
            save_checkpoint(ckpt_path, params={k: b.to_numpy(v) for k, v in state["params"].items()},
                            opt_state=optim.state_to_arrays(state["opt_state"]),
                            best_params={k: b.to_numpy(v) for k, v in state["best_params"].items()},
                            perm=state["perm"], meta=meta)
        except OSError as exc:     # disk full, quota, permissions: the previous checkpoint is intact
            where = (f"after epoch {state['epoch']}" if state["step"] == 0 else
                     f"in epoch {state['epoch'] + 1} at step {state['step']}")
            raise CheckpointWriteError(exc.errno, f"checkpoint: could not write {ckpt_path} {where} "
                                       f"({exc.strerror or exc}); the previous checkpoint is intact: free disk space "
                                       "(or fix permissions) and continue with --resume") from exc

    t_start, steps_before = time.perf_counter(), state["epoch"] * steps_per_epoch + state["step"]   # ETA: this session
    with _SignalFlag() as flag:
        while state["epoch"] < config.epochs and not state["done"]:
            epoch = state["epoch"]
            t_epoch = time.perf_counter()
            if state["step"] == 0:
                state["perm"] = rng.permutation(n)
                state["sums"] = {}
                if state["alive"] is not None:      # (SH-1) removal happens at epoch starts only
                    state["alive"] = shrink.update_alive(model, state["params"], state["alive"], config.prune_below)
            net = _Stepping(model, state, n)        # the whole network, or the part that remains (SH-1)
            for step in range(state["step"], steps_per_epoch):
                idx = state["perm"][step * batch:(step + 1) * batch]
                noise = net.model.sample_noise(rng, config.train_samples)
                global_step = epoch * steps_per_epoch + step
                w_kl = optim.kl_weight(global_step, config.kl_anneal_epochs * steps_per_epoch)
                step_fn = net.model.loss_and_grad_fused if config.fused else net.model.loss_and_grad
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # divergence is checked below
                    loss, grads, terms = step_fn(net.params, x_train[idx], y_train[idx], noise, n, kl_weight=w_kl)
                _check_finite_step(b, loss, grads, epoch, step, config)
                if config.clip_norm is not None:
                    grads, _ = optim.clip_by_global_norm(grads, config.clip_norm)
                net.params, net.opt_state = opt.update(global_step, grads, net.opt_state, net.params)
                sums = state["sums"]
                for k, v in {"loss": loss, **terms}.items():
                    sums[k] = sums.get(k, 0.0) + float(b.to_numpy(v))
                state["step"] = step + 1
                if flag.raised is not None:
                    net.write_back(state)
                    checkpoint()
                    print(f"\ninterrupted by signal {flag.raised} at epoch {epoch + 1} step {step + 1}; "
                          f"checkpoint written to {ckpt_path}; continue with --resume", file=log if log is not None else sys.stderr)
                    return FitResult(state["params"], state["best_params"], state["history"], interrupted=True)
            net.write_back(state)
            last_step = (epoch + 1) * steps_per_epoch - 1
            record = {"epoch": epoch + 1, **{k: v / steps_per_epoch for k, v in state["sums"].items()},
                      "lr": lr_at(last_step), "kl_weight": optim.kl_weight(last_step, config.kl_anneal_epochs * steps_per_epoch),
                      "nodes_kept": nodes_kept(model, state["params"]), **theta_spread(model, state["params"])}
            record["flops_kept"] = flops_kept(model.widths, record["nodes_kept"])["fraction_kept"]    # (M-8)
            if state["alive"] is not None:     # (SH-2) a step differs from the full one w.p. <= removed_gamma_sum
                record["nodes_trained"] = [int(a.sum()) for a in state["alive"]]
                record["removed_gamma_sum"] = float(sum(np.sum(g[~a]) for g, a in
                                                        zip(inclusion_probabilities(model, state["params"]), state["alive"])))
            if x_val is not None and len(x_val):
                try:
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                        metrics = evaluate(net.model, net.params, x_val, y_val, config.eval_samples,   # (SH-1)
                                           np.random.default_rng([config.seed, epoch + 1]),
                                           batch_size=config.eval_batch_size, y_scale=y_scale,
                                           average=config.predictive_average)
                        # the compressed network (PR-1, PR-2) is deterministic: no generator is touched
                        compressed = network_metrics(compress(model, state["params"]), x_val, y_val, model.likelihood,
                                                     y_scale)
                except NonFiniteError as exc:
                    raise DivergedError(f"training diverged in epoch {epoch + 1}: its parameters give NaN or infinite "
                                        f"validation predictions ({exc}); {_lower_lr(config)}") from None
                record.update({f"val_{k}": v for k, v in metrics.items()})
                record.update({f"val_compressed_{k}": v for k, v in compressed.items()})
                improved, state["best"] = selection.update(state["best"], record, config.select,   # validation
                                                           config.flops_budget, config.select_tolerance)  # fields only
                if improved:
                    state["best_params"], state["bad_epochs"] = dict(state["params"]), 0
                elif within_budget(state["best"]):      # patience counts once an epoch within the budget is held
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
            _progress(log, record, state["epoch"], config.epochs, time.perf_counter() - t_start, steps_per_epoch,
                      steps_before)
    return FitResult(state["params"], state["best_params"], state["history"])


class _Stepping:
    """The network an epoch's steps train: the model itself, or with ``prune_below`` and nodes removed the
    smaller network of :mod:`refimpl.run.shrink` with its gathered parameters and optimiser state; ``write_back``
    returns them into the full network's state, which checkpoints and results hold."""

    def __init__(self, model, state: dict, n_data: int):
        self.alive = state["alive"]
        self.whole = self.alive is None or all(a.all() for a in self.alive)
        if self.whole:
            self.model, self.params, self.opt_state = model, state["params"], state["opt_state"]
            return
        self.full = model
        self.model = shrink.smaller_model(model, state["params"], self.alive, n_data)
        self.params = shrink.gather(model, state["params"], self.alive)
        self.opt_state = shrink.gather(model, state["opt_state"], self.alive)

    def write_back(self, state: dict):
        if self.whole:
            state["params"], state["opt_state"] = self.params, self.opt_state
            return
        state["params"] = shrink.scatter(self.full, state["params"], self.params, self.alive)
        state["opt_state"] = shrink.scatter(self.full, state["opt_state"], self.opt_state, self.alive)


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (``errno`` as the underlying OSError); the message says what to do."""

    def __str__(self):
        return self.strerror


class DivergedError(ValueError):
    """A training step produced a NaN or infinite loss or gradient."""


def _check_finite_step(b, loss, grads, epoch, step, config):
    """Stop at the first step whose loss or gradient is NaN or infinite (one host sync: the sum of the loss
    and every gradient's sum, which is NaN or infinite when any of them is)."""
    with np.errstate(over="ignore", invalid="ignore"):      # inf - inf is the NaN looked for
        total = loss
        xsum = (lambda g: g.sum()) if b.name == "numpy" else b.xp.sum    # the method: half the call overhead
        for g in grads.values():
            total = total + xsum(g)
        if math.isfinite(float(b.to_numpy(total))):
            return
        loss = float(b.to_numpy(loss))
    what = f"the loss is {loss}" if not math.isfinite(loss) else "a gradient is NaN or infinite"
    raise DivergedError(f"training diverged at epoch {epoch + 1}, step {step + 1}: {what}; {_lower_lr(config)}")


def _lower_lr(config) -> str:
    return (f"lower the learning rate (lr {config.lr:g} now; try --lr {config.lr / 10:g}) or clip gradients with "
            "--clip-norm")


def _restore(model, ckpt: Checkpoint, rng) -> dict:
    b = model.backend
    meta = ckpt.meta
    rng.bit_generator.state = meta["rng_state"]
    to_b = lambda d: {k: b.asarray(v) for k, v in d.items()}  # noqa: E731
    return dict(params=to_b(ckpt.params), opt_state=optim.state_from_arrays(ckpt.opt_state, b),
                best_params=to_b(ckpt.best_params), epoch=meta["epoch"], step=meta["step"], perm=ckpt.perm,
                sums=meta["sums"], best=meta["best"], bad_epochs=meta["bad_epochs"], history=meta["history"],
                done=meta["done"], alive=None if meta.get("alive") is None else [np.asarray(a, dtype=bool)
                                                                              for a in meta["alive"]])


def _write_history(out_dir: str, history: list):
    """Rewrite history.jsonl from the checkpoint's records (a resumed run drops epochs after it)."""
    with open(os.path.join(out_dir, HISTORY), "w") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")


def _append_history(out_dir: str, record: dict):
    with open(os.path.join(out_dir, HISTORY), "a") as f:
        f.write(json.dumps(record) + "\n")


def _progress(log, record, epoch, epochs, elapsed, steps_per_epoch, steps_before=0):
    """One line per epoch; steps/s and ETA count only the steps of this session (``steps_before`` were done
    before a resume)."""
    if log is None:
        return
    rate = (epoch * steps_per_epoch - steps_before) / max(elapsed, 1e-9)
    eta = (epochs - epoch) * steps_per_epoch / max(rate, 1e-9)
    val = "".join(f" val_{k}={record[f'val_{k}']:.4g}" for k in ("nll", "accuracy", "rmse") if f"val_{k}" in record)
    print(f"epoch {epoch}/{epochs} loss={record['loss']:.4g}{val} nodes={record['nodes_kept']} "
          f"{rate:.1f} steps/s ETA {eta:.0f}s", file=log, flush=True)
