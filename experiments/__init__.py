"""Experiment scripts (runnable documentation): ``python -m experiments.<name> --out DIR [--quick]``.

* :mod:`.fashion_mnist`, :mod:`.mnist5k` -- MLP 784-400-400-10, four priors, several seeds (the
  classification table of :mod:`.classification`);
* :mod:`.uci` -- the UCI regression benchmark, one hidden layer of 50 units;
* :mod:`.node_vs_weight` -- node-sparse compression against weight-magnitude pruning at equal parameters;
* :mod:`.plots` -- figures from the ``results.json`` files.

Every script writes one refimpl run directory per fit and skips finished fits on rerun; results are in
docs/results.md.
"""
