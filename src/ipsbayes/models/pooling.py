"""Partially pooled group intercepts, centred or non-centred group by group.

A group value ``theta_j ~ Normal(mean_j, sd)`` can be sampled in two equivalent
forms. Non-centred, ``theta_j = mean_j + sd * z_j`` with ``z_j ~ Normal(0, 1)``,
avoids the funnel between ``theta_j`` and ``sd`` when a group's data say little
next to the population SD (small services). Centred, ``theta_j`` itself, is the
better geometry when the data pin ``theta_j`` down: non-centred, ``z_j`` and
``sd`` then become tightly dependent and NUTS needs long trajectories (Betancourt
& Girolami 2015; Papaspiliopoulos, Roberts & Skold 2007). The posterior is the
same either way, so the form can be chosen per group: a group is centred when
the Fisher information of its data about its log-odds, ``n_j p (1 - p)`` at the
pooled outcome rate ``p``, exceeds a threshold. Only group sizes and the overall
rate enter the choice, never the outcome's pattern across groups.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

Parameterisation = Literal["auto", "noncentred", "centred"]

#: information above which ``auto`` centres a group (measured in benchmarks/parameterisation.py)
CENTRE_ABOVE = 25.0


def group_information(idx: np.ndarray, trials: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """Fisher information about each group's log-odds at the pooled rate: ``n_j p (1 - p)``.

    Parameters
    ----------
    idx : array of int
        Group of each row.
    trials, y : array
        Participants and successes per row (1 and 0/1 for uncollapsed data).
    size : int
        Number of groups.
    """
    n = np.bincount(idx, weights=trials, minlength=size)
    p = float(np.sum(y)) / float(np.sum(trials))
    return n * p * (1.0 - p)


def choose_centred(information: np.ndarray, mode: Parameterisation, threshold: float) -> np.ndarray:
    """Boolean mask of the groups to centre under ``mode``."""
    if mode == "centred":
        return np.ones(len(information), bool)
    if mode == "noncentred":
        return np.zeros(len(information), bool)
    return information > threshold


def split_arrays(dim: str, labels: list[str], centred: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    """Index arrays and coords of the centred and non-centred groups of ``dim``.

    Nothing is returned when no group is centred: the model then keeps its plain
    non-centred form. An empty side gets no array, so no dim has length zero.
    """
    if not centred.any():
        return {}, {}
    arrays, coords = {}, {}
    for side, mask in (("centred", centred), ("noncentred", ~centred)):
        if mask.any():
            arrays[f"{dim}_{side}_idx"] = np.flatnonzero(mask).astype(np.int64)
            coords[f"{side}_{dim}"] = [labels[j] for j in np.flatnonzero(mask)]
    # where each group sits in [centred values, non-centred values]: one gather instead of two set_subtensor
    stacked = np.concatenate([np.flatnonzero(centred), np.flatnonzero(~centred)])
    arrays[f"{dim}_order"] = np.argsort(stacked).astype(np.int64)
    return arrays, coords


def split_dims(dim: str) -> dict[str, tuple[str, ...]]:
    """``model_data`` dims of the index arrays made by :func:`split_arrays`."""
    dims = {f"{dim}_{side}_idx": (f"{side}_{dim}",) for side in ("centred", "noncentred")}
    return dims | {f"{dim}_order": (dim,)}


def is_split(dim: str, d: dict[str, Any]) -> bool:
    """True when some group of ``dim`` is centred."""
    return f"{dim}_centred_idx" in d


def partially_centred(dim: str, mean: Any, sd: Any, d: dict[str, Any]) -> Any:
    """Group values ``theta ~ Normal(mean, sd)`` over ``dim``, centred where :func:`split_arrays` said.

    ``mean`` and ``sd`` are scalars or one value per group. Free variables:
    ``<dim>_centred`` (the centred groups' values, dim ``centred_<dim>``) and
    ``z_<dim>`` (standard normal offsets of the others, dim ``noncentred_<dim>``).
    """
    size = len(pm.modelcontext(None).coords[dim])
    mean = pt.broadcast_to(pt.as_tensor_variable(mean), (size,))
    per_group = pt.as_tensor_variable(sd).ndim > 0
    centred = d[f"{dim}_centred_idx"]
    sigma = sd[centred] if per_group else sd
    parts = [pm.Normal(f"{dim}_centred", mu=mean[centred], sigma=sigma, dims=f"centred_{dim}")]
    if f"{dim}_noncentred_idx" in d:
        noncentred = d[f"{dim}_noncentred_idx"]
        z = pm.Normal(f"z_{dim}", 0.0, 1.0, dims=f"noncentred_{dim}")
        parts.append(mean[noncentred] + (sd[noncentred] if per_group else sd) * z)
    # joined and put in group order by one gather: the speed study of issue 15 measured the former pair of
    # set_subtensor at +7% (1,500 rows) to +9% (15,000) per gradient
    return pt.concatenate(parts)[d[f"{dim}_order"]]
