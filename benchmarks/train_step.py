"""What a user waits for: the whole training step (noise draw, loss and gradients, optimiser update) and
the epoch (every step, then the validation pass), by each implementation as its own user runs it.

``benchmarks/step.py`` times ``loss_and_grad`` with the noise already drawn and no update. Here:

* **step**, three contenders, each on its own copy of the same initial parameters, each minibatch gathered
  (``x[idx]``) from the same training rows in a shuffled order:

  - ``ours``: the body of the loop of ``refimpl.run.train.fit`` with its defaults: ``model.sample_noise``,
    ``loss_and_grad_fused``, the finiteness check, the trainer's optimiser (``train._optimizer``: Adam,
    lr 1e-3, and the trainer's default step of the indicator logits) and the running sums of the loss terms
    (:func:`ours_step`; ``tests/test_benchmarks.py`` checks that an epoch of it ends bit for bit at ``fit``'s
    parameters);
  - ``torch``: a PyTorch step as a PyTorch user writes it: noise by ``torch.randn`` and ``torch.rand``
    (PyTorch's generator), ``oracles/torch_model.loss``, ``loss.backward()``, ``torch.optim.Adam(lr=1e-3)``
    with its defaults, ``loss.item()`` (:func:`torch_step`);
  - ``autograd``: noise by NumPy (``standard_normal`` in float64, cast to the dtype), the oracle's loss and
    gradient by ``autograd.value_and_grad`` on ``oracles/autograd_model.oracle_loss``, and Adam as the
    textbook formula on whole arrays (:func:`autograd_step`).

* **epoch** on a data set of Fashion-MNIST's shape (60000 rows less a 10% validation split: 54000 training
  and 6000 validation rows, 784 features, 10 classes; random values), batch 1024 (53 steps):

  - ``ours``: ``refimpl.run.train.fit`` for one epoch with its defaults (no ``out_dir``, so no checkpoint): the
    steps, then the validation pass of the trainer -- the Monte Carlo predictive of 10 samples (accuracy,
    NLL, ECE, Brier), the compressed network's metrics, nodes and FLOPs kept;
  - ``torch``: a ``torch.randperm`` shuffle, the steps of ``torch``, then under ``torch.no_grad`` the
    predictive of 10 samples drawn by PyTorch, probabilities averaged, accuracy and NLL (less than ours
    computes: no ECE, Brier or compressed network).

  autograd has no epoch row: at 7-10x our step its epoch takes 10-25 s, and 8 rows of 4 epochs each would
  add about ten minutes; its step ratio carries over (the epoch is 53 steps and a forward-only pass).

Every contender runs in this process with the same thread count, interleaved (``timing.interleaved``).
"""
from __future__ import annotations

import math
import time

import numpy as np

from oracles.autograd_model import model_config, oracle_loss
from refimpl import NodeSparseBNN, optim
from refimpl.run import train as refimpl_train

from .step import N_DATA, have_torch

PRIORS = ("ss-ig", "ss-gl", "ss-ghs", "gaussian")
STEP_CONTENDERS = ("ours", "torch", "autograd")
EPOCH_CONTENDERS = ("ours", "torch")
LR = 1e-3


def make_data(widths, n: int, dtype: str, seed: int = 0):
    """``(x (n, k_0) of dtype, y (n,) int64 labels)``: standard normal inputs, uniform random labels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, widths[0]), dtype=np.float32 if dtype == "float32" else np.float64)
    return x, rng.integers(0, widths[-1], n)


def make_model(widths, dtype: str, prior: str) -> NodeSparseBNN:
    """The setting of ``benchmarks/step.py``: categorical likelihood, SiLU, straight-through, the prior's defaults."""
    return NodeSparseBNN(widths, prior=prior, likelihood="categorical", dtype=dtype)


# ---- one step, three ways ------------------------------------------------------------------------------
def ours_step(model, x, y, batch: int, n_data: int = N_DATA, seed: int = 0, phases: dict | None = None):
    """One step of ``refimpl.run.train.fit`` per call (its loop body with ``TrainConfig()`` defaults), cycling
    through the minibatches of one shuffled epoch of ``(x, y)``. The generator draws as ``fit`` does:
    the initial parameters, the permutation, then each step's noise. Returns ``(step, state)``; ``state``
    holds the parameters. ``phases``: a dict to which every call appends the CPU seconds of each part
    (:data:`PHASES`)."""
    config = refimpl_train.TrainConfig(batch_size=batch, seed=seed)
    steps = math.ceil(len(x) / batch)
    opt, _ = refimpl_train._optimizer(config, steps)
    rng = np.random.default_rng(seed)
    b = model.backend
    params = model.init_params(rng)
    if getattr(config, "theta_init_sd", 0) > 0:          # fit's staggered initial logits (their own generator)
        params = refimpl_train.spread_logits(params, config.theta_init_sd, config.seed, b)
    state = {"params": params, "opt_state": opt.init(params), "step": 0, "perm": rng.permutation(len(x)), "sums": {}}

    def step():
        t0 = clock()
        i = state["step"] % steps
        idx = state["perm"][i * batch:(i + 1) * batch]
        xb, yb = x[idx], y[idx]
        t1 = clock()
        noise = model.sample_noise(rng, config.train_samples)
        t2 = clock()
        w_kl = optim.kl_weight(state["step"], config.kl_anneal_epochs * steps)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, grads, terms = model.loss_and_grad_fused(state["params"], xb, yb, noise, n_data, kl_weight=w_kl)
        t3 = clock()
        refimpl_train._check_finite_step(b, loss, grads, 0, i, config)
        t4 = clock()
        state["params"], state["opt_state"] = opt.update(state["step"], grads, state["opt_state"], state["params"])
        t5 = clock()
        for k, v in {"loss": loss, **terms}.items():
            state["sums"][k] = state["sums"].get(k, 0.0) + float(b.to_numpy(v))
        state["step"] += 1
        if phases is not None:
            t6 = clock()
            for name, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0)):
                phases.setdefault(name, []).append(dt)

    clock = time.process_time if phases is not None else (lambda: 0.0)
    return step, state


PHASES = ("minibatch", "noise", "loss and gradients", "finiteness check", "optimiser update", "loss sums", "whole step")


def profile(widths, batch: int, dtype: str, prior: str, steps: int = 20, warmup: int = 3) -> dict:
    """Where our whole step's time goes: median CPU ms of each part of :func:`ours_step` (:data:`PHASES`) over
    ``steps`` steps, and of the step's matrix products alone (``roofline.step_gemms``, the same shapes)."""
    from .roofline import step_gemms
    model = make_model(widths, dtype, prior)
    x, y = make_data(widths, 8 * batch, dtype)
    phases: dict = {}
    step, _ = ours_step(model, x, y, batch, phases=phases)
    gemms = step_gemms(widths, batch, dtype)
    for _ in range(warmup):
        step()
        gemms()
    phases.clear()
    gemm_times = []
    for _ in range(steps):
        step()
        t0 = time.process_time()
        gemms()
        gemm_times.append(time.process_time() - t0)
    out = {name: 1e3 * float(np.median(v)) for name, v in phases.items()}
    out["of which matrix products"] = 1e3 * float(np.median(gemm_times))
    return {"dtype": dtype, "prior": prior, "steps": steps, "median_ms": out}


def _torch_noise(shapes: dict, dtype, generator):
    """Noise of ``shapes`` by PyTorch's generator, as a PyTorch user draws it: ``torch.randn``, and
    ``torch.rand`` clamped into the open interval (0, 1) for the indicators' ``u``."""
    import torch
    tiny, top = torch.finfo(dtype).tiny, 1.0 - torch.finfo(dtype).eps
    return {k: (torch.rand(s, generator=generator, dtype=dtype).clamp_(tiny, top) if k.endswith(".u")
                else torch.randn(s, generator=generator, dtype=dtype)) for k, s in shapes.items()}


def torch_step(model, params, x, y, batch: int, n_data: int = N_DATA, seed: int = 0):
    """A PyTorch training step as its user writes it (module docstring); ``params``: NumPy arrays, copied
    into leaf tensors. Returns ``(step, state)``, ``state["params"]`` the tensors, ``state["epoch"]`` the
    steps of one shuffled epoch."""
    import torch

    from oracles import torch_model
    cfg = model_config(model, n_data)
    dtype = getattr(torch, model.backend.dtype_name)
    p = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in params.items()}
    opt = torch.optim.Adam(list(p.values()), lr=LR)
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    shapes = {k: tuple(s) for k, s in model.noise_shapes(1).items()}
    steps = math.ceil(len(x) / batch)
    state = {"params": p, "step": 0, "perm": torch.randperm(len(x), generator=g)}

    def step():
        i = state["step"] % steps
        if i == 0 and state["step"]:
            state["perm"] = torch.randperm(len(x), generator=g)
        idx = state["perm"][i * batch:(i + 1) * batch]
        noise = _torch_noise(shapes, dtype, g)
        opt.zero_grad()
        loss = torch_model.loss(cfg, p, xt[idx], yt[idx], noise, n_data)
        loss.backward()
        opt.step()
        state["step"] += 1
        return loss.item()

    def validate(x_val, y_val, n_samples: int = 10, eval_batch: int = 4096):
        """The predictive of ``n_samples`` samples: ``(accuracy, nll)`` of the averaged probabilities."""
        noise = _torch_noise({k: tuple(s) for k, s in model.noise_shapes(n_samples).items()}, dtype, g)
        xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)
        correct, nll = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(xv), eval_batch):
                h, _ = torch_model.forward(cfg, p, xv[i:i + eval_batch], noise, with_kl=False)
                log_p = torch.logsumexp(torch.log_softmax(h, -1), 0) - math.log(n_samples)    # (B, K)
                target = yv[i:i + eval_batch]
                correct += int((log_p.argmax(-1) == target).sum())
                nll -= float(log_p.gather(1, target[:, None]).sum())
        return correct / len(xv), nll / len(xv)

    state["validate"] = validate
    return step, state


def autograd_step(model, params, x, y, batch: int, n_data: int = N_DATA, seed: int = 0):
    """An autograd training step as its user writes it (module docstring). Returns ``(step, state)``."""
    from autograd import value_and_grad
    cfg = model_config(model, n_data)
    dtype = np.dtype(model.backend.dtype_name)
    keys = list(params)
    rng = np.random.default_rng(seed)
    shapes = model.noise_shapes(1)
    tiny, top = np.finfo(dtype).tiny, 1.0 - np.finfo(dtype).eps
    steps = math.ceil(len(x) / batch)
    b1, b2, eps = 0.9, 0.999, 1e-8
    state = {"params": [np.array(params[k]) for k in keys], "step": 0, "perm": rng.permutation(len(x))}
    state["m"] = [np.zeros_like(v) for v in state["params"]]
    state["v"] = [np.zeros_like(v) for v in state["params"]]

    def step():
        i = state["step"] % steps
        idx = state["perm"][i * batch:(i + 1) * batch]
        noise = {k: (np.clip(rng.uniform(size=s), tiny, top) if k.endswith(".u") else rng.standard_normal(s)).astype(dtype)
                 for k, s in shapes.items()}
        xb, yb = x[idx], y[idx]
        loss, grads = value_and_grad(lambda values: oracle_loss(cfg, dict(zip(keys, values)), xb, yb, noise, n_data))(
            state["params"])
        t = state["step"] + 1
        for j, gr in enumerate(grads):
            state["m"][j] = b1 * state["m"][j] + (1 - b1) * gr
            state["v"][j] = b2 * state["v"][j] + (1 - b2) * gr * gr
            m_hat, v_hat = state["m"][j] / (1 - b1 ** t), state["v"][j] / (1 - b2 ** t)
            state["params"][j] = state["params"][j] - LR * m_hat / (np.sqrt(v_hat) + eps)
        state["step"] += 1
        return float(loss)

    return step, state


def step_contenders(widths, batch: int, dtype: str, prior: str, names=STEP_CONTENDERS, n_batches: int = 8) -> dict:
    """Zero-argument callables, one training step each, over ``n_batches`` minibatches of random data."""
    model = make_model(widths, dtype, prior)
    x, y = make_data(widths, n_batches * batch, dtype)
    ours, state = ours_step(model, x, y, batch)
    fns = {"ours": ours}
    init = {k: model.backend.to_numpy(v).copy() for k, v in state["params"].items()}
    if "torch" in names and have_torch():
        fns["torch"] = torch_step(model, init, x, y, batch)[0]
    if "autograd" in names:
        fns["autograd"] = autograd_step(model, init, x, y, batch)[0]
    return {k: fns[k] for k in names if k in fns}


# ---- one epoch ------------------------------------------------------------------------------------------
def epoch_contenders(widths, batch: int, dtype: str, prior: str, n_train: int, n_val: int,
                     names=EPOCH_CONTENDERS) -> dict:
    """Zero-argument callables, one epoch each: ``ours`` = ``fit`` for one epoch from freshly drawn
    parameters; ``torch`` = one more epoch of :func:`torch_step` and its validation pass."""
    model = make_model(widths, dtype, prior)
    x, y = make_data(widths, n_train + n_val, dtype)
    x_tr, y_tr, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    config = refimpl_train.TrainConfig(epochs=1, batch_size=batch)
    fns = {"ours": lambda: refimpl_train.fit(model, x_tr, y_tr, x_val, y_val, config, log=None)}
    if "torch" in names and have_torch():
        init = {k: model.backend.to_numpy(v) for k, v in model.init_params(np.random.default_rng(0)).items()}
        step, state = torch_step(model, init, x_tr, y_tr, batch, n_data=n_train)
        steps = math.ceil(n_train / batch)

        def torch_epoch():
            for _ in range(steps):
                step()
            return state["validate"](x_val, y_val, config.eval_samples, config.eval_batch_size)

        fns["torch"] = torch_epoch
    return {k: fns[k] for k in names if k in fns}


# ---- the section --------------------------------------------------------------------------------------------
def run(widths, batch: int, dtypes, priors=PRIORS, repeats=15, warmup=2, epoch=None, clock="cpu", log=print) -> dict:
    """``{"step": rows, "epoch": rows}``; ``epoch = dict(n_train, n_val, repeats, warmup[, priors])`` or ``None``
    (no epoch rows). Each row: medians, IQRs and paired ratios ``t_other / t_ours`` on both clocks."""
    from .step import per_clock
    from .timing import interleaved
    out = {"widths": list(widths), "batch": batch, "step": [], "epoch": [], "profile": []}
    for dtype in dtypes:
        out["profile"].append(profile(widths, batch, dtype, "ss-ig", steps=max(repeats, 3)))
        log(f"profile {'-'.join(map(str, widths))} B={batch} {dtype} ss-ig: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in out["profile"][-1]["median_ms"].items()))
    for dtype in dtypes:
        for prior in priors:
            fns = step_contenders(widths, batch, dtype, prior)
            stats = per_clock(interleaved(fns, repeats, warmup), reference="ours")
            row = {"dtype": dtype, "prior": prior, "repeats": repeats, "median_ms": stats["median_ms"],
                   "iqr_ms": stats["iqr_ms"], "ratio_vs_ours": stats["ratio"]}
            out["step"].append(row)
            log(f"whole step {'-'.join(map(str, widths))} B={batch} {dtype} {prior} ({clock}): "
                + ", ".join(f"{k} {v:.1f} ms" for k, v in row["median_ms"][clock].items())
                + "".join(f"; {k}/ours {v:.2f}" for k, v in row["ratio_vs_ours"].get(clock, {}).items()))
    if epoch:
        for dtype in dtypes:
            for prior in epoch.get("priors", priors):
                fns = epoch_contenders(widths, batch, dtype, prior, epoch["n_train"], epoch["n_val"])
                stats = per_clock(interleaved(fns, epoch["repeats"], epoch["warmup"]), reference="ours")
                row = {"dtype": dtype, "prior": prior, "repeats": epoch["repeats"], "n_train": epoch["n_train"],
                       "n_val": epoch["n_val"], "median_ms": stats["median_ms"], "iqr_ms": stats["iqr_ms"],
                       "ratio_vs_ours": stats["ratio"]}
                out["epoch"].append(row)
                log(f"epoch {epoch['n_train']}+{epoch['n_val']} rows {dtype} {prior} ({clock}): "
                    + ", ".join(f"{k} {v / 1e3:.2f} s" for k, v in row["median_ms"][clock].items())
                    + "".join(f"; {k}/ours {v:.2f}" for k, v in row["ratio_vs_ours"].get(clock, {}).items()))
    return out
