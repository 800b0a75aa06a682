"""Model selection over epochs, read from the history records' validation fields only (never test data).

The training loop (:func:`refimpl.train.fit`) keeps the parameters of the epoch whose :func:`selection_key` is
the smallest so far; ties keep the earlier epoch. Two rules, ``TrainConfig.select``:

* ``"nll"`` (default): the lowest validation NLL of the Monte Carlo predictive, ``val_nll``. On real data this is
  usually an early, still unpruned epoch: the predictive's NLL is at its best before the indicators fall.
* ``"compressed"``: the product of a node-sparse method is the compressed network (hidden nodes with
  ``gamma > 1/2`` kept, weights at the variational mean; PR-1, PR-2). Among the epochs whose compressed network
  keeps at most ``flops_budget`` of the dense network's FLOPs (M-8, ``flops_kept``), the one with the best
  validation score of the compressed network: the highest ``val_compressed_accuracy`` (ties: the lower
  ``val_compressed_nll``) for classification, the lowest ``val_compressed_rmse`` for regression. While no epoch
  lies within the budget, the epoch with the fewest FLOPs kept is held (ties: the better score), so a run whose
  network never gets small enough still selects something, and says so (``within_budget``).

In one key: ``(0, 0, score...)`` within the budget and ``(1, flops_kept, score...)`` outside it, compared
lexicographically, with ``score`` = ``(-accuracy, nll)`` or ``(rmse,)``.

:func:`front`: the epochs not dominated in (FLOPs kept, lower is better; compressed validation score, higher
accuracy or lower RMSE is better), the accuracy-FLOPs trade-off a user chooses a budget from.
"""
from __future__ import annotations

from dataclasses import fields

SELECT_RULES = ("nll", "compressed")
#: Options added to TrainConfig after runs had been saved; a saved configuration without them had their defaults
#: (which are the earlier behaviour), see :func:`complete_train_config`.
ADDED_OPTIONS = ("select", "flops_budget")


def complete_train_config(saved, config_class) -> dict:
    """``saved`` (a training configuration read from a checkpoint or run.json) with every option of
    :data:`ADDED_OPTIONS` it lacks set to ``config_class``'s default, so that runs saved before those options
    existed still resume with the default options (anything else is returned unchanged)."""
    if not isinstance(saved, dict):
        return saved
    defaults = {f.name: f.default for f in fields(config_class) if f.name in ADDED_OPTIONS}
    return {**defaults, **saved}


def score_fields(record: dict) -> tuple[str, ...]:
    """The compressed network's validation fields that rank epochs: ``("val_compressed_accuracy",
    "val_compressed_nll")`` (classification) or ``("val_compressed_rmse",)`` (regression)."""
    if "val_compressed_accuracy" in record:
        return ("val_compressed_accuracy", "val_compressed_nll")
    return ("val_compressed_rmse",)


def _score(record: dict) -> list[float]:
    """Smaller is better: ``[-accuracy, nll]`` or ``[rmse]`` of the compressed network on validation data."""
    if "val_compressed_accuracy" in record:
        return [-record["val_compressed_accuracy"], record["val_compressed_nll"]]
    return [record["val_compressed_rmse"]]


def selection_key(record: dict, select: str, flops_budget: float = 1.0):
    """The number (``"nll"``) or list (``"compressed"``) that the selected epoch minimises; see the module
    docstring. Lists, not tuples, so that a key survives the JSON of a checkpoint unchanged."""
    if select == "nll":
        return record["val_nll"]
    if select != "compressed":
        raise ValueError(f"select: unknown {select!r}; choose one of {list(SELECT_RULES)}")
    within = record["flops_kept"] <= flops_budget
    return [0, 0.0, *_score(record)] if within else [1, record["flops_kept"], *_score(record)]


def within_budget(key) -> bool:
    """Whether a ``"compressed"`` key belongs to an epoch within the budget (an ``"nll"`` key always does)."""
    return not isinstance(key, list) or key[0] == 0


def selected_epoch(history: list, select: str, flops_budget: float = 1.0) -> int | None:
    """The 1-based epoch :func:`refimpl.train.fit` selects from these records (the first smallest key), or
    ``None`` when they hold no validation metrics (then the final epoch is selected)."""
    best = best_key = None
    for record in history:
        if "val_nll" not in record or (select == "compressed" and "flops_kept" not in record):
            continue
        key = selection_key(record, select, flops_budget)
        if best_key is None or key < best_key:
            best, best_key = record["epoch"], key
    return best


def describe(select: str, flops_budget: float, has_validation: bool, within: bool = True) -> str:
    """One line for ``metrics.json``'s ``selection``."""
    if not has_validation:
        return "final epoch (no validation data)"
    if select == "nll":
        return "lowest validation NLL"
    text = (f"best validation score (accuracy; regression: RMSE) of the compressed network among epochs with "
            f"FLOPs kept <= {flops_budget:g}")
    return text if within else text + "; no epoch was within the budget: the fewest FLOPs kept"


def front(history: list) -> list[dict]:
    """The accuracy-FLOPs front over epochs: ``{"epoch", "flops_kept", <score fields>}`` of every epoch that no
    other epoch dominates (at most its FLOPs kept and at least its score, one of them strictly), ordered by
    FLOPs kept; of epochs with identical FLOPs and score only the first is listed. Records without the
    compressed validation metrics (no validation data) are skipped."""
    points = [r for r in history if "flops_kept" in r and any(k in r for k in ("val_compressed_accuracy",
                                                                               "val_compressed_rmse"))]
    if not points:
        return []
    name = score_fields(points[0])[0]
    sign = -1.0 if name == "val_compressed_accuracy" else 1.0       # smaller is better after the sign
    out, best = [], None
    # by FLOPs, then score, then epoch: a point is on the front iff its score beats every point before it
    for r in sorted(points, key=lambda r: (r["flops_kept"], sign * r[name], r["epoch"])):
        if best is None or sign * r[name] < best:
            best = sign * r[name]
            out.append({"epoch": r["epoch"], "flops_kept": r["flops_kept"],
                        **{k: r[k] for k in score_fields(r) if k in r}})
    return out
