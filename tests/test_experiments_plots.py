"""experiments.plots front: the accuracy-FLOPs plot of run directories (tiny generated runs, no training)."""
import json
import os

import pytest

pytest.importorskip("matplotlib")

from experiments import plots  # noqa: E402
from refimpl.run import plots as refimpl_plots  # noqa: E402


def _run(path, prior, epochs, acc, flops, finetuned=None):
    """A run directory as ``refimpl train`` leaves it, reduced to the fields the plot reads."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "run.json"), "w") as f:
        json.dump({"model": {"prior": prior, "widths": [784, 400, 400, 10]}, "data": {"name": "fashion-mnist"}}, f)
    with open(os.path.join(path, "history.jsonl"), "w") as f:
        for e, (a, fl) in enumerate(epochs, start=1):
            f.write(json.dumps({"epoch": e, "flops_kept": fl, "val_compressed_accuracy": a,
                                "val_compressed_nll": 1.0 - a}) + "\n")
    metrics = {"compressed_test": {"accuracy": acc}, "flops_kept": {"fraction_kept": flops}, "interrupted": False}
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump(metrics, f)
    if finetuned is not None:
        os.makedirs(os.path.join(path, "finetune"))
        with open(os.path.join(path, "finetune", "metrics.json"), "w") as f:
            json.dump({**metrics, "compressed_test": {"accuracy": finetuned}}, f)
    return str(path)


def test_front_plot_writes_png_and_summarises(tmp_path):
    runs = [_run(tmp_path / "ss-gl" / f"seed{s}", "ss-gl", [(0.85, 1.0), (0.88, 0.4), (0.86, 0.14)],
                 0.86 + 0.01 * s, 0.14, finetuned=0.88) for s in range(2)]
    runs.append(_run(tmp_path / "gaussian" / "seed0", "gaussian", [(0.88, 1.0)] * 3, 0.89, 1.0))
    out = tmp_path / "figs" / "front.png"
    assert plots.main(["front", "--runs", *runs, "--out", str(out)]) == [str(out)]
    assert out.stat().st_size > 0
    plt = refimpl_plots.pyplot()
    summary = plots.front_plot(plt, runs, str(tmp_path / "again.png"), anchors={})
    assert summary["ss-gl"]["seeds"] == 2 and summary["ss-gl"]["accuracy"] == pytest.approx(0.865)
    assert summary["ss-gl"]["finetuned_accuracy"] == pytest.approx(0.88)
    assert summary["ss-gl"]["flops_kept"] == summary["ss-gl"]["finetuned_flops_kept"] == pytest.approx(0.14)
    assert summary["gaussian"]["finetuned_seeds"] == 0 and summary["gaussian"]["finetuned_accuracy"] is None
    # the front of a history: the epochs no other epoch dominates (epoch 1 is dominated by epoch 2)
    assert [p["epoch"] for p in plots.read_run(runs[0])["front"]] == [3, 2]


def test_front_plot_needs_the_history(tmp_path):
    run = _run(tmp_path / "ss-ig" / "seed0", "ss-ig", [(0.8, 1.0)] * 3, 0.8, 0.1)
    os.remove(os.path.join(run, "history.jsonl"))
    with pytest.raises(FileNotFoundError, match="no history.jsonl"):
        plots.front_plot(refimpl_plots.pyplot(), [run], str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ValueError, match="no run directories"):
        plots.front_plot(refimpl_plots.pyplot(), [], str(tmp_path / "x.png"))
