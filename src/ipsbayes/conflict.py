"""Prior-data conflict: are the data plausible under the prior, and how far did they move a robust prior.

Two checks, computed after every fit of a model whose data have an assignment (``z``):

- **prior-predictive tail probability of the observed ITT** (Box 1980; Evans & Moshonov 2006):
  draw parameters from the prior, outcomes from the model given the observed design (arm
  sizes, covariates, and, for the CACE model, who in the IPS arm took IPS up), and compare the
  replicated difference in mean outcome by arm with the observed one. The two-sided mid-p
  tail probability ``2 min(P(T >= t), P(T <= t))`` is small when the data would be surprising
  under the prior. A robust mixture prior accommodates conflict by design (its vague component
  predicts almost anything), so for such priors the tail probability is also given under the
  informative (historical) components alone;
- **posterior weight of the robust component** of every mixture prior with a component
  labelled ``"robust"`` (Schmidli et al. 2014): the posterior probability that the parameter
  belongs to the vague component, ``E_posterior[ w_r N(theta; m_r, s_r) / sum_k w_k N(theta; m_k, s_k) ]``.
  It rises from the prior weight towards 1 when the data conflict with the informative part.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.models import ModelData
from ipsbayes.priors import PriorSet
from ipsbayes.sampling import sample_prior_predictive

#: prior-predictive draws for the tail probability (Monte Carlo SE of p at most 0.016, 0.007 near p = 0.05)
DRAWS = 1000


def arm_difference(y: np.ndarray, z: np.ndarray, scale: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Difference in (frequency-weighted) mean outcome, assigned minus not assigned, on the last axis, x ``scale``."""
    treated, control = z == 1, z == 0
    w = np.ones(z.shape, dtype=float) if weights is None else weights
    return scale * (
        np.average(y[..., treated], axis=-1, weights=w[treated])
        - np.average(y[..., control], axis=-1, weights=w[control])
    )


def tail_probabilities(replicated: np.ndarray, observed: float, weights: np.ndarray | None = None) -> dict[str, float]:
    """Mid-p upper, lower and two-sided tail probabilities of ``observed`` among (weighted) ``replicated`` values."""
    weights = np.ones_like(replicated, dtype=float) if weights is None else np.asarray(weights, dtype=float)
    weights = weights / weights.sum()
    ties = 0.5 * float(weights[replicated == observed].sum())
    above = float(weights[replicated > observed].sum()) + ties
    below = float(weights[replicated < observed].sum()) + ties
    return {"p_upper": above, "p_lower": below, "p_two_sided": min(1.0, 2 * min(above, below))}


def informative_weights(prior: xr.Dataset, priors: PriorSet) -> np.ndarray | None:
    """Per prior draw, the probability that every robust mixture prior drew from its informative components.

    Weighting prior-predictive draws by it gives the prior predictive under the historical part
    of the prior alone (the component indicator depends on the data only through the parameter).
    None when the prior set has no robust mixture.
    """
    weights = None
    for name, entry in priors.priors.items():
        if entry.dist != "NormalMixture" or name not in prior:
            continue
        mix = entry.mixture()
        if mix.robust_index is None:
            continue
        theta = np.asarray(prior[name].values, dtype=float).ravel()
        informative = 1 - mix.responsibilities(theta)[:, mix.robust_index]
        weights = informative if weights is None else weights * informative
    return weights


def robust_weights(posterior: xr.Dataset, priors: PriorSet) -> dict[str, tuple[float, float]]:
    """Prior and posterior weight of the ``"robust"`` component, per mixture prior that has one."""
    out = {}
    for name, prior in priors.priors.items():
        if prior.dist != "NormalMixture" or name not in posterior:
            continue
        mix = prior.mixture()
        index = mix.robust_index
        if index is None:
            continue
        theta = np.asarray(posterior[name].values, dtype=float).ravel()
        out[name] = (float(mix.w[index]), float(mix.responsibilities(theta)[:, index].mean()))
    return out


def has_assignment(data: ModelData) -> bool:
    """True when the data have an assignment ``z`` and an outcome ``y`` (the check applies)."""
    return "z" in data.arrays and "y" in data.arrays


def prior_data_conflict(
    model: Any,
    data: ModelData,
    priors: PriorSet,
    datatree: xr.DataTree,
    seed: int,
    draws: int = DRAWS,
    prior_draws: xr.DataTree | None = None,
) -> xr.Dataset | None:
    """Both conflict checks for a fitted run, as the ``prior_data_conflict`` group (None without an assignment).

    Parameters
    ----------
    model : pm.Model
        The fitted model (prior-predictive draws come from it, given the observed design).
    data : ModelData
        Its data; needs arrays ``y`` and ``z``.
    priors : PriorSet
        The prior set of the run.
    datatree : DataTree
        The fit (its ``posterior`` group).
    seed : int
        Seed of the prior-predictive draws.
    draws : int
        Number of prior-predictive draws.
    prior_draws : DataTree, optional
        Prior and prior-predictive draws already made (``prior`` and ``prior_predictive`` groups);
        drawn here when None.
    """
    arrays = data.arrays
    if not has_assignment(data):
        return None
    z, y = np.asarray(arrays["z"]), np.asarray(arrays["y"], dtype=float)
    # the family says how a raw difference is reported (binary: x 100 in pp; counts and continuous: as they are)
    scale = float(data.info.get("difference_scale", 100.0))
    unit = str(data.info.get("difference_unit", "pp"))
    weights = np.asarray(arrays["weights"], dtype=float) if "weights" in arrays else None
    tree = prior_draws if prior_draws is not None else sample_prior_predictive(model, draws=draws, seed=seed)
    predictive = tree["prior_predictive"].to_dataset()
    name = next(iter(predictive.data_vars))
    replicated = np.asarray(predictive[name].values, dtype=float).reshape(-1, y.size)
    statistic = arm_difference(replicated, z, scale, weights)
    observed = float(arm_difference(y, z, scale, weights))
    tails = tail_probabilities(statistic, observed)
    informative = informative_weights(tree["prior"].to_dataset(), priors)
    if informative is not None and informative.sum() > 0:
        historical = tail_probabilities(statistic, observed, informative)
        tails |= {f"{key}_informative": value for key, value in historical.items()}
    out = xr.Dataset(
        {
            "itt_observed": xr.DataArray(observed),
            "itt_prior_predictive": xr.DataArray(statistic, dims="predictive_draw"),
            **{key: xr.DataArray(value) for key, value in tails.items()},
        },
        attrs={
            "statistic": "difference in mean outcome by assigned arm (ITT), observed design held fixed",
            "unit": unit,
            "draws": int(statistic.size),
            "prior_set": priors.name,
        },
    )
    weights = robust_weights(datatree["posterior"].to_dataset(), priors)
    if weights:
        names = list(weights)
        out["robust_prior_weight"] = xr.DataArray([weights[n][0] for n in names], dims="parameter")
        out["robust_posterior_weight"] = xr.DataArray([weights[n][1] for n in names], dims="parameter")
        out = out.assign_coords(parameter=names)
    return out


__all__ = [
    "DRAWS",
    "arm_difference",
    "has_assignment",
    "informative_weights",
    "prior_data_conflict",
    "robust_weights",
    "tail_probabilities",
]
