"""``python -m benchmarks --quick`` runs (CI smoke run) and reports every section; the target checks
read the results as documented."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import report

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_writes_json_and_report(tmp_path):
    out, doc = tmp_path / "bench.json", tmp_path / "perf.md"
    doc.write_text("# Performance\n\nhand-written text\n\n" + report.BEGIN + "\nold\n" + report.END + "\n\nmore text\n")
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out), "--doc", str(doc)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["quick"] and res["threads"]["threads"] == 1 and res["clock"] == "cpu"
    assert {"step", "train", "roofline", "scaling", "inference", "targets", "machine"} <= set(res)
    assert {r["prior"] for r in res["step"]} == {"ss-ig", "ss-gl", "ss-ghs"}
    assert all({"ours", "ours_reference", "autograd"} <= set(r["median_ms"]["cpu"]) for r in res["step"])
    whole, epoch = res["train"]["step"], res["train"]["epoch"]
    assert {(r["dtype"], r["prior"]) for r in whole} == {(d, p) for d in ("float32", "float64")
                                                        for p in ("ss-ig", "ss-gl", "ss-ghs", "gaussian")}
    assert all({"ours", "autograd"} <= set(r["median_ms"]["cpu"]) for r in whole)
    assert len(epoch) == len(whole) and all("ours" in r["median_ms"]["cpu"] for r in epoch)
    assert all(0 < r["gemm_fraction"] for r in res["roofline"])
    assert set(res["scaling"]) == {"batch", "width", "memory"}
    text = doc.read_text()
    assert text.startswith("# Performance\n\nhand-written text") and text.rstrip().endswith("more text")
    assert "old" not in text and "### One step" in text and "### Inference" in text and res["machine"]["cpu"] in text
    assert "### The whole training step" in text and "### One epoch" in text


def test_whole_step_is_the_step_of_fit():
    """The ``ours`` contender of the whole step runs the body of ``fit``'s loop: one epoch of it ends at ``fit``'s
    parameters bit for bit (same seed: initial parameters, permutation, noise), in float32 and float64."""
    from benchmarks import train_step
    from refimpl.run.train import TrainConfig, fit
    for dtype in ("float32", "float64"):
        model = train_step.make_model([6, 5, 4, 3], dtype, "ss-gl")
        x, y = train_step.make_data([6, 5, 4, 3], 40, dtype)
        step, state = train_step.ours_step(model, x, y, batch=16, n_data=len(x), seed=4)
        for _ in range(3):                                   # 40 rows in batches of 16: 3 steps, the last of 8
            step()
        result = fit(model, x, y, config=TrainConfig(epochs=1, batch_size=16, seed=4), log=None)
        for k, v in result.params.items():
            np.testing.assert_array_equal(state["params"][k], v, err_msg=f"{dtype} {k}")


def test_targets_read_the_results():
    step_row = {"widths": [784, 400, 400, 10], "batch": 1024, "dtype": "float64", "prior": "ss-ig",
                "ratio_vs_ours": {"cpu": {"autograd": 5.0, "torch": 0.9}}}
    res = {"clock": "cpu", "step": [step_row],
           "roofline": [{"widths": [784, 400, 400, 10], "batch": 1024, "dtype": "float64", "gemm_fraction": 0.8}],
           "inference": [{"rows": [{"batch": 256, "density": 0.1, "efficiency": 0.5, "speedup": 7.0, "flop_ratio": 14.0},
                                   {"batch": 64, "density": 0.1, "efficiency": 0.1, "speedup": 1.4, "flop_ratio": 14.0}]}]}
    met = {t["name"].split()[0]: t["met"] for t in report.targets(res)}
    assert met == {"float64": True, "step": False, "matrix": True, "compressed": False}


def test_thread_count_without_threadpoolctl_is_refused(monkeypatch):
    """Without threadpoolctl a count other than the one OpenBLAS was loaded with cannot take effect:
    set_threads says so instead of timing one-thread NumPy against n-thread PyTorch."""
    from benchmarks import timing
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)      # import threadpoolctl -> ImportError
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    with pytest.raises(RuntimeError, match="threadpoolctl"):
        timing.set_threads(2)
    assert timing.set_threads(1)["threadpoolctl"] is False


def test_roofline_splits_the_step_at_the_matrix_products():
    """With PyTorch: both libraries' products of the step's shapes are timed, and each step's time outside
    them is step minus products (the same medians)."""
    pytest.importorskip("torch")
    from benchmarks import roofline
    rows = roofline.run([12, 8, 8, 3], 16, ["float64"], repeats=3, peak_n=32, log=lambda msg: None)
    (row,) = rows
    m, o = row["median_ms"], row["outside_gemm_ms"]
    assert {"step", "gemm", "torch_step", "torch_gemm"} <= set(m)
    assert o["ours"] == pytest.approx(m["step"] - m["gemm"]) and o["torch"] == pytest.approx(m["torch_step"] - m["torch_gemm"])
    assert row["gemm_ratio_numpy_over_torch"] > 0
    with pytest.raises(ValueError, match="library"):
        roofline.step_gemms([4, 3], 2, "float64", library="jax")
