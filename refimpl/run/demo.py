"""The README's main job: ``python -m refimpl run``.

On the embedded synthetic teacher regression (a network with known active nodes), train SS-IG,
SS-GL and SS-GHS with the same budget, prune each by the median-probability rule, export and verify
the compressed network, time dense vs compressed inference, and print one comparison table.
Everything lands in ``OUT/<prior>/`` (run.json, history.jsonl, checkpoint.npz, metrics.json,
compressed.npz, prune.json, plots) and ``OUT/summary.json``; a rerun redoes those sub-directories (train's
``overwrite``). At the end it says where the outputs are, and once that the plots were skipped if matplotlib is
missing.
"""
from __future__ import annotations

import os
import sys
import time

from . import plots, rundir
from .pipeline import prune_run, train_run, write_json
from .train import TrainConfig

PRIORS = ("ss-ig", "ss-gl", "ss-ghs")
TEACHER = dict(name="teacher-regression", n_train=2000, n_test=2000, widths=[8, 32, 32, 1], active=[6, 4],
               noise_sigma=0.5, activation="tanh", rng=0)
HIDDEN = [32, 32]


def job_config(quick: bool, seed: int) -> TrainConfig:
    """Budget and knobs of the main job (docs/lab-record.md records how they were chosen)."""
    return TrainConfig(epochs=5 if quick else 400, batch_size=128, lr=3e-3, lr_mult_theta=10.0,
                       kl_anneal_epochs=2 if quick else 30, seed=seed, eval_samples=10, checkpoint_every=50,
                       theta_optimizer="adam", theta_init_sd=0.0, select="nll")   # as measured (docs/lab-record.md)


def run_main(out_dir: str, quick: bool = False, seed: int = 0, log=sys.stderr) -> dict:
    rundir.make_dir(out_dir)        # a bad --out fails before anything is trained
    t0 = time.perf_counter()
    config = job_config(quick, seed)
    rows = {}
    for prior in PRIORS:
        t_prior = time.perf_counter()
        sub = os.path.join(out_dir, prior)
        metrics = train_run(dict(TEACHER), {"prior": prior, "activation": "tanh"}, HIDDEN, config, sub,
                            overwrite=True, log=None)     # the job redoes its own sub-directories
        report = prune_run(sub, repeats=5 if quick else 30, batch_sizes=(1, 256, 2000))
        rows[prior] = {"metrics": metrics, "prune": report, "wall_s": time.perf_counter() - t_prior}
        if log:
            print(f"{prior}: done in {rows[prior]['wall_s']:.1f} s", file=log, flush=True)
    summary = {"teacher": TEACHER, "true_active": TEACHER["active"], "rows": rows,
               "wall_s": time.perf_counter() - t0, "quick": quick}
    write_json(os.path.join(out_dir, "summary.json"), summary)
    print(format_table(summary))
    if log:
        print(f"outputs: {os.path.join(out_dir, 'summary.json')} and one directory per prior "
              f"({', '.join(os.path.join(out_dir, p) for p in PRIORS)}: run.json, history.jsonl, checkpoint.npz, "
              "metrics.json, compressed.npz, prune.json, plots)", file=log, flush=True)
        if not plots.available():
            print(plots.MISSING, file=log, flush=True)
    return summary


def format_table(summary: dict) -> str:
    true = summary["true_active"]
    head = ["prior", "test RMSE", "test LL", f"nodes kept (true {true})", "params kept", "FLOPs kept",
            "export |diff|", "dense ms", "compr. ms", "speedup"]
    lines = [head]
    for prior, row in summary["rows"].items():
        test = row["metrics"]["test"]
        lat = {(r["name"], r["batch_size"]): r for r in row["prune"]["latency"]}
        big = max(b for _, b in lat)
        dense, comp = lat[("dense", big)], lat[("compressed", big)]
        lines.append([prior, f"{test['rmse']:.3f}", f"{test['test_ll']:.3f}", str(row["prune"]["nodes_kept"]),
                      f"{100 * row['prune']['params_kept']['fraction_kept']:.1f}%",
                      f"{100 * row['prune']['flops_kept']['fraction_kept']:.1f}%", f"{row['prune']['max_abs_diff']:.1e}",
                      f"{1e3 * dense['median_s']:.3f}", f"{1e3 * comp['median_s']:.3f}", f"{comp['speedup']:.2f}x"])
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))  # noqa: E731
    noise = summary["teacher"]["noise_sigma"]
    out = [f"Teacher regression {summary['teacher']['widths']} (noise sigma {noise}; ideal RMSE {noise}), "
           f"latency at batch {big}", fmt(lines[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in lines[1:]]
    out.append(f"total wall time {summary['wall_s']:.1f} s")
    return "\n".join(out)
