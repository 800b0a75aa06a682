"""Node-selection consistency (SR-1 to SR-3 of ``docs/theory.md``): does the variational posterior keep
the teacher's active nodes, and only those, as n grows?

Run it as ``python -m experiments.support [--quick] [--out DIR] [--n-grid ...] [--seeds ...] [--priors ...]``, with the
teacher's topology and the sweeps over width, depth, s and B of ``python -m experiments.contraction``
(``experiments/contraction_cli.py``; a sweep writes ``DIR/<point>/support.json``).
Like the contraction experiment (:mod:`experiments.contraction`, whose teacher, grid and training budget it
shares through :class:`~experiments.contraction.ExperimentConfig`) it reports numbers and never fails on them.

**Design.** For each prior, n and seed one task trains the same student twice on the same data, with the
node-selection defaults of ``refimpl.run.train.TrainConfig`` (natural-gradient indicator logits O-6, initial
logits spread by ``theta_init_sd``, ``select="sparse"``, which without validation data keeps the last epoch):

* ``random``: from a random start, as a user would train;
* ``truth``: the **control**, started at q*'s starting point (:func:`experiments.contraction.concentrated_params`:
  the teacher's weights, ``gamma = sigmoid(12)`` on its active nodes and ``sigmoid(-12)`` elsewhere, no
  logit spread). If the control keeps the true support and reaches a higher ELBO than the random start,
  the random start's errors are the optimiser's; if the control itself leaves the truth, the objective
  (the posterior) prefers another support at that n.

**Errors** (SR-1). Hidden nodes are exchangeable: a permuted student is the same function, so from a random
start a node's index says nothing and only counts are identifiable. Per hidden layer l, with ``k_l`` nodes,
``s_l`` of them active in the teacher and ``c_l`` kept (``gamma > 0.5``):

    over-selection  FP_l = max(c_l - s_l, 0) / (k_l - s_l),     under-selection  FN_l = max(s_l - c_l, 0) / s_l

which are lower bounds of the false-positive and false-negative rates under any matching of student to
teacher nodes. The first hidden layer is also matched (SR-2): each kept student node's incoming mean vector
``[w; b]`` is paired with a teacher active node by maximal total ``|cos|`` (Hungarian assignment; tanh is odd,
so a node and its negation compute the same function up to the next layer's sign), and a pair counts as a true
positive when ``|cos| >= MATCH_COS``; reported as the false-discovery rate (unmatched kept nodes over kept
nodes) and the false-negative rate (unmatched teacher nodes over ``s_1``). In the control, whose indices are anchored to the teacher's, the
index-wise rates ``|kept \\ true| / (k - s)`` and ``|true \\ kept| / s`` are reported too.

**Verdict** (SR-3): selection is called consistent for a prior when, in the control and from the random
start, the fraction of seeds with exactly the true counts in every layer grows towards 1 with n; the ELBO
difference ``ELBO(random) - ELBO(truth)`` (common noise, full training set) says which start the objective
prefers.
"""
from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import optimize

from refimpl.run.evaluate import predict_outputs
from refimpl.run.executors import executor_from_args, sweep
from refimpl.run import plots as refimpl_plots
from refimpl.run.prune import node_masks
from refimpl.run.train import TrainConfig, fit
from theory.cli_errors import TheoryParser, fail
from theory.predictions import t_interval

from .contraction import (PRIORS, QUICK, ExperimentConfig, concentrated_params, elbo_draws, hellinger_sq,
                          teacher_and_student, teacher_in_student_units)
from .contraction_cli import add_experiment_arguments, base_config, sweep_points

STARTS = ("random", "truth")
MATCH_COS = 0.9           # |cos| of a matched first-layer pair that counts as a true positive (SR-2)
POSTERIOR_SAMPLES = 50    # network draws for E_Q H^2 of each fit
LEVEL = 0.95              # t interval of the ELBO difference over seeds


@dataclass(frozen=True)
class SupportTask:
    """One (prior, n, seed) of the sweep: both starts on the same data (picklable for process pools)."""

    config: ExperimentConfig
    prior: str
    n: int
    seed: int
    options: tuple = ()       # (name, value) pairs of TrainConfig that replace the selection defaults


# ---- (SR-1, SR-2) the errors of one fit ------------------------------------------------------------------
def count_errors(kept: int, active: int, width: int) -> tuple[float, float]:
    """``(FP, FN)`` from counts (SR-1): over-selection among the ``width - active`` inactive nodes and
    under-selection among the ``active`` ones. ``FP`` is 0 when every node is active."""
    fp = max(kept - active, 0) / (width - active) if width > active else 0.0
    return fp, max(active - kept, 0) / active


def index_errors(kept_mask, true_idx) -> tuple[float, float]:
    """``(FP, FN)`` of a node mask against the teacher's active indices (anchored labels: the control)."""
    kept_mask = np.asarray(kept_mask, dtype=bool)
    true = np.zeros_like(kept_mask)
    true[np.asarray(true_idx, dtype=np.int64)] = True
    inactive = int((~true).sum())
    fp = float((kept_mask & ~true).sum()) / inactive if inactive else 0.0
    return fp, float((true & ~kept_mask).sum()) / int(true.sum())


def matched_errors(student, teacher, threshold: float = MATCH_COS) -> tuple[int, int, int]:
    """``(TP, FP, FN)`` of the kept first-layer nodes (SR-2). ``student``: ``(d, c)`` incoming mean vectors of
    the kept nodes as columns; ``teacher``: ``(d, s)`` of the active teacher nodes. Pairs by the Hungarian
    assignment that maximises the total ``|cos|``; a pair is a true positive when its ``|cos| >= threshold``."""
    student, teacher = np.asarray(student, dtype=float), np.asarray(teacher, dtype=float)
    c, s = student.shape[1], teacher.shape[1]
    if c == 0 or s == 0:
        return 0, c, s
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=0, keepdims=True), 1e-300)   # noqa: E731
    cos = np.abs(unit(student).T @ unit(teacher))
    rows, cols = optimize.linear_sum_assignment(cos, maximize=True)
    tp = int(np.sum(cos[rows, cols] >= threshold))
    return tp, c - tp, s - tp


# ---- one task ---------------------------------------------------------------------------------------
def train_config(cfg: ExperimentConfig, n: int, seed: int, start: str, options: tuple = ()) -> TrainConfig:
    """The selection defaults of ``TrainConfig`` (or ``options`` in their place) with the contraction
    experiment's budget; the control starts exactly at the truth (no logit spread)."""
    steps_per_epoch = math.ceil(n / min(cfg.batch_size, n))
    config = TrainConfig(epochs=math.ceil(cfg.steps / steps_per_epoch), batch_size=cfg.batch_size, lr=cfg.lr,
                         lr_schedule="cosine", eval_samples=1, seed=seed, **dict(options))
    return replace(config, theta_init_sd=0.0, theta_init=None) if start == "truth" else config


def _fit_record(model, params, info, cfg, data, y_std, rng) -> dict:
    masks = [np.asarray(m, dtype=bool) for m in node_masks(model, params)]
    layers = []
    for l, (mask, true_idx) in enumerate(zip(masks, info["true_active"])):
        kept, s, k = int(mask.sum()), len(true_idx), mask.size
        fp, fn = count_errors(kept, s, k)
        ifp, ifn = index_errors(mask, true_idx)
        layers.append({"kept": kept, "fp_count": fp, "fn_count": fn, "fp_index": ifp, "fn_index": ifn,
                       "kept_nodes": np.flatnonzero(mask).tolist()})
    host = {k: model.backend.to_numpy(v) for k, v in params.items()}
    student = np.vstack([host["0.w_mu"], host["0.b_mu"][None, :]])[:, masks[0]]
    teacher = np.vstack([info["weights"][0], info["biases"][0][None, :]])[:, info["true_active"][0]]
    tp, fp, fn = matched_errors(student, teacher)
    layers[0].update(matched_tp=tp, fdr_matched=fp / max(tp + fp, 1), fn_matched=fn / (tp + fn))
    eta = predict_outputs(model, params, data.x_test, POSTERIOR_SAMPLES, rng)[..., 0]
    h2 = hellinger_sq(y_std.inverse_transform(eta), info["f_test"], cfg.noise_sigma)
    exact_counts = all(L["kept"] == len(t) for L, t in zip(layers, info["true_active"]))
    return {"layers": layers, "exact_counts": exact_counts, "hellinger_sq": float(h2.mean())}


def run_task(task: SupportTask) -> dict:
    """Train both starts of one (prior, n, seed) and return its record (top-level for process pools)."""
    cfg, t0 = task.config, time.perf_counter()
    data, y_std, y_train, sigma_e_std, model = teacher_and_student(cfg, task.prior, task.n, task.seed)
    info = data.info
    rng = np.random.default_rng([task.seed, task.n, PRIORS.index(task.prior), 7])
    weights, biases = teacher_in_student_units(info, y_std)
    truth = concentrated_params(model, weights, biases, info["true_active"], sigma_e_std / math.sqrt(task.n), rng)
    fits, record = {}, {"prior": task.prior, "n": task.n, "seed": task.seed,
                        "true_active": [len(a) for a in info["true_active"]]}
    for start in STARTS:
        config = train_config(cfg, task.n, task.seed, start, task.options)
        fits[start] = fit(model, data.x_train, y_train, config=config, log=None,
                          init_params=truth if start == "truth" else None).params
        record[start] = _fit_record(model, fits[start], info, cfg, data, y_std, rng)
    noises = [model.sample_noise(rng, 1) for _ in range(cfg.elbo_samples)]   # common to both starts
    elbo = {start: elbo_draws(model, fits[start], data.x_train, y_train, noises) for start in STARTS}
    diff = elbo["random"] - elbo["truth"]
    record.update(elbo_random=float(elbo["random"].mean()), elbo_truth=float(elbo["truth"].mean()),
                  elbo_diff=float(diff.mean()), wall_s=time.perf_counter() - t0)
    return record


# ---- the sweep and its summary ------------------------------------------------------------------
def run_support(config: ExperimentConfig, executor: cf.Executor, log=sys.stderr, options: tuple = ()) -> dict:
    """Every (prior, n, seed) task through ``executor``; the JSON record with the per-task records and summary.
    ``options``: ``(name, value)`` pairs of ``TrainConfig`` that replace its selection defaults."""
    t0 = time.perf_counter()
    tasks = [SupportTask(config, prior, int(n), int(seed), tuple(options)) for prior in config.priors for n in config.n_grid
             for seed in config.seeds]
    done = itertools.count(1)

    def report(task, r):
        if log is not None:
            kept = {s: [L["kept"] for L in r[s]["layers"]] for s in STARTS}
            print(f"[{next(done)}/{len(tasks)}] {r['prior']} n={r['n']} seed={r['seed']}: kept random {kept['random']} "
                  f"truth {kept['truth']} ELBO(random - truth) {r['elbo_diff']:.3g} ({r['wall_s']:.1f}s)",
                  file=log, flush=True)

    records = sweep(run_task, tasks, executor, report)
    records.sort(key=lambda r: (config.priors.index(r["prior"]), r["n"], r["seed"]))
    return {"config": asdict(config), "train_options": dict(options), "records": records, "summary": summarise(records, config),
            "wall_s": time.perf_counter() - t0, "cpu_s": float(sum(r["wall_s"] for r in records))}


def summarise(records, config: ExperimentConfig) -> dict:
    """(SR-3) Per prior, start and n: mean kept counts and error rates per layer over seeds, the fraction of
    seeds with exactly the true counts, median E_Q H^2, and the ELBO difference with its t interval."""
    out = {"grid": sorted(int(n) for n in config.n_grid), "level": LEVEL, "match_cos": MATCH_COS, "priors": {}}
    for prior in config.priors:
        rows = {}
        for n in out["grid"]:
            recs = [r for r in records if r["prior"] == prior and r["n"] == n]
            if not recs:
                continue
            diff = t_interval([r["elbo_diff"] for r in recs], LEVEL)
            row = {"seeds": len(recs), "elbo_diff": diff["mean"], "elbo_diff_ci": diff["ci"],
                   "random_higher_elbo": float(np.mean([r["elbo_diff"] > 0 for r in recs]))}
            for start in STARTS:
                layers = [[r[start]["layers"][l] for r in recs] for l in range(len(config.hidden))]
                row[start] = {
                    "kept": [float(np.mean([L["kept"] for L in ls])) for ls in layers],
                    "kept_range": [[min(L["kept"] for L in ls), max(L["kept"] for L in ls)] for ls in layers],
                    "fp_count": [float(np.mean([L["fp_count"] for L in ls])) for ls in layers],
                    "fn_count": [float(np.mean([L["fn_count"] for L in ls])) for ls in layers],
                    "fp_index": [float(np.mean([L["fp_index"] for L in ls])) for ls in layers],
                    "fn_index": [float(np.mean([L["fn_index"] for L in ls])) for ls in layers],
                    "fdr_matched_1": float(np.mean([L["fdr_matched"] for L in layers[0]])),
                    "fn_matched_1": float(np.mean([L["fn_matched"] for L in layers[0]])),
                    "exact_counts": float(np.mean([r[start]["exact_counts"] for r in recs])),
                    "hellinger_sq_median": float(np.median([r[start]["hellinger_sq"] for r in recs])),
                }
            rows[str(n)] = row
        out["priors"][prior] = rows
    return out


def report(result: dict) -> str:
    """The printed table: per prior and n, kept counts, error rates and exact recovery for both starts."""
    cfg, s = result["config"], result["summary"]
    lines = [f"Support recovery: p = {cfg['p']}, hidden {list(cfg['hidden'])} with {list(cfg['active'])} active, "
             f"{cfg['steps']} steps per fit; {len(cfg['seeds'])} seeds; selection options "
             f"{result.get('train_options') or 'the TrainConfig defaults'}. Kept = mean nodes with gamma > 0.5 per "
             "layer; FP/FN = over/under-selection rates from counts per layer (SR-1); layer 1 matched to the "
             "teacher (SR-2): FDR = unmatched kept / kept, FN = unmatched teacher / s_1; exact = fraction of seeds "
             "with the true count in every layer; dELBO = ELBO(random) - ELBO(truth) (SR-3)."]
    head = (f"{'prior':7s}{'n':>6s} | {'start':7s}{'kept':>11s}{'FP':>11s}{'FN':>11s}{'FDR1':>6s}{'FN1':>6s}"
            f"{'exact':>6s}{'E_Q H^2':>9s}")
    lines += [head + f" | {'dELBO [95% t]':>22s}"]
    fmt = lambda xs: " ".join(f"{x:.2f}" for x in xs)   # noqa: E731
    for prior, rows in s["priors"].items():
        for n, row in rows.items():
            for start in STARTS:
                r = row[start]
                line = (f"{prior:7s}{n:>6s} | {start:7s}{fmt(r['kept']):>11s}{fmt(r['fp_count']):>11s}"
                        f"{fmt(r['fn_count']):>11s}{r['fdr_matched_1']:>6.2f}{r['fn_matched_1']:>6.2f}"
                        f"{r['exact_counts']:>6.1f}{r['hellinger_sq_median']:>9.2g}")
                if start == STARTS[0]:
                    ci = row["elbo_diff_ci"]
                    line += f" | {row['elbo_diff']:>9.3g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else "")
                lines.append(line)
    return "\n".join(lines)


def plot(result: dict, path: str) -> str | None:
    """Kept counts and FP/FN rates against n per prior, both starts (PNG; ``None`` without matplotlib)."""
    plt = refimpl_plots.pyplot()
    if plt is None:
        return None
    cfg, s = result["config"], result["summary"]
    priors = list(s["priors"])
    fig, axes = plt.subplots(2, len(priors), figsize=(4.2 * len(priors), 7), squeeze=False)
    for j, prior in enumerate(priors):
        rows = s["priors"][prior]
        grid = np.array([int(n) for n in rows], dtype=float)
        for start, style in zip(STARTS, ("-o", "--s")):
            for l in range(len(cfg["hidden"])):
                kept = [rows[n][start]["kept"][l] for n in rows]
                axes[0, j].plot(grid, kept, style, ms=3, color=f"C{l}", label=f"{start}, layer {l + 1}")
                fp = [rows[n][start]["fp_count"][l] for n in rows]
                fn = [rows[n][start]["fn_count"][l] for n in rows]
                axes[1, j].plot(grid, fp, style, ms=3, color=f"C{l}", label=f"FP {start}, layer {l + 1}")
                axes[1, j].plot(grid, fn, style, ms=3, color=f"C{l}", alpha=0.4,
                                label=f"FN {start}, layer {l + 1}")
        for l, a in enumerate(cfg["active"]):
            axes[0, j].axhline(a, ls=":", color=f"C{l}")
        axes[0, j].set(xscale="log", xlabel="n", ylabel="nodes kept (mean over seeds)", title=prior,
                       ylim=(0, max(cfg["hidden"]) + 0.5))
        axes[1, j].set(xscale="log", xlabel="n", ylabel="error rate (counts)", ylim=(-0.02, 1.02))
        axes[0, j].legend(fontsize=7)
        axes[1, j].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ---- command line -----------------------------------------------------------------------------------
PROG = "python -m experiments.support"


def _parser():
    ap = TheoryParser(prog=PROG, description="Node-selection consistency: false-positive and false-negative "
                            "node rates against n, from a random start and from the truth (docs/theory.md, SR-1..3). "
                            "The teacher, its sweeps and the grid take the flags of `python -m experiments.contraction`.")
    add_experiment_arguments(ap, "support-out", str(QUICK))
    sel = ap.add_argument_group("node selection (default: TrainConfig's)")
    sel.add_argument("--theta-optimizer", choices=("natural", "adam"), help="instead of the default (natural)")
    sel.add_argument("--theta-lr", type=float, help="natural step size of the logits instead of the default")
    sel.add_argument("--theta-init", type=float, help="initial logit of the random start instead of logit(0.99)")
    sel.add_argument("--lr-mult-theta", type=float, help="learning-rate multiplier of the logits (adam)")
    return ap


SMOKE = ("SMOKE RUN (--quick): short fits that check that the experiment runs end to end. Their counts say nothing "
         "about consistency; run without --quick for the experiment.")


def main(argv=None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    where = executor_from_args(ap, args)           # a bad --executor combination ends here, before any output
    options = tuple((name, getattr(args, name)) for name in ("theta_optimizer", "theta_lr", "theta_init",
                                                              "lr_mult_theta") if getattr(args, name) is not None)
    try:
        points = sweep_points(base_config(args), args.sweep)
        for _, config in points:
            train_config(config, config.n_grid[0], 0, "random", options)     # a bad option fails here
        os.makedirs(args.out, exist_ok=True)
    except (ValueError, OSError) as exc:
        fail(f"{exc}; see `{PROG} --help`")
    written, t0 = [], time.perf_counter()
    with where as executor:
        for tag, config in points:
            result = run_support(config, executor, log=None if args.quiet else sys.stderr, options=options)
            result.update(smoke=bool(args.quick), point=tag or None)
            folder = os.path.join(args.out, tag) if tag else args.out
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, "support.json")
            with open(path + ".tmp", "w") as fh:
                json.dump(result, fh, indent=1)
            os.replace(path + ".tmp", path)
            png = plot(result, os.path.join(folder, "support.png"))
            written += [path] + ([png] if png else [])
            if tag:
                print(f"== {tag} ==")
            if args.quick:
                print(SMOKE)
            print(report(result))
    print(f"wall time {time.perf_counter() - t0:.1f} s for {len(points)} point(s) of "
          f"{sum(len(c.priors) * len(c.n_grid) * len(c.seeds) for _, c in points)} tasks (two fits each); wrote "
          + (", ".join(written) if len(written) <= 3 else f"{len(written)} files under {args.out}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
