"""refimpl: reference implementation of structurally sparse (node-sparse) Bayesian neural networks
with spike-and-slab priors, trained by variational inference with hand-written gradients.

Follows Jantre, Bhattacharya & Maiti, arXiv 2308.09104; see docs/spec.md and docs/derivations.md.
"""
from .backend import get_backend
from .model import NodeSparseBNN

__all__ = ["NodeSparseBNN", "get_backend"]
__version__ = "0.1.0"
