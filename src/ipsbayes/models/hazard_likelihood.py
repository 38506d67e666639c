"""Likelihood of the discrete-time competing-risks hazard model on pattern x month counts.

:mod:`ipsbayes.models.person_months` pools participants into covariate patterns; here are
the multinomial log-likelihood of each pattern-month's transitions (the "none yet"
outcome as reference), the indices of the cells where transitions happened (which make
that log-likelihood cheap to differentiate), and posterior predictive draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt


def event_logp(
    value: Any, trials: Any, baseline: Any, linear: Any, n_targets: int, cells: tuple[Any, Any, Any] | None = None
) -> Any:
    """Log-likelihood of each pattern-month's transitions (multinomial kernel, "none yet" as reference).

    ``value`` (P, T, K) transitions, ``trials`` (P, T) at risk, ``baseline`` (1, T, K)
    and ``linear`` (P, 1, K) log-odds. ``exp(baseline + linear)`` is formed as a
    product of two small matrices, so no exponential of the (P, T, K) array is
    needed.

    ``cells`` (pattern, month and target indices of the nonzero entries of ``value``,
    see :func:`transition_cells`) adds the transitions' log-odds only where
    transitions happened: a few hundred or thousand entries instead of the whole
    (P, T, K) array, whose products cost 40% of a gradient (``benchmarks/time_to_event.py``).
    The result is the same cell by cell, provided ``value`` is zero outside ``cells``;
    without ``cells`` the log-odds are added target by target over the whole array.
    """
    base, lin = baseline[0], linear[:, 0]
    total = -trials * pt.log1p(pt.dot(pt.exp(lin), pt.exp(base).T))  # (P, T)
    if cells is not None:
        pattern, month, target = cells
        transitions = value[pattern, month, target] * (base[month, target] + lin[pattern, target])
        return pt.inc_subtensor(total[pattern, month], transitions)  # cells repeat when targets share a month
    for k in range(n_targets):
        total = total + value[:, :, k] * (base[:, k][None, :] + lin[:, k][:, None])
    return total


def transition_cells(events: np.ndarray) -> dict[str, np.ndarray]:
    """Pattern, month and target of every nonzero entry of the (P, T, K) transition counts, as model data."""
    pattern, month, target = np.nonzero(events)
    return {"transition_pattern": pattern, "transition_month": month, "transition_target": target}


def event_random(
    trials: np.ndarray,
    baseline: np.ndarray,
    linear: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Multinomial draws of each pattern-month's transitions given those at risk (posterior predictive)."""
    trials, baseline, linear = np.broadcast_arrays(trials[..., None], baseline, linear)
    eta = baseline + linear
    shift = np.maximum(eta.max(axis=-1, keepdims=True), 0.0)
    odds = np.concatenate([np.exp(-shift), np.exp(eta - shift)], axis=-1)
    probs = odds / odds.sum(axis=-1, keepdims=True)
    draws = rng.multinomial(trials[..., 0].astype(np.int64), probs)
    return draws[..., 1:].astype(float)
