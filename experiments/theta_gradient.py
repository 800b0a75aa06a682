"""Where the indicator logits' gradient comes from: its KL part against its data part, per node.

    python -m experiments.theta_gradient RUN_DIR [RUN_DIR ...] [--draws 64] [--which selected|final|init]

For a trained run directory (``refimpl train --out RUN_DIR``) this evaluates, at its parameters (or at the
initial parameters its seed draws, ``--which init``), the gradient of the per-datum loss ``-ELBO / N`` with
respect to every node's ``theta``, split into

* the **KL part**: ``d(KL / N) / d theta`` -- deterministic, closed form (the loss at ``kl_weight = 1`` minus the
  loss at ``kl_weight = 0`` with the same noise and minibatch);
* the **data part**: ``d nll / d theta`` (``kl_weight = 0``), over ``--draws`` minibatches and noise draws.

It prints per hidden layer: the KL part (median over nodes), the data part's mean over draws (median and spread
over nodes), its standard deviation over draws (median over nodes), and the fraction of nodes whose mean data
part pulls theta up (against the KL) by more than the KL part -- the nodes the ELBO would keep at these
weights. docs/training.md ("Why nodes are pruned in lockstep") reads these numbers.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from refimpl.run.checkpoint import load_checkpoint
from refimpl.run.pipeline import restore
from refimpl.run.scripts import script_parser
from refimpl.run.train import CHECKPOINT


def theta_gradient_parts(model, params, x, y, n_data: int, rng, draws: int = 64, batch: int = 1024) -> list[dict]:
    """Per hidden layer: ``{"kl": (k,), "data_mean": (k,), "data_sd": (k,)}`` host arrays (see the module doc)."""
    layers = [k for k in params if k.endswith(".theta")]
    data = {k: [] for k in layers}
    kl = None
    for _ in range(draws):
        idx = rng.choice(len(x), size=min(batch, len(x)), replace=False)
        noise = model.sample_noise(rng)
        _, g_data, _ = model.loss_and_grad(params, x[idx], y[idx], noise, n_data, kl_weight=0.0)
        if kl is None:
            _, g_full, _ = model.loss_and_grad(params, x[idx], y[idx], noise, n_data, kl_weight=1.0)
            kl = {k: np.asarray(g_full[k]) - np.asarray(g_data[k]) for k in layers}
        for k in layers:
            data[k].append(np.asarray(g_data[k]))
    out = []
    for k in layers:
        d = np.stack(data[k])
        out.append({"layer": k, "kl": kl[k], "data_mean": d.mean(0), "data_sd": d.std(0, ddof=1)})
    return out


def summarise(parts: list[dict]) -> list[dict]:
    rows = []
    for p in parts:
        kl, dm, sd = p["kl"], p["data_mean"], p["data_sd"]
        rows.append({"layer": p["layer"], "kl_median": float(np.median(kl)),
                     "kl_min_max": [float(kl.min()), float(kl.max())],
                     "data_mean_median": float(np.median(dm)),
                     "data_mean_q05_q95": [float(np.quantile(dm, 0.05)), float(np.quantile(dm, 0.95))],
                     "data_sd_median": float(np.median(sd)),
                     "kept_at_these_weights": float(np.mean(-dm > kl))})
    return rows


def main(argv=None):
    ap = script_parser("python -m experiments.theta_gradient", __doc__)
    ap.add_argument("runs", nargs="+", help="run directories of refimpl train")
    ap.add_argument("--draws", type=int, default=64, help="minibatch and noise draws for the data part")
    ap.add_argument("--which", choices=("selected", "final", "init"), default="final",
                    help="the selected parameters, the final ones (checkpoint), or the seed's initial ones")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    results = {}
    for run_dir in args.runs:
        model, params, prep, config = restore(run_dir)
        if args.which == "final":
            ckpt = load_checkpoint(os.path.join(run_dir, CHECKPOINT))
            params = {k: model.backend.asarray(v) for k, v in ckpt.params.items()}
        elif args.which == "init":
            params = model.init_params(np.random.default_rng(config.seed))
        x = np.asarray(prep.x_fit, dtype=model.backend.dtype_name)
        rows = summarise(theta_gradient_parts(model, params, x, prep.y_fit, len(x),
                                              np.random.default_rng(args.seed), args.draws))
        results[run_dir] = rows
        print(run_dir, f"({args.which})")
        for r in rows:
            print(f"  {r['layer']}: KL part {r['kl_median']:.3g} [{r['kl_min_max'][0]:.3g}, {r['kl_min_max'][1]:.3g}]"
                  f"  data part mean {r['data_mean_median']:.3g} (5-95% over nodes {r['data_mean_q05_q95'][0]:.3g}, "
                  f"{r['data_mean_q05_q95'][1]:.3g})  sd over draws {r['data_sd_median']:.3g}  "
                  f"kept at these weights {r['kept_at_these_weights']:.2f}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
