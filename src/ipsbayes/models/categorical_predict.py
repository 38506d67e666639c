"""Posterior predictions of the sequential categorical model, on the probability scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import expit, softmax

from ipsbayes.models.base import ModelData, draws_array, estimand, unstack_draws
from ipsbayes.models.predict import group_weights

_CHUNK_CELLS = 6_000_000


@dataclass
class CategoricalPredictor:
    """Draws of intercepts (S, E), coefficients (S, E, p) and service effects (S, J, E) with the data."""

    alpha: np.ndarray
    beta: np.ndarray
    service_effect: np.ndarray
    X: np.ndarray
    service_idx: np.ndarray

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, data: ModelData) -> CategoricalPredictor:
        """Collect the draws the probabilities need."""
        alpha = draws_array(posterior, "category_intercept")
        n_draws, n_eq = alpha.shape
        p = data.arrays["X"].shape[1]
        beta = draws_array(posterior, "beta") if "beta" in posterior else np.zeros((n_draws, n_eq, p))
        return cls(alpha, beta, draws_array(posterior, "service_effect"), data.arrays["X"], data.arrays["service_idx"])

    @property
    def n_draws(self) -> int:
        """Number of posterior draws."""
        return self.alpha.shape[0]

    def probabilities(self, draws: slice, X: np.ndarray | None = None) -> np.ndarray:
        """P(category) for a slice of draws: shape (draws, rows, categories); 'no outcome' first."""
        X = self.X if X is None else X
        eta = np.matmul(self.beta[draws], X.T).transpose(0, 2, 1)  # (draws, rows, equations)
        eta += self.alpha[draws][:, None, :]
        eta += self.service_effect[draws][:, self.service_idx, :]
        p_any = expit(eta[..., 0])
        stage_two = np.concatenate([np.zeros_like(eta[..., :1]), eta[..., 1:]], axis=-1)
        which = softmax(stage_two, axis=-1)
        return np.concatenate([(1 - p_any)[..., None], p_any[..., None] * which], axis=-1)

    def mean_probabilities(self, X: np.ndarray | None = None, groups=None) -> np.ndarray:
        """Mean P(category) over rows per draw (S, K), or per draw and group (S, G, K)."""
        rows = len(self.service_idx)
        categories = self.alpha.shape[1] + 1
        step = max(1, _CHUNK_CELLS // max(rows * categories, 1))
        dense = groups.toarray() if groups is not None else None
        out = []
        for start in range(0, self.n_draws, step):
            probability = self.probabilities(slice(start, start + step), X)
            if groups is None:
                out.append(probability.mean(axis=1))
            else:  # (draws, categories, rows) @ (rows, groups) -> (draws, groups, categories)
                out.append(np.matmul(probability.transpose(0, 2, 1), dense).transpose(0, 2, 1))
        return np.concatenate(out, axis=0)


def categorical_estimands(
    predictor: CategoricalPredictor, posterior: xr.Dataset, data: ModelData, focus: str | None
) -> xr.Dataset:
    """Shares per category (overall and per service), average marginal effects and coefficients."""
    info, coords = data.info, data.coords
    categories = {"category": coords["category"]}

    def wrap(values: np.ndarray, dims: tuple[str, ...] = (), extra: dict | None = None) -> xr.DataArray:
        return unstack_draws(np.asarray(values), posterior, dims, extra)

    out = xr.Dataset()
    out["category_share"] = estimand(
        wrap(100 * predictor.mean_probabilities(), ("category",), categories),
        "Expected share reaching each outcome",
        "%",
        null=None,
        label_nb="Forventet andel som når hvert utfall",
        headline=True,
    )
    services = coords["service"]
    weights = group_weights(predictor.service_idx, np.ones(len(predictor.service_idx)), len(services))
    out["service_share"] = estimand(
        wrap(
            100 * predictor.mean_probabilities(groups=weights),
            ("service", "category"),
            {"service": services, **categories},
        ),
        "Expected share per service and outcome (partially pooled)",
        "%",
        null=None,
        label_nb="Forventet andel per tjeneste og utfall (delvis sammenslått)",
    )
    out["service_observed_share"] = xr.DataArray(
        100 * info["service_observed_share"],
        dims=("service", "category"),
        coords={"service": services, **categories},
        attrs={"label": "Observed share per service and outcome", "unit": "%"},
    )
    out["service_n"] = xr.DataArray(
        info["service_n"],
        dims="service",
        coords={"service": services},
        attrs={"label": "Participants per service", "unit": "participants"},
    )
    design = info["design"]
    contrasts = design.contrasts()
    if contrasts:
        effects = []
        for contrast in contrasts:
            low, high = design.counterfactual(info["frame"], contrast)
            effects.append(100 * (predictor.mean_probabilities(X=high) - predictor.mean_probabilities(X=low)))
        ame = wrap(
            np.stack(effects, axis=1),
            ("contrast", "category"),
            {"contrast": [c.label for c in contrasts], **categories},
        )
        out["ame"] = estimand(
            ame,
            "Average marginal effect on the probability of each outcome",
            "pp",
            label_nb="Gjennomsnittlig marginal effekt på sannsynligheten for hvert utfall",
        )
        if focus is not None:
            out["focus_ame"] = estimand(
                ame.sel(category=focus, drop=True),
                f"Average marginal effect on the probability of {focus}",
                "pp",
                label_nb=f"Gjennomsnittlig marginal effekt på sannsynligheten for {focus}",
                headline=True,
                focus=focus,
            )
        out["log_odds_per_unit"] = estimand(
            wrap(
                predictor.beta / design.unit_scale()[None, None, :],
                ("equation", "term"),
                {"equation": coords["equation"], "term": coords["term"]},
            ),
            "Log-odds coefficient per unit of the predictor, per equation",
            "log-odds",
            label_nb="Log-odds-koeffisient per enhet av prediktoren, per ligning",
        )
    return out
