"""Compiled inner loops of :meth:`ipsbayes.models.predict.Predictor.averages` (numba, cached on disk).

With a logit link every estimand is a weighted mean over rows of ``1 / (1 + exp(-eta_i) f)``, with
``f`` a factor per draw (a fidelity value, a numeric predictor shifted for every row) or per draw and
kind of row (a binary predictor set to 1). numpy needs four passes over the rows per factor (multiply,
add, reciprocal, dot); these loops make one. Only the order of the additions differs from numpy's,
so results agree to float rounding (``tests/test_predict_averages.py``). Non-finite inputs propagate
as in numpy (no fast-math assumptions about inf or NaN), so the caller's fallback still sees them.
"""

from __future__ import annotations

import numba
import numpy as np

# reassociation lets the sum over rows vectorise; inf and NaN keep their IEEE meaning
_FLAGS = {"reassoc", "contract"}


@numba.njit(cache=True, fastmath=_FLAGS)
def logistic_means(exp_neg: np.ndarray, factors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``out[d, v] = sum_i weights[i] / (1 + exp_neg[d, i] * factors[d, v])``."""
    n_draws, n_rows = exp_neg.shape
    out = np.empty((n_draws, factors.shape[1]))
    for d in range(n_draws):
        row = exp_neg[d]
        for v in range(factors.shape[1]):
            factor = factors[d, v]
            total = 0.0
            for i in range(n_rows):
                total += weights[i] / (1.0 + row[i] * factor)
            out[d, v] = total
    return out


@numba.njit(cache=True, fastmath=_FLAGS)
def logistic_means_by_kind(
    exp_neg: np.ndarray, factors: np.ndarray, kinds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """``out[d] = sum_i weights[i] / (1 + exp_neg[d, i] * factors[d, kinds[i]])``."""
    n_draws, n_rows = exp_neg.shape
    out = np.empty(n_draws)
    for d in range(n_draws):
        row = exp_neg[d]
        factor = factors[d]
        total = 0.0
        for i in range(n_rows):
            total += weights[i] / (1.0 + row[i] * factor[kinds[i]])
        out[d] = total
    return out


__all__ = ["logistic_means", "logistic_means_by_kind"]
