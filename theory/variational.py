"""The variational condition C4 for a constructed member ``q*`` of the mean-field family. (T-10)

Derived here (docs/theory-notes.md §2.3 C4, §5(c)5; docs/paper-notes.md §6.6 item 3). The member, in the centred
parameterisation of the code's family (``w ~ N(mu, sigma^2)`` independent of the scale factors):

  * nodes: ``gamma = 1`` on the true active nodes, 0 elsewhere (exactly Bernoulli 0/1);
  * relevant coordinates of active groups: ``w ~ N(theta*, v)``, ``v = eps_n^2 / (4 Lambda(B+1)^2 D)``;
    other coordinates of active groups follow their prior (KL 0); pruned groups are not sampled;
  * ss-gl: ``log tau^2 ~ N(mu, s^2)``; ss-ghs: ``log a ~ N(mu_a, s^2)``, ``log b ~ N(mu_b, s^2)`` with the
    global scale fixed at ``s_glob``; ``(mu, s)`` chosen per group to minimise the group's KL.

    KL(q* || Pi) = sum_l [s_l log(1/lambda_l) + (k_l - s_l) log(1/(1 - lambda_l))]
                 + sum_groups [ sum_i E_q(V) KL(N(theta*_i, v) || N(0, sigma0^2 V)) + KL(q(V) || p(V)) ]
    E_V KL(N(t, v) || N(0, sigma0^2 V)) = (1/2)[log sigma0^2 + E log V - log v + (v + t^2) E(1/V)/sigma0^2 - 1]   (KL-5)

C4 asks ``KL(q*||Pi) + n E_q* KL(l_theta*, l_theta) <= C n eps_n^2``; the second term is estimated by
Monte Carlo (``n_draws`` networks x ``n_x`` inputs). For ss-ig (docs/theory.md, T-10):

    C_4 = max(1, 1/2 + kappa) + 1/(8 sigma_e^2) + 1/(8 n sigma0^2)

where ``1/(8 sigma_e^2)`` bounds the likelihood term to first order in the perturbation
(``E ||f - f*||^2 <= Lambda^2 E ||theta - theta*||_2^2 = eps_n^2/4``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from refimpl.activations import Activation
from refimpl.kl import kl_gaussian, kl_lognormal_gamma, kl_lognormal_invgamma
from refimpl.priors.scales import hermite_rule

from .lipschitz import SparseNet, lipschitz_constant, net_forward
from .prior_mass import relevant_coordinates, selection_cost
from .rates import rate
from .slab_mass import Slab
from .topology import Topology

_HERMITE = hermite_rule(48)


def _expected_log_softplus_gap(M: float, Sigma: float, log_c2: float) -> float:
    """``E softplus(V - log c^2)``, ``V ~ N(M, Sigma^2)``, by 48-point Gauss-Hermite."""
    z, w = _HERMITE
    return float(w @ np.logaddexp(0.0, M + Sigma * z - log_c2))


def _group_kl(t2: float, m: int, M: int, v: float, sl: Slab) -> float:
    """Smallest weight-plus-scale KL of one active group over the scale factors' ``(mu, log s)``;
    ``t2 = sum_i theta*_i^2`` over its ``m`` relevant coordinates. (T-10)"""
    if sl.prior == "ss-ig":
        raise ValueError("ss-ig has no scale factor")
    s02 = sl.sigma0 ** 2

    def weights_kl(e_log_V, e_inv_V):
        return 0.5 * (m * (math.log(s02) + e_log_V - math.log(v) - 1.0) + (t2 + m * v) * e_inv_V / s02)

    def total(x):
        if not (-200.0 < x[0] < 200.0 and -20.0 < x[1] < 3.0):      # keep every exp() finite
            return math.inf
        mu, s = x[0], math.exp(x[1])
        if sl.prior == "ss-gl":
            scale = float(kl_lognormal_gamma(mu, s, 0.5 * (M + 1), 0.5 * sl.lam_gl ** 2))
            return weights_kl(mu, math.exp(-mu + 0.5 * s * s)) + scale
        # ss-ghs: log tau^2 = log a + log b ~ N(mu, 2 s^2); the split of mu between a and b that
        # minimises KL_a + KL_b is mu_a = -log(1 + e^{-mu}) - s^2/2 (set the mu_a-derivative to 0).
        mu_a = -math.log1p(math.exp(-mu)) - 0.5 * s * s
        scale = float(kl_lognormal_gamma(mu_a, s, 0.5, 1.0) + kl_lognormal_invgamma(mu - mu_a, s, 0.5, 1.0))
        M_V, Sig_V = mu + 2.0 * math.log(sl.s_glob), math.sqrt(2.0) * s          # V_plain = log(s_glob^2 tau^2)
        e_inv = math.exp(-M_V + 0.5 * Sig_V ** 2)
        e_log = M_V
        if math.isfinite(sl.c):
            e_inv += 1.0 / sl.c ** 2
            e_log -= _expected_log_softplus_gap(M_V, Sig_V, 2.0 * math.log(sl.c))
        return weights_kl(e_log, e_inv) + scale

    target = math.log(max(t2 / m, v) / s02)
    best = None
    for start in (target, 0.0, target - 4.0):
        res = minimize(total, np.array([start, math.log(0.5)]), method="Nelder-Mead",
                       options=dict(xatol=1e-7, fatol=1e-9, maxiter=4000))
        if best is None or res.fun < best.fun:
            best = res
    return float(best.fun)


@dataclass(frozen=True)
class C4Result:
    """(T-10) The two sides of C4 (in nats) and the ratio to ``n eps_n^2``."""

    kl_nodes: float
    kl_groups: float
    n_expected_kl: float
    n_expected_kl_se: float
    n_eps2: float
    constant: float | None

    @property
    def ratio(self) -> float:
        return (self.kl_nodes + self.kl_groups + self.n_expected_kl) / self.n_eps2


def c4_constant_gaussian(kappa: float, sigma_e: float, n: float, sigma0: float) -> float:
    """(T-10) ``C_4 = max(1, 1/2 + kappa) + 1/(8 sigma_e^2) + 1/(8 n sigma0^2)`` (ss-ig)."""
    return max(1.0, 0.5 + kappa) + 1.0 / (8.0 * sigma_e ** 2) + 1.0 / (8.0 * n * sigma0 ** 2)


def c4_check(rng: np.random.Generator, n: float, topo: Topology, sl: Slab, net: SparseNet, activation: Activation, *,
             kappa: float = 0.1, sigma_e: float = 1.0, n_draws: int = 256, n_x: int = 256) -> C4Result:
    """(T-10) ``KL(q*||Pi)`` in closed form (plus a 2-parameter minimisation per group for the scale
    factors) and ``n E_q* KL(l_theta*, l_theta)`` by Monte Carlo, for the true network ``net``
    (pruned, entries within ``topo.B``) at the derived rate with ``xi = 0``."""
    r = rate(n, topo, sl, lipschitz=activation.lipschitz)
    lam = lipschitz_constant(topo.with_bounds([B + 1.0 for B in topo.B]), lipschitz=activation.lipschitz)
    v = r.eps2 / (4.0 * lam * lam * topo.D)
    theta_rel = relevant_coordinates(net, topo)
    kl_groups = 0.0
    for w, m, M in zip(theta_rel, topo.m, topo.M):
        if sl.prior == "ss-ig":
            kl_groups += float(np.sum(kl_gaussian(w, math.sqrt(v), sl.sigma0)))
        else:
            kl_groups += sum(_group_kl(float(t2), m, M, v, sl) for t2 in np.sum(w * w, axis=1))
    x = rng.uniform(-1.0, 1.0, size=(n_x, topo.widths[0]))
    f_star = net_forward(net, x, activation)
    sq = np.empty(n_draws)
    for d in range(n_draws):
        sq[d] = np.mean((net_forward(_perturb(rng, net, topo, math.sqrt(v)), x, activation) - f_star) ** 2)
    kl_lik = n * sq / (2.0 * sigma_e ** 2)
    const = c4_constant_gaussian(kappa, sigma_e, n, sl.sigma0) if sl.prior == "ss-ig" else None
    return C4Result(selection_cost(topo, n, kappa), kl_groups, float(kl_lik.mean()),
                    float(kl_lik.std(ddof=1) / math.sqrt(n_draws)), n * r.eps2, const)


def _perturb(rng: np.random.Generator, net: SparseNet, topo: Topology, sd: float) -> SparseNet:
    """A draw from q*: ``N(theta*, sd^2)`` on every relevant coordinate of every active group."""
    W, b = [], []
    for l in range(topo.L + 1):
        nodes = net.z[l] if l < topo.L else np.ones(topo.widths[-1], dtype=bool)
        rows = np.ones(topo.widths[l], dtype=bool) if (l == 0 or topo.group_mode == "full") else net.z[l - 1]
        w, bias = net.W[l].copy(), net.b[l].copy()
        block = np.ix_(rows, nodes)
        w[block] += sd * rng.standard_normal(w[block].shape)
        bias[nodes] += sd * rng.standard_normal(int(nodes.sum()))
        W.append(w)
        b.append(bias)
    return SparseNet(tuple(W), tuple(b), net.z)
