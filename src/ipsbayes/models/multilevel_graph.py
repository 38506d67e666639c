"""The PyMC graph of the multilevel model, written by hand (see README, "Why not Bambi's graph").

For row *i* with group ``j[f, i]`` of every grouping factor *f*::

    eta_i = intercept + X_i beta + slope * fidelity_j[i]                 (fidelity: optional, one factor)
            + sum over blocks b of  x_bi . u_b[j[b, i]]                  (x = 1 for a group intercept)
    u_bj = sd_b * z_bj                      plain group intercepts, non-centred
    u_bj ~ Normal(0, sd_b)                  the same, centred (groups whose data pin them down)
    u_bj = L_b z_bj,  L_b L_b' = diag(sd_b) R_b diag(sd_b),  R_b ~ LKJ(eta)   correlated varying slopes
    y_i ~ family(eta_i)

The *anchor* factor's group intercepts absorb the intercept and the fidelity slope, so
its centred groups are ``theta_j ~ Normal(intercept + slope * fidelity_j, sd)``
(hierarchical centring: the intercept is then not tied to the group effects); centred
groups of other factors are their effects ``u_j ~ Normal(0, sd)`` themselves.
``<factor>_effect`` always holds the deviations ``u`` whatever the parameterisation,
so estimands never read parameterisation-specific names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import ModelData, model_data, observed_name
from ipsbayes.models.fidelity_reviews import latent_fidelity
from ipsbayes.models.groups import BlockInfo, idx_key
from ipsbayes.models.pooling import is_split, partially_centred, split_dims
from ipsbayes.priors import PriorSet


def build_graph(data: ModelData, priors: PriorSet, family: OutcomeFamily) -> pm.Model:
    """Build the model graph for prepared ``data`` (never samples)."""
    arrays, info = data.arrays, data.info
    blocks: list[BlockInfo] = info["blocks"]
    anchor = info.get("anchor")
    fidelity_dim = info.get("fidelity_group")
    coords = {**data.coords, "obs": np.arange(len(arrays["y"]))}
    with pm.Model(coords=coords) as model:
        dims: dict[str, tuple[str, ...]] = {"X": ("obs", "term"), "y": ("obs",), "trials": ("obs",)}
        for block in blocks:
            dims[idx_key(block.block.factor)] = ("obs",)
            dims |= split_dims(block.dim)
            if block.x_key:
                dims[block.x_key] = ("obs", block.block.coef_dim) if block.k > 1 else ("obs",)
        if fidelity_dim:
            dims |= {"fidelity": (fidelity_dim,), "review_score": ("review",), "review_service_idx": ("review",)}
        d = model_data(arrays, dims)
        # continuous outcomes start the sampler at the outcome's mean and SD: only the starting point changes
        # (a vague prior centred far from the data, e.g. BUGS's Normal(0, 1000), otherwise costs warm-up)
        start = info.get("start", {})
        intercept = priors["intercept"].create("intercept", initval=start.get("intercept"))
        fidelity, slope = None, None
        if fidelity_dim:
            fidelity = latent_fidelity(priors, d, fidelity_dim) if "review_score" in d else d["fidelity"]
            slope = priors["fidelity_slope"].create("fidelity_slope")
        eta: Any = 0.0
        absorbed = False
        for block in blocks:
            mean = None
            if block.dim == anchor and block.intercept_only and not block.block.suffix:
                mean = intercept if slope is None else intercept + slope * fidelity
                absorbed = True
            eta = eta + _block_rows(block, priors, d, mean)
        if not absorbed:
            eta = eta + intercept
            if slope is not None:
                eta = eta + (slope * fidelity)[d[idx_key_for(blocks, fidelity_dim)]]
        if len(data.coords["term"]):
            beta = priors["beta"].create("beta", dims="term")
            eta = eta + pt.dot(d["X"], beta)
        eta = eta + pt.zeros(len(arrays["y"]))
        aux = family.create_aux(priors, start)
        info["response"] = observed_name(info["outcome_column"], model)  # the name every later stage reads
        family.observe(info["response"], eta, d["y"], d.get("trials"), aux, "obs")
    model.ipsbayes_eta = eta  # the linear predictor, for equivalence tests against numpy estimands
    return model


def idx_key_for(blocks: list[BlockInfo], dim: str) -> str:
    """The index array of the factor called ``dim``."""
    return next(idx_key(b.block.factor) for b in blocks if b.dim == dim)


def _block_rows(block: BlockInfo, priors: PriorSet, d: dict[str, Any], mean: Any) -> Any:
    """One block's contribution to every row's linear predictor (its group effects are created here)."""
    dim, name = block.dim, block.block.effect_name
    idx = d[idx_key(block.block.factor)]
    if block.k > 1:
        effect = _correlated(block, priors)
        return pt.sum(d[block.x_key] * effect[idx], axis=1)
    sd = priors[block.block.sd_name].create(block.block.sd_name)
    if block.intercept_only and is_split(dim, d):
        centre = 0.0 if mean is None else mean
        theta = partially_centred(dim, centre, sd, d)
        pm.Deterministic(name, theta - centre, dims=dim)
        return theta[idx]
    z = pm.Normal(f"z_{dim}{block.block.suffix}", 0.0, 1.0, dims=dim)
    effect = pm.Deterministic(name, sd * z, dims=dim)
    if mean is not None:
        return (mean + effect)[idx]
    if block.x_key is None:
        return effect[idx]
    return d[block.x_key] * effect[idx]


def _correlated(block: BlockInfo, priors: PriorSet) -> Any:
    """Correlated effects of a block with several columns: non-centred with an LKJ prior on the correlations."""
    dim, coef = block.dim, block.block.coef_dim
    sd_name, corr_name = block.block.sd_name, block.block.corr_name
    packed = pm.LKJCholeskyCov(
        f"chol_{dim}{block.block.suffix}",
        n=block.k,
        eta=priors[corr_name].hyperparameter(corr_name, "eta"),
        sd_dist=priors[sd_name].distribution(sd_name),
        compute_corr=False,
        dims=f"{coef}_chol",
    )
    chol = pm.math.expand_packed_triangular(block.k, packed, lower=True)
    covariance = pt.dot(chol, chol.T)
    sds = pt.sqrt(pt.diag(covariance))
    pm.Deterministic(sd_name, sds, dims=coef)
    pm.Deterministic(corr_name, covariance / pt.outer(sds, sds), dims=(coef, f"{coef}_bis"))
    z = pm.Normal(f"z_{dim}{block.block.suffix}", 0.0, 1.0, dims=(dim, coef))
    return pm.Deterministic(block.block.effect_name, pt.dot(z, chol.T), dims=(dim, coef))
