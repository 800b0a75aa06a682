"""How another implementation (a PyTorch or JAX port) checks itself against the golden vectors.

Standalone: NumPy and ``json`` only, no ``refimpl`` import, so this file can be copied into a port's test
suite together with the ``golden/`` folder. A port supplies one function

    my_loss(config: dict, inputs: dict) -> {"loss": float, "terms": {name: float}, "grads": {name: array},
                                            optionally "outputs": (S, B, K) array, "indicators": {"{l}.z": (S, k)}}

where ``config`` and ``inputs`` are those of :func:`load_case` (arrays as float64 NumPy arrays, ``c`` of SS-GHS
as a float, ``math.inf`` for the plain horseshoe, class labels as integers), and calls

    failures = check_all(my_loss)          # {case name: [one line per mismatch]}

or, case by case, ``compare(case["expected"], my_loss(case["config"], case["inputs"]), index["tolerances"])``.
``python -m crosscheck.check_port [FOLDER]`` runs the check with a stand-in "port" that replays the stored
values (it must report no mismatch; replace it by your own function).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "golden"
SCALAR_SECTIONS = ("loss", "terms")                    # error scale max(1, |expected|)
ARRAY_SECTIONS = ("grads", "outputs", "indicators")    # error scale max |expected| over the array
REQUIRED = ("loss", "terms", "grads")                  # "outputs" and "indicators" are compared when a port gives them
MAX_LINES_PER_ARRAY = 20


# ---- loading -----------------------------------------------------------------------------------------
def load_index(folder=GOLDEN) -> dict:
    """``index.json`` of a golden folder as a dict (format version, cases, conventions, tolerances)."""
    return json.loads((Path(folder) / "index.json").read_text(encoding="utf-8"))


def decode_config(config: dict) -> dict:
    """The stored model configuration with JSON's stand-ins replaced: ``c = "inf"`` becomes ``math.inf``."""
    out = dict(config)
    if out.get("c") == "inf":
        out["c"] = math.inf
    return out


def _arrays(d: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float64) for k, v in d.items()}


def load_case(path) -> dict:
    """One case file with every array as a float64 NumPy array (class labels ``y`` as int64)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    config = decode_config(raw["config"])
    inp, exp = raw["inputs"], raw["expected"]
    y = np.asarray(inp["y"], dtype=np.int64 if config["likelihood"] == "categorical" else np.float64)
    inputs = dict(params=_arrays(inp["params"]), noise=_arrays(inp["noise"]), x=np.asarray(inp["x"], dtype=np.float64),
                  y=y, n_data=inp["n_data"], kl_weight=inp["kl_weight"])
    expected = dict(loss=float(exp["loss"]), terms={k: float(v) for k, v in exp["terms"].items()},
                    grads=_arrays(exp["grads"]))
    if "outputs" in exp:
        expected["outputs"] = np.asarray(exp["outputs"], dtype=np.float64)
    if "indicators" in exp:
        expected["indicators"] = _arrays(exp["indicators"])
    return dict(name=raw["name"], format_version=raw["format_version"], config=config, derived=raw.get("derived", {}),
                inputs=inputs, expected=expected)


# ---- comparing ---------------------------------------------------------------------------------------
def _fmt_index(idx) -> str:
    return "" if idx == () else "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _rule(tolerances: dict, section: str) -> tuple[float, float]:
    t = tolerances[section]
    return float(t.get("rtol", 0.0)), float(t.get("atol", 0.0))


def _compare_array(label: str, e, g, rtol: float, atol: float) -> list[str]:
    e = np.asarray(e, dtype=np.float64)
    try:
        g = np.asarray(g, dtype=np.float64)
    except (TypeError, ValueError):
        return [f"{label}: not convertible to a float64 array ({type(g).__name__})"]
    if g.shape != e.shape:
        return [f"{label}: shape {g.shape}, expected {e.shape}"]
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    allowed = atol + rtol * scale
    diff = np.abs(g - e)
    bad = ~(diff <= allowed)                       # NaN in either counts as a mismatch
    lines = []
    for idx in zip(*np.nonzero(bad)) if e.ndim else ([()] if bool(bad) else []):
        idx = tuple(idx)
        lines.append(f"{label}{_fmt_index(idx)}: got {float(g[idx])!r}, expected {float(e[idx])!r}, "
                     f"|diff| {float(diff[idx]):.3g} > allowed {allowed:.3g} (rtol {rtol:g} x max|expected| {scale:.3g})")
    if len(lines) > MAX_LINES_PER_ARRAY:
        lines = lines[:MAX_LINES_PER_ARRAY] + [f"{label}: ... and {len(lines) - MAX_LINES_PER_ARRAY} more entries"]
    return lines


def _compare_scalar(label: str, e, g, rtol: float, atol: float) -> list[str]:
    e = float(e)
    try:
        g = float(np.asarray(g, dtype=np.float64))
    except (TypeError, ValueError):
        return [f"{label}: not a number ({type(g).__name__})"]
    allowed = atol + rtol * max(1.0, abs(e))
    diff = abs(g - e)
    if not diff <= allowed:
        return [f"{label}: got {g!r}, expected {e!r}, |diff| {diff:.3g} > allowed {allowed:.3g} "
                f"(rtol {rtol:g} x max(1, |expected|))"]
    return []


def _keys(label: str, e: dict, g) -> tuple[list[str], list[str]]:
    if not isinstance(g, dict):
        return [], [f"{label}: expected a dict of names, got {type(g).__name__}"]
    missing, extra = sorted(set(e) - set(g)), sorted(set(g) - set(e))
    lines = [f"{label}[{k!r}]: missing" for k in missing] + [f"{label}[{k!r}]: not in the golden case" for k in extra]
    return [k for k in e if k in g], lines


def compare(expected: dict, got: dict, tolerances: dict) -> list[str]:
    """One line per mismatch between a case's ``expected`` section and a port's results ``got`` ([] = agreement).

    ``tolerances`` is ``index.json``'s ``"tolerances"`` (or a dict of the same shape): per section ``rtol`` and
    optional ``atol``. Scalars (``loss``, each ``terms[k]``) may differ by ``atol + rtol * max(1, |expected|)``;
    array entries (``grads[k]``, ``outputs``, ``indicators[k]``) by ``atol + rtol * max|expected|`` over that array
    (an inf-norm rule: entries that are 0 up to round-off have no meaningful relative error). Every offending
    array entry gets its own line, named by section, key and index, e.g. ``grads['1.w_mu'][2, 0]: ...``.
    ``loss``, ``terms`` and ``grads`` are required; ``outputs`` and ``indicators`` are compared when ``got`` has them.
    """
    lines = []
    for section in REQUIRED:
        if section not in got:
            lines.append(f"{section}: missing from the port's results")
    for section in SCALAR_SECTIONS + ARRAY_SECTIONS:
        if section not in expected or section not in got:
            continue
        rtol, atol = _rule(tolerances, section)
        one = _compare_scalar if section in SCALAR_SECTIONS else _compare_array
        if isinstance(expected[section], dict):
            keys, key_lines = _keys(section, expected[section], got[section])
            lines += key_lines
            for k in keys:
                lines += one(f"{section}[{k!r}]", expected[section][k], got[section][k], rtol, atol)
        else:
            lines += one(section, expected[section], got[section], rtol, atol)
    return lines


def check_case(case: dict, loss_fn, tolerances: dict) -> list[str]:
    """Run ``loss_fn(config, inputs)`` on a loaded case and :func:`compare` its results with the stored ones."""
    return compare(case["expected"], loss_fn(case["config"], case["inputs"]), tolerances)


def check_all(loss_fn, folder=GOLDEN, tolerances=None, select=None) -> dict:
    """``{case name: mismatch lines}`` over every case of ``index.json`` (or those for which ``select(entry)``
    is true; an entry has ``file``, ``prior``, ``variant``, ``likelihood``, ``relaxation``, ...). ``tolerances``
    defaults to the index's own."""
    index = load_index(folder)
    tolerances = index["tolerances"] if tolerances is None else tolerances
    out = {}
    for entry in index["cases"]:
        if select is not None and not select(entry):
            continue
        case = load_case(Path(folder) / entry["file"])
        out[case["name"]] = check_case(case, loss_fn, tolerances)
    return out


def _replay(folder):
    """A stand-in "port" for the demonstration: it looks the answer up. Replace it by your implementation."""
    by_name = {}

    def loss_fn(config, inputs):
        key = json.dumps([config, inputs["n_data"], inputs["kl_weight"], inputs["x"].tolist()], sort_keys=True, default=str)
        return by_name[key]

    for entry in load_index(folder)["cases"]:
        case = load_case(Path(folder) / entry["file"])
        i = case["inputs"]
        key = json.dumps([case["config"], i["n_data"], i["kl_weight"], i["x"].tolist()], sort_keys=True, default=str)
        by_name[key] = case["expected"]
    return loss_fn


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else GOLDEN
    results = check_all(_replay(folder), folder)
    n_bad = 0
    for name, lines in results.items():
        for line in lines:
            print(f"{name}: {line}")
        n_bad += bool(lines)
    print(f"{len(results)} cases, {n_bad} with mismatches")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
