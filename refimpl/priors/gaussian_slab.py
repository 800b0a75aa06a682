"""Gaussian slabs: the dense Gaussian BNN (``prior="gaussian"``) and spike-and-slab with a Gaussian
slab on node groups (``prior="ss-ig"``, the predecessor paper's SS-IG).

Prior, for hidden layer l and node j with group ``w_lj`` = incoming column plus bias (``m = k_l + 1``):

    ss-ig:     z_lj ~ Bernoulli(lambda_l),   w_lj | z_lj ~ z_lj N(0, sigma0^2 I_m) + (1 - z_lj) delta_0
    gaussian:  w_lj ~ N(0, sigma0^2 I_m)      (no indicators)
    output layer (both): N(0, sigma0^2 I), no indicator.

Variational family: ``q(z_lj) = Bernoulli(sigmoid(theta_lj))`` and ``q(w | z = 1) = N(mu, softplus(rho)^2)``
element-wise. No scales: the forward sample is (P-1) with ``t = 1`` and the KL is (P-2) with ``v = 1``,
``sum_{hidden l,j} [KL_z(l,j) + gamma_lj KL_w(l,j)] + sum_{output} KL_w``; the spike-and-slab
factorisation is exact because spike matches spike. Reported parts: ``kl_z`` and ``kl_w``.
"""
from __future__ import annotations

from .base import NodePrior


class GaussianSlab(NodePrior):
    """The ``gaussian`` (``spike=False``) and ``ss-ig`` (``spike=True``) priors: all behaviour is the base's."""
