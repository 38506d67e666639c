"""Posterior predictions of the sequential categorical model, on the probability scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import xarray as xr
from scipy.special import expit, softmax

from ipsbayes.models.base import ModelData, draws_array, estimand, unstack_draws
from ipsbayes.models.predict import group_weights
from ipsbayes.models.time_to_event_data import TARGETS_NB
from ipsbayes.present.text import configured_words, norwegian_words

#: Norwegian names of the usual outcome categories and of the first equation (reaching any outcome), used
#: when ``[report.labels]`` does not name them
CATEGORIES_NB = {**TARGETS_NB, "none": "ingen av disse", "reach": "oppnår et utfall"}


def category_words(
    categories: list[str], outcome: str, labels: Mapping[str, str] | None = None, language: str = "en"
) -> dict[str, str]:
    """The family's words for reports: the outcome, and the categories' (and first equation's) Norwegian names.

    Stored as ``estimands.attrs["vocabulary"]``: a category's Norwegian name is the config's label when its
    report is Norwegian, else the usual name (:data:`CATEGORIES_NB`); in the report ``[report.labels]`` wins.
    """
    keys = [str(c) for c in [*categories, "reach"]]
    return {"outcome": outcome} | norwegian_words(keys, CATEGORIES_NB, labels or {}, language)


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
        """Mean P(category) over rows per draw (S, K), or per draw and group (S, G, K).

        ``groups`` is a sparse (rows x groups) averaging matrix with one entry per row
        (:func:`~ipsbayes.models.predict.group_weights`). The means are accumulated row by row in
        compiled code (:func:`_weighted_category_means`), without the (draws, rows, categories)
        array that :meth:`probabilities` builds; ``tests/test_fast_paths.py`` checks they equal the
        means of :meth:`probabilities`.
        """
        X = self.X if X is None else X
        rows = len(self.service_idx)
        if groups is None:
            group, weight, n_groups = np.zeros(rows, dtype=np.int64), np.full(rows, 1.0 / rows), 1
        else:
            groups = groups.tocsr()
            if not np.array_equal(np.diff(groups.indptr), np.ones(rows, dtype=groups.indptr.dtype)):
                raise ValueError("each row must belong to exactly one group")
            group, weight, n_groups = groups.indices.astype(np.int64), groups.data.astype(float), groups.shape[1]
        means = _weighted_category_means(
            np.ascontiguousarray(self.alpha, dtype=float),
            np.ascontiguousarray(self.beta, dtype=float),
            np.ascontiguousarray(self.service_effect, dtype=float),
            np.ascontiguousarray(X, dtype=float),
            np.ascontiguousarray(self.service_idx, dtype=np.int64),
            group,
            weight,
            n_groups,
        )
        return means[:, 0, :] if groups is None else means


@numba.njit(cache=True, nogil=True, parallel=True)
def _weighted_category_means(alpha, beta, service_effect, X, service_idx, group, weight, n_groups):  # pragma: no cover
    """Sum over rows of ``weight * P(category)`` per draw and group: (S, G, E + 1).

    The same arithmetic as :meth:`CategoricalPredictor.probabilities` (logistic first stage,
    softmax with the first category as reference in the second), one row at a time; draws are
    shared among the cores.
    """
    draws, equations = alpha.shape
    rows, terms = X.shape
    out = np.zeros((draws, n_groups, equations + 1))
    for s in numba.prange(draws):
        eta = np.empty(equations)
        share = np.empty(equations)
        for i in range(rows):
            j = service_idx[i]
            for e in range(equations):
                total = 0.0
                for t in range(terms):
                    total += beta[s, e, t] * X[i, t]
                eta[e] = total + alpha[s, e] + service_effect[s, j, e]
            p_any = 1.0 / (1.0 + np.exp(-eta[0]))
            top = 0.0
            for e in range(1, equations):
                top = max(top, eta[e])
            share[0] = np.exp(-top)
            denominator = share[0]
            for e in range(1, equations):
                share[e] = np.exp(eta[e] - top)
                denominator += share[e]
            g, w = group[i], weight[i]
            out[s, g, 0] += w * (1.0 - p_any)
            for e in range(equations):
                out[s, g, e + 1] += w * p_any * share[e] / denominator
    return out


def categorical_estimands(
    predictor: CategoricalPredictor,
    posterior: xr.Dataset,
    data: ModelData,
    focus: str | None,
    labels: Mapping[str, str] | None = None,
    language: str = "en",
) -> xr.Dataset:
    """Shares per category (overall and per service), average marginal effects and coefficients.

    Parameters
    ----------
    predictor : CategoricalPredictor
        The draws and the design.
    posterior : Dataset
        The draws' chain and draw coordinates.
    data : ModelData
        The prepared data.
    focus : str or None
        The category whose drivers are ranked (``focus_ame``).
    labels : mapping, optional
        ``[report.labels]``: its word for the focus category names it in the label of the report's language.
    language : {"en", "nb"}
        ``report.language``, the language ``labels`` are written in.
    """
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
            plain = focus.replace("_", " ")
            name, name_nb = configured_words(
                labels or {}, language, focus, (plain, CATEGORIES_NB.get(focus.lower(), plain))
            )
            out["focus_ame"] = estimand(
                ame.sel(category=focus, drop=True),
                f"Average marginal effect on the probability of {name}",
                "pp",
                label_nb=f"Gjennomsnittlig marginal effekt på sannsynligheten for {name_nb}",
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
