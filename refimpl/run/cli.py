"""Command line: ``python -m refimpl {train, finetune, evaluate, prune, run}`` (also the ``refimpl`` script).

Options come from flags and, optionally, a TOML or JSON file given by ``--config`` whose keys are
the long option names (``batch-size`` or ``batch_size``); flags given on the command line win.
Every error in the input (a missing or damaged data file, NaN in the data, a wrong feature count, an unknown
option or a value of the wrong type, a busy or unsuitable output directory, a diverging run, a full disk) ends
with exactly one line ``refimpl: error: <what is wrong>; <how to fix it>`` on stderr and exit status 2, never
with a traceback (``tests/test_errors.py``).
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import tomllib
from dataclasses import fields

from ..data.tabular import is_tabular, spec_from_options
from .pipeline import INPUT_SCALINGS
from .presets import PRESETS, resolve
from .scripts import ScriptParser
from .train import TrainConfig

MODEL_OPTS = {  # flag -> (type, default, help); None defaults are left to NodeSparseBNN (the help says which)
    "prior": (str, "ss-ig", "node prior: gaussian | ss-ig | ss-gl | ss-ghs (default: %(default)s)"),
    "activation": (str, "silu", "silu | relu | tanh (default: %(default)s)"),
    "relaxation": (str, "straight-through", "indicator relaxation: straight-through | concrete (default: %(default)s)"),
    "temperature": (float, 0.5, "relaxation temperature, > 0 (default: %(default)s)"),
    "dtype": (str, "float64", "float64 | float32 (default: %(default)s)"),
    "backend": (str, "numpy", "numpy | cupy | strict (default: %(default)s)"),
    "sigma0": (float, None, "slab standard deviation, > 0 (default: 1)"),
    "lam": (str, None, "prior inclusion probability: a number in (0, 1), paper | theory (default: paper)"),
    "parameterisation": (str, None, "centred | non-centred (ss-gl, ss-ghs; default: non-centred for ss-gl, "
                                    "centred for ss-ghs)"),
    "c": (float, None, "regularised horseshoe slab width, > 0; inf for the plain horseshoe (ss-ghs; default: 1)"),
    "expectation": (str, None, "quadrature | one-sample (centred ss-ghs; default: quadrature)"),
    "n_quadrature": (int, None, "Gauss-Hermite nodes, 2..200 (centred ss-ghs; default: 64)"),
    "b_loc": (float, None, "local half-Cauchy scale, > 0 (ss-ghs; default: 1)"),
    "b_glob": (float, None, "global half-Cauchy scale, > 0 (ss-ghs; default: 1)"),
    "lam2_shape": (float, None, "Gamma shape of lambda^2, > 0 (ss-gl; default: 4)"),
    "lam2_rate": (float, None, "Gamma rate of lambda^2, > 0 (ss-gl; default: 2)"),
    "sigma_e": (float, None, "fixed Gaussian noise std in standardised units, > 0 (regression; default: learned)"),
    "init": (str, "fan-in", "weight-mean initialisation: fan-in | authors (the authors' fan-out quirk; "
                            "default: %(default)s)"),
}
TRAIN_OPTS = {
    "epochs": int, "batch-size": int, "optimizer": str, "lr": float, "momentum": float, "lr-schedule": str,
    "clip-norm": float, "kl-anneal-epochs": int, "lr-mult-theta": float, "lr-mult-scales": float,
    "lr-mult-weights": float, "theta-init": float, "rho-init": float, "theta-init-sd": float, "theta-optimizer": str, "theta-lr": float, "train-samples": int, "eval-samples": int, "patience": int,
    "checkpoint-every": int, "seed": int, "predictive-average": str, "lr-decay-factor": float,
    "select": str, "flops-budget": float, "select-tolerance": float, "prune-below": float,
}


TRAIN_HELP = {   # the default is TrainConfig's, added by build_parser
    "epochs": "number of epochs, >= 1", "batch-size": "minibatch size, >= 1", "optimizer": "adam | sgd",
    "lr": "base learning rate, > 0", "momentum": "SGD momentum in [0, 1) (sgd only)",
    "lr-schedule": "constant | step (see --lr-decay-epochs) | cosine", "clip-norm": "global gradient-norm clip, > 0",
    "kl-anneal-epochs": "epochs of linear KL annealing, >= 0", "lr-mult-theta": "learning-rate multiplier of theta, >= 0",
    "lr-mult-scales": "learning-rate multiplier of the SS-GL / SS-GHS scales, >= 0",
    "lr-mult-weights": "learning-rate multiplier of every other parameter, >= 0",
    "theta-init": "initial logit of every node's indicator (None: log 99)",
    "rho-init": "initial rho of every weight and bias, sigma = softplus(rho) (None: -6, the authors')",
    "theta-init-sd": "spread of the initial logits: theta + sd * N(0, 1) per node, >= 0",
    "theta-optimizer": "how theta is stepped: adam (with every parameter) | natural (natural-gradient step, "
                       "docs/training.md)",
    "theta-lr": "the natural-gradient step size of theta (--theta-optimizer natural), > 0",
    "train-samples": "Monte Carlo samples per step, >= 1", "eval-samples": "Monte Carlo samples for predictions, >= 1",
    "patience": "early stopping after this many epochs without a lower validation NLL (None: off)",
    "checkpoint-every": "epochs between checkpoints, >= 1", "seed": "random seed, >= 0",
    "predictive-average": "probs | logits (the authors)", "lr-decay-factor": "step schedule: the rate's factor, > 0",
    "select": "model selection: nll (the lowest validation NLL of the predictive) | compressed (the compressed "
              "network's best validation accuracy, regression: RMSE, among epochs within --flops-budget) | sparse "
              "(the fewest FLOPs kept within --select-tolerance of the best compressed validation score)",
    "select-tolerance": "with --select sparse: how far below the best compressed validation accuracy (points, "
                        "0.01 = one) the selected sparser network may be; regression: a fraction of the best RMSE",
    "prune-below": "remove nodes whose inclusion probability falls below this during training, e.g. 1e-3: "
                   "training gets cheaper as the network sparsifies (an approximation, docs/training.md; None: off)",
    "flops-budget": "with --select compressed: the largest fraction of the dense network's FLOPs the selected "
                    "compressed network may keep, in (0, 1]",
}


class CliError(Exception):
    """A usage error found after parsing (reported like argparse's own)."""


class _Parser(ScriptParser):
    """The scripts' parser (one line ``refimpl: error: ...; see `<prog> --help``` on stderr, exit status 2), with
    the prefix ``refimpl`` for every sub-command."""

    error_prefix = "refimpl"


def _add_data(p, default=None):
    p.add_argument("--data", default=default,
                   help="teacher-regression | teacher-classification | uci:<name> | fashion-mnist | mnist5k | your own "
                        "file: csv:PATH | npz:PATH | npy:X.npy,Y.npy"
                        + (" (default: %(default)s)" if default else " (default: the data the run was trained on)"))
    p.add_argument("--data-root", help="directory of the data (UCI benchmark, Fashion-MNIST IDX files) or file (MNIST-5k) "
                                       "(default: ../shared/data/uci for uci:, the installed files otherwise)")
    p.add_argument("--split", type=int, help="UCI split index; own data: seed of the train/test split (default 0)")
    p.add_argument("--target", help="csv: data: the target column, a header name or a 0-based index (default: the last)")
    p.add_argument("--task", choices=("classification", "regression"),
                   help="own data: the task (default: inferred from the target, docs/training.md)")
    p.add_argument("--test-data", help="own data: test rows from another file, csv:PATH | npz:PATH | npy:X.npy,Y.npy "
                                       "(default: none, see --test-fraction)")
    p.add_argument("--test-fraction", type=float,
                   help="own data without --test-data: share of rows for the test set (default 0.2, stratified for "
                        "classification, seeded by --split)")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="refimpl", description="Node-sparse Bayesian neural networks (SS-IG, SS-GL, SS-GHS).")
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model; writes run.json, history.jsonl, checkpoint.npz, metrics.json")
    tr.add_argument("--config", help="TOML or JSON file of options, keys as the long option names (flags win; "
                                     "default: none)")
    tr.add_argument("--out", required=True, help="output directory (required)")
    tr.add_argument("--resume", action="store_true", help="continue the run in OUT from OUT/checkpoint.npz (default: off)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace the run OUT holds, removing its files (default: off: such a directory is refused)")
    tr.add_argument("--hidden", type=int, nargs="+", default=[50], help="hidden widths, each >= 1 (default: %(default)s)")
    tr.add_argument("--preset", choices=sorted(PRESETS),
                    help="a bundle of options (docs/training.md); explicit flags and config keys win; choices: "
                         "%(choices)s (default: none)")
    tr.add_argument("--val-fraction", type=float, default=0.1,
                    help="share of training data held out for validation, in [0, 1) (0: every row trains, the final "
                         "epoch is selected; default: %(default)s)")
    tr.add_argument("--input-scaling", choices=INPUT_SCALINGS, default="zscore",
                    help="zscore (per pixel / column) | unit (pixels / 255) | authors (pixels / 126); the last two for "
                         "image data (default: %(default)s)")
    tr.add_argument("--quiet", action="store_true", help="no progress lines (default: off)")
    _add_data(tr, "teacher-regression")
    for name, (typ, default, hlp) in MODEL_OPTS.items():
        tr.add_argument(f"--{name.replace('_', '-')}", type=typ, default=default, help=hlp)
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for name, typ in TRAIN_OPTS.items():
        tr.add_argument(f"--{name}", type=typ, default=None,
                        help=f"{TRAIN_HELP[name]} (default: {defaults[name.replace('-', '_')]})")
    tr.add_argument("--lr-decay-epochs", type=int, nargs="+", default=None,
                    help="with --lr-schedule step: epochs after which the rate is multiplied by --lr-decay-factor, "
                         "increasing, >= 1 (default: none)")
    ft = sub.add_parser("finetune", help="fine-tune a trained run's selected parameters with its node mask frozen; "
                                         "writes OUT/finetune/")
    ft.add_argument("--out", required=True, help="the trained run's directory (required); results go to OUT/finetune")
    ft.add_argument("--epochs", type=int, required=True, help="epochs of fine-tuning, >= 1 (required)")
    ft.add_argument("--lr", type=float, default=None, help="learning rate, > 0 (default: the run's)")
    ft.add_argument("--resume", action="store_true",
                    help="continue the fine-tuning in OUT/finetune from its checkpoint (default: off)")
    ft.add_argument("--overwrite", action="store_true",
                    help="replace the fine-tuning OUT/finetune holds (default: off: such a directory is refused)")
    ft.add_argument("--quiet", action="store_true", help="no progress lines (default: off)")
    ev = sub.add_parser("evaluate", help="test metrics of a trained run (OUT/evaluate.json)")
    ev.add_argument("--out", required=True, help="the run's directory (required)")
    _add_data(ev)
    pr = sub.add_parser("prune", help="prune, export OUT/compressed.npz, verify, time dense vs compressed")
    pr.add_argument("--out", required=True, help="the run's directory (required)")
    pr.add_argument("--threshold", type=float, default=0.5,
                    help="keep nodes with inclusion probability > threshold, in [0, 1) (default: %(default)s)")
    pr.add_argument("--repeats", type=int, default=20, help="latency repeats per batch size, >= 1 (default: %(default)s)")
    _add_data(pr)
    rn = sub.add_parser("run", help="the main job: SS-IG, SS-GL, SS-GHS on the embedded teacher data, one table")
    rn.add_argument("--out", default="out/run",
                    help="output directory, one sub-directory per prior, redone on every run (default: %(default)s)")
    rn.add_argument("--quick", action="store_true", help="a few epochs only (CI smoke run; default: off)")
    rn.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: %(default)s)")
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
    if not isinstance(cfg, dict):
        raise CliError(f"config: {path} holds a {type(cfg).__name__}, not a table of options; write one object, "
                       'e.g. {"epochs": 3}')
    return {k.replace("-", "_"): v for k, v in cfg.items()}


def _check_config(sub, cfg: dict, path: str):
    """Refuse unknown keys and values of the wrong type or outside the choices, before argparse takes them as
    defaults (it checks only what comes from the command line)."""
    actions = {a.dest: a for a in sub._actions}
    unknown = sorted(set(cfg) - set(actions) - {"help"}) + sorted({"config", "help"} & set(cfg))
    if unknown:
        raise CliError(f"config: unknown option(s) {unknown} in {path}; keys are the long option names of "
                       f"`refimpl {sub.prog.split()[-1]} --help`")
    for key, value in cfg.items():
        action = actions[key]
        kind = {int: "an integer", float: "a number"}.get(action.type, "a string")
        if key == "lam":
            kind = "a number or a string"
        if isinstance(action, argparse._StoreTrueAction):
            ok, expected = isinstance(value, bool), "true or false"
        elif action.nargs in ("+", "*"):
            ok = isinstance(value, list) and len(value) > 0 and all(_of_type(key, action.type, v) for v in value)
            expected = f"a non-empty list of {kind[kind.index(' ') + 1:]}s, e.g. [{_example(action.type)}]"
        else:
            ok, expected = _of_type(key, action.type, value), kind
        if ok and action.choices is not None and value not in action.choices:
            ok, expected = False, f"one of {sorted(action.choices)}"
        if not ok:
            raise CliError(f"config: {key} in {path} must be {expected}, got {json.dumps(value, default=str)}; correct it, or "
                           "drop it to take the default")


def _of_type(key, typ, value) -> bool:
    if isinstance(value, bool):
        return False
    if key == "lam":
        return isinstance(value, (str, int, float))
    if typ is int:
        return isinstance(value, int)
    if typ is float:
        return isinstance(value, (int, float))
    return isinstance(value, str)


def _example(typ) -> str:
    return {int: "50", float: "0.5"}.get(typ, '"..."')


def parse(argv=None):
    """Parsed arguments; for ``train``, ``args.explicit`` is the set of options given by flag or config file and
    ``args.preset_record`` what a ``--preset`` filled in (flags > config file > preset > defaults)."""
    ap = build_parser()
    args = ap.parse_args(argv)
    cfg = {}
    if getattr(args, "config", None):
        cfg = _load_config(args.config)
        sub = ap._subparsers._group_actions[0].choices[args.command]
        _check_config(sub, cfg, args.config)
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


NO_SPLIT = ("teacher-regression", "teacher-classification", "fashion-mnist", "mnist5k")   # --split is refused


def _run_data(args) -> str:
    """What ``OUT/run.json`` says the run was trained on, for messages."""
    try:
        from .pipeline import read_run
        data = read_run(args.out)["data"]
        return f"the run was trained on --data {data['name']}" + (f" --split {data['split']}" if "split" in data else "")
    except (ValueError, OSError, KeyError, TypeError):
        return f"see {os.path.join(args.out, 'run.json')}"


OWN_DATA = ("target", "task", "test_data", "test_fraction")   # options of csv:, npz:, npy: data (data/tabular.py)


def data_spec(args) -> dict | None:
    own = {k: getattr(args, k) for k in OWN_DATA}
    if is_tabular(args.data):
        return spec_from_options(args.data, root=args.data_root, split=args.split, **own)
    if any(v is not None for v in own.values()):
        raise CliError("--target, --task, --test-data and --test-fraction apply to your own data files (--data "
                       "csv:PATH, npz:PATH or npy:X.npy,Y.npy); drop them")
    if args.data is None:
        if args.split is not None or args.data_root:
            raise CliError(f"--split and --data-root apply only with --data; give the data set too ({_run_data(args)}), "
                           "or drop them to use the run's own data")
        return None
    if args.split is not None and args.data in NO_SPLIT:
        raise CliError(f"--split: {args.data} has no standard splits (UCI data and your own files have); drop --split")
    if args.data_root and args.data.startswith("teacher-"):
        raise CliError(f"--data-root: {args.data} is generated in-process and reads no files; drop --data-root")
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
    schedule = args.lr_schedule or "constant"
    if args.lr_decay_epochs and schedule != "step":
        raise CliError(f"--lr-decay-epochs: applies to the step schedule only (the schedule is {schedule}); add "
                       "--lr-schedule step, or drop --lr-decay-epochs")
    if schedule == "step" and not args.lr_decay_epochs:
        raise CliError("--lr-schedule step: needs --lr-decay-epochs, the epochs after which the rate drops; add e.g. "
                       "--lr-decay-epochs 30 60")
    kw = {name.replace("-", "_"): getattr(args, name.replace("-", "_")) for name in [*TRAIN_OPTS, "lr-decay-epochs"]}
    return TrainConfig(**{k: v for k, v in kw.items() if v is not None})


def main(argv=None) -> int:
    try:
        args = parse(argv)
        if args.command == "train":
            from .pipeline import train_run
            if args.resume and args.overwrite:
                raise CliError("--resume continues the run in --out, --overwrite replaces it; give one of them")
            metrics = train_run(data_spec(args), _model_kw(args), args.hidden, _train_config(args), args.out,
                                val_fraction=args.val_fraction, input_scaling=args.input_scaling,
                                preset=args.preset_record, resume=args.resume, overwrite=args.overwrite,
                                log=None if args.quiet else sys.stderr)
            print(json.dumps(metrics, indent=1))
            return 130 if metrics.get("interrupted") else 0
        if args.command == "finetune":
            from .pipeline import finetune_run
            if args.resume and args.overwrite:
                raise CliError("--resume continues the fine-tuning in OUT/finetune, --overwrite replaces it; give one "
                               "of them")
            metrics = finetune_run(args.out, args.epochs, lr=args.lr, resume=args.resume, overwrite=args.overwrite,
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
        from .demo import run_main
        run_main(args.out, quick=args.quick, seed=args.seed)
        return 0
    except (CliError, ValueError) as exc:
        print(f"refimpl: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:           # FileNotFoundError with our own message, or the file system's own errors
        print(f"refimpl: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:        # outside the training loop, which catches SIGINT itself
        print("refimpl: error: interrupted; nothing was written half-way: run the command again", file=sys.stderr)
        return 130


_OS_FIXES = {errno.ENOSPC: "free disk space and run the command again (train: continue with --resume)",
             errno.EDQUOT: "free disk space and run the command again (train: continue with --resume)",
             errno.EACCES: "choose a location you can write to, or fix its permissions",
             errno.EPERM: "choose a location you can write to, or fix its permissions",
             errno.EROFS: "choose a location on a writable file system",
             errno.ENOTDIR: "a part of the path is a file: choose another path",
             errno.EISDIR: "it is a directory where a file belongs: move it away"}


def _os_error(exc: OSError) -> str:
    """One line: our own message as it is; the system's (``[Errno 28] No space left on device: 'path'``) as
    ``path: No space left on device; <what to do>``."""
    if exc.errno is None or not exc.strerror:
        return str(exc)
    what = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    if exc.strerror != os.strerror(exc.errno):     # a message of ours, which says what to do
        return what
    return f"{what}; {_OS_FIXES.get(exc.errno, 'check the path and its permissions')}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
