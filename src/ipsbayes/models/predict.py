"""Posterior predictions of a logistic linear predictor, on the probability scale.

Estimands on the users' scale are averages of predicted probabilities over the
study's participants (average marginal effects): for each posterior draw,
``mean_i expit(eta_i)`` under the observed and under counterfactual predictor
values. Draws are processed in chunks so memory stays bounded for large data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import sparse
from scipy.special import expit

from ipsbayes.models.base import ModelData, draws_array, estimand, unstack_draws
from ipsbayes.scales import FidelitySpec

_CHUNK_CELLS = 4_000_000


@dataclass
class LinearPredictor:
    """Posterior draws of a hierarchical logistic predictor, ready for counterfactuals.

    Shapes: ``S`` draws, ``n`` rows (participants or collapsed patterns),
    ``p`` population-level columns, ``J`` services, ``K`` specialists.
    """

    intercept: np.ndarray  # (S,)
    beta: np.ndarray  # (S, p)
    service_effect: np.ndarray  # (S, J)
    X: np.ndarray  # (n, p)
    service_idx: np.ndarray  # (n,)
    weights: np.ndarray  # (n,) participants per row
    fidelity_slope: np.ndarray | None = None  # (S,)
    fidelity: np.ndarray | None = None  # (J,) centred and scaled, or (S, J) latent draws
    specialist_effect: np.ndarray | None = None  # (S, K)
    specialist_idx: np.ndarray | None = None  # (n,)

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, data: ModelData) -> LinearPredictor:
        """Collect draws and arrays of the hierarchical logistic family.

        Fidelity is the observed (centred, scaled) score per service, or, in the
        measurement-error model, the posterior draws of the latent true score.
        """
        arrays = data.arrays
        n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
        p = arrays["X"].shape[1]
        beta = draws_array(posterior, "beta") if "beta" in posterior else np.zeros((n_draws, p))
        has_specialist = "specialist_effect" in posterior
        has_slope = "fidelity_slope" in posterior
        latent = "fidelity_latent" in posterior
        return cls(
            intercept=draws_array(posterior, "intercept"),
            beta=beta,
            service_effect=draws_array(posterior, "service_effect"),
            X=arrays["X"],
            service_idx=arrays["service_idx"],
            weights=arrays.get("trials", np.ones(len(arrays["service_idx"]))).astype(float),
            fidelity_slope=draws_array(posterior, "fidelity_slope") if has_slope else None,
            fidelity=draws_array(posterior, "fidelity_latent") if latent else arrays.get("fidelity"),
            specialist_effect=draws_array(posterior, "specialist_effect") if has_specialist else None,
            specialist_idx=arrays.get("specialist_idx") if has_specialist else None,
        )

    @property
    def n_draws(self) -> int:
        """Number of posterior draws (chains x draws)."""
        return len(self.intercept)

    def eta(self, draws: slice, X: np.ndarray | None = None, fidelity_value: float | None = None) -> np.ndarray:
        """Linear predictor for a slice of draws: shape (draws, rows)."""
        X = self.X if X is None else X
        eta = self.intercept[draws, None] + self.beta[draws] @ X.T
        service = self.service_effect[draws]
        if self.fidelity_slope is not None:
            if fidelity_value is not None:
                level = np.full(service.shape[1], fidelity_value)[None, :]
            elif self.fidelity.ndim == 2:  # latent fidelity: one value per draw and service
                level = self.fidelity[draws]
            else:
                level = self.fidelity[None, :]
            service = service + self.fidelity_slope[draws, None] * level
        eta += service[:, self.service_idx]
        if self.specialist_effect is not None:
            eta += self.specialist_effect[draws][:, self.specialist_idx]
        return eta

    def mean_probability(
        self, X: np.ndarray | None = None, fidelity_value: float | None = None, groups: sparse.csr_matrix | None = None
    ) -> np.ndarray:
        """Weighted mean predicted probability per draw (or per draw and group).

        Parameters
        ----------
        X : ndarray, optional
            Counterfactual design matrix (default: observed).
        fidelity_value : float, optional
            Centred/scaled fidelity given to every service (default: each its own).
        groups : sparse matrix (rows x G), optional
            Row weights normalised within each group; returns (S, G).
        """
        weights = sparse.csr_matrix(self.weights[:, None] / self.weights.sum()) if groups is None else groups
        rows = len(self.service_idx)
        step = max(1, _CHUNK_CELLS // max(rows, 1))
        out = []
        for start in range(0, self.n_draws, step):
            draws = slice(start, start + step)
            probability = expit(self.eta(draws, X, fidelity_value))
            out.append(np.asarray((weights.T @ probability.T).T))
        result = np.concatenate(out, axis=0)
        return result[:, 0] if groups is None else result

    def mean_probability_at_fidelity(self, values: np.ndarray) -> np.ndarray:
        """Mean predicted probability per draw with every service at each fidelity value: shape (S, values).

        The linear predictor is computed once per chunk of draws (fidelity at the centre) and
        shifted by ``slope * value`` for each value, instead of being rebuilt per value.
        """
        weights = self.weights / self.weights.sum()
        rows = len(self.service_idx)
        step = max(1, _CHUNK_CELLS // max(rows, 1))
        out = []
        for start in range(0, self.n_draws, step):
            draws = slice(start, start + step)
            base = self.eta(draws, fidelity_value=0.0)
            slope = self.fidelity_slope[draws, None]
            out.append(np.column_stack([expit(base + slope * value) @ weights for value in values]))
        return np.concatenate(out, axis=0)


def group_weights(index: np.ndarray, weights: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    """Sparse (rows x groups) matrix averaging rows within each group, weighted by ``weights``."""
    totals = np.bincount(index, weights=weights, minlength=n_groups)
    values = weights / np.where(totals[index] > 0, totals[index], 1.0)
    return sparse.csr_matrix((values, (np.arange(len(index)), index)), shape=(len(index), n_groups))


def logistic_estimands(
    predictor: LinearPredictor,
    posterior: xr.Dataset,
    data: ModelData,
    fidelity: FidelitySpec | None,
    outcome_label: str,
    per_service: bool = True,
) -> xr.Dataset:
    """Probability-scale estimands shared by the logistic families.

    Returns the overall outcome rate, average marginal effects (pp), odds ratios,
    per-unit log-odds coefficients, service rates beside raw rates, and the
    fidelity slope, odds ratio, contrast and curve when a fidelity score is modelled.
    """
    info = data.info
    post = _Wrapper(posterior)
    design = info["design"]
    frame = info["frame"]
    out = xr.Dataset()
    out["outcome_rate"] = estimand(
        post.wrap(100 * predictor.mean_probability()),
        f"Expected share with {outcome_label}",
        "%",
        null=None,
        headline=True,
    )
    contrasts = design.contrasts()
    if contrasts:
        ames = np.column_stack(
            [
                100 * (predictor.mean_probability(X=high) - predictor.mean_probability(X=low))
                for low, high in (design.counterfactual(frame, c) for c in contrasts)
            ]
        )
        out["ame"] = estimand(
            post.wrap(ames, ("contrast",), {"contrast": [c.label for c in contrasts]}),
            "Average marginal effect on the outcome rate",
            "pp",
            headline=True,
        )
    if predictor.beta.shape[1]:
        terms = {"term": data.coords["term"]}
        out["odds_ratio"] = estimand(
            post.wrap(np.exp(predictor.beta), ("term",), terms),
            "Odds ratio (per SD for numeric predictors)",
            "OR",
            null=1.0,
        )
        out["log_odds_per_unit"] = estimand(
            post.wrap(predictor.beta / design.unit_scale(), ("term",), terms),
            "Log-odds coefficient per unit of the predictor",
            "log-odds",
            null=0.0,
        )
    if fidelity is not None and predictor.fidelity_slope is not None:
        out.update(_fidelity_estimands(predictor, data, fidelity, post))
    if per_service:
        services = data.coords["service"]
        weights = group_weights(predictor.service_idx, predictor.weights, len(services))
        out["service_rate"] = estimand(
            post.wrap(100 * predictor.mean_probability(groups=weights), ("service",), {"service": services}),
            "Predicted outcome rate per service (partially pooled)",
            "%",
            null=None,
        )
        out["service_raw_rate"] = xr.DataArray(
            100 * info["service_raw_rate"],
            dims="service",
            coords={"service": services},
            attrs={"label": "Observed outcome rate per service", "unit": "%"},
        )
        out["service_n"] = xr.DataArray(
            info["service_n"],
            dims="service",
            coords={"service": services},
            attrs={"label": "Participants per service", "unit": "participants"},
        )
    return out


def _fidelity_estimands(
    predictor: LinearPredictor, data: ModelData, fidelity: FidelitySpec, post: _Wrapper
) -> dict[str, xr.DataArray]:
    scale = fidelity.resolved_scale
    centre, per = data.info["fidelity_centre"], fidelity.per
    low, high = fidelity.contrast
    raw = data.info["fidelity_raw"]

    grid_low = min(float(np.nanmin(raw)), low) - 2
    grid_high = max(float(np.nanmax(raw)), high) + 2
    grid = np.linspace(max(grid_low, scale.minimum), min(grid_high, scale.maximum), 31)
    rates = 100 * predictor.mean_probability_at_fidelity((np.r_[grid, low, high] - centre) / per)
    curve, at_low, at_high = rates[:, :-2], rates[:, -2], rates[:, -1]
    services = data.coords["service"]
    unit = f"log-odds per {per:g} {scale.name} points"
    return {
        "fidelity_slope": estimand(
            post.wrap(predictor.fidelity_slope), f"Fidelity slope ({scale.name})", unit, headline=True
        ),
        "fidelity_odds_ratio": estimand(
            post.wrap(np.exp(predictor.fidelity_slope)),
            f"Odds ratio per {per:g} {scale.name} points",
            "OR",
            null=1.0,
            headline=True,
        ),
        "fidelity_contrast": estimand(
            post.wrap(at_high - at_low),
            f"Outcome rate at {scale.name} = {high:g} ({scale.band(high)}) minus at {low:g} ({scale.band(low)})",
            "pp",
            headline=True,
            note="average over the study's participants with each service's own effect kept; only fidelity changes",
            scale=scale.name,
            low=float(low),
            high=float(high),
            band_low=str(scale.band(low)),
            band_high=str(scale.band(high)),
            per=float(per),
        ),
        "fidelity_curve": estimand(
            post.wrap(curve, ("fidelity_score",), {"fidelity_score": grid}),
            f"Expected outcome rate by {scale.name} score",
            "%",
            null=None,
        ),
        "service_fidelity": xr.DataArray(
            raw,
            dims="service",
            coords={"service": services},
            attrs={
                "label": f"{scale.name} score per service",
                "unit": "points",
                "bands": str(scale.bands),
                "scale_min": scale.minimum,
                "scale_max": scale.maximum,
            },
        ),
    }


class _Wrapper:
    """Reshape flat (sample, ...) arrays back to (chain, draw, ...) DataArrays."""

    def __init__(self, posterior: xr.Dataset) -> None:
        self.posterior = posterior

    def wrap(self, values: np.ndarray, dims: tuple[str, ...] = (), coords: dict | None = None) -> xr.DataArray:
        return unstack_draws(np.asarray(values), self.posterior, dims, coords)
