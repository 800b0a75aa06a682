"""``python -m experiments.contraction``: the contraction experiment (``experiments/contraction.py``) from the command line:
the teacher's topology, sweeps over width, depth, s and B, the executor, and the report. (CE-3, CE-4)

    python -m experiments.contraction --out DIR                     # the default teacher: 7 n x 10 seeds x 3 priors
    python -m experiments.contraction --quick --executor serial     # smoke run, 12 short fits: no slopes, no prediction
    python -m experiments.contraction --p 4 --hidden 16 16 --active 3 2 --B 1.5 --noise 0.5 --out DIR
    python -m experiments.contraction --sweep width 8 16 32 --out DIR               # three topologies, one pool
    python -m experiments.contraction --sweep depth 1 2 3 --sweep B 0.75 3 --out DIR  # Cartesian product: six
    python -m experiments.contraction --executor dask --scheduler tcp://HOST:8786   # needs dask[distributed]

Sweep axes; `--sweep AXIS V1 V2 ...` runs one point per value V:
  width  every hidden layer has V nodes (the active counts stay)
  depth  V hidden layers: --hidden and --active are cut, or extended by repeating their last entry
  s      every hidden layer has V active nodes
  B      the teacher's weights |w| ~ U[V/3, V]; the rate's bound B_l is max(V, 0.5), 0.5 being the bias range
Several --sweep flags give their Cartesian product. One point writes DIR/contraction.json (and .png when
matplotlib is installed); a sweep writes DIR/<point>/contraction.json for each point and DIR/sweep.json.

Bad input ends with one line ``theory: error: <what is wrong>; <how to fix it>`` on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from dataclasses import replace

import numpy as np

from refimpl.activations import ACTIVATIONS

from theory.cli_errors import TheoryParser, fail
from refimpl.run.executors import add_executor_arguments, executor_from_args

from .contraction import PRIORS, QUICK, ExperimentConfig, plot, run_sweep

PROG = "python -m experiments.contraction"
SWEEP_AXES = {"width": int, "depth": int, "s": int, "B": float}
FEW_SEEDS = 10      # below this the t interval leans on normal per-seed slopes (docs/theory.md, CE-3)


_Parser = TheoryParser


def add_experiment_arguments(ap: argparse.ArgumentParser, out_default: str, quick_help: str) -> argparse.ArgumentParser:
    """The options the contraction and support-recovery experiments share: output, smoke run, executor, the
    teacher's topology with its sweeps, and the grid (``experiments/support.py`` uses them too)."""
    ap.add_argument("--out", default=out_default, help="output directory")
    ap.add_argument("--quick", action="store_true", help=f"smoke run (CI): {quick_help}")
    run = ap.add_argument_group("where the fits run")
    add_executor_arguments(run)
    topo = ap.add_argument_group("teacher and student (default: p 4, hidden 8 8, active 3 2, B 1.5, noise 0.5, tanh)")
    topo.add_argument("--p", type=int, help="input dimension")
    topo.add_argument("--hidden", type=int, nargs="+", help="hidden widths k_1 ... k_L (student and teacher)")
    topo.add_argument("--active", type=int, nargs="+", help="the teacher's active nodes s_1 ... s_L")
    topo.add_argument("--B", type=float, help="weight bound: the teacher's |w| ~ U[B/3, B]")
    topo.add_argument("--noise", type=float, help="noise standard deviation sigma_e (known to the student)")
    topo.add_argument("--activation", choices=sorted(ACTIVATIONS))
    topo.add_argument("--sweep", nargs="+", action="append", metavar=("AXIS", "V"),
                      help=f"one point per value V of AXIS in {list(SWEEP_AXES)} (repeat for a product)")
    grid = ap.add_argument_group("grid and training")
    grid.add_argument("--n-grid", type=int, nargs="+", help="training-set sizes")
    grid.add_argument("--seeds", type=int, nargs="+", help="teacher/data/initialisation seeds (default 0..9)")
    grid.add_argument("--priors", nargs="+", choices=PRIORS)
    grid.add_argument("--steps", type=int, help="optimiser steps per fit")
    grid.add_argument("--kappa", type=float, help="theory schedule constant")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return ap


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    add_experiment_arguments(ap, "contraction-out", str(QUICK))
    ap.add_argument("--qstar-steps", type=int, help="Adam steps tuning q* (0: untuned)")
    return ap


# ---------------------------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------------------------
def base_config(args) -> ExperimentConfig:
    """The configuration the flags describe: ``--quick``'s grid, then every flag given (ValueError if invalid)."""
    overrides = dict(QUICK) if args.quick else {}
    flags = {"n_grid": "n_grid", "seeds": "seeds", "priors": "priors", "steps": "steps", "kappa": "kappa",
             "qstar_steps": "qstar_steps", "p": "p", "hidden": "hidden", "active": "active", "B": "B",
             "noise": "noise_sigma", "activation": "activation"}
    for flag, field in flags.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = tuple(value) if isinstance(value, list) else value
    return replace(ExperimentConfig(), **overrides)


def _at(values: tuple, depth: int) -> tuple:
    """``values`` cut to ``depth`` entries, or extended by repeating the last."""
    return tuple(values[min(l, len(values) - 1)] for l in range(depth))


def apply_axis(config: ExperimentConfig, axis: str, value) -> ExperimentConfig:
    """One sweep step (see the module docstring): ``width``, ``depth``, ``s`` or ``B`` set to ``value``."""
    if axis == "width":
        return replace(config, hidden=(int(value),) * len(config.hidden))
    if axis == "depth":
        if int(value) < 1:
            raise ValueError(f"--sweep depth: expected depths >= 1, got {value}")
        return replace(config, hidden=_at(config.hidden, int(value)), active=_at(config.active, int(value)))
    if axis == "s":
        return replace(config, active=(int(value),) * len(config.active))
    if axis == "B":
        return replace(config, B=float(value))
    raise ValueError(f"--sweep: unknown axis {axis!r}; choose from {list(SWEEP_AXES)}")


def sweep_points(base: ExperimentConfig, sweeps) -> list:
    """``[(tag, config)]``: the Cartesian product of ``sweeps`` (each ``[AXIS, V1, V2, ...]`` as strings) applied
    to ``base``; the tag names the point (``'width=16,B=3'``; ``''`` without sweeps). Depth goes first, so
    that width and s apply to every layer of the deeper network."""
    axes = []
    for sweep in sweeps or []:
        axis, raw = sweep[0], sweep[1:]
        if axis not in SWEEP_AXES:
            raise ValueError(f"--sweep: unknown axis {axis!r}; choose from {list(SWEEP_AXES)}")
        if not raw:
            raise ValueError(f"--sweep {axis}: expected at least one value, e.g. --sweep {axis} 8 16")
        try:
            values = [SWEEP_AXES[axis](v) for v in raw]
        except ValueError:
            raise ValueError(f"--sweep {axis}: expected {SWEEP_AXES[axis].__name__} values, got {raw}") from None
        if any(a == axis for a, _ in axes):
            raise ValueError(f"--sweep {axis}: given twice; list all its values after one --sweep {axis}")
        axes.append((axis, values))
    axes.sort(key=lambda a: a[0] != "depth")
    points = []
    for combo in itertools.product(*[[(axis, v) for v in values] for axis, values in axes]):
        config, tag = base, ",".join(f"{axis}={v:g}" for axis, v in combo)
        try:
            for axis, v in combo:
                config = apply_axis(config, axis, v)
        except ValueError as exc:
            raise ValueError(f"sweep point {tag}: {exc}") from None
        points.append((tag, config))
    return points


# ---------------------------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------------------------
def _ci(fit: dict) -> str:
    if fit["slope"] is None:
        return "-"
    return f"{fit['slope']:.2f}" + (f" [{fit['ci'][0]:.2f}, {fit['ci'][1]:.2f}]" if fit["ci"] else " [one seed]")


def _ns(ns) -> str:
    return ", ".join(f"{n:g}" for n in ns)


def report(result: dict, smoke: bool = False) -> str:
    """The printed report of one configuration. A smoke run (``--quick``) prints levels and node counts only:
    its slopes mean nothing, so neither they nor a prediction appear."""
    cfg, s = result["config"], result["summary"]
    licensed, B = s["licensed_mode"], cfg["B"]
    first = next(iter(s["priors"].values()))
    lines = [f"Teacher and student: p = {cfg['p']}, hidden {list(cfg['hidden'])} with {list(cfg['active'])} active, "
             f"{cfg['activation']}, |w| ~ U[{B / 3:.3g}, {B:g}], sigma_e = {cfg['noise_sigma']:g}; "
             f"{len(first['seeds'])} seeds x n = {_ns(s['grid'])}, {cfg['steps']} steps per fit"]
    out = lines.append
    if smoke:
        out("SMOKE RUN (--quick): short fits that check that the experiment runs end to end. Their numbers say "
            "nothing about rates, so no slope and no prediction is printed; run without --quick for the experiment.")
        return "\n".join(lines + _levels(s))

    out(f"Rate eps_n (T-11) of this topology: B_l = {s['bounds']:g}, L_psi = {s['lipschitz']:g}; group mode "
        f"'{licensed}' is the one the theorem licenses here (the student's schedule charges full groups), "
        "'active' is shown in brackets.")
    groups = {}                                     # priors with the same vacuous points share a line
    for prior, res in s["priors"].items():
        groups.setdefault((tuple(res["vacuous_n"]), tuple(res["fit_n"])), []).append(prior)
    for (vacuous, fit_n), priors in groups.items():
        who = ", ".join(priors) + ": "
        if vacuous:
            out(who + f"the bound is vacuous (eps_n^2 >= 1) at n = {_ns(vacuous)}; those points are marked and kept "
                "out of the slope fits" + (f", which use n = {_ns(fit_n)}" if len(fit_n) >= 2 else ""))
        if len(fit_n) < 2:
            start = ", ".join(f"{s['priors'][p]['prediction'][licensed]['informative_from_n']:.0f}" for p in priors)
            out(who + f"fewer than two n with eps_n^2 < 1 (informative from n = {start}): no slope is fitted")
    if all(len(res["fit_n"]) < 2 for res in s["priors"].values()):
        return "\n".join(lines + _levels(s))
    level = int(round(100 * s["level"]))
    n_seeds = len(first["seeds"])
    out(f"Slope: the mean of the {n_seeds} per-seed OLS slopes of log(metric) on log n, {level}% Student t interval "
        f"({n_seeds - 1} d.f.). Derived: the OLS slope of log eps_n^2 over the same n. E_Q H^2 is the theorem's "
        "quantity; the theorem bounds its level, E_Q H^2 <= C eps_n^2, and predicts the slope only if that bound is "
        "tight.")
    if n_seeds < FEW_SEEDS:
        out(f"note: {n_seeds} seeds (< {FEW_SEEDS}): the t interval rests on the per-seed slopes being normal.")
    out(f"{'prior':8s}{'E_Q H^2 slope':>24s}{'derived (active)':>19s}{'||E_Q f - f0||^2 slope':>26s}"
        f"{'E_Q H^2 / eps_n^2':>19s}  failing soft checks")
    for prior, res in s["priors"].items():
        pred = res["prediction"]
        d = pred[licensed]["derived_slope"]
        other = [m for m in pred if m != licensed][0]
        derived = "-" if d is None else f"{d:.3f} ({pred[other]['derived_slope']:.3f})"
        ratio = res["level_ratio"]
        lvl = "-" if ratio is None else f"{min(ratio['ratio']):.2g} to {max(ratio['ratio']):.2g}"
        failing = [k for k, v in res["checks"].items() if v is False]
        out(f"{prior:8s}{_ci(res['hellinger_sq']):>24s}{derived:>19s}{_ci(res['mse_posterior_mean']):>26s}"
            f"{lvl:>19s}  {', '.join(failing) or 'none'}")
    out(f"Nodes kept (gamma > 0.5) at n = {s['grid'][-1]}, median [min, max] per hidden layer, against the true "
        f"{list(cfg['active'])}:")
    for prior, res in s["priors"].items():
        counts = np.array(res["nodes_kept_largest_n"])
        per_layer = [f"{np.median(c):g} [{c.min()}, {c.max()}]" for c in counts.T] if counts.size else ["-"]
        out(f"  {prior:8s}" + "; ".join(per_layer))
    return "\n".join(lines)


def _levels(s: dict) -> list:
    """The median E_Q H^2 by n and the node counts at the largest n, per prior: what a run without slopes shows."""
    lines = [f"{'prior':8s}  E_Q H^2 by n (median over seeds)        nodes kept at n = {s['grid'][-1]} (per seed)"]
    for prior, res in s["priors"].items():
        h2 = ", ".join(f"{v:.3g}" for v in res["hellinger_sq"]["median_by_n"])
        lines.append(f"{prior:8s}  {h2:38s}  {res['nodes_kept_largest_n']}")
    return lines


def sweep_table(points, results) -> str:
    """One line per (point, prior): the E_Q H^2 slope, the derived slope and the level."""
    lines = [f"{'point':24s}{'prior':8s}{'E_Q H^2 slope':>24s}{'derived':>10s}{'E_Q H^2 / eps_n^2':>19s}"]
    for (tag, _), result in zip(points, results):
        s = result["summary"]
        for prior, res in s["priors"].items():
            d = res["prediction"][s["licensed_mode"]]["derived_slope"]
            ratio = res["level_ratio"]
            lvl = "-" if ratio is None else f"{min(ratio['ratio']):.2g} to {max(ratio['ratio']):.2g}"
            lines.append(f"{tag:24s}{prior:8s}{_ci(res['hellinger_sq']):>24s}{'-' if d is None else f'{d:.3f}':>10s}"
                         f"{lvl:>19s}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    where = executor_from_args(ap, args)           # a bad --executor combination ends here, before any output
    try:
        points = sweep_points(base_config(args), args.sweep)
    except ValueError as exc:
        fail(f"{exc}; see `{PROG} --help`")
    os.makedirs(args.out, exist_ok=True)
    log = None if args.quiet else sys.stderr
    with where as executor:
        results = run_sweep([config for _, config in points], executor, log=log)
    written = []
    for (tag, _), result in zip(points, results):
        result.update(executor=args.executor, workers=args.workers, smoke=bool(args.quick), point=tag or None)
        folder = os.path.join(args.out, tag) if tag else args.out
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "contraction.json"), "w") as fh:
            json.dump(result, fh, indent=1)
        written.append(os.path.join(folder, "contraction.json"))
        png = plot(result, os.path.join(folder, "contraction.png"))
        written += [png] if png else []
        if tag:
            print(f"== {tag} ==")
        print(report(result, smoke=args.quick))
    if len(points) > 1:
        with open(os.path.join(args.out, "sweep.json"), "w") as fh:
            json.dump({"points": [{"point": tag, "config": r["config"], "summary": r["summary"]}
                                  for (tag, _), r in zip(points, results)], "smoke": bool(args.quick),
                       "wall_s": results[0]["wall_s"]}, fh, indent=1)
        written.append(os.path.join(args.out, "sweep.json"))
        if not args.quick:
            print("== sweep ==\n" + sweep_table(points, results))
    print(f"wall time {results[0]['wall_s']:.1f} s for {sum(len(r['records']) for r in results)} fits; wrote "
          + (", ".join(written) if len(written) <= 3 else f"{len(written)} files under {args.out}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
