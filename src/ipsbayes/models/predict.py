"""Posterior predictions of a multilevel linear predictor, on the users' scale.

Estimands are averages of the family's expected outcome over the study's rows
(average marginal effects): for each posterior draw, ``mean_i mu(eta_i)`` with
``mu = expit`` (probabilities, reported in % and percentage points) or the identity
(continuous outcomes, reported in their own unit), under the observed and under
counterfactual predictor values. Draws are processed in chunks so memory stays
bounded for large data. ``tests/test_equivalence.py`` checks every quantity here
against the same expression compiled from the PyMC graph at posterior draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import sparse

from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import ModelData, draws_array, estimand, nb_word, unstack_draws
from ipsbayes.models.groups import idx_key
from ipsbayes.scales import FidelitySpec

_CHUNK_CELLS = 4_000_000


@dataclass
class BlockDraws:
    """Draws of one block's group effects and the rows' groups and slope values."""

    effect: np.ndarray  # (S, J) or (S, J, k)
    idx: np.ndarray  # (n,)
    x: np.ndarray | None  # None (intercept), (n,) or (n, k)

    def rows(self, draws: slice) -> np.ndarray:
        """Contribution to the linear predictor: (draws, n)."""
        effect = self.effect[draws][:, self.idx]
        if self.x is None:
            return effect
        if effect.ndim == 3:
            return np.einsum("snk,nk->sn", effect, self.x)
        return effect * self.x[None, :]


@dataclass
class Predictor:
    """Posterior draws of a multilevel linear predictor, ready for counterfactuals.

    Shapes: ``S`` draws, ``n`` rows (observations or collapsed patterns), ``p`` population-level columns.
    """

    family: OutcomeFamily
    intercept: np.ndarray  # (S,)
    beta: np.ndarray  # (S, p)
    X: np.ndarray  # (n, p)
    weights: np.ndarray  # (n,) trials per row
    blocks: list[BlockDraws] = field(default_factory=list)
    fidelity_slope: np.ndarray | None = None  # (S,)
    fidelity: np.ndarray | None = None  # (J,) centred and scaled, or (S, J) latent draws
    fidelity_idx: np.ndarray | None = None  # (n,)

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, data: ModelData, family: OutcomeFamily) -> Predictor:
        """Collect draws and arrays (group effects are the deviations ``<factor>_effect``, whatever the form)."""
        arrays, info = data.arrays, data.info
        n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
        p = arrays["X"].shape[1]
        beta = draws_array(posterior, "beta") if "beta" in posterior else np.zeros((n_draws, p))
        blocks = [
            BlockDraws(
                draws_array(posterior, b.block.effect_name),
                arrays[idx_key(b.block.factor)],
                arrays[b.x_key] if b.x_key else None,
            )
            for b in info["blocks"]
        ]
        fidelity_group = info.get("fidelity_group")
        fidelity_idx = None
        if fidelity_group:
            fidelity_idx = next(arrays[idx_key(b.block.factor)] for b in info["blocks"] if b.dim == fidelity_group)
        latent = "fidelity_latent" in posterior
        return cls(
            family=family,
            intercept=draws_array(posterior, "intercept"),
            beta=beta,
            X=arrays["X"],
            weights=arrays.get("trials", np.ones(len(arrays["y"]))).astype(float),
            blocks=blocks,
            fidelity_slope=draws_array(posterior, "fidelity_slope") if "fidelity_slope" in posterior else None,
            fidelity=draws_array(posterior, "fidelity_latent") if latent else arrays.get("fidelity"),
            fidelity_idx=fidelity_idx,
        )

    @property
    def n_draws(self) -> int:
        """Number of posterior draws (chains x draws)."""
        return len(self.intercept)

    def eta(self, draws: slice, X: np.ndarray | None = None, fidelity_value: float | None = None) -> np.ndarray:
        """Linear predictor for a slice of draws: shape (draws, rows)."""
        X = self.X if X is None else X
        eta = self.intercept[draws, None] + self.beta[draws] @ X.T
        for block in self.blocks:
            eta = eta + block.rows(draws)
        if self.fidelity_slope is not None:
            if fidelity_value is not None:
                level = np.full(len(self.fidelity_idx), fidelity_value)[None, :]
            elif self.fidelity.ndim == 2:  # latent fidelity: one value per draw and group
                level = self.fidelity[draws][:, self.fidelity_idx]
            else:
                level = self.fidelity[None, self.fidelity_idx]
            eta = eta + self.fidelity_slope[draws, None] * level
        return eta

    def _step(self) -> int:
        return max(1, _CHUNK_CELLS // max(len(self.weights), 1))

    def mean(
        self, X: np.ndarray | None = None, fidelity_value: float | None = None, groups: sparse.csr_matrix | None = None
    ) -> np.ndarray:
        """Weighted mean expected outcome per draw (or per draw and group).

        Parameters
        ----------
        X : ndarray, optional
            Counterfactual design matrix (default: observed).
        fidelity_value : float, optional
            Centred/scaled fidelity given to every group (default: each its own).
        groups : sparse matrix (rows x G), optional
            Row weights normalised within each group; returns (S, G).
        """
        weights = sparse.csr_matrix(self.weights[:, None] / self.weights.sum()) if groups is None else groups
        out = []
        for start in range(0, self.n_draws, self._step()):
            draws = slice(start, start + self._step())
            expected = self.family.mean(self.eta(draws, X, fidelity_value))
            out.append(np.asarray((weights.T @ expected.T).T))
        result = np.concatenate(out, axis=0)
        return result[:, 0] if groups is None else result

    def mean_at_fidelity(self, values: np.ndarray) -> np.ndarray:
        """Mean expected outcome per draw with every group at each fidelity value: shape (S, values).

        The linear predictor is computed once per chunk of draws (fidelity at the centre) and
        shifted by ``slope * value`` for each value, instead of being rebuilt per value.
        """
        weights = self.weights / self.weights.sum()
        out = []
        for start in range(0, self.n_draws, self._step()):
            draws = slice(start, start + self._step())
            base = self.eta(draws, fidelity_value=0.0)
            slope = self.fidelity_slope[draws, None]
            out.append(np.column_stack([self.family.mean(base + slope * value) @ weights for value in values]))
        return np.concatenate(out, axis=0)


def group_weights(index: np.ndarray, weights: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    """Sparse (rows x groups) matrix averaging rows within each group, weighted by ``weights``."""
    totals = np.bincount(index, weights=weights, minlength=n_groups)
    values = weights / np.where(totals[index] > 0, totals[index], 1.0)
    return sparse.csr_matrix((values, (np.arange(len(index)), index)), shape=(len(index), n_groups))


def regression_estimands(
    predictor: Predictor,
    posterior: xr.Dataset,
    data: ModelData,
    fidelity: FidelitySpec | None,
    words: dict[str, str],
    outcome_unit: str | None = None,
) -> xr.Dataset:
    """Users'-scale estimands shared by the regression families.

    The expected outcome (``outcome_rate`` in % or ``outcome_mean`` in the outcome's unit), average
    marginal effects, coefficients per unit (and odds ratios on the log-odds scale), the partially
    pooled mean of every group of every grouping factor beside its observed mean and size, and the
    fidelity slope, odds ratio, contrast and curve when a fidelity score is modelled.
    """
    info = data.info
    units = predictor.family.units(outcome_unit)
    post = _Wrapper(posterior)
    design, frame = info["design"], info["frame"]
    outcome = words.get("outcome", "the outcome")
    outcome_nb = nb_word(words, "outcome", outcome)
    out = xr.Dataset()
    out[f"outcome_{units.noun}"] = estimand(
        post.wrap(units.multiplier * predictor.mean()),
        f"Expected {'share with' if units.noun == 'rate' else 'mean of'} {outcome}",
        units.level,
        null=None,
        label_nb=f"Forventet {'andel med' if units.noun == 'rate' else 'gjennomsnitt av'} {outcome_nb}",
        headline=True,
    )
    contrasts = design.contrasts()
    if contrasts:
        ames = np.column_stack(
            [
                units.multiplier * (predictor.mean(X=high) - predictor.mean(X=low))
                for low, high in (design.counterfactual(frame, c) for c in contrasts)
            ]
        )
        out["ame"] = estimand(
            post.wrap(ames, ("contrast",), {"contrast": [c.label for c in contrasts]}),
            f"Average marginal effect on the expected {outcome}",
            units.difference,
            label_nb=f"Gjennomsnittlig marginal effekt på forventet verdi av {outcome_nb}",
            headline=True,
        )
    if predictor.beta.shape[1]:
        terms = {"term": data.coords["term"]}
        per_unit = post.wrap(predictor.beta / design.unit_scale(), ("term",), terms)
        if predictor.family.link == "logit":
            out["odds_ratio"] = estimand(
                post.wrap(np.exp(predictor.beta), ("term",), terms),
                "Odds ratio (per SD for standardised numeric predictors)",
                "OR",
                null=1.0,
                label_nb="Oddsratio (per SD for standardiserte numeriske prediktorer)",
            )
            out["log_odds_per_unit"] = estimand(
                per_unit,
                "Log-odds coefficient per unit of the predictor",
                "log-odds",
                null=0.0,
                label_nb="Log-odds-koeffisient per enhet av prediktoren",
            )
        else:
            out["effect_per_unit"] = estimand(
                per_unit,
                "Change in the expected outcome per unit of the predictor",
                units.difference,
                null=0.0,
                label_nb="Endring i forventet utfall per enhet av prediktoren",
            )
    if fidelity is not None and predictor.fidelity_slope is not None:
        out.update(_fidelity_estimands(predictor, data, fidelity, post, units.multiplier, units))
    out.update(_group_estimands(predictor, data, post, words, units))
    return out


def _group_estimands(predictor: Predictor, data: ModelData, post: _Wrapper, words: dict[str, str], units: Any) -> dict:
    """Partially pooled and observed mean per group of every grouping factor, and group sizes."""
    out: dict[str, xr.DataArray] = {}
    summaries = data.info["group_summaries"]
    done: set[str] = set()
    for info in data.info["blocks"]:
        dim = info.dim
        if dim in done:
            continue
        done.add(dim)
        names = data.coords[dim]
        group, units_word = words.get(dim, dim.replace("_", " ")), words.get("units", "observations")
        weights = group_weights(data.arrays[idx_key(info.block.factor)], predictor.weights, len(names))
        noun = "outcome rate" if units.noun == "rate" else "mean outcome"
        noun_nb = "andel med utfallet" if units.noun == "rate" else "gjennomsnittlig utfall"
        group_nb = nb_word(words, dim, dim.replace("_", " "))
        out[f"{dim}_{units.noun}"] = estimand(
            post.wrap(units.multiplier * predictor.mean(groups=weights), (dim,), {dim: names}),
            f"Predicted {noun} per {group} (partially pooled)",
            units.level,
            null=None,
            label_nb=f"Predikert {noun_nb} per {group_nb} (delvis sammenslått)",
        )
        out[f"{dim}_raw_{units.noun}"] = xr.DataArray(
            units.multiplier * summaries[dim]["raw"],
            dims=dim,
            coords={dim: names},
            attrs={"label": f"Observed {noun} per {group}", "unit": units.level},
        )
        out[f"{dim}_n"] = xr.DataArray(
            summaries[dim]["n"],
            dims=dim,
            coords={dim: names},
            attrs={"label": f"{units_word.capitalize()} per {group}", "unit": units_word},
        )
    return out


def _fidelity_estimands(
    predictor: Predictor, data: ModelData, fidelity: FidelitySpec, post: _Wrapper, multiplier: float, units: Any
) -> dict[str, xr.DataArray]:
    scale = fidelity.resolved_scale
    dim = data.info["fidelity_group"]
    centre, per = data.info["fidelity_centre"], fidelity.per
    low, high = fidelity.contrast
    raw = data.info["fidelity_raw"]

    grid_low = min(float(np.nanmin(raw)), low) - 2
    grid_high = max(float(np.nanmax(raw)), high) + 2
    grid = np.linspace(max(grid_low, scale.minimum), min(grid_high, scale.maximum), 31)
    rates = multiplier * predictor.mean_at_fidelity((np.r_[grid, low, high] - centre) / per)
    curve, at_low, at_high = rates[:, :-2], rates[:, -2], rates[:, -1]
    link = "log-odds" if predictor.family.link == "logit" else units.difference
    out = {
        "fidelity_slope": estimand(
            post.wrap(predictor.fidelity_slope),
            f"Fidelity slope ({scale.name})",
            f"{link} per {per:g} {scale.name} points",
            label_nb=f"Stigningstall for modelltrofasthet ({scale.name})",
            headline=True,
        ),
        "fidelity_contrast": estimand(
            post.wrap(at_high - at_low),
            f"Expected outcome at {scale.name} = {high:g} ({scale.band(high)}) minus at {low:g} ({scale.band(low)})",
            units.difference,
            label_nb=f"Forventet utfall ved {scale.name} = {high:g} ({scale.band(high)}) minus ved {low:g} "
            f"({scale.band(low)})",
            headline=True,
            note="average over the study's rows with each group's own effect kept; only fidelity changes",
            scale=scale.name,
            low=float(low),
            high=float(high),
            band_low=str(scale.band(low)),
            band_high=str(scale.band(high)),
            per=float(per),
        ),
        "fidelity_curve": estimand(
            post.wrap(curve, ("fidelity_score",), {"fidelity_score": grid}),
            f"Expected outcome by {scale.name} score",
            units.level,
            null=None,
            label_nb=f"Forventet utfall etter {scale.name}-skår",
        ),
        f"{dim}_fidelity": xr.DataArray(
            raw,
            dims=dim,
            coords={dim: data.coords[dim]},
            attrs={
                "label": f"{scale.name} score per {dim}",
                "unit": "points",
                "bands": str(scale.bands),
                "scale_min": scale.minimum,
                "scale_max": scale.maximum,
            },
        ),
    }
    if predictor.family.link == "logit":
        out["fidelity_odds_ratio"] = estimand(
            post.wrap(np.exp(predictor.fidelity_slope)),
            f"Odds ratio per {per:g} {scale.name} points",
            "OR",
            null=1.0,
            label_nb=f"Oddsratio per {per:g} {scale.name}-poeng",
            headline=True,
        )
    return out


class _Wrapper:
    """Reshape flat (sample, ...) arrays back to (chain, draw, ...) DataArrays."""

    def __init__(self, posterior: xr.Dataset) -> None:
        self.posterior = posterior

    def wrap(self, values: np.ndarray, dims: tuple[str, ...] = (), coords: dict | None = None) -> xr.DataArray:
        return unstack_draws(np.asarray(values), self.posterior, dims, coords)
