"""A node-sparse architecture as the theory sees it: widths, active nodes, weight bounds, group mode. (T-1)

docs/theory-notes.md §3.2 counts **hidden layers** ``l = 1..L`` and the output layer ``L+1``:

    widths = [p, k_1, ..., k_L, K]          (k_0 = p inputs, K = k_{L+1} outputs)
    active = [s_1, ..., s_L]                (active nodes per hidden layer; s_{L+1} = K is added)
    bounds = [B_1, ..., B_{L+1}]            (|every true weight and bias of layer l| <= B_l)

The incoming group of node j of layer l is its weights and its bias. Only some of its coordinates
matter for the function ("relevant inputs"):

    a_1 = p;   for l >= 2:   a_l = k_{l-1}  (group_mode 'full')   or   a_l = s_{l-1}  ('active')
    m_l = a_l + 1            (relevant coordinates of one active group)
    D   = sum_{l=1..L+1} s_l m_l      (effective dimension)

'active' is valid when psi(0) = 0 and a pruned node's incoming group is zeroed, so that it outputs 0
and its outgoing weights do nothing; 'full' is needed otherwise and matches the paper's group size
``k_{l-1} + 1`` (docs/theory-notes.md §7 item 2). Everything in ``theory/`` is host NumPy in float64.

This is the code's weight layer ``l - 1`` (docs/notation.md, "Translating from the theory notes").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

GROUP_MODES = ("full", "active")


@dataclass(frozen=True)
class Topology:
    """Validated architecture; build it with :func:`topology`. Tuples are indexed by hidden layer
    ``l = 1..L+1`` stored at position ``l - 1`` (so ``s[L]`` is the output width K)."""

    widths: tuple[int, ...]          # (p, k_1, ..., k_L, K)
    s: tuple[int, ...]               # (s_1, ..., s_L, K)
    B: tuple[float, ...]             # (B_1, ..., B_{L+1})
    group_mode: str

    @property
    def L(self) -> int:
        """Number of hidden layers."""
        return len(self.widths) - 2

    @property
    def k(self) -> tuple[int, ...]:
        """``(k_1, ..., k_L, K)``: the width of each layer that owns groups."""
        return self.widths[1:]

    @property
    def a(self) -> tuple[int, ...]:
        """Relevant inputs ``(a_1, ..., a_{L+1})`` of one group (T-1)."""
        prev = self.widths[:-1] if self.group_mode == "full" else (self.widths[0],) + self.s[:-1]
        return tuple(prev)

    @property
    def m(self) -> tuple[int, ...]:
        """Relevant coordinates ``m_l = a_l + 1`` of one active group (T-1)."""
        return tuple(a + 1 for a in self.a)

    @property
    def M(self) -> tuple[int, ...]:
        """Full group sizes ``M_l = k_{l-1} + 1`` (what the SS-GL Gamma shape ``(M+1)/2`` uses)."""
        return tuple(k + 1 for k in self.widths[:-1])

    @property
    def D(self) -> int:
        """Effective dimension ``D = sum_l s_l m_l`` (T-1)."""
        return sum(s * m for s, m in zip(self.s, self.m))

    def with_bounds(self, B) -> "Topology":
        """The same architecture with other weight bounds (a number or one per layer)."""
        return topology(self.widths, self.s[:-1], B, group_mode=self.group_mode)


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
        raise ValueError(f"{name}: expected integers >= 1, got {v!r}")
    return int(v)


def topology(widths, active, bounds, *, group_mode: str = "full") -> Topology:
    """Check and bundle ``widths = [p, k_1..k_L, K]``, ``active = [s_1..s_L]`` (``s_l <= k_l``) and
    ``bounds`` (one number, or ``L+1`` numbers ``B_1..B_{L+1}``, each finite and >= 0). (T-1)"""
    if isinstance(widths, Topology):
        return widths
    try:
        w = tuple(_positive_int("widths", k) for k in widths)
    except TypeError:
        raise ValueError(f"widths: expected [p, k_1, ..., k_L, K], got {widths!r}") from None
    if len(w) < 3:
        raise ValueError(f"widths: expected [p, k_1, ..., k_L, K] with at least one hidden layer, got {list(w)}")
    L = len(w) - 2
    act = tuple(_positive_int("active", s) for s in active)
    if len(act) != L:
        raise ValueError(f"active: expected {L} numbers s_1..s_L (one per hidden layer), got {len(act)}")
    for l, (s, k) in enumerate(zip(act, w[1:-1]), start=1):
        if s > k:
            raise ValueError(f"active: s_{l} = {s} exceeds the width k_{l} = {k}")
    Bs = [bounds] * (L + 1) if isinstance(bounds, Real) else list(bounds)
    if len(Bs) != L + 1:
        raise ValueError(f"bounds: expected one number or {L + 1} numbers B_1..B_{L + 1}, got {len(Bs)}")
    for b in Bs:
        if isinstance(b, bool) or not isinstance(b, Real) or not math.isfinite(b) or b < 0:
            raise ValueError(f"bounds: weight bounds must be finite numbers >= 0, got {b!r}")
    if group_mode not in GROUP_MODES:
        raise ValueError(f"group_mode: unknown {group_mode!r}; choose one of {GROUP_MODES}")
    return Topology(w, act + (w[-1],), tuple(float(b) for b in Bs), group_mode)
