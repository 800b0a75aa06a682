"""Independent oracles for refimpl's hand-written loss and gradients (STYLE principle 6).

* ``oracles.autograd_model``: -ELBO/N written directly in ``autograd.numpy`` with naive formulas (every KL as
  ``E_q log q - E_q log p``, the authors' sampling of the horseshoe scales, NumPy's Gauss-Hermite rule),
  differentiated by HIPS autograd. The tests' gradient oracle and the benchmarks' "autograd" contender.
* ``oracles.torch_model``: the same loss in PyTorch (CPU, eager), differentiated by ``torch.autograd``: a third
  implementation for the cross-checks, the benchmarks' "PyTorch" contender and the PyTorch port experiment.
* ``oracles.gradcheck``: randomly projected finite-difference checks of a gradient (``check_grads``, as autograd's),
  and the comparison of refimpl's loss and gradients with an oracle's (``assert_matches_oracle``, its tolerances).

What they share with refimpl is the parameter and noise layout only (flat dicts with refimpl's names,
docs/spec.md §6); ``autograd_model.model_config`` reads a model's description, including its inclusion
probabilities from ``refimpl.schedules`` (tested on their own), from a ``NodeSparseBNN``. The formulas are written
anew. refimpl never imports this package (tests/test_structure.py). Installed with refimpl
(``pip install -e '.[test]'``); ``torch_model`` needs ``torch`` (``pip install torch``), the rest needs ``autograd``.
"""
