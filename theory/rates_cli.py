"""``python -m theory rates``: the derived rate eps_n (T-11) of one topology, where it comes from and where it
says something. (T-11..T-13, T-17)

    python -m theory rates                            # the contraction experiment's teacher (experiments/contraction.py)
    python -m theory rates --example paper            # 784-400-400-10 with the nodes SS-GHS keeps on Fashion-MNIST
    python -m theory rates --widths 8 32 32 1 --active 6 4 --bounds 1 --n 1000
    python -m theory rates --from-run DIR             # widths, kept nodes, weight bounds, n of a trained run
      --published      the published rates (T-17) on the same topology, beside this one
      --json           every number as one JSON object on stdout
      --plot FILE.png  eps_n against n: three priors and several topologies; this rate and the published ones

It prints, for each prior: eps_n, eps_n^2, the local slope, the C3 ratio and the n from which the bound is
informative (eps_n^2 < 1: a squared Hellinger distance never exceeds 1, so a larger bound says nothing); the
decomposition of n r_n into the sample-size, worst-case Lipschitz, selection and slab terms, which shows where
the three priors differ (only in the slab term); a table over n; how eps_n^2 moves when one of s_l, k_l, B_l, L
changes. The theory is Gaussian regression: a classification network gets a warning.

Bad input ends with one line ``theory: error: <what is wrong>; <how to fix it>`` on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

from refimpl.activations import ACTIVATIONS

from .cli_errors import TheoryParser, fail
from .prior_mass import c3_ratio
from .published import SOURCES, edge_count, published_rates
from .rates import eps_n, eps_n_published, local_exponent, rate, validity_threshold
from .slab_mass import PRIORS, slab
from .topology import topology

#: Named topologies. ``teacher`` is experiments/contraction.py's ExperimentConfig (p = 4, hidden (8, 8), s = (3, 2),
#: tanh) with refimpl.data.synthetic's weight magnitudes U[0.5, 1.5] (B = 1.5) at the geometric middle of its
#: n grid; tests/test_theory_cli.py checks that these stay equal to those sources.
EXAMPLES = {
    "teacher": dict(widths=[4, 8, 8, 1], active=[3, 2], bounds=[1.5], activation="tanh", n=2000.0,
                    label="the contraction experiment's teacher (experiments/contraction.py): p = 4, hidden (8, 8) with "
                          "s = (3, 2) active, tanh, |w| <= 1.5, n = 2000 (the middle of its n grid)"),
    "paper": dict(widths=[784, 400, 400, 10], active=[41, 34], bounds=[1.0], activation="silu", n=60000.0,
                  label="the paper's MLP 784-400-400-10 on a 60,000-image training set, with the nodes SS-GHS keeps "
                        "on Fashion-MNIST (41, 34: docs/results.md, 300 epochs, mean of 3 seeds), B = 1 assumed, SiLU"),
}
C3_MAX_D = 5000          # the exact C3 quadrature takes seconds per 10^4 coordinates: skipped above unless --c3
PROG = "python -m theory rates"


class UsageError(Exception):
    """Bad input found after parsing; reported as one line, exit status 2."""


_Parser = TheoryParser


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    src = p.add_argument_group("topology (default: --example teacher)")
    src.add_argument("--example", choices=sorted(EXAMPLES), help="a named topology: teacher | paper")
    src.add_argument("--widths", type=int, nargs="+", help="p k_1 ... k_L K")
    src.add_argument("--active", type=int, nargs="+", help="s_1 ... s_L (active nodes per hidden layer)")
    src.add_argument("--from-run", metavar="DIR", help="a run directory of `python -m refimpl train`: its widths, "
                                                       "kept nodes, weight bounds, activation and training-set size")
    src.add_argument("--bounds", type=float, nargs="+", help="B_1 ... B_{L+1}, or one number (default: the example's, "
                                                             "the run's largest |mean weight|, or 1)")
    src.add_argument("--n", type=float, help="sample size (default: the example's or the run's, else 1000)")
    src.add_argument("--ns", type=float, nargs="+", help="sample sizes for the table over n (default n x 10^{-1..3})")
    src.add_argument("--activation", choices=sorted(ACTIVATIONS), help="sets L_psi (silu: 1.0998; default: the "
                                                                       "example's or the run's, else relu)")
    p.add_argument("--prior", nargs="+", choices=PRIORS, default=list(PRIORS), help="default: all three")
    p.add_argument("--group-mode", choices=("full", "active"), default="full")
    p.add_argument("--sigma0", type=float, default=1.0)
    p.add_argument("--lam-gl", type=float, default=1.0, help="SS-GL rate lambda (fixed)")
    p.add_argument("--s-glob", type=float, default=1.0, help="SS-GHS global scale (fixed)")
    p.add_argument("--c", type=float, default=None, help="SS-GHS slab width (default: plain horseshoe)")
    p.add_argument("--xi", type=float, default=0.0, help="approximation error ||f* - f0||_inf^2")
    p.add_argument("--kappa", type=float, default=0.1, help="schedule constant for the C3 column")
    p.add_argument("--sigma-e", type=float, default=1.0, help="noise std for the C3 column")
    c3 = p.add_mutually_exclusive_group()
    c3.add_argument("--no-c3", action="store_true", help="skip the C3 ratio (prior-mass quadrature)")
    c3.add_argument("--c3", action="store_true", help=f"compute the C3 ratio also when D > {C3_MAX_D} (slow)")
    out = p.add_argument_group("output")
    out.add_argument("--published", action="store_true", help="the published rates (T-17) on the same topology")
    out.add_argument("--alpha", type=float, default=1.0, help="smoothness of f0 for Polson & Ročková (default 1)")
    out.add_argument("--delta", type=float, default=1.0, help="log-power delta of Polson & Ročková and Bai et al. "
                                                              "(theirs: > 1; default 1)")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    out.add_argument("--plot", metavar="FILE.png", help="draw eps_n against n (needs matplotlib)")
    return p


# ---------------------------------------------------------------------------------------------
# where the topology comes from
# ---------------------------------------------------------------------------------------------
def from_run(path: str) -> dict:
    """Topology of a trained refimpl run: widths and activation from run.json; the kept nodes per hidden layer
    (``refimpl.run.pipeline.structure``: gamma > 1/2, the median-probability model) of the saved selected parameters;
    ``B_l`` the largest |weight or bias| of layer l in the compressed mean network (``refimpl.run.prune.compress``);
    n the rows the run was fitted on (the checkpoint's epoch permutation)."""
    from refimpl.run import rundir
    from refimpl.run.checkpoint import load_checkpoint
    from refimpl.model import NodeSparseBNN
    from refimpl.run.pipeline import RUN, read_run, structure
    from refimpl.run.prune import compress
    from refimpl.run.train import CHECKPOINT

    try:
        rundir.check_out(path, "--from-run", write=False)
    except ValueError as exc:
        raise UsageError("--from-run: " + str(exc).removeprefix("out: ")) from None
    if not os.path.isdir(path):
        raise UsageError(f"--from-run: {path} does not exist; give the --out directory of a "
                         "`python -m refimpl train` run")
    if not os.path.exists(os.path.join(path, RUN)):
        raise UsageError(f"--from-run: {path} holds no {RUN}; give the --out directory of a finished "
                         "`python -m refimpl train` run")
    ckpt_path = os.path.join(path, CHECKPOINT)
    if not os.path.exists(ckpt_path):
        raise UsageError(f"--from-run: {path} holds no {CHECKPOINT} (the saved parameters); finish the run "
                         f"(`python -m refimpl train --out {path} --resume ...`) or give --widths and --active")
    try:
        run = read_run(path)
        ckpt = load_checkpoint(ckpt_path)
        model = NodeSparseBNN(**{**run["model"], "backend": "numpy"})
        params = {k: model.backend.asarray(v) for k, v in ckpt.best_params.items()}
        kept = structure(model, params)["nodes_kept"]
        net = compress(model, params)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--from-run: {path} is not a readable refimpl run ({str(exc).removeprefix('out: ')}); "
                         "train it again, or give --widths and --active") from None
    for l, k in enumerate(kept, start=1):
        if k == 0:
            raise UsageError(f"--from-run: the run in {path} keeps no node in hidden layer {l} (gamma > 1/2), so the "
                             "rate (which needs s_l >= 1) does not apply; give --active to ask about another count")
    bounds = [float(max(np.abs(W).max(initial=0.0), np.abs(b).max(initial=0.0)))
              for W, b in zip(net.weights, net.biases)]
    return dict(widths=list(model.widths), active=kept, bounds=bounds, activation=run["model"]["activation"],
                n=float(len(ckpt.perm)) if len(ckpt.perm) > 1 else None, likelihood=model.likelihood,
                prior=model.prior_name,
                label=f"the run in {path}: prior {model.prior_name}, {model.likelihood} likelihood, nodes kept "
                      f"{kept} of {list(model.widths[1:-1])}; B_l = the largest |mean weight or bias| of the kept "
                      "network (standardised units)")


def resolve(args) -> dict:
    """The topology, n and activation the command is about, from an example, the flags or a run directory."""
    given = [name for name, v in (("--example", args.example), ("--widths", args.widths), ("--from-run", args.from_run))
             if v is not None]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} both name a topology; give one of them")
    if args.active is not None and args.widths is None:
        raise UsageError("--active needs --widths (p k_1 ... k_L K); or drop it to use an example or --from-run")
    if args.widths is not None:
        if args.active is None:
            raise UsageError("--widths needs --active s_1 ... s_L (active nodes per hidden layer); e.g. "
                             "--widths 4 8 8 1 --active 3 2")
        spec = dict(widths=args.widths, active=args.active, bounds=[1.0], activation="relu", n=1000.0,
                    label="given on the command line")
    elif args.from_run is not None:
        spec = from_run(args.from_run)
        if spec["n"] is None and args.n is None:
            raise UsageError(f"--from-run: the run in {args.from_run} records no training-set size (it has not "
                             "finished an epoch); give --n")
    else:
        spec = dict(EXAMPLES[args.example or "teacher"])
        spec["label"] = f"--example {args.example or 'teacher'}: " + spec["label"]
    if args.bounds is not None:
        spec["bounds"] = args.bounds
    if args.n is not None:
        spec["n"] = args.n
    if args.activation is not None:
        spec["activation"] = args.activation
    spec.setdefault("likelihood", None)
    spec.setdefault("prior", None)
    return spec


def task_warning(spec: dict) -> str | None:
    """The theory is Gaussian regression (docs/theory.md, Setting): say so for a classification network."""
    K = spec["widths"][-1]
    if spec.get("likelihood") == "categorical":
        return (f"warning: this is a classification network (categorical likelihood, K = {K} classes); the theory "
                "(T-11) is for Gaussian regression with known noise, so these numbers describe a K-output "
                "Gaussian regression of the same topology, not this classifier")
    if K > 1:
        return (f"warning: K = {K} outputs; the theory (T-11) is for Gaussian regression with known noise: for a "
                "classification network (softmax outputs) these numbers describe a K-output Gaussian regression "
                "of the same topology, not the classifier")
    return None


# ---------------------------------------------------------------------------------------------
# the numbers
# ---------------------------------------------------------------------------------------------
def _sensitivity(n, topo, hyper, L_psi, xi, priors):
    changes = []
    for l in range(topo.L):
        s = list(topo.s[:-1]); s[l] = min(2 * s[l], topo.k[l])
        changes.append((f"s_{l + 1} x2", topo.widths, s, topo.B))
        w = list(topo.widths); w[l + 1] *= 2
        changes.append((f"k_{l + 1} x2", w, topo.s[:-1], topo.B))
    for l in range(topo.L + 1):
        B = list(topo.B); B[l] *= 2
        changes.append((f"B_{l + 1} x2", topo.widths, topo.s[:-1], B))
    deeper = list(topo.widths[:-1]) + [topo.widths[-2], topo.widths[-1]]
    changes.append(("L+1 (copy layer L)", deeper, list(topo.s[:-1]) + [topo.s[-2]],
                    list(topo.B[:-1]) + [topo.B[-2], topo.B[-1]]))
    base = {p: rate(n, topo, slab(p, **hyper), lipschitz=L_psi, xi=xi).eps2 for p in priors}
    return {name: {p: rate(n, topology(w, s, B, group_mode=topo.group_mode), slab(p, **hyper), lipschitz=L_psi,
                           xi=xi).eps2 / base[p] for p in priors}
            for name, w, s, B in changes}


def compute(spec: dict, args) -> dict:
    """Every number the command prints, as a JSON-ready dict."""
    bounds = spec["bounds"][0] if len(spec["bounds"]) == 1 else spec["bounds"]
    topo = topology(spec["widths"], spec["active"], bounds, group_mode=args.group_mode)
    n = float(spec["n"])
    L_psi = ACTIVATIONS[spec["activation"]].lipschitz
    hyper = dict(sigma0=args.sigma0, lam_gl=args.lam_gl, s_glob=args.s_glob, c=args.c)
    kw = dict(group_mode=args.group_mode, lipschitz=L_psi, xi=args.xi, **hyper)
    ns = args.ns or [n * 10.0 ** e for e in (-1, 0, 1, 2, 3)]
    do_c3 = not args.no_c3 and (args.c3 or topo.D <= C3_MAX_D)
    report = {
        "source": spec["label"], "warning": task_warning(spec), "run_prior": spec.get("prior"),
        "topology": {"widths": list(topo.widths), "active": list(topo.s[:-1]), "K": topo.s[-1], "bounds": list(topo.B),
                     "group_mode": topo.group_mode, "activation": spec["activation"], "L_psi": L_psi,
                     "a": list(topo.a), "m": list(topo.m), "D": topo.D, "edges_S": edge_count(topo)},
        "n": n, "xi": args.xi, "slab_hyper": {k: v for k, v in hyper.items()},
        "c3": {"computed": do_c3, "kappa": args.kappa, "sigma_e": args.sigma_e,
               "proved_bound": max(1.0, 0.5 + args.kappa)
               + max(0.0, -math.log(args.sigma_e * math.sqrt(2.0))) / math.log(n)},
        "priors": {},
    }
    for prior in args.prior:
        r = eps_n(n, topo.widths, topo.s[:-1], topo.B, prior, **kw)
        R = None
        if do_c3:
            theta = [np.full((s, m), B) for s, m, B in zip(topo.s, topo.m, topo.B)]   # corner: every |w| = B_l
            R = c3_ratio(n, topo, slab(prior, **hyper), theta, kappa=args.kappa, lipschitz=L_psi,
                         sigma_e=args.sigma_e).R
        report["priors"][prior] = {
            "eps": r.eps, "eps2": r.eps2, "vacuous": r.eps2 >= 1.0,
            "informative_from_n": validity_threshold(topo, slab(prior, **hyper), lipschitz=L_psi, xi=args.xi),
            "slope": float(local_exponent(n, topo.widths, topo.s[:-1], topo.B, prior, **kw)), "R_c3": R,
            "Lambda_B_plus_1": r.Lambda, "betas": list(r.betas),
            "parts": {"sample_size": r.D * math.log(n), "lipschitz": r.volume - r.D * math.log(n),
                      "selection": r.selection, "slab": r.slab, "n_r_n": r.n_r_n},
        }
    report["over_n"] = {"n": ns, "eps": {p: [eps_n(m, topo.widths, topo.s[:-1], topo.B, p, **kw).eps for m in ns]
                                         for p in args.prior},
                        "jantre_reconstructed": {p: [eps_n_published(m, topo.widths, topo.s[:-1], topo.B, p,
                                                                     **hyper).eps for m in ns] for p in args.prior}}
    report["sensitivity"] = _sensitivity(n, topo, hyper, L_psi, args.xi, args.prior)
    if args.published:
        report["published"] = published_table(topo, ns, n, args, kw)
    return report


def _loglog_slope(f, n: float, h: float = 1e-4) -> float:
    """``d log f / d log n`` by a central difference in log n (for the published forms, which have no derivative
    of their own here)."""
    return (math.log(f(n * math.exp(h))) - math.log(f(n * math.exp(-h)))) / (2.0 * h)


def published_table(topo, ns, n, args, kw) -> dict:
    """(T-17) eps_n of the four published forms and of ours on the same topology, over ``ns``, with local slopes."""
    opts = dict(alpha=args.alpha, delta=args.delta)
    rows = {f"this project, {p}": (lambda m, p=p: eps_n(m, topo.widths, topo.s[:-1], topo.B, p, **kw).eps2)
            for p in args.prior}
    rows["Jantre et al. (reconstructed, T-13)"] = lambda m: eps_n_published(
        m, topo.widths, topo.s[:-1], topo.B, "ss-ig", sigma0=args.sigma0).eps2
    for name in SOURCES:
        rows[name] = lambda m, name=name: published_rates(m, topo, **opts)[name]
    return {"n": list(ns), "at_n": n, "alpha": args.alpha, "delta": args.delta, "sources": dict(SOURCES),
            "mapping": {"S": edge_count(topo), "L": topo.L, "N": max(topo.widths[1:-1]), "p": topo.widths[0],
                        "B": max(topo.B), "F": 1.0},
            "eps": {k: [math.sqrt(f(m)) for m in ns] for k, f in rows.items()},
            "slope": {k: _loglog_slope(f, n) for k, f in rows.items()}}


# ---------------------------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------------------------
def _fmt(x) -> str:
    return f"{x:10.4g}" if x is not None else f"{'-':>10s}"


def render(rep: dict) -> str:
    t, lines = rep["topology"], []
    out = lines.append
    out(f"Topology: {rep['source']}")
    if rep["warning"]:
        out(rep["warning"])
    out("Derived rate n r_n = D[log n + log Lambda(B+1)] + sum s_l log(e k_l) + sum s_l beta_l; eps_n^2 = r_n + xi")
    out("(docs/theory-notes.md §3.2, derived in this project; NOT the paper's constants; docs/theory.md T-11)")
    bounds = ", ".join(f"{b:.4g}" for b in t["bounds"])
    out(f"widths {t['widths']}, active {t['active']} (+ {t['K']} output), bounds [{bounds}], group mode "
        f"{t['group_mode']}, L_psi {t['L_psi']:.4g} ({t['activation']})")
    out(f"a_l {t['a']}, m_l {t['m']}, D = {t['D']}\n")

    n, priors = rep["n"], rep["priors"]
    out(f"{'prior':8s}{'n':>10s}{'eps_n':>10s}{'eps_n^2':>10s}{'slope':>10s}{'R (C3)':>10s}{'eps_n<1 from n':>16s}")
    for p, r in priors.items():
        mark = "   <- the run's prior" if rep.get("run_prior") == p else ""
        out(f"{p:8s}{_fmt(n)}{_fmt(r['eps'])}{_fmt(r['eps2'])}{_fmt(r['slope'])}{_fmt(r['R_c3'])}"
            f"{r['informative_from_n']:16.4g}{mark}")
    c3 = rep["c3"]
    note = (f"R = -log Pi(box)/(n eps_n^2) at the corner theta* (kappa = {c3['kappa']}, sigma_e = {c3['sigma_e']}; "
            f"proved bound C_3 = {c3['proved_bound']:.4g})" if c3["computed"] else
            f"R (C3) skipped{' (--no-c3)' if t['D'] <= C3_MAX_D else f': D > {C3_MAX_D} takes long; --c3 computes it'}")
    out(f"(slope = d log eps_n^2 / d log n; {note})\n")
    out(_validity(rep))

    out("\nWhere n r_n comes from (nats; share of n r_n). Only the slab term depends on the prior:")
    out(f"{'prior':8s}{'D log n':>18s}{'D log Lambda(B+1)':>20s}{'selection':>18s}{'slab':>18s}{'n r_n':>11s}")
    for p, r in priors.items():
        parts, total = r["parts"], r["parts"]["n_r_n"]
        cells = "".join(f"{parts[k]:>11.4g} ({100 * parts[k] / total:3.0f}%)".rjust(w)
                        for k, w in (("sample_size", 18), ("lipschitz", 20), ("selection", 18), ("slab", 18)))
        out(f"{p:8s}{cells}{total:>11.4g}")
    for p, r in priors.items():
        out(f"  {p:8s} slab cost per active group beta_l = " + ", ".join(f"{b:.4g}" for b in r["betas"])
            + f"   (Lambda(B+1) = {r['Lambda_B_plus_1']:.4g})")
    out(_where_priors_differ(rep))

    ns = rep["over_n"]["n"]
    out("\neps_n over n" + " " * 4 + "".join(_fmt(m) for m in ns))
    for p in priors:
        out(f"{p:16s}" + "".join(_fmt(e) for e in rep["over_n"]["eps"][p]))
        out(f"{'  published*':16s}" + "".join(_fmt(e) for e in rep["over_n"]["jantre_reconstructed"][p]))
    out("(values >= 1 are vacuous; * Jantre et al.'s rate RECONSTRUCTED in shape only, C = 1: "
        "theory.rates.eps_n_published, T-13; not the paper's text)\n")

    out(f"eps_n^2 ratio at n = {n:g} when one quantity changes (topology sensitivity)")
    out(f"{'change':20s}" + "".join(f"{p:>10s}" for p in priors))
    for name, vals in rep["sensitivity"].items():
        out(f"{name:20s}" + "".join(_fmt(v) for v in vals.values()))
    if "published" in rep:
        out("\n" + _render_published(rep["published"], t))
    return "\n".join(lines)


def _validity(rep: dict) -> str:
    n, priors = rep["n"], rep["priors"]
    frm = ", ".join(f"{r['informative_from_n']:.3g} ({p})" for p, r in priors.items())
    if all(r["vacuous"] for r in priors.values()):
        worst = min(r["eps2"] for r in priors.values())
        return (f"VACUOUS at n = {n:g}: eps_n^2 >= {worst:.3g} >= 1 for every prior, and a squared Hellinger "
                "distance never exceeds 1, so the bound says nothing here. It becomes informative (eps_n^2 < 1) "
                f"from n = {frm}.")
    if not any(r["vacuous"] for r in priors.values()):
        return f"Informative at n = {n:g}: eps_n^2 < 1 for every prior (from n = {frm})."
    bad = [p for p, r in priors.items() if r["vacuous"]]
    return (f"Mixed at n = {n:g}: the bound is VACUOUS (eps_n^2 >= 1) for {', '.join(bad)}; eps_n^2 < 1 from n = "
            f"{frm}.")


def _where_priors_differ(rep: dict) -> str:
    priors = rep["priors"]
    if len(priors) < 2:
        return ""
    ref = next(iter(priors))
    base = priors[ref]["parts"]
    diffs = ", ".join(f"{p} - {ref} = {r['parts']['slab'] - base['slab']:+.4g} nats "
                      f"({100 * (r['parts']['n_r_n'] - base['n_r_n']) / base['n_r_n']:+.1f}% of n r_n)"
                      for p, r in priors.items() if p != ref)
    shares = [100 * r["parts"]["lipschitz"] / r["parts"]["n_r_n"] for r in priors.values()]
    lo, hi = round(min(shares)), round(max(shares))
    span = f"{lo}%" if lo == hi else f"{lo}-{hi}%"
    return (f"The priors differ by their slab terms only: {diffs}. The worst-case Lipschitz term D log Lambda(B+1), "
            f"the same for all three, is {span} of n r_n" + (": it hides the difference." if lo > 50 else "."))


def _render_published(pub: dict, t: dict) -> str:
    ns, lines = pub["n"], []
    lines.append(f"Published rates on the same topology (T-17; shapes with C = 1, not constants): eps_n over n, and "
                 f"the local slope d log eps_n^2 / d log n at n = {pub['at_n']:g}")
    lines.append(f"{'':36s}" + "".join(_fmt(m) for m in ns) + f"{'slope':>10s}")
    for name, eps in pub["eps"].items():
        lines.append(f"{name:36s}" + "".join(_fmt(e) for e in eps) + _fmt(pub["slope"][name]))
    m = pub["mapping"]
    lines.append(f"(edge-sparse view of this node-sparse truth: S = {m['S']} non-zero weights and biases, L = {m['L']} "
                 f"hidden layers, N = {m['N']} widest, p = {m['p']}, B = {m['B']:g}; F = 1; alpha = {pub['alpha']:g}, "
                 f"delta = {pub['delta']:g})")
    notes = {
        "schmidt-hieber": "least squares over ReLU nets with every |parameter| <= 1, L2 risk"
                          + (f" (B = {m['B']:g} > 1 is outside its class)" if m["B"] > 1 else ""),
        "polson-rockova": "spike-and-slab ReLU, alpha-Hölder f0; depth, width, sparsity set by n (uses p only)",
        "cherief-abdellatif": "tempered VB, spike-and-slab ReLU, |parameters| <= B, L2 risk",
        "bai-song-cheng": "VB, spike-and-slab with Gaussian slab, 1-Lipschitz psi, Hellinger",
    }
    for name, src in pub["sources"].items():
        lines.append(f"  {name}: {src}; {notes[name]}")
    if t["activation"] != "relu":
        lines.append(f"  (Schmidt-Hieber, Polson & Ročková and Chérief-Abdellatif are for ReLU; this network uses "
                     f"{t['activation']})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------------------------
def plot(rep: dict, args, path: str, plt) -> str:
    """Left: eps_n against n for the three priors (colours) and four topologies (line styles): this one, every s_l
    doubled (capped at k_l), every k_l doubled, every B_l doubled. Right: ours against the published forms (T-17)."""
    t = rep["topology"]
    hyper = dict(sigma0=args.sigma0, lam_gl=args.lam_gl, s_glob=args.s_glob, c=args.c)
    kw = dict(group_mode=t["group_mode"], lipschitz=t["L_psi"], xi=args.xi, **hyper)
    n0 = rep["n"]
    grid = np.geomspace(max(3.0, n0 / 100.0), n0 * 1e4, 60)
    w, s, B = t["widths"], t["active"], t["bounds"]
    variants = [("this topology", w, s, B, "-"),
                ("s_l x2", w, [min(2 * a, k) for a, k in zip(s, w[1:-1])], B, "--"),
                ("k_l x2", [w[0]] + [2 * k for k in w[1:-1]] + [w[-1]], s, B, ":"),
                ("B_l x2", w, s, [2 * b for b in B], "-.")]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    ax = axes[0]
    for j, prior in enumerate(rep["priors"]):
        for name, ww, ss, BB, style in variants:
            e = [eps_n(m, ww, ss, BB, prior, **kw).eps for m in grid]
            ax.plot(grid, e, style, color=f"C{j}", lw=1.4, label=f"{prior}, {name}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.text(grid[0], 1.05, "eps_n >= 1: vacuous", fontsize=8, va="bottom")
    ax.axvline(n0, color="0.6", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel=r"$\varepsilon_n$", title="derived rate (T-11)")
    ax.legend(fontsize=6, ncol=3)
    ax = axes[1]
    topo = topology(w, s, B, group_mode=t["group_mode"])
    for j, prior in enumerate(rep["priors"]):
        ax.plot(grid, [eps_n(m, w, s, B, prior, **kw).eps for m in grid], "-", color=f"C{j}", lw=1.6,
                label=f"this project, {prior}")
    ax.plot(grid, [eps_n_published(m, w, s, B, "ss-ig", sigma0=args.sigma0).eps for m in grid], "-", color="0.5",
            label="Jantre et al. (reconstructed)")
    pub = [published_rates(m, topo, alpha=args.alpha, delta=args.delta) for m in grid]
    for j, name in enumerate(SOURCES):
        ax.plot(grid, [math.sqrt(p[name]) for p in pub], "--", color=f"C{j + 3}", label=name)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axvline(n0, color="0.6", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="n", title="against published rates (T-17; shapes, C = 1)")
    ax.legend(fontsize=7)
    fig.suptitle(f"widths {w}, active {s}, B {B}, {t['activation']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _check_plot_path(path: str):
    if not path.lower().endswith(".png"):
        raise UsageError(f"--plot: expected a .png file name, got {path!r}; e.g. --plot rates.png")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--plot: the directory {parent} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--plot: cannot write in {parent} (permission denied); choose a writable path")


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def rates_main(argv) -> int:
    args = _parser().parse_args(argv)
    try:
        plt = None
        if args.plot is not None:
            _check_plot_path(args.plot)
            from refimpl.run import plots
            plt = plots.pyplot()
            if plt is None:
                raise UsageError("--plot needs matplotlib, which is not installed; install it with: "
                                 "pip install -e '.[plots]' (or drop --plot)")
        spec = resolve(args)
        report = compute(spec, args)
        if plt is not None:
            report["plot"] = plot(report, args, args.plot, plt)
    except UsageError as exc:
        fail(str(exc))
    except ValueError as exc:       # a bad value reaching theory/ (topology, slab, n): its message names it
        fail(f"{exc}; see `{PROG} --help`")
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}; check the path and its permissions")
    if args.json:
        print(json.dumps(_json_safe(report), indent=1))
    else:
        print(render(report))
        if "plot" in report:
            print(f"\nwrote {report['plot']}")
    return 0
