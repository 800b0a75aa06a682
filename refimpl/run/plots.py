"""PNG plots of a run, drawn only when matplotlib is installed (it is not a dependency):
training curves, node inclusion probabilities per layer, and predictions vs truth for regression."""
from __future__ import annotations

import os

import numpy as np


#: Said once per command when matplotlib is absent (``train`` after its run, ``run`` after the table).
MISSING = "plots skipped: matplotlib is not installed; install it with: pip install -e '.[plots]'"


def available() -> bool:
    """Whether matplotlib can be imported (the optional extra ``plots``)."""
    return pyplot() is not None


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or ``None`` when matplotlib (the optional
    extra ``plots``) is not installed: the one guard every plot of the project goes through."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        return None


def plot_run(out_dir: str, history: list, model, params, prep) -> list[str]:
    """Write the PNGs into ``out_dir``; returns their paths (empty without matplotlib)."""
    plt = pyplot()
    if plt is None or not history:
        return []
    from .evaluate import predict_outputs
    from .prune import inclusion_probabilities

    paths = []
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(epochs, [h["loss"] for h in history], label="train loss (-ELBO/N)")
    if "val_nll" in history[0]:
        axes[0].plot(epochs, [h["val_nll"] for h in history], label="validation NLL")
    axes[0].set_xlabel("epoch")
    axes[0].legend()
    kept = np.array([h["nodes_kept"] for h in history])
    for l in range(kept.shape[1]):
        axes[1].plot(epochs, kept[:, l], label=f"hidden layer {l + 1}")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("nodes kept (gamma > 0.5)")
    axes[1].legend()
    paths.append(_save(fig, plt, out_dir, "training.png"))

    gammas = inclusion_probabilities(model, params)
    fig, axes = plt.subplots(1, len(gammas), figsize=(4 * len(gammas), 3), squeeze=False)
    for l, g in enumerate(gammas):
        axes[0, l].bar(np.arange(len(g)), np.sort(g)[::-1])
        axes[0, l].axhline(0.5, color="k", lw=0.8)
        axes[0, l].set_title(f"hidden layer {l + 1}: inclusion probabilities")
    paths.append(_save(fig, plt, out_dir, "inclusion.png"))

    if prep.task == "regression":
        out = predict_outputs(model, params, prep.x_test, 10, np.random.default_rng(0))
        pred = out.mean(axis=0)[:, 0] * prep.stats["y_std"] + prep.stats["y_mean"]
        truth = prep.y_test * prep.stats["y_std"] + prep.stats["y_mean"]
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(truth, pred, s=4, alpha=0.5)
        lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], "k", lw=0.8)
        ax.set_xlabel("truth")
        ax.set_ylabel("predictive mean")
        paths.append(_save(fig, plt, out_dir, "predictions.png"))
    return paths


def _save(fig, plt, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
