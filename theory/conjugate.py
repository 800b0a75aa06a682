"""ELBO <= log evidence in a conjugate spike-and-slab group regression, with its equality case. (T-15)

Derived here (docs/theory-notes.md §4.7). Model: ``y = sum_g z_g X_g w_g + e``, ``e ~ N(0, sigma^2 I_n)``,
``z_g ~ Bernoulli(lam)``, ``w_g ~ N(0, sigma0^2 I)`` (Gaussian slab, Dirac spike), G groups.

Evidence (sum over the 2^G inclusion patterns):
    log p(y) = logsumexp_z [ sum_g log lam^{z_g} (1-lam)^{1-z_g} + log N(y; 0, sigma^2 I + sigma0^2 X_z X_z^T) ]
Mean-field family ``q = prod_g Bern(gamma_g) N(mu_g, diag s_g^2)`` (the slab factor only under z_g = 1):
    ELBO = -n/2 log(2 pi sigma^2) - (||y - X m||^2 + tr(X^T X V)) / (2 sigma^2) - KL(q || p)
    m = (gamma_g mu_g)_g,  V = blockdiag(gamma_g diag s_g^2 + gamma_g (1 - gamma_g) mu_g mu_g^T)
    KL(q || p) = sum_g KL_Bern(gamma_g || lam) + gamma_g KL(N(mu_g, diag s_g^2) || N(0, sigma0^2 I))     (KL-1, KL-2)
``log p(y) - ELBO = KL(q || posterior) >= 0``, with equality iff q is the posterior. When ``X^T X`` is
diagonal the likelihood factorises over groups and coordinates, the posterior is in the family, and
:func:`orthogonal_posterior` returns it: there the ELBO equals the log evidence.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.special import expit, logsumexp

from refimpl.kl import kl_bernoulli, kl_gaussian


def _groups(sizes) -> list[slice]:
    edges = np.cumsum([0] + list(sizes))
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def log_evidence(y, X, sizes, lam: float, sigma: float, sigma0: float) -> float:
    """(T-15) ``log p(y)`` by enumerating the ``2^G`` patterns (G = ``len(sizes)``, columns of X grouped)."""
    n = y.shape[0]
    terms = []
    for z in itertools.product((0, 1), repeat=len(sizes)):
        cols = np.concatenate([np.arange(g.start, g.stop) for g, on in zip(_groups(sizes), z) if on] or [np.zeros(0, int)])
        Xz = X[:, cols]
        cov = sigma ** 2 * np.eye(n) + sigma0 ** 2 * Xz @ Xz.T
        chol = np.linalg.cholesky(cov)
        alpha = np.linalg.solve(chol, y)
        log_lik = -0.5 * n * math.log(2.0 * math.pi) - np.log(np.diag(chol)).sum() - 0.5 * alpha @ alpha
        terms.append(sum(math.log(lam) if on else math.log1p(-lam) for on in z) + log_lik)
    return float(logsumexp(terms))


def elbo(y, X, sizes, gamma, mu, s, lam: float, sigma: float, sigma0: float) -> float:
    """(T-15) The mean-field ELBO in closed form; ``gamma`` ``(G,)``, ``mu``, ``s`` ``(sum sizes,)``."""
    n = y.shape[0]
    gamma = np.asarray(gamma, dtype=np.float64)
    g_col = np.repeat(gamma, sizes)
    m = g_col * mu
    XtX = X.T @ X
    tr = 0.0
    kl = float(np.sum(kl_bernoulli(gamma, lam)))
    for g, gam in zip(_groups(sizes), gamma):
        block = gam * np.diag(s[g] ** 2) + gam * (1.0 - gam) * np.outer(mu[g], mu[g])
        tr += float(np.sum(XtX[g, g] * block))
        kl += gam * float(np.sum(kl_gaussian(mu[g], s[g], sigma0)))
    resid = y - X @ m
    return -0.5 * n * math.log(2.0 * math.pi * sigma ** 2) - (resid @ resid + tr) / (2.0 * sigma ** 2) - kl


def orthogonal_posterior(y, X, sizes, lam: float, sigma: float, sigma0: float):
    """(T-15) The exact posterior ``(gamma, mu, s)`` when ``X^T X`` is diagonal (it then lies in the family).

    Per coordinate ``d_j = ||X_j||^2``: ``s_j^2 = 1/(d_j/sigma^2 + 1/sigma0^2)``, ``mu_j = s_j^2 X_j^T y / sigma^2``;
    per group ``logit gamma_g = logit lam + sum_j [log(s_j/sigma0) + mu_j^2 / (2 s_j^2)]`` (the Bayes
    factor of including group g).
    """
    XtX = X.T @ X
    if not np.allclose(XtX, np.diag(np.diag(XtX)), rtol=0.0, atol=1e-12 * max(1.0, np.abs(XtX).max())):
        raise ValueError("X: the exact posterior is mean-field only when X^T X is diagonal; orthogonalise the columns")
    d = np.diag(XtX)
    s2 = 1.0 / (d / sigma ** 2 + 1.0 / sigma0 ** 2)
    mu = s2 * (X.T @ y) / sigma ** 2
    log_bf = 0.5 * np.log(s2 / sigma0 ** 2) + 0.5 * mu * mu / s2
    logit_gamma = np.array([math.log(lam) - math.log1p(-lam) + log_bf[g].sum() for g in _groups(sizes)])
    return expit(logit_gamma), mu, np.sqrt(s2)
