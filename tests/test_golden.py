"""The golden cross-check vectors (``crosscheck/golden/``, docs/crosscheck.md "Golden vectors").

1. The stored expected values are what the current refimpl computes from the stored inputs, and the generator
   reproduces the folder (fresh draws = stored inputs, same case list and index).
2. They are right, by an implementation that shares no formula with refimpl: the autograd oracle
   (``oracles/autograd_model.py``) reproduces loss and gradients of **every** case (all 48: gaussian, ss-ig,
   ss-gl centred / non-centred, the eight ss-ghs variants, both likelihoods, both relaxations, and the two
   kl_weight = 0.5 cases, through ``n_data / kl_weight``). The oracle returns only the loss, so the terms are checked
   part by part from independent formulas: ``nll`` is the oracle's loss at N = inf, the KL total its loss at N = 1
   minus ``nll``; ``kl_z`` is the naive Bernoulli KL written here; ``kl_tau``, ``kl_lam``, ``kl_s`` are the oracle's
   density-form scale KLs (``E log q - E log p``); ``kl_w`` is the KL total minus those. The indicators are
   recomputed here from ``theta`` and ``u``. Not covered by the oracle: the network ``outputs`` (a debugging aid;
   checked against refimpl in 1, and through ``nll`` indirectly), and ``derived.log_lams`` (checked here against
   ``log lam``, ``log1p(-lam)``). The oracle's quadrature is NumPy's ``hermgauss`` (refimpl: SciPy's
   ``roots_hermite``), the same 64-node rule computed independently (H-2). Centred SS-GHS with ``c = inf`` has no
   global-scale noise (the expectation is unused, ``E log v = M``, GHS-2), and the oracle reads none. The oracle itself is
   checked against finite differences in tests/test_gradients.py and tests/test_gradients_shrinkage.py.
3. ``check_port.compare`` catches a perturbation just above tolerance and names exactly the perturbed entry.
4. The index lists exactly the files present and covers every variant.
5. JSON floats round-trip bit-identically (text -> float64 -> text and float64 -> text -> float64).
"""
from __future__ import annotations

import copy
import json
import math
import shutil
import struct

import numpy as np
import pytest

from crosscheck import check_port, generate
from crosscheck.check_port import GOLDEN, compare, load_case, load_index
from oracles.autograd_model import (e_log_gamma_p, e_log_lognormal_q, half_cauchy_kl, model_config,
                                    oracle_loss, oracle_loss_and_grad, softplus)

INDEX = load_index()
FILES = [e["file"] for e in INDEX["cases"]]
# The autograd oracle vs the stored values: float64 round-off of the same maths in another order and by other
# formulas (naive densities, tanh-form sigmoid, NumPy's Gauss-Hermite rule). Observed: loss, nll, KL parts
# <= 5e-16 relative; gradients <= 1.5e-14 (per-array inf-norm). The index's port tolerances are used as bounds.
TOL = INDEX["tolerances"]


def _case(file):
    return load_case(GOLDEN / file)


# ---- 1. stored = current refimpl ----------------------------------------------------------------------
@pytest.mark.parametrize("file", FILES)
def test_stored_expected_values_are_refimpls(file):
    """Recomputed from the stored inputs by the current code: equal to 1e-12 relative (``generate.CHECK_RTOL``).
    On the machine that generated them the difference is 0; elsewhere BLAS may sum the matrix products in
    another order (~1e-16 relative per operation, a few hundred operations)."""
    case = _case(file)
    got = generate.expected_outputs(generate.build_model(case["config"]), case["inputs"])
    assert compare(case["expected"], got, generate.check_tolerances()) == []


def test_generator_reproduces_the_folder(tmp_path, capsys):
    """``python -m crosscheck.generate --check`` passes (fresh seeded draws = the stored inputs, the same index),
    and fails with one line naming the entry after one stored gradient is changed."""
    assert generate.check(GOLDEN) == []
    folder = tmp_path / "golden"
    shutil.copytree(GOLDEN, folder)
    name = "ss-gl__centred__gaussian__concrete.json"
    doc = json.loads((folder / name).read_text())
    doc["expected"]["grads"]["1.b_rho"][2] *= 1 + 1e-9
    (folder / name).write_text(generate.dumps(doc) + "\n")
    assert generate.main(["--check", "--out", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith(f"{name}: grads['1.b_rho'][2]: got "), out
    assert out[1] == "48 cases: 1 mismatches"


# ---- 2. the independent oracle --------------------------------------------------------------------------
def _oracle_cfg(case):
    return model_config(generate.build_model(case["config"]), case["inputs"]["n_data"])


def _kl_z(cfg, params):
    """(KL-1) summed over the hidden nodes, written naively from the stored lam."""
    total = 0.0
    for l, lam in enumerate(cfg["lam"]):
        g = 1.0 / (1.0 + np.exp(-params[f"{l}.theta"]))
        total += float(np.sum(g * (np.log(g) - math.log(lam)) + (1 - g) * (np.log(1 - g) - math.log(1 - lam))))
    return total


def _scale_parts(cfg, params):
    """The scale KLs by the oracle's density-form helpers (``E_q log q - E_q log p``)."""
    n_layers = len(cfg["widths"]) - 1
    if cfg["prior"] == "ss-gl":
        s_lam = softplus(params["lam_rho"])
        e_log_rate, e_rate = params["lam_mu"] - math.log(2.0), np.exp(params["lam_mu"] + s_lam**2 / 2) / 2
        kl_lam = e_log_lognormal_q(params["lam_mu"], s_lam) - e_log_gamma_p(
            params["lam_mu"], s_lam, cfg["lam2_shape"], math.log(cfg["lam2_rate"]), cfg["lam2_rate"])
        kl_tau = 0.0
        for l in range(n_layers):
            mu, s = params[f"{l}.tau_mu"], softplus(params[f"{l}.tau_rho"])
            shape = (cfg["widths"][l] + 2) / 2                       # (m + 1)/2, m = k_l + 1
            kl_tau += float(np.sum(e_log_lognormal_q(mu, s) - e_log_gamma_p(mu, s, shape, e_log_rate, e_rate)))
        return {"kl_tau": kl_tau, "kl_lam": float(kl_lam)}
    if cfg["prior"] == "ss-ghs":
        kl_tau = sum(float(half_cauchy_kl({k[len(f"{l}."):]: v for k, v in params.items() if k.startswith(f"{l}.")},
                                          "tau_a", "tau_b", cfg["b_loc"])) for l in range(n_layers))
        return {"kl_tau": kl_tau, "kl_s": float(half_cauchy_kl(params, "s_a", "s_b", cfg["b_glob"]))}
    return {}


@pytest.mark.parametrize("file", FILES)
def test_autograd_oracle_reproduces_the_stored_values(file):
    case = _case(file)
    config, i, exp = case["config"], case["inputs"], case["expected"]
    cfg = _oracle_cfg(case)
    args = (i["params"], i["x"], i["y"], i["noise"])
    # kl_weight w: loss = nll + w KL / N is the oracle's loss at N / w (its only use of N is the division)
    loss, grads = oracle_loss_and_grad(cfg, *args, i["n_data"] / i["kl_weight"])
    got = {"loss": float(loss), "grads": {k: np.asarray(v, dtype=float) for k, v in grads.items()}}

    nll = float(oracle_loss(cfg, *args, math.inf))
    kl_total = float(oracle_loss(cfg, *args, 1.0)) - nll
    terms = {"nll": nll, **_scale_parts(config, i["params"])}
    if config["prior"] != "gaussian":
        terms["kl_z"] = _kl_z(config, i["params"])
    terms["kl_w"] = kl_total - sum(v for k, v in terms.items() if k != "nll")
    got["terms"] = terms

    ind = {}
    for key in exp.get("indicators", {}):
        l = key.split(".")[0]
        u = i["noise"][f"{l}.u"]
        logits = i["params"][f"{l}.theta"] + np.log(u) - np.log(1 - u)
        ind[key] = ((logits > 0).astype(float) if config["relaxation"] == "straight-through"
                    else 1 / (1 + np.exp(-logits / config["temperature"])))
    if ind:
        got["indicators"] = ind
    expected = {k: v for k, v in exp.items() if k != "outputs"}
    assert compare(expected, got, TOL) == []
    # the stored inclusion probabilities are those of the stored lam
    assert case["derived"]["log_lams"] == ([[math.log(v), math.log1p(-v)] for v in config["lam"]]
                                           if config["prior"] != "gaussian" else [])
    # and the loss is its terms' sum (E-1)
    kl = sum(v for k, v in exp["terms"].items() if k != "nll")
    assert exp["loss"] == pytest.approx(exp["terms"]["nll"] + i["kl_weight"] * kl / i["n_data"], rel=1e-15)


# ---- 3. compare can fail --------------------------------------------------------------------------------
def test_compare_reports_exactly_the_perturbed_entry():
    case = _case("ss-ghs__centred_c-finite_quadrature__categorical__straight-through.json")
    exp = case["expected"]
    assert compare(exp, copy.deepcopy(exp), TOL) == []

    rtol = TOL["grads"]["rtol"]
    scale = float(np.max(np.abs(exp["grads"]["1.w_mu"])))
    for factor, n_lines in ((100.0, 1), (0.5, 0)):           # above / below the tolerance
        got = copy.deepcopy(exp)
        got["grads"]["1.w_mu"][2, 1] += factor * rtol * scale
        lines = compare(exp, got, TOL)
        assert len(lines) == n_lines, lines
        if n_lines:
            assert lines[0].startswith("grads['1.w_mu'][2, 1]: got "), lines

    got = copy.deepcopy(exp)                                  # a flipped straight-through indicator
    got["indicators"]["0.z"][1, 2] = 1.0 - got["indicators"]["0.z"][1, 2]
    got["terms"]["kl_s"] *= 1 + 1e-9                          # a term above its tolerance
    del got["grads"]["s_b_rho"]                               # a missing gradient
    got["loss"] = float("nan")                                # NaN is never within tolerance
    lines = compare(exp, got, TOL)
    assert sorted(line.split(":")[0] for line in lines) == sorted(
        ["grads['s_b_rho']", "indicators['0.z'][1, 2]", "terms['kl_s']", "loss"]), lines


def test_check_port_runs_standalone_on_every_case():
    """The example port (a stand-in that replays the stored values) passes every case; check_port imports no refimpl."""
    assert check_port.main([str(GOLDEN)]) == 0
    src = (GOLDEN.parent / "check_port.py").read_text()
    assert "import refimpl" not in src and "from refimpl" not in src


# ---- 4. the index ---------------------------------------------------------------------------------------
def test_index_lists_exactly_the_files_and_covers_every_variant():
    present = sorted(p.name for p in GOLDEN.glob("*.json") if p.name != "index.json")
    assert sorted(FILES) == present and len(set(FILES)) == len(FILES)
    assert INDEX["format_version"] == 1 and all(_case(f)["format_version"] == 1 for f in FILES)
    seen = set()
    for e in INDEX["cases"]:
        c = _case(e["file"])["config"]
        assert (c["prior"], c["likelihood"], c["relaxation"]) == (e["prior"], e["likelihood"], e["relaxation"])
        key = (c["prior"], c.get("parameterisation"), None if "c" not in c else math.isinf(c["c"]),
               c.get("expectation"), c["likelihood"], c["relaxation"])
        seen.add(key)
    wanted = {("gaussian", None, None, None, lik, None) for lik in ("gaussian", "categorical")}
    for lik in ("gaussian", "categorical"):
        for rel in ("straight-through", "concrete"):
            wanted.add(("ss-ig", None, None, None, lik, rel))
            wanted |= {("ss-gl", par, None, None, lik, rel) for par in ("centred", "non-centred")}
            wanted |= {("ss-ghs", par, inf, ex, lik, rel) for par in ("centred", "non-centred") for inf in (False, True)
                       for ex in ("quadrature", "one-sample")}
    assert wanted <= seen and len(wanted) == 46
    assert {e["kl_weight"] for e in INDEX["cases"]} == {1.0, 0.5}
    assert set(TOL) == {"loss", "terms", "grads", "outputs", "indicators"} and all(t["reason"] for t in TOL.values())


def test_cases_are_not_degenerate():
    """Straight-through cases have z = 0 and z = 1 in every hidden layer, indicator logits keep a margin from 0,
    no two parameters share a value, and the folder stays small."""
    for f in FILES:
        case = _case(f)
        for z in case["expected"].get("indicators", {}).values():
            if case["config"]["relaxation"] == "straight-through":
                assert set(np.unique(z)) == {0.0, 1.0}, f
            else:
                assert np.all((z > 0) & (z < 1)), f
        if "indicators" in case["expected"]:
            assert case["derived"]["min_abs_indicator_logit"] >= generate.LOGIT_MARGIN
        values = np.concatenate([np.ravel(v) for v in case["inputs"]["params"].values()])
        assert len(np.unique(values)) == values.size, f
    assert sum(p.stat().st_size for p in GOLDEN.glob("*.json")) < 600_000


# ---- 5. round trip --------------------------------------------------------------------------------------
def _floats(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)
    elif isinstance(obj, float):
        yield obj


def _bits(values):
    return [struct.pack("<d", v) for v in values]


def test_json_floats_round_trip_bit_identically():
    # text -> float64 -> text: every stored file is exactly what the serialiser writes for its parsed content
    for p in GOLDEN.glob("*.json"):
        text = p.read_text(encoding="utf-8")
        assert generate.dumps(json.loads(text)) + "\n" == text, p.name
    # float64 -> text -> float64, on freshly computed values (every bit, signs of zeros included)
    case = generate.case_list()[-1]
    doc = generate.case_document(case)
    back = json.loads(generate.dumps(doc))
    a, b = list(_floats(doc)), list(_floats(back))
    assert len(a) == len(b) > 300 and _bits(a) == _bits(b)
