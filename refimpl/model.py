"""``NodeSparseBNN``: a node-sparse Bayesian MLP trained by variational inference -- a configuration
(widths, prior record, likelihood, activation, backend) over :mod:`refimpl.elbo`, which evaluates the loss
-ELBO/N (E-1) and its gradient by hand (no autodiff runs here), and the boundary checks of every call.
"""
from __future__ import annotations

import math

import numpy as np

from . import elbo, network
from .activations import get_activation
from .backend import get_backend
from .likelihoods import LIKELIHOODS, nll_and_grad
from .priors import make_prior
from .priors.initialise import INITS
from .relaxation import RELAXATIONS
from .checks import (check_arrays, check_choice, check_inputs, check_n_data, check_positive,
                         check_targets, check_widths)

class NodeSparseBNN:
    """A node-sparse BNN of widths ``[k_0, k_1, ..., k_L, K]`` (input, hidden..., output).

    Parameters
    ----------
    widths : input width, one or more hidden widths, output width.
    prior : ``"ss-ig"`` (default), ``"gaussian"`` (dense BNN), ``"ss-gl"`` (group lasso slab),
        ``"ss-ghs"`` (regularised group horseshoe slab).
    likelihood : ``"gaussian"`` (regression) or ``"categorical"`` (softmax, K >= 2).
    activation : ``"silu"`` (default), ``"relu"``, ``"tanh"``.
    relaxation, temperature : indicator relaxation, ``"straight-through"`` (default) or ``"concrete"``,
        and its temperature (> 0, default 0.5).
    backend, dtype : ``"numpy"`` / ``"cupy"`` / ``"strict"`` and ``"float64"`` / ``"float32"``.
    init : weight- and bias-mean initialisation (I-1): ``"fan-in"`` (default; Kaiming-uniform on the true
        fan-in ``k_in``) or ``"authors"`` (the authors' code: PyTorch's initialiser on a ``(k_in, k_out)``
        tensor, so the fan-in read is ``k_out``).
    sigma_e : Gaussian likelihood noise std; ``None`` (default) learns ``log sigma_e`` as a point
        estimate (parameter ``"log_sigma_e"``, initialised at 0), a number fixes it.
    **prior_hyperparameters : ``sigma0`` (slab std, default 1), ``lam`` (inclusion probability: a
        number in (0, 1), one per hidden layer, ``"paper"`` (default) or ``"theory"``), ``C`` (paper
        schedule constant, 1e-9), ``kappa`` (theory schedule constant, 0.1). ``ss-gl`` adds
        ``parameterisation`` (``"non-centred"`` default, ``"centred"``), ``lam2_shape`` (4) and
        ``lam2_rate`` (2). ``ss-ghs`` adds ``parameterisation`` (``"centred"`` default, ``"non-centred"``),
        ``c`` (slab width, 1; ``math.inf`` for the plain group horseshoe), ``b_loc``, ``b_glob`` (1, 1),
        ``expectation`` (``"quadrature"`` default or the authors' ``"one-sample"``) and ``n_quadrature`` (64).
    """

    def __init__(self, widths, prior="ss-ig", likelihood="gaussian", activation="silu",
                 relaxation="straight-through", temperature=0.5, backend="numpy", dtype="float64",
                 sigma_e=None, init="fan-in", **prior_hyperparameters):
        self.widths = check_widths(widths)
        self.init = check_choice("init", init, INITS)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        if likelihood == "categorical" and self.widths[-1] < 2:
            raise ValueError(f"widths: the categorical likelihood needs an output width K >= 2, got {self.widths[-1]}")
        self.activation = get_activation(activation)
        check_choice("relaxation", relaxation, RELAXATIONS)
        temperature = check_positive("temperature", temperature)
        self.backend = get_backend(backend, dtype)
        self.learn_sigma_e = likelihood == "gaussian" and sigma_e is None
        self.log_sigma_e = None if sigma_e is None else math.log(check_positive("sigma_e", sigma_e))
        self.prior_name = prior
        self.prior = make_prior(prior, self.widths, relaxation=relaxation, temperature=temperature,
                                backend=self.backend, **prior_hyperparameters)
        self._layout = None
        #: Everything needed to rebuild this model (JSON-serialisable): ``NodeSparseBNN(**config)``.
        self.config = dict(widths=list(self.widths), prior=prior, likelihood=likelihood, activation=activation,
                           relaxation=relaxation, temperature=temperature, backend=self.backend.name,
                           dtype=dtype, sigma_e=sigma_e, init=init, **prior_hyperparameters)

    # ---- layout ------------------------------------------------------------------------------
    def param_shapes(self) -> dict:
        """Name -> shape of every parameter (docs/spec.md §6)."""
        shapes = dict(self.prior.param_shapes())
        if self.learn_sigma_e:
            shapes["log_sigma_e"] = ()
        return shapes

    def noise_shapes(self, n_samples: int = 1) -> dict:
        """Name -> shape of every noise array for ``n_samples`` Monte Carlo samples."""
        return self.prior.noise_shapes(n_samples)

    def inclusion_probs(self, n_data: int) -> list[float]:
        """Prior inclusion probabilities ``lambda_l`` of the hidden layers for training-set size N."""
        return [math.exp(a) for a, _ in self.prior.inclusion_log_probs(n_data)]

    def init_params(self, rng: np.random.Generator) -> dict:
        """Parameters initialised by the scheme ``self.init`` (I-1), drawn on the host and moved to the backend."""
        host = self.prior.init_params(rng, self.init)
        if self.learn_sigma_e:
            host["log_sigma_e"] = np.zeros(())
        return {k: self.backend.asarray(v) for k, v in host.items()}

    def sample_noise(self, rng, n_samples: int = 1) -> dict:
        """Noise for ``n_samples`` samples: ``eps`` ~ N(0, 1) and indicator ``u`` ~ U(0, 1) (names ending ``.u``).

        ``rng`` is a ``numpy.random.Generator`` (host draws, identical on every backend) or, on CuPy,
        a ``cupy.random.Generator`` (device draws).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: expected a positive integer, got {n_samples!r}")
        b = self.backend
        return {k: (b.uniform_open(rng, s) if k.endswith(".u") else b.standard_normal(rng, s))
                for k, s in self.noise_shapes(n_samples).items()}

    # ---- the objective -----------------------------------------------------------------------------
    def _check(self, params, noise):
        params_shapes, noise_shapes = self._shapes()
        check_arrays("params", params, params_shapes, self.backend)
        check_arrays("noise", noise, noise_shapes, self.backend, leading="S")

    def _shapes(self):
        """``(param_shapes(), noise_shapes(1))``, built once: the layout is fixed at construction."""
        if self._layout is None:
            self._layout = (self.param_shapes(), self.noise_shapes(1))
        return self._layout

    def predict(self, params, x, noise):
        """Network outputs ``(S, B, K)`` (regression means or logits), one slice per noise sample."""
        self._check(params, noise)
        x = check_inputs(x, self.widths[0], self.backend)
        Ws, bs, _ = elbo.sample_weights(self.prior, params, noise)
        return network.predict(x, Ws, bs, self.activation)

    def mean_network(self, params):
        """Weights at the variational mean, per layer ``(W_l (k_l, k_{l+1}), b_l (k_{l+1},))``, no indicators:
        ``E_q[t] * mu`` for non-centred scales (their exact mean, or Gauss-Hermite for the regularised
        horseshoe), ``mu`` otherwise. (PR-1)"""
        check_arrays("params", params, self._shapes()[0], self.backend)
        scales = self.prior.family.expected_scales(self.prior, params)
        out = []
        for l in range(len(self.widths) - 1):
            W, b = params[f"{l}.w_mu"], params[f"{l}.b_mu"]
            if scales[l] is not None:
                W, b = W * scales[l], b * scales[l]
            out.append((W, b))
        return out

    def loss_and_grad(self, params, x, y, noise, n_data: int, kl_weight: float = 1.0):
        """``(loss, grads, terms)`` for one minibatch: loss = -ELBO / N (E-1).

        ``grads`` has the layout of ``params``. ``terms`` holds ``nll`` (the mean negative
        log-likelihood part of the loss) and every KL part as a whole-network total, so that
        ``loss = nll + kl_weight * sum(KL parts) / n_data``. ``kl_weight`` (default 1, the ELBO) is
        only for KL annealing. All values are 0-d backend arrays.
        """
        x, target, kl_scale = self._check_step(params, x, y, noise, n_data, kl_weight)
        return self._terms_on_backend(elbo.loss_and_grad(self.prior, self.activation, self.likelihood_terms, params,
                                                         x, target, noise, n_data, kl_scale))

    def loss_and_grad_fused(self, params, x, y, noise, n_data: int, kl_weight: float = 1.0):
        """:meth:`loss_and_grad` by the fast schedule :func:`refimpl.elbo.loss_and_grad_fast`: the same checks and
        kernels in another order, float32 products without subnormal operands (F-3, docs/performance.md). On backends
        other than NumPy it is :meth:`loss_and_grad` itself."""
        if self.backend.name != "numpy":
            return self.loss_and_grad(params, x, y, noise, n_data, kl_weight)
        x, target, kl_scale = self._check_step(params, x, y, noise, n_data, kl_weight)
        return self._terms_on_backend(elbo.loss_and_grad_fast(self.prior, self.activation, self.likelihood_terms,
                                                              params, x, target, noise, n_data, kl_scale))

    def _terms_on_backend(self, out):
        loss, grads, terms = out
        return loss, grads, {k: (v if self.backend.is_backend_array(v) else self.backend.asarray(v)) for k, v in terms.items()}

    def _check_step(self, params, x, y, noise, n_data, kl_weight):
        """The boundary checks of a training step; returns ``(x, target, kl_weight / n_data)``."""
        self._check(params, noise)
        n_data = check_n_data(n_data)
        if isinstance(kl_weight, bool) or not isinstance(kl_weight, (int, float)) or not 0.0 <= kl_weight <= 1.0:
            raise ValueError(f"kl_weight: expected a number in [0, 1] (1 is the ELBO), got {kl_weight!r}")
        x = check_inputs(x, self.widths[0], self.backend)
        target = check_targets(y, x.shape[0], self.widths[-1], self.likelihood, self.backend)
        return x, target, kl_weight / n_data

    def likelihood_terms(self, params, eta, target):
        """``(nll, d_eta, {"log_sigma_e": gradient} or {})`` of the minibatch (L-1, L-2):
        :func:`refimpl.likelihoods.nll_and_grad` with this model's likelihood and noise scale."""
        learn = self.likelihood == "gaussian" and self.learn_sigma_e
        log_sigma_e = params["log_sigma_e"] if learn else self.log_sigma_e
        return nll_and_grad(self.likelihood, eta, target, log_sigma_e, learn)
