"""Model selection over epochs, read from the history records' validation fields only (never test data).

The training loop (:func:`refimpl.run.train.fit`) keeps the parameters of the epoch :func:`update` takes. Three rules,
``TrainConfig.select``; the first two keep the epoch whose :func:`selection_key` is the smallest so far (ties keep
the earlier epoch):

* ``"nll"``: the lowest validation NLL of the Monte Carlo predictive, ``val_nll``. On real data this is
  usually an early, still unpruned epoch: the predictive's NLL is at its best before the indicators fall.
* ``"compressed"``: the product of a node-sparse method is the compressed network (hidden nodes with
  ``gamma > 1/2`` kept, weights at the variational mean; PR-1, PR-2). Among the epochs whose compressed network
  keeps at most ``flops_budget`` of the dense network's FLOPs (M-8, ``flops_kept``), the one with the best
  validation score of the compressed network: the highest ``val_compressed_accuracy`` (ties: the lower
  ``val_compressed_nll``) for classification, the lowest ``val_compressed_rmse`` for regression. While no epoch
  lies within the budget, the epoch with the fewest FLOPs kept is held (ties: the better score), so a run whose
  network never gets small enough still selects something, and says so (``within_budget``).

* ``"sparse"`` (default): the smallest compressed network that is about as good as the best: among the epochs whose
  compressed validation score is within ``tolerance`` of the best compressed validation score so far (accuracy:
  at least the best minus ``tolerance``, e.g. 0.01 = one point; regression: RMSE at most the best times ``1 +
  tolerance``), the one with the fewest FLOPs kept (ties: the better score). Online, as the training loop needs
  it: when a new best pushes the held epoch out of the tolerance, the new best epoch is held instead (it is within
  its own tolerance), so the held epoch is always within the tolerance of the best of all epochs so far. A
  budget-free rule (no data-set-specific FLOPs target), in the spirit of the one-standard-error rule of the lasso.

In one key: ``(0, 0, score...)`` within the budget and ``(1, flops_kept, score...)`` outside it, compared
lexicographically, with ``score`` = ``(-accuracy, nll)`` or ``(rmse,)``.

:func:`front`: the epochs not dominated in (FLOPs kept, lower is better; compressed validation score, higher
accuracy or lower RMSE is better), the accuracy-FLOPs trade-off a user chooses a budget from.
"""
from __future__ import annotations

SELECT_RULES = ("nll", "compressed", "sparse")
#: Options added to TrainConfig after runs had been saved, with the value that reproduces the behaviour before
#: each existed; a saved configuration without them is completed with these (:func:`complete_train_config`).
ADDED_OPTIONS = {"select": "nll", "flops_budget": 1.0, "rho_init": None, "theta_init_sd": 0.0,
                 "theta_optimizer": "adam", "theta_lr": 0.03, "select_tolerance": 0.01,
                 "prune_below": None}


def complete_train_config(saved, config_class=None) -> dict:
    """``saved`` (a training configuration read from a checkpoint or run.json) with every option of
    :data:`ADDED_OPTIONS` it lacks set to its earlier behaviour, so that runs saved before those options existed
    resume as they were trained (anything else is returned unchanged; ``config_class`` is not used)."""
    if not isinstance(saved, dict):
        return saved
    return {**ADDED_OPTIONS, **saved}


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
    """Whether a ``"compressed"`` key belongs to an epoch within the budget (``"nll"`` and ``"sparse"`` states
    always do)."""
    return not isinstance(key, list) or key[0] == 0


def _within_tolerance(score: list, best: list, tolerance: float) -> bool:
    if len(score) == 2:                        # [-accuracy, nll]
        return -score[0] >= -best[0] - tolerance
    return score[0] <= best[0] * (1.0 + tolerance)


def update(state, record: dict, select: str, flops_budget: float = 1.0, tolerance: float = 0.01):
    """One epoch of selection: ``(take, state)``, whether the training loop holds this epoch's parameters from now
    on, and the new selection state (``None`` before the first epoch; JSON-serialisable: it is checkpointed).
    ``"nll"`` and ``"compressed"``: the state is the held epoch's :func:`selection_key`, taken when strictly
    smaller. ``"sparse"``: ``{"best": score of the best epoch so far, "held": [flops_kept, *score] of the held
    epoch}`` (module docstring)."""
    if select != "sparse":
        key = selection_key(record, select, flops_budget)
        take = state is None or key < state
        return take, (key if take else state)
    score = _score(record)
    best = score if state is None or score < state["best"] else state["best"]
    held = [record["flops_kept"], *score]
    take = (state is None or not _within_tolerance(state["held"][1:], best, tolerance)
            or (_within_tolerance(score, best, tolerance) and held < state["held"]))
    return take, {"best": best, "held": held if take else state["held"]}


def selected_epoch(history: list, select: str, flops_budget: float = 1.0, tolerance: float = 0.01) -> int | None:
    """The 1-based epoch :func:`refimpl.run.train.fit` selects from these records (:func:`update` replayed), or
    ``None`` when they hold no validation metrics (then the final epoch is selected)."""
    epoch = state = None
    for record in history:
        if "val_nll" not in record or (select != "nll" and "flops_kept" not in record):
            continue
        take, state = update(state, record, select, flops_budget, tolerance)
        if take:
            epoch = record["epoch"]
    return epoch


def describe(select: str, flops_budget: float, has_validation: bool, within: bool = True,
             tolerance: float = 0.01) -> str:
    """One line for ``metrics.json``'s ``selection``."""
    if not has_validation:
        return "final epoch (no validation data)"
    if select == "nll":
        return "lowest validation NLL"
    if select == "sparse":
        return (f"fewest FLOPs kept among epochs whose compressed network's validation score is within {tolerance:g} "
                f"of the best (accuracy points; regression: a fraction of the best RMSE)")
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
