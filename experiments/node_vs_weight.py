"""Node pruning against weight pruning at equal parameters kept.

For every seed and every spike-and-slab prior, the node-sparse network (median-probability model of a trained
ss-* fit, exported physically smaller at the variational mean, PR-2) is compared with the dense Gaussian BNN
of the same seed at its variational mean, pruned by magnitude to the same number of parameters: the largest
|w| over all weights and biases of every layer (one global threshold) are kept. Neither network is fine-tuned
after pruning. Reported: test accuracy and NLL of the point prediction (softmax of
the mean network's logits), FLOPs (multiply-adds with biases, M-8) and measured latency of

* ``dense``                -- the unpruned Gaussian BNN mean network (reference);
* ``node-compressed``      -- the node-sparse network as small dense matrices;
* ``magnitude-dense``      -- the weight-pruned network as full-size dense matrices (zeros stored and multiplied);
* ``magnitude-csr``        -- the weight-pruned network with scipy.sparse CSR matrices (``W^T @ h``).

Parameters are counted as stored numbers: for the compressed network ``sum (s_l + 1) s_{l+1}`` (= its FLOPs;
the authors' "parameters kept" of M-7 also counts incoming weights from pruned nodes, reported beside it).

    python -m experiments.node_vs_weight --out out/nvw-mnist5k --fits out/mnist5k     # reuse the table's fits
    python -m experiments.node_vs_weight --out out/nvw-fmnist --data fashion-mnist --fits out/fmnist-25 --seeds 0
    python -m experiments.node_vs_weight --out out/nvw-fmnist-final --data fashion-mnist --fits out/fmnist --params final
    python -m experiments.node_vs_weight --out /tmp/q --quick

``--fits`` holds ``<prior>/seed<k>/`` fits as written by mnist5k.py / fashion_mnist.py; missing ones are
trained there with that script's DEFAULTS (and any knob given here). Results: ``OUT/results.json``, ``OUT/table.md``.

``--no-train`` takes the finished fits under ``--fits`` as they are, whatever options trained them (e.g. links
``<prior>/seed<k>`` to ``refimpl train`` or selection_remedies.py run directories): a missing or unfinished fit
is an error, nothing is trained, and nothing is written into the fit directories (the node network is exported
in memory, from the checkpoint's ``--params`` parameters, instead of into ``compressed.npz`` / ``prune.json``):

    python -m experiments.node_vs_weight --out out/nvw-mnist5k-defaults --fits out/nvw-fits-mnist5k --no-train
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import scipy.sparse

from refimpl.run.compressed import ACTIVATIONS, CompressedMLP
from refimpl.data import load_fashion_mnist, load_mnist5k
from refimpl.run.latency import latency_table
from refimpl.run.pipeline import structure
from refimpl.run.prune import compress, dense_mean_network

from . import common, fashion_mnist, mnist5k
from .classification import HIDDEN, QUICK

DATA = {"mnist5k": (load_mnist5k, mnist5k.DEFAULTS), "fashion-mnist": (load_fashion_mnist, fashion_mnist.DEFAULTS)}
CONTENDERS = ("dense", "node-compressed", "magnitude-dense", "magnitude-csr", "layer-magnitude-csr")


class CsrMLP:
    """An MLP whose weight matrices are scipy.sparse CSR, stored transposed ``(k_out, k_in)`` so that each layer
    is the sparse-times-dense product ``h^T <- W^T h^T + b``."""

    def __init__(self, weights, biases, activation: str):
        self.weights_t = [scipy.sparse.csr_matrix(np.ascontiguousarray(W.T)) for W in weights]
        self.biases = [np.asarray(b)[:, None] for b in biases]
        self.psi = ACTIVATIONS[activation]
        self.dtype = weights[0].dtype

    def predict(self, x):
        h = np.asarray(x, dtype=self.dtype).T
        for l, (Wt, b) in enumerate(zip(self.weights_t, self.biases)):
            h = Wt @ h + b
            if l < len(self.weights_t) - 1:
                h = self.psi(h)
        return h.T


def magnitude_prune(net: CompressedMLP, n_params: int, scope: str = "global") -> CompressedMLP:
    """Keep ``n_params`` weights and biases of largest magnitude, zero the rest; ties broken by position.

    ``scope="global"``: one threshold over every layer. ``scope="layer"``: each layer keeps the same fraction of
    its own weights and biases (largest-remainder rounding, so the total is exactly ``n_params``). The global
    rule can empty a layer whose weights are all small -- the output layer of a trained BNN, which then predicts
    one class -- so the layer-wise rule is the fairer baseline; both are reported."""
    arrays = [a for W, b in zip(net.weights, net.biases) for a in (W, b)]
    total = sum(a.size for a in arrays)
    if not 0 <= n_params <= total:
        raise ValueError(f"n_params: expected an integer in [0, {total}], got {n_params!r}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope: expected 'global' or 'layer', got {scope!r}")
    if scope == "global":
        groups, quotas = [list(range(len(arrays)))], [n_params]
    else:
        groups = [[2 * l, 2 * l + 1] for l in range(len(net.weights))]
        sizes = np.array([sum(arrays[i].size for i in g) for g in groups])
        exact = n_params * sizes / total
        quotas = np.floor(exact).astype(int)
        quotas[np.argsort(-(exact - quotas), kind="stable")[:n_params - int(quotas.sum())]] += 1
    out = [None] * len(arrays)
    for g, quota in zip(groups, quotas):
        flat = np.concatenate([np.abs(arrays[i]).ravel() for i in g])
        keep = np.zeros(flat.size, dtype=bool)
        keep[np.argsort(-flat, kind="stable")[:int(quota)]] = True
        start = 0
        for i in g:
            a = arrays[i]
            out[i] = np.where(keep[start:start + a.size].reshape(a.shape), a, 0).astype(a.dtype)
            start += a.size
    return CompressedMLP(out[0::2], out[1::2], net.activation)


def n_stored(net: CompressedMLP) -> int:
    return sum(W.size + b.size for W, b in zip(net.weights, net.biases))


def finished_fit(out_dir: str, data: str) -> str:
    """``out_dir`` if it holds a finished fit on ``data`` with its checkpoint (what ``--no-train`` needs), else
    ``ValueError``."""
    paths = [os.path.join(out_dir, f) for f in (common.RUN, common.METRICS, common.CHECKPOINT)]
    missing = [os.path.basename(p) for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"--no-train: {out_dir} lacks {', '.join(missing)}; give --fits a finished fit with its "
                         "checkpoint there (archived fits have none), or drop --no-train to train it")
    if common._read_json(paths[1]).get("interrupted"):
        raise ValueError(f"--no-train: {out_dir} holds an interrupted fit; finish it first")
    name = common._read_json(paths[0]).get("data", {}).get("name")
    if name is not None and name != data:
        raise ValueError(f"--no-train: {out_dir} was trained on {name!r}, not --data {data!r}")
    return out_dir


def compare(fits_dir: str, ds, prior: str, seed: int, batch_sizes, repeats: int, which: str = "selected",
            cache: bool = True) -> dict:
    """One row: the ss-* fit ``prior``/``seed`` against the gaussian fit of the same seed, both at their ``which``
    parameters (``selected``: the checkpoint's selected epoch, by the fit's own rule -- lowest validation NLL for
    the tables' fits; ``final``: the last epoch's, as the authors). ``cache``: the selected node network is
    exported to, or read from, the fit's ``compressed.npz`` / ``prune.json`` (False: exported in memory only)."""
    node_dir, dense_dir = (os.path.join(fits_dir, p, f"seed{seed}") for p in (prior, "gaussian"))
    if which == "selected" and cache:
        report = common.prune_once(node_dir, ds, batch_sizes, repeats)
        node = CompressedMLP.load(os.path.join(node_dir, "compressed.npz"))
    else:
        node_model, node_params, node_prep = common.restore_fit(node_dir, ds, which)
        node = compress(node_model, node_params, 0.5, check_x=node_prep.x_test[:1024])
        report = structure(node_model, node_params)
    model, params, prep = common.restore_fit(dense_dir, ds, which)
    dense = dense_mean_network(model, params)
    n_params = n_stored(node)
    mag, layer_mag = magnitude_prune(dense, n_params), magnitude_prune(dense, n_params, scope="layer")
    csr, layer_csr = (CsrMLP(m.weights, m.biases, m.activation) for m in (mag, layer_mag))
    x = prep.x_test
    for c, m in ((csr, mag), (layer_csr, layer_mag)):       # float32 sums in another order
        np.testing.assert_allclose(c.predict(x[:256]), m.predict(x[:256]), rtol=1e-4, atol=1e-4)
    nets = {"dense": dense, "node-compressed": node, "magnitude-dense": mag, "layer-magnitude": layer_mag}
    rng = np.random.default_rng(0)
    lat = latency_table({"dense": dense.predict, "node-compressed": node.predict, "magnitude-dense": mag.predict,
                         "magnitude-csr": csr.predict, "layer-magnitude-csr": layer_csr.predict},
                        lambda b: x[rng.integers(0, len(x), size=b)], list(batch_sizes), repeats=repeats,
                        reference="dense")
    total = n_stored(dense)
    dead = [int(np.sum(~np.any(W != 0, axis=0))) for W in mag.weights[:-1]]   # hidden nodes left with no inputs
    layer_dead = [int(np.sum(~np.any(W != 0, axis=0))) for W in layer_mag.weights[:-1]]
    return {"prior": prior, "seed": seed, "params_used": which, "nodes_kept": report["nodes_kept"], "params": n_params,
            "params_total": total,
            "params_kept_fraction": n_params / total, "params_kept_authors": report["params_kept"]["fraction_kept"],
            "metrics": {name: common.point_metrics(net, prep) for name, net in nets.items()},
            "flops": {"dense": total, "node-compressed": n_params, "magnitude-dense": total, "magnitude-csr": n_params},
            "magnitude_dead_nodes": dead, "layer_magnitude_dead_nodes": layer_dead, "latency": lat}


def main(argv=None):
    return common.run_main(lambda: _main(argv))


def _main(argv):
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--data", choices=sorted(DATA), default="mnist5k")
    ap.add_argument("--fits", help="directory of <prior>/seed<k>/ fits (default OUT/fits; missing fits are trained)")
    ap.add_argument("--params", choices=common.PARAMS, default="selected",
                    help="prune each fit's selected parameters (default: its checkpoint's selected epoch, by the fit's own "
                         "rule; lowest validation NLL for this script's fits) or final epoch's parameters")
    ap.add_argument("--no-train", action="store_true",
                    help="use the finished fits under --fits as they are (any training options); a missing one is an "
                         "error, and nothing is written into the fit directories")
    args = ap.parse_args(argv)
    load, defaults = DATA[args.data]
    priors = [p for p in (args.priors or common.PRIORS) if p != "gaussian"]
    seeds = args.seeds or (QUICK["seeds"] if args.quick else defaults["seeds"])
    fits_dir = args.fits or os.path.join(args.out, "fits")
    batch_sizes, repeats = (QUICK["batch_sizes"], QUICK["repeats"]) if args.quick else ((1, 64, 1024), 30)
    cfg_defaults = defaults
    if args.quick:
        cfg_defaults = {**defaults, "epochs": QUICK["epochs"], "eval_samples": QUICK["eval_samples"]}
    if args.no_train:                         # every fit checked before the data are loaded
        for seed in seeds:
            for prior in ["gaussian", *priors]:
                finished_fit(os.path.join(fits_dir, prior, f"seed{seed}"), args.data)
    t0 = time.perf_counter()
    ds, spec = load(), {"name": args.data}
    if args.quick:
        ds = common.subset(ds, QUICK["n_train"], QUICK["n_test"])
        spec["quick_subset"] = ds.info["subset"]
    rows = []
    for seed in seeds:
        for prior in ([] if args.no_train else ["gaussian", *priors]):   # train what is missing (skipped when finished)
            common.fit_once(os.path.join(fits_dir, prior, f"seed{seed}"), ds, spec, HIDDEN,
                            {"prior": prior, "dtype": args.dtype or defaults["dtype"]},
                            common.train_config(args, cfg_defaults, seed), log=common.log_stream(args))
        for prior in priors:
            rows.append(compare(fits_dir, ds, prior, seed, batch_sizes, repeats, args.params, cache=not args.no_train))
    results = {"title": f"Node vs weight pruning, {args.data}, MLP 784-{HIDDEN[0]}-{HIDDEN[1]}-10, {args.params} parameters",
               "data": args.data, "params": args.params, "no_train": args.no_train,
               "fits": fits_dir, "seeds": seeds, "priors": priors, "quick": args.quick, "rows": rows,
               "latency_batch_sizes": list(batch_sizes), "wall_s": time.perf_counter() - t0}
    common.write_outputs(args.out, results, format_tables(results))
    return results


def format_tables(results: dict) -> str:
    """Accuracy / FLOPs and latency tables, one row per prior (mean ± s.e. over seeds)."""
    ms, f = common.mean_se, common.fmt
    acc_rows, lat_rows = [], []
    for prior in results["priors"]:
        rows = [r for r in results["rows"] if r["prior"] == prior]
        get = lambda name, k: ms([r["metrics"][name][k] for r in rows])  # noqa: E731
        acc_rows.append([prior, ", ".join(f(ms([r["nodes_kept"][l] for r in rows]), ".0f") for l in range(2)),
                         f(ms([r["params"] for r in rows]), ".0f"),
                         f(ms([r["params_kept_fraction"] for r in rows]), ".2f", 100),
                         f(get("node-compressed", "accuracy"), ".2f", 100),
                         f(get("magnitude-dense", "accuracy"), ".2f", 100),
                         f(get("layer-magnitude", "accuracy"), ".2f", 100),
                         f(get("dense", "accuracy"), ".2f", 100), f(get("node-compressed", "nll"), ".3f"),
                         f(get("magnitude-dense", "nll"), ".3f"), f(get("layer-magnitude", "nll"), ".3f"),
                         ", ".join(f(ms([r["magnitude_dead_nodes"][l] for r in rows]), ".0f") for l in range(2)),
                         ", ".join(f(ms([r["layer_magnitude_dead_nodes"][l] for r in rows]), ".0f") for l in range(2))])
        for b in results["latency_batch_sizes"]:
            lat = lambda name: f(ms([common.latency_at(r["latency"], name, b) for r in rows]), ".3f", 1e3)  # noqa: E731
            lat_rows.append([prior, b] + [lat(n) for n in CONTENDERS])
    head = ["from prior", "nodes kept", "params = FLOPs kept (node / sparse magnitude)", "% of dense",
            "acc. node %", "acc. magnitude (global) %", "acc. magnitude (per layer) %", "acc. dense unpruned %",
            "NLL node", "NLL magnitude (global)", "NLL magnitude (per layer)",
            "global magnitude: nodes left with no input", "per-layer magnitude: nodes left with no input"]
    lhead = ["from prior", "batch"] + [f"{n} ms" for n in CONTENDERS]
    return (f"### {results['title']}: accuracy at equal parameters (point predictions at the variational mean)\n\n"
            + common.markdown_table(head, acc_rows) + "\n\nFLOPs of the dense and magnitude-dense networks: every "
            "multiply-add of the full 784-400-400-10 network (478,410).\n\n"
            f"### {results['title']}: latency (median over repeats, interleaved)\n\n"
            + common.markdown_table(lhead, lat_rows))


if __name__ == "__main__":
    main(sys.argv[1:])
