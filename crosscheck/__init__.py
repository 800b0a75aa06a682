"""Golden cross-check vectors: small float64 cases (inputs and every expected output of
``NodeSparseBNN.loss_and_grad``) that another implementation can check itself against without installing
``refimpl``. See docs/crosscheck.md, section "Golden vectors".

* ``crosscheck/golden/``: ``index.json`` and one JSON file per case (the data);
* ``crosscheck.generate``: ``python -m crosscheck.generate [--out DIR] [--check]`` writes or checks them (needs refimpl);
* ``crosscheck.check_port``: NumPy + json only, how a port loads a case and compares its own results.

This package is not part of the installed ``refimpl`` distribution; it is imported from the repository root.
"""
