"""Binomial collapsing: identical Bernoulli rows become one binomial count (same posterior, fewer terms)."""

from __future__ import annotations

import numpy as np

from ipsbayes.models.base import ModelData


def collapse_if_useful(data: ModelData, mode: str) -> ModelData:
    """Collapse identical rows (same predictors, service, specialist) into binomial counts.

    The binomial likelihood of the counts equals the product of the Bernoulli
    likelihoods up to a constant, so the posterior is unchanged. ``auto``
    collapses when that at least halves the number of likelihood terms.
    """
    if mode == "never":
        return data
    arrays = data.arrays
    row_keys = [k for k in ("X", "service_idx", "specialist_idx") if k in arrays]
    stacked = np.column_stack([arrays[k].astype(float) for k in row_keys])
    _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if mode == "auto" and len(first) > 0.5 * len(stacked):
        return data
    collapsed = dict(arrays)
    for key in row_keys:
        collapsed[key] = arrays[key][first]
    collapsed["trials"] = np.bincount(inverse).astype(np.int64)
    collapsed["y"] = np.bincount(inverse, weights=arrays["y"]).astype(np.int64)
    data.info["frame"] = data.info["frame"].iloc[first].reset_index(drop=True)
    data.notes.append(
        f"{data.n_rows} participants were collapsed into {len(first)} binomial rows with identical "
        "predictors and service (same posterior, fewer likelihood terms)."
    )
    return ModelData(coords=data.coords, arrays=collapsed, info=data.info, n_rows=data.n_rows, notes=data.notes)
