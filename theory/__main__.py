"""``python -m theory rates ...`` prints the derived rate and its parts; ``python -m theory contraction ...``
runs the empirical contraction experiment (``theory/contraction.py``).

    python -m theory rates --widths 8 32 32 1 --active 6 4 --bounds 1 1 1 --n 1000 --prior ss-gl
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from refimpl.activations import ACTIVATIONS

from .prior_mass import c3_ratio
from .rates import eps_n, eps_n_published, local_exponent, rate, validity_threshold
from .slab_mass import PRIORS, slab
from .topology import topology


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m theory rates",
                                description="Derived contraction rate eps_n (theory-notes §3.2; derived here, "
                                            "not the paper's constants) and its parts, per prior.")
    p.add_argument("--widths", type=int, nargs="+", required=True, help="p k_1 ... k_L K")
    p.add_argument("--active", type=int, nargs="+", required=True, help="s_1 ... s_L (active nodes per hidden layer)")
    p.add_argument("--bounds", type=float, nargs="+", default=[1.0], help="B_1 ... B_{L+1}, or one number (default 1)")
    p.add_argument("--n", type=float, default=1000.0, help="sample size (default 1000)")
    p.add_argument("--ns", type=float, nargs="+", help="sample sizes for the table over n (default n x 10^{-1..3})")
    p.add_argument("--prior", nargs="+", choices=PRIORS, default=list(PRIORS), help="default: all three")
    p.add_argument("--group-mode", choices=("full", "active"), default="full")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu", help="sets L_psi (silu: 1.0998)")
    p.add_argument("--sigma0", type=float, default=1.0)
    p.add_argument("--lam-gl", type=float, default=1.0, help="SS-GL rate lambda (fixed)")
    p.add_argument("--s-glob", type=float, default=1.0, help="SS-GHS global scale (fixed)")
    p.add_argument("--c", type=float, default=None, help="SS-GHS slab width (default: plain horseshoe)")
    p.add_argument("--xi", type=float, default=0.0, help="approximation error ||f* - f0||_inf^2")
    p.add_argument("--kappa", type=float, default=0.1, help="schedule constant for the C3 column")
    p.add_argument("--sigma-e", type=float, default=1.0, help="noise std for the C3 column")
    p.add_argument("--no-c3", action="store_true", help="skip the C3 ratio (prior-mass quadrature)")
    return p


def _fmt(x: float) -> str:
    return f"{x:10.4g}"


def rates_main(argv) -> int:
    args = _parser().parse_args(argv)
    bounds = args.bounds[0] if len(args.bounds) == 1 else args.bounds
    try:
        topo = topology(args.widths, args.active, bounds, group_mode=args.group_mode)
    except ValueError as err:
        _parser().error(str(err))
    L_psi = ACTIVATIONS[args.activation].lipschitz
    hyper = dict(sigma0=args.sigma0, lam_gl=args.lam_gl, s_glob=args.s_glob, c=args.c)
    kw = dict(group_mode=args.group_mode, lipschitz=L_psi, xi=args.xi, **hyper)
    ns = args.ns or [args.n * 10.0 ** e for e in (-1, 0, 1, 2, 3)]

    print("Derived rate n r_n = D[log n + log Lambda(B+1)] + sum s_l log(e k_l) + sum s_l beta_l; eps_n^2 = r_n + xi")
    print("(theory-notes §3.2, derived in this project; NOT the paper's constants; docs/theory.md T-11)")
    print(f"widths {list(topo.widths)}, active {list(topo.s[:-1])} (+ {topo.s[-1]} output), bounds {list(topo.B)}, "
          f"group mode {topo.group_mode}, L_psi {L_psi:.4g} ({args.activation})")
    print(f"a_l {list(topo.a)}, m_l {list(topo.m)}, D = {topo.D}\n")

    head = f"{'prior':8s}{'n':>10s}{'eps_n':>10s}{'eps_n^2':>10s}{'volume':>10s}{'selection':>10s}{'slab':>10s}" \
           f"{'slope':>10s}{'R (C3)':>10s}"
    print(head)
    for prior in args.prior:
        r = eps_n(args.n, topo.widths, topo.s[:-1], topo.B, prior, **kw)
        slope = local_exponent(args.n, topo.widths, topo.s[:-1], topo.B, prior, **kw)
        R = math.nan
        if not args.no_c3:
            theta = [np.full((s, m), B) for s, m, B in zip(topo.s, topo.m, topo.B)]   # corner: every |w| = B_l
            R = c3_ratio(args.n, topo, slab(prior, **hyper), theta, kappa=args.kappa, lipschitz=L_psi,
                         sigma_e=args.sigma_e).R
        print(f"{prior:8s}{_fmt(args.n)}{_fmt(r.eps)}{_fmt(r.eps2)}{_fmt(r.volume)}{_fmt(r.selection)}{_fmt(r.slab)}"
              f"{_fmt(slope)}{_fmt(R)}")
        n_valid = validity_threshold(topo, slab(prior, **hyper), lipschitz=L_psi, xi=args.xi)
        print(f"{'':8s}  Lambda(B+1) = {r.Lambda:.4g}; slab cost per group beta_l = "
              + ", ".join(f"{b:.4g}" for b in r.betas) + f"; eps_n < 1 for n > {n_valid:.4g}")
    print("\n(volume, selection, slab are nats of n r_n; slope = d log eps_n^2 / d log n; R = -log Pi(box)/(n eps_n^2)"
          f" at the corner theta* with kappa = {args.kappa}, sigma_e = {args.sigma_e}; the proved bound is C_3 = "
          f"{max(1.0, 0.5 + args.kappa) + max(0.0, -math.log(args.sigma_e * math.sqrt(2))) / math.log(args.n):.4g})\n")

    print("eps_n over n" + " " * 4 + "".join(_fmt(n) for n in ns))
    for prior in args.prior:
        print(f"{prior:16s}" + "".join(_fmt(eps_n(n, topo.widths, topo.s[:-1], topo.B, prior, **kw).eps) for n in ns))
        pub = [eps_n_published(n, topo.widths, topo.s[:-1], topo.B, prior, **hyper).eps for n in ns]
        print(f"{'  published*':16s}" + "".join(_fmt(e) for e in pub))
    print("(* reconstructed published shape with C = 1, theory-notes §3.1 / paper-notes §6.5: shape only)\n")

    print(f"eps_n^2 ratio at n = {args.n:g} when one quantity changes (topology sensitivity)")
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
    changes.append(("L+1 (copy layer L)", deeper, list(topo.s[:-1]) + [topo.s[-2]], list(topo.B[:-1]) + [topo.B[-2], topo.B[-1]]))
    print(f"{'change':20s}" + "".join(f"{p:>10s}" for p in args.prior))
    base = {p: eps_n(args.n, topo.widths, topo.s[:-1], topo.B, p, **kw).eps2 for p in args.prior}
    for name, w, s, B in changes:
        vals = [rate(args.n, topology(w, s, B, group_mode=topo.group_mode), slab(p, **hyper), lipschitz=L_psi,
                     xi=args.xi).eps2 / base[p] for p in args.prior]
        print(f"{name:20s}" + "".join(_fmt(v) for v in vals))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\ncommands: rates, contraction  (python -m theory <command> --help)")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "rates":
        return rates_main(rest)
    if command == "contraction":
        from .contraction import main as contraction_main   # lazy: the experiment module is separate
        return contraction_main(rest)
    print(f"unknown command {command!r}; use 'rates' or 'contraction'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
