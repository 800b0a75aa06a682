"""Named bundles of options. ``authors`` reproduces what the authors' MLP scripts do.

A preset fills in options the user did not give: an explicit flag (or config-file key, or keyword argument)
always wins. ``resolve`` returns the merged options and a record of what came from where, which the run
directory keeps in ``run.json`` (``preset``).

**The authors' settings** (``jsanket12/SS_Group_Shrinkage_New``, read: the MLP script
``SS_GHS_Node_MLP_center_reg.py`` and the layers ``Group_Lasso_linear_layers_non_center.py``,
``GHS_linear_layers_center_reg.py``; the table in docs/training.md lists each with its source line):
weight means ``kaiming_uniform_(w_mu, nonlinearity='relu')`` on a ``(k_in, k_out)`` tensor (fan-in read as
``k_out``) and bias means ``U(+-1/sqrt(k_out))``; inputs ``ToTensor()`` then ``x * 255 / 126``; every training
row, ``KL / len(train_set)``, no validation; the test predictive averages the **logits** of 10 samples;
``torch.optim.Adam(net.parameters(), lr=1e-3)``, batch 1024, one Monte Carlo sample, no clipping (commented
out), no annealing; temperature 0.5; theta at logit(0.99), rho = -6 (this project's defaults); SS-GHS centred
with ``c_reg = 1`` and the one-sample estimate of ``E softplus``; SS-GL non-centred; float32 (PyTorch's default).
"""
from __future__ import annotations

from ..priors.initialise import THETA_INIT

#: Model options (``NodeSparseBNN`` keyword arguments) of each preset; ``prior_specific`` only where the prior
#: accepts them.
PRESETS = {
    "authors": {
        "model": dict(init="authors", dtype="float32", activation="silu", relaxation="straight-through",
                      temperature=0.5, lam="paper", sigma0=1.0),
        "prior_specific": {"ss-ghs": dict(parameterisation="centred", c=1.0, expectation="one-sample",
                                          b_loc=1.0, b_glob=1.0),
                           "ss-gl": dict(parameterisation="non-centred")},
        "train": dict(optimizer="adam", lr=1e-3, batch_size=1024, lr_schedule="constant", clip_norm=None,
                      kl_anneal_epochs=0, lr_mult_theta=1.0, lr_mult_scales=1.0, lr_mult_weights=1.0,
                      theta_init=THETA_INIT, theta_init_sd=0.0, theta_optimizer="adam", train_samples=1,
                      eval_samples=10, predictive_average="logits", select="nll"),
        "data": dict(input_scaling="authors", val_fraction=0.0),
    },
}


def resolve(name: str | None, prior: str, model: dict, train: dict, data: dict, explicit) -> tuple[dict, dict, dict, dict]:
    """Fill ``model``, ``train`` and ``data`` options from preset ``name`` wherever the key is not in ``explicit``.

    ``prior``: the prior's name (selects ``prior_specific``). Returns the three merged dictionaries and the
    record ``{"name", "applied": {key: value}, "overridden": [keys given explicitly that the preset also sets]}``
    (``{}`` when ``name`` is None).
    """
    if name is None:
        return dict(model), dict(train), dict(data), {}
    if name not in PRESETS:
        raise ValueError(f"preset: unknown {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    explicit = set(explicit)
    out = {"model": dict(model), "train": dict(train), "data": dict(data)}
    wanted = {"model": {**preset["model"], **preset["prior_specific"].get(prior, {})},
              "train": preset["train"], "data": preset["data"]}
    applied, overridden = {}, []
    for part, settings in wanted.items():
        for key, value in settings.items():
            if key in explicit:
                overridden.append(key)
            else:
                out[part][key] = value
                applied[key] = value
    return out["model"], out["train"], out["data"], {"name": name, "applied": applied, "overridden": sorted(overridden)}
