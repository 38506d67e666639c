"""Posterior predictions of a discrete-time competing-risks hazard model, on the users' scale.

For pattern *p* (predictors, service, specialist), month *t* and target *k* the
model's hazard is multinomial-logit with "no transition yet" as reference::

    h_pk(t) = exp(b_tk + l_pk) / (1 + sum_j exp(b_tj + l_pj))

with the baseline ``b`` and the pattern's linear predictor ``l``. The probability
of no transition by the end of month *t* is ``S_p(t) = prod_{u<=t} 1 / (1 + sum_j
exp(b_uj + l_pj))`` and the cumulative incidence of target *k* (Aalen-Johansen
form) is ``F_pk(t) = sum_{u<=t} S_p(u - 1) h_pk(u) = sum_{u<=t} S_p(u) exp(b_uk + l_pk)``.
Estimands average ``F`` over the study's participants (every participant, with
their own predictors and service, whatever their follow-up) for every posterior
draw. ``exp(b + l)`` factorises into ``exp(b) exp(l)``, so a chunk of draws costs
a few passes over a (draws, patterns, months) array and no exponentials of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ipsbayes.models.base import ModelData, draws_array

_CHUNK_CELLS = 4_000_000


@dataclass
class HazardPredictor:
    """Posterior draws of the hazard model, ready for counterfactual cumulative incidence.

    Shapes: ``S`` draws, ``P`` patterns, ``T`` months, ``K`` targets, ``p`` predictor
    columns, ``J`` services, ``L`` specialists.
    """

    baseline: np.ndarray  # (S, T, K) baseline log-odds
    beta: np.ndarray  # (S, p, K)
    service_effect: np.ndarray | None  # (S, J, K), None without services
    X: np.ndarray  # (P, p)
    service_idx: np.ndarray  # (P,)
    weights: np.ndarray  # (P,) participants per pattern
    fidelity_slope: np.ndarray | None = None  # (S, K)
    fidelity: np.ndarray | None = None  # (J,) centred and scaled score
    specialist_effect: np.ndarray | None = None  # (S, L, K)
    specialist_idx: np.ndarray | None = None  # (P,)

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, data: ModelData) -> HazardPredictor:
        """Collect draws (posterior or prior) and the pattern arrays of a time-to-event model."""
        arrays = data.arrays
        n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
        p, k = arrays["X"].shape[1], len(data.coords["target"])
        has_specialist = "specialist_effect" in posterior
        return cls(
            baseline=draws_array(posterior, "baseline_logit"),
            beta=draws_array(posterior, "beta") if "beta" in posterior else np.zeros((n_draws, p, k)),
            service_effect=draws_array(posterior, "service_effect") if "service_effect" in posterior else None,
            X=arrays["X"],
            service_idx=arrays.get("service_idx", np.zeros(len(arrays["X"]), np.int64)),
            weights=data.info["pattern_weights"],
            fidelity_slope=draws_array(posterior, "fidelity_slope") if "fidelity_slope" in posterior else None,
            fidelity=arrays.get("fidelity"),
            specialist_effect=draws_array(posterior, "specialist_effect") if has_specialist else None,
            specialist_idx=arrays.get("specialist_idx") if has_specialist else None,
        )

    @property
    def n_draws(self) -> int:
        """Number of draws (chains x draws)."""
        return self.baseline.shape[0]

    def linear(self, draws: slice, fidelity_value: float | None = None) -> np.ndarray:
        """Patterns' linear predictors for a slice of draws: shape (draws, P, K).

        ``fidelity_value`` (centred and scaled) gives every service that score.
        """
        eta = np.swapaxes(np.tensordot(self.beta[draws], self.X, axes=([1], [1])), 1, 2)  # (s, P, K)
        if self.service_effect is not None:
            service = self.service_effect[draws]
            if self.fidelity_slope is not None:
                level = self.fidelity if fidelity_value is None else np.full(service.shape[1], fidelity_value)
                service = service + self.fidelity_slope[draws][:, None, :] * level[None, :, None]
            eta += service[:, self.service_idx]
        if self.specialist_effect is not None:
            eta += self.specialist_effect[draws][:, self.specialist_idx]
        return eta

    def incidence(
        self, fidelity_value: float | None = None, groups: np.ndarray | None = None, month: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Cumulative incidence averaged over participants (S, T, K), and per group at one month (S, G, K).

        Parameters
        ----------
        fidelity_value : float, optional
            Centred and scaled fidelity given to every service.
        groups : ndarray (P, G), optional
            Pattern weights normalised within each group (e.g. services).
        month : int, optional
            Month index (0-based) of the per-group incidence.
        """
        weights = self.weights / self.weights.sum()
        n_patterns, n_months = len(self.service_idx), self.baseline.shape[1]
        step = max(1, _CHUNK_CELLS // max(n_patterns * n_months, 1))
        curves, at_month = [], []
        for start in range(0, self.n_draws, step):
            draws = slice(start, start + step)
            curve, grouped = cumulative_incidence(
                self.baseline[draws], self.linear(draws, fidelity_value), weights, groups, month
            )
            curves.append(curve)
            at_month.append(grouped)
        return np.concatenate(curves, axis=0), (np.concatenate(at_month, axis=0) if groups is not None else None)


def cumulative_incidence(
    baseline: np.ndarray,
    linear: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray | None = None,
    month: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Cumulative incidence from baseline (s, T, K) and linear predictors (s, P, K).

    Returns the ``weights``-average over patterns by month (s, T, K) and, with
    ``groups`` (P, G), each group's average at month index ``month`` (s, G, K).
    """
    odds_base, odds_linear = np.exp(baseline), np.exp(linear)
    denominator = 1.0 + np.matmul(odds_base, np.swapaxes(odds_linear, 1, 2))  # (s, T, P): months outer
    surviving = np.empty_like(denominator)
    np.divide(1.0, denominator[:, 0], out=surviving[:, 0])
    for t in range(1, denominator.shape[1]):  # a loop over months multiplies whole (draws, patterns) slices
        np.divide(surviving[:, t - 1], denominator[:, t], out=surviving[:, t])
    averaged = np.matmul(surviving, odds_linear * weights[None, :, None])  # (s, T, K)
    curves = np.cumsum(averaged * odds_base, axis=1)
    if groups is None:
        return curves, None
    partial = np.matmul(np.swapaxes(surviving[:, : month + 1, :], 1, 2), odds_base[:, : month + 1, :])  # (s, P, K)
    return curves, np.swapaxes(np.tensordot(odds_linear * partial, groups, axes=([1], [0])), 1, 2)


def group_matrix(pattern_group: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """Dense (P, G) matrix averaging patterns within each group, weighted by participants."""
    totals = np.bincount(pattern_group, weights=weights, minlength=n_groups)
    matrix = np.zeros((len(pattern_group), n_groups))
    matrix[np.arange(len(pattern_group)), pattern_group] = weights / np.where(totals > 0, totals, 1.0)[pattern_group]
    return matrix


def median_time(curve: np.ndarray) -> np.ndarray:
    """Months since start by which half of those with a transition by the last month had it.

    ``curve`` (S, T) is cumulative incidence at the end of months 1..T; it is taken
    as linear within months (0 at the start). Returns (S,) months, NaN where nobody
    makes a transition.
    """
    full = np.concatenate([np.zeros((curve.shape[0], 1)), curve], axis=1)
    half = full[:, -1:] / 2
    index = np.clip(np.argmax(full >= half, axis=1), 1, full.shape[1] - 1)
    rows = np.arange(len(full))
    lower, upper = full[rows, index - 1], full[rows, index]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(upper > lower, (half[:, 0] - lower) / (upper - lower), 1.0)
    out = index - 1 + fraction
    return np.where(full[:, -1] > 0, out, np.nan)


def observed_incidence(trials: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Aalen-Johansen cumulative incidence (T, K) from at-risk (T,) and event (T, K) counts (Kaplan-Meier for K=1).

    Months after the last month with anyone at risk are NaN: nobody was followed there, so there is
    nothing observed to show (carrying the last value forward printed it as the share by a month
    nobody reached).
    """
    at_risk = np.where(trials > 0, trials, 1.0)
    hazard = events / at_risk[:, None]
    surviving = np.cumprod(1.0 - hazard.sum(axis=1))
    before = np.concatenate([[1.0], surviving[:-1]])
    out = np.cumsum(before[:, None] * hazard, axis=0)
    followed = np.flatnonzero(np.asarray(trials) > 0)
    out[(followed[-1] + 1 if followed.size else 0) :] = np.nan
    return out
