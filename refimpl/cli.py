"""Command line: ``python -m refimpl {train, evaluate, prune, run}`` (also the ``refimpl`` script).

Options come from flags and, optionally, a TOML or JSON file given by ``--config`` whose keys are
the long option names (``batch-size`` or ``batch_size``); flags given on the command line win.
Errors in the input (a missing data file, NaN in the data, a wrong feature count, an unknown option)
end with a one-line message on stderr and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib

from .pipeline import INPUT_SCALINGS
from .presets import PRESETS, resolve
from .train import TrainConfig

MODEL_OPTS = {  # flag -> (type, default, help); None defaults are left to NodeSparseBNN
    "prior": (str, "ss-ig", "gaussian | ss-ig | ss-gl | ss-ghs"),
    "activation": (str, "silu", "silu | relu | tanh"),
    "relaxation": (str, "straight-through", "straight-through | concrete"),
    "temperature": (float, 0.5, "relaxation temperature"),
    "dtype": (str, "float64", "float64 | float32"),
    "backend": (str, "numpy", "numpy | cupy | strict"),
    "sigma0": (float, None, "slab standard deviation (default 1)"),
    "lam": (str, None, "inclusion probability: a number, 'paper' (default) or 'theory'"),
    "parameterisation": (str, None, "centred | non-centred (ss-gl, ss-ghs)"),
    "c": (float, None, "regularised horseshoe slab width (ss-ghs; inf for the plain horseshoe)"),
    "expectation": (str, None, "quadrature | one-sample (centred ss-ghs)"),
    "n_quadrature": (int, None, "Gauss-Hermite nodes (centred ss-ghs, default 64)"),
    "b_loc": (float, None, "local half-Cauchy scale (ss-ghs, default 1)"),
    "b_glob": (float, None, "global half-Cauchy scale (ss-ghs, default 1)"),
    "lam2_shape": (float, None, "Gamma shape of lambda^2 (ss-gl, default 4)"),
    "lam2_rate": (float, None, "Gamma rate of lambda^2 (ss-gl, default 2)"),
    "sigma_e": (float, None, "fixed Gaussian noise std (standardised units); default: learned"),
    "init": (str, "fan-in", "weight-mean initialisation: fan-in | authors (the authors' fan-out quirk)"),
}
TRAIN_OPTS = {
    "epochs": int, "batch-size": int, "optimizer": str, "lr": float, "momentum": float, "lr-schedule": str,
    "clip-norm": float, "kl-anneal-epochs": int, "lr-mult-theta": float, "lr-mult-scales": float,
    "lr-mult-weights": float, "theta-init": float, "train-samples": int, "eval-samples": int, "patience": int,
    "checkpoint-every": int, "seed": int, "predictive-average": str, "lr-decay-factor": float,
}


class CliError(Exception):
    """A usage error found after parsing (reported like argparse's own)."""


def _add_data(p, default=None):
    p.add_argument("--data", default=default,
                   help="teacher-regression | teacher-classification | uci:<name> | fashion-mnist | mnist5k"
                        + ("" if default else " (default: the data the run was trained on)"))
    p.add_argument("--data-root", help="directory of the data (UCI benchmark, Fashion-MNIST IDX files) or file (MNIST-5k)")
    p.add_argument("--split", type=int, help="UCI split index")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="refimpl", description="Node-sparse Bayesian neural networks (SS-IG, SS-GL, SS-GHS).")
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model; writes run.json, history.jsonl, checkpoint.npz, metrics.json")
    tr.add_argument("--config", help="TOML or JSON file of options (flags win)")
    tr.add_argument("--out", required=True, help="output directory")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    tr.add_argument("--hidden", type=int, nargs="+", default=[50], help="hidden widths")
    tr.add_argument("--preset", choices=sorted(PRESETS),
                    help="a bundle of options (docs/training.md); explicit flags and config keys win")
    tr.add_argument("--val-fraction", type=float, default=0.1,
                    help="share of training data held out for validation (0: every row trains, the final epoch is selected)")
    tr.add_argument("--input-scaling", choices=INPUT_SCALINGS, default="zscore",
                    help="zscore (per pixel / column) | unit (pixels / 255) | authors (pixels / 126); the last two for image data")
    tr.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_data(tr, "teacher-regression")
    for name, (typ, default, hlp) in MODEL_OPTS.items():
        tr.add_argument(f"--{name.replace('_', '-')}", type=typ, default=default, help=hlp)
    for name, typ in TRAIN_OPTS.items():
        tr.add_argument(f"--{name}", type=typ, default=None)
    tr.add_argument("--lr-decay-epochs", type=int, nargs="+", default=None, help="step schedule: epochs where lr is multiplied by --lr-decay-factor")
    ev = sub.add_parser("evaluate", help="test metrics of a trained run (OUT/evaluate.json)")
    ev.add_argument("--out", required=True)
    _add_data(ev)
    pr = sub.add_parser("prune", help="prune, export OUT/compressed.npz, verify, time dense vs compressed")
    pr.add_argument("--out", required=True)
    pr.add_argument("--threshold", type=float, default=0.5, help="keep nodes with inclusion probability > threshold")
    pr.add_argument("--repeats", type=int, default=20)
    _add_data(pr)
    rn = sub.add_parser("run", help="the main job: SS-IG, SS-GL, SS-GHS on the embedded teacher data, one table")
    rn.add_argument("--out", default="out/run", help="output directory (one sub-directory per prior)")
    rn.add_argument("--quick", action="store_true", help="a few epochs only (CI smoke run)")
    rn.add_argument("--seed", type=int, default=0)
    return ap


def _load_config(path: str) -> dict:
    if not os.path.exists(path):
        raise CliError(f"config: {path} does not exist")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        cfg = tomllib.loads(raw.decode()) if not path.endswith(".json") else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"config: {path} is not valid {'JSON' if path.endswith('.json') else 'TOML'} ({exc})") from None
    return {k.replace("-", "_"): v for k, v in cfg.items()}


def parse(argv=None):
    """Parsed arguments; for ``train``, ``args.explicit`` is the set of options given by flag or config file and
    ``args.preset_record`` what a ``--preset`` filled in (flags > config file > preset > defaults)."""
    ap = build_parser()
    args = ap.parse_args(argv)
    cfg = {}
    if getattr(args, "config", None):
        cfg = _load_config(args.config)
        sub = ap._subparsers._group_actions[0].choices[args.command]
        known = {a.dest for a in sub._actions}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise CliError(f"config: unknown option(s) {unknown} in {args.config}")
        sub.set_defaults(**cfg)
        args = ap.parse_args(argv)
    if args.command == "train":
        args.explicit = set(cfg) | _given(argv)
        _apply_preset(args)
    return args


def _given(argv) -> set:
    """Destinations of the options given on the command line (parsed again with every default suppressed)."""
    ap = build_parser()
    for sub in ap._subparsers._group_actions[0].choices.values():
        for action in sub._actions:
            if not action.required:
                action.default = argparse.SUPPRESS
    return set(vars(ap.parse_args(argv))) - {"command"}


PRESET_DATA = ("val_fraction", "input_scaling")


def _apply_preset(args):
    """Fill the options a ``--preset`` sets wherever ``args.explicit`` does not hold them."""
    model = {k: getattr(args, k) for k in MODEL_OPTS}
    train = {k.replace("-", "_"): getattr(args, k.replace("-", "_")) for k in TRAIN_OPTS}
    data = {k: getattr(args, k) for k in PRESET_DATA}
    model, train, data, args.preset_record = resolve(args.preset, args.prior, model, train, data, args.explicit)
    for key, value in {**model, **train, **data}.items():
        setattr(args, key, value)


def data_spec(args) -> dict | None:
    if args.data is None:
        return None
    spec = {"name": args.data}
    if args.data_root:   # absolute, so that evaluate / prune work from any directory
        spec["path" if args.data == "mnist5k" else "root"] = os.path.abspath(args.data_root)
    elif args.data.startswith("uci:"):
        default = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "uci")
        spec["root"] = os.path.normpath(default)
    if args.split is not None:
        spec["split"] = args.split
    return spec


def _model_kw(args) -> dict:
    kw = {}
    for name in MODEL_OPTS:
        v = getattr(args, name)
        if v is None:
            continue
        if name == "lam":
            try:
                v = float(v)
            except ValueError:
                pass
        kw[name] = v
    return kw


def _train_config(args) -> TrainConfig:
    kw = {name.replace("-", "_"): getattr(args, name.replace("-", "_")) for name in [*TRAIN_OPTS, "lr-decay-epochs"]}
    return TrainConfig(**{k: v for k, v in kw.items() if v is not None})


def main(argv=None) -> int:
    try:
        args = parse(argv)
        if args.command == "train":
            from .pipeline import train_run
            metrics = train_run(data_spec(args), _model_kw(args), args.hidden, _train_config(args), args.out,
                                val_fraction=args.val_fraction, input_scaling=args.input_scaling,
                                preset=args.preset_record, resume=args.resume,
                                log=None if args.quiet else sys.stderr)
            print(json.dumps(metrics, indent=1))
            return 130 if metrics.get("interrupted") else 0
        if args.command == "evaluate":
            from .pipeline import evaluate_run
            print(json.dumps(evaluate_run(args.out, data_spec(args)), indent=1))
            return 0
        if args.command == "prune":
            from .pipeline import prune_run
            report = prune_run(args.out, args.threshold, repeats=args.repeats, data_spec=data_spec(args))
            report.pop("inclusion_probabilities")
            print(json.dumps(report, indent=1))
            return 0
        from .main_job import run_main
        run_main(args.out, quick=args.quick, seed=args.seed)
        return 0
    except (CliError, ValueError, FileNotFoundError) as exc:
        print(f"refimpl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
