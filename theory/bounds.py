"""Index of the derived bounds (docs/theory-notes.md §4.1-§4.4), one module per concept:

=====================  =======================================================  ==========
forward bound           :func:`forward_bound`                                    (T-2)
perturbation bound      :func:`recursive_perturbation_bound`,                    (T-3)
                        :func:`entrywise_perturbation_bound`,                    (T-4)
                        :func:`closed_form_perturbation_bound`,
                        :func:`lipschitz_constant`, :func:`equality_case`
entropy                 :func:`entropy_bound`, :func:`entropy_bound_simple`,     (T-5)
                        :func:`entropy_schmidt_hieber`, :func:`round_to_grid`
slab box mass           :func:`neg_log_box` (exact), :func:`analytic_neg_log_box`,  (T-6, T-7)
                        :func:`slab_cost`
network box, C3         :func:`box_half_width`, :func:`neg_log_box_mass`,        (T-8, T-9)
                        :func:`c3_ratio`, :func:`c3_constant`
variational C4          :func:`c4_check`, :func:`c4_constant_gaussian`           (T-10)
=====================  =======================================================  ==========

Everything here is derived in these notes and docs/theory.md, not quoted from the paper.
"""
from .entropy import entropy_bound, entropy_bound_simple, entropy_schmidt_hieber, round_to_grid
from .lipschitz import (SparseNet, closed_form_perturbation_bound, entrywise_perturbation_bound, equality_case,
                        forward_bound, lipschitz_constant, net_forward, pruned, recursive_perturbation_bound)
from .prior_mass import (BoxMass, C3Ratio, box_half_width, c3_constant, c3_ratio, neg_log_box_mass,
                         random_sparse_net, relevant_coordinates, selection_cost)
from .slab_mass import Slab, analytic_neg_log_box, box_cost, log_gl_marginal, neg_log_box, slab, slab_cost
from .topology import Topology, topology
from .variational import C4Result, c4_check, c4_constant_gaussian

__all__ = [
    "SparseNet", "closed_form_perturbation_bound", "entrywise_perturbation_bound", "equality_case", "forward_bound",
    "lipschitz_constant", "net_forward", "pruned", "recursive_perturbation_bound",
    "entropy_bound", "entropy_bound_simple", "entropy_schmidt_hieber", "round_to_grid",
    "Slab", "slab", "neg_log_box", "analytic_neg_log_box", "box_cost", "log_gl_marginal", "slab_cost",
    "BoxMass", "C3Ratio", "box_half_width", "c3_constant", "c3_ratio", "neg_log_box_mass", "random_sparse_net",
    "relevant_coordinates", "selection_cost", "Topology", "topology", "C4Result", "c4_check", "c4_constant_gaussian",
]
