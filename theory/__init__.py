"""theory: contraction rates, bounds and numerical checks for node-sparse BNNs (docs/theory.md).

Every result here is **derived in this project** (docs/theory-notes.md, docs/theory.md), with explicit
constants, and checked by a test; none is a quotation of the paper, whose theorem text was not
available. Host NumPy/SciPy, float64.

  topology        the architecture seen by the theory: a_l, m_l, D                          (T-1)
  lipschitz       forward and perturbation bounds, Lambda(B), equality case                  (T-2..T-4)
  entropy         sup-norm entropy of node-sparse classes, Schmidt-Hieber comparison         (T-5)
  slab_mass       exact and analytic prior mass of a box around one group; slab cost beta    (T-6, T-7)
  prior_mass      box around a sparse true network, -log Pi(box), the C3 ratio               (T-8, T-9)
  variational     the variational condition C4                                               (T-10)
  rates           eps_n, the inclusion schedule, local exponent, reconstructed published form (T-11..T-13)
  published       Schmidt-Hieber, Polson & Ročková, Chérief-Abdellatif, Bai et al. on one topology (T-17)
  rates_cli       ``python -m theory rates``: examples, decomposition, validity, --from-run, --json, --plot
  concrete        binary Concrete: thresholding, temperature-free KL                         (T-14)
  conjugate       ELBO <= log evidence in conjugate spike-and-slab group regression         (T-15)
  hellinger       Hellinger / KL / L2 utilities for Gaussian regression                      (T-16)
  bounds          index of T-2..T-10
  predictions     what eps_n predicts for the contraction experiment (``experiments/contraction.py``, CE-1,
                  CE-2): vacuous n, derived slope, level; t intervals                           (CE-3, CE-4)

Command line: ``python -m theory rates`` (the contraction experiment's teacher), ``--example paper``,
``--widths 8 32 32 1 --active 6 4 --bounds 1 1 1 --n 1000``, ``--from-run DIR``; ``--published``, ``--json``,
``--plot``.
"""
