"""An independent check of a ``--preset authors`` fit: the same model trained by PyTorch, not by refimpl.

    OPENBLAS_NUM_THREADS=1 python -m experiments.torch_port --out out/torch-port/ss-gl-seed0 --prior ss-gl --epochs 300

The loss is ``oracles.torch_model.loss`` (the project's PyTorch port of -ELBO/N, differentiated by
torch.autograd), the optimiser ``torch.optim.Adam(lr=1e-3)``, the noise ``torch.randn`` / ``torch.rand`` and the
minibatch order ``torch.randperm`` (PyTorch's random streams, as the authors' scripts), with everything else
from the preset: the authors' initialisation (drawn by refimpl, then handed over), pixels / 126, all 60,000
rows, batch 1024, float32, one thread. Per epoch it writes the nodes kept (gamma > 1/2) and the theta spread
to ``OUT/history.jsonl`` in refimpl's format, so ``python -m experiments.authors_preset --compare-runs OUT``
compares it; at the end ``OUT/result.json`` holds the compressed network's test accuracy and FLOPs kept.
It answers one question: does a fit whose update rule and random streams are PyTorch's end where refimpl's do?
Needs ``torch`` (the benchmarks' extra). Not resumable: a run takes about 10 minutes per 300 epochs.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from refimpl import NodeSparseBNN
from refimpl.run.pipeline import load_data, point_metrics, prepare, structure
from refimpl.run.presets import resolve
from refimpl.run.prune import compress
from refimpl.run.scripts import script_parser
from refimpl.run.train import nodes_kept, theta_spread

from . import common


def main(argv=None):
    import torch
    from oracles.autograd_model import model_config
    from oracles.torch_model import as_tensors, loss

    ap = script_parser("python -m experiments.torch_port", __doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prior", default="ss-gl")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="fashion-mnist")
    common.add_shared(ap, "--hidden")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    model_kw, train, data, _ = resolve("authors", args.prior, {"prior": args.prior}, {}, {}, {"prior"})
    ds = load_data({"name": args.data})
    prep = prepare(ds, data["val_fraction"], args.seed, input_scaling=data["input_scaling"])
    model = NodeSparseBNN([ds.n_features, *args.hidden, prep.n_out], likelihood="categorical", **model_kw)
    n = prep.x_fit.shape[0]
    cfg = model_config(model, n)
    host = model.init_params(np.random.default_rng(args.seed))
    p = as_tensors({k: np.array(v, dtype=np.float32) for k, v in host.items()}, requires_grad=True)
    opt = torch.optim.Adam(list(p.values()), lr=train["lr"])
    x = torch.from_numpy(prep.x_fit.astype(np.float32))
    y = torch.from_numpy(prep.y_fit)
    shapes = model.noise_shapes(1)
    os.makedirs(args.out, exist_ok=True)
    hist = open(os.path.join(args.out, "history.jsonl"), "w")
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n)
        for i in range(0, n, train["batch_size"]):
            idx = perm[i:i + train["batch_size"]]
            noise = {k: (torch.rand(s).clamp_(min=1e-12) if k.endswith(".u") else torch.randn(s)) for k, s in shapes.items()}
            opt.zero_grad()
            loss(cfg, p, x[idx], y[idx], noise, n).backward()
            opt.step()
        params = {k: v.detach().numpy().astype(np.float32) for k, v in p.items()}
        hist.write(json.dumps({"epoch": epoch, "nodes_kept": nodes_kept(model, params), **theta_spread(model, params)}) + "\n")
        hist.flush()
    params = {k: model.backend.asarray(v.detach().numpy()) for k, v in p.items()}
    net = compress(model, params, 0.5)
    result = {"prior": args.prior, "seed": args.seed, "epochs": args.epochs, "wall_s": time.perf_counter() - t0,
              "compressed_test": point_metrics(net, prep), **structure(model, params)}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
