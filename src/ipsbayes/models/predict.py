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
from threadpoolctl import threadpool_limits

from ipsbayes.chunks import for_each_chunk
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

    def averages(
        self,
        counterfactuals: list[np.ndarray] | tuple[np.ndarray, ...] = (),
        groups: list[sparse.csr_matrix] | tuple[sparse.csr_matrix, ...] = (),
        fidelity_values: np.ndarray | None = None,
    ) -> Averages:
        """Every weighted mean the estimands need, in one sweep over the draws.

        The same quantities as :meth:`mean` (observed design, each counterfactual ``X``, each
        ``groups`` matrix) and ``mean(fidelity_value=v)`` for each of ``fidelity_values``, but the
        linear predictor and the expected outcome under the observed design are computed once per
        chunk of draws and reused:

        - a counterfactual design changes a few columns, so its linear predictor is the observed one
          plus ``(X_cf - X) beta`` over those columns; rows that change alike (a binary predictor set
          to 1: two kinds of rows; a numeric one shifted by 1 SD: one) share one offset per draw;
        - with a logit link, ``expit(eta + c) = 1 / (1 + exp(-eta) exp(-c))``: ``exp(-eta)`` is
          computed once, and each counterfactual or fidelity value only multiplies it by a factor
          per draw (and kind of row), with no exponential per row;
        - chunks of draws are small enough to stay in the processor's cache.

        A chunk whose shortcut gives a non-finite value (extreme prior draws) is computed the plain
        way. ``tests/test_predict_averages.py`` checks every output against :meth:`mean`.
        """
        counterfactuals = [self._offsets(X) for X in counterfactuals]
        n_draws = self.n_draws
        overall = np.empty(n_draws)
        by_group = [np.empty((n_draws, g.shape[1])) for g in groups]
        shifted = [np.empty(n_draws) for _ in counterfactuals]
        values = None if fidelity_values is None else np.asarray(fidelity_values, dtype=float)
        curve = None if values is None else np.empty((n_draws, len(values)))
        weights = self.weights / self.weights.sum()
        step = max(1, _CACHE_CELLS // max(len(self.weights), 1))
        # the products here are small (draws of a chunk x a few columns): BLAS threads only wait for each other,
        # which made (17 x 6) @ (6 x 15,000) take 16 ms instead of 0.1 ms on a busy machine
        with threadpool_limits(limits=1, user_api="blas"):
            self._sweep(step, weights, groups, counterfactuals, values, overall, by_group, shifted, curve)
        return Averages(overall, by_group, shifted, curve)

    def _sweep(
        self,
        step: int,
        weights: np.ndarray,
        groups: Any,
        counterfactuals: list[_Offsets],
        values: np.ndarray | None,
        overall: np.ndarray,
        by_group: list[np.ndarray],
        shifted: list[np.ndarray],
        curve: np.ndarray | None,
    ) -> None:
        """Fill the outputs of :meth:`averages` chunk by chunk of draws (in threads where the run allows)."""
        logit = self.family.link == "logit"

        def chunk(draws: slice) -> None:
            eta = self.eta(draws)
            with np.errstate(over="ignore", under="ignore"):
                if logit:
                    exp_neg = np.exp(-eta)
                    mu = _reciprocal_one_plus(exp_neg.copy())
                else:
                    exp_neg, mu = None, self.family.mean(eta)
            overall[draws] = mu @ weights
            for matrix, out in zip(groups, by_group, strict=True):
                out[draws] = np.asarray((matrix.T @ mu.T).T)
            for offsets, out in zip(counterfactuals, shifted, strict=True):
                out[draws] = self._shifted_mean(draws, eta, exp_neg, offsets, weights)
            if curve is not None:
                curve[draws] = self._fidelity_means(draws, eta, exp_neg, values, weights)

        for_each_chunk(chunk, self.n_draws, step)

    def _offsets(self, X: np.ndarray) -> _Offsets:
        """How a counterfactual design moves the linear predictor: changed columns and kinds of rows."""
        difference = np.asarray(X, dtype=float) - self.X
        columns = np.flatnonzero(np.any(difference != 0, axis=0))
        changes = difference[:, columns]
        if len(columns) == 0:
            return _Offsets(columns, np.zeros((1, 0)), np.zeros(len(self.X), dtype=np.intp))
        kinds, inverse = np.unique(changes, axis=0, return_inverse=True)
        if len(kinds) > _MAX_KINDS:  # every row its own change: no sharing
            return _Offsets(columns, changes, None)
        return _Offsets(columns, kinds, inverse.ravel())

    def _shifted_mean(
        self, draws: slice, eta: np.ndarray, exp_neg: np.ndarray | None, offsets: _Offsets, weights: np.ndarray
    ) -> np.ndarray:
        """Weighted mean expected outcome under a counterfactual design, for one chunk of draws."""
        shift = self.beta[draws][:, offsets.columns] @ offsets.changes.T  # (draws, kinds or rows)
        if offsets.inverse is not None:
            if exp_neg is not None:
                with np.errstate(over="ignore", under="ignore"):
                    factor = np.exp(-shift)[:, offsets.inverse]
                    result = _reciprocal_one_plus(np.multiply(exp_neg, factor, out=factor)) @ weights
                if np.all(np.isfinite(result)):
                    return result
            shift_rows = shift[:, offsets.inverse]
        else:
            shift_rows = shift
        with np.errstate(over="ignore", under="ignore"):
            return self._mean_of(eta + shift_rows) @ weights

    def _fidelity_means(
        self, draws: slice, eta: np.ndarray, exp_neg: np.ndarray | None, values: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Weighted mean expected outcome with every group at each fidelity value, for one chunk of draws."""
        slope = self.fidelity_slope[draws, None]
        if self.fidelity.ndim == 2:  # latent fidelity: one value per draw and group
            level = self.fidelity[draws][:, self.fidelity_idx]
        else:
            level = self.fidelity[None, self.fidelity_idx]
        base = eta - slope * level
        out = np.empty((base.shape[0], len(values)))
        with np.errstate(over="ignore", under="ignore"):
            if exp_neg is not None:
                exp_base = np.exp(-base)
                factors = np.exp(-slope * values[None, :])  # (draws, values)
                scratch = np.empty_like(exp_base)
                for j in range(len(values)):
                    np.multiply(exp_base, factors[:, j, None], out=scratch)
                    out[:, j] = _reciprocal_one_plus(scratch) @ weights
                if np.all(np.isfinite(out)):
                    return out
            for j, value in enumerate(values):
                out[:, j] = self._mean_of(base + slope * value) @ weights
        return out

    def _mean_of(self, eta: np.ndarray) -> np.ndarray:
        """The family's expected outcome (expit without scipy's slower ufunc for a logit link)."""
        if self.family.link == "logit":
            return _reciprocal_one_plus(np.exp(-eta))
        return self.family.mean(eta)


#: cells (draws x rows) per chunk in :meth:`Predictor.averages`: small enough to stay in cache
_CACHE_CELLS = 1 << 18
#: above this many kinds of row change, a counterfactual's offsets are computed per row
_MAX_KINDS = 256


def _reciprocal_one_plus(values: np.ndarray) -> np.ndarray:
    """``1 / (1 + values)`` in place (``values = exp(-eta)`` gives ``expit(eta)``; inf gives 0)."""
    values += 1.0
    return np.reciprocal(values, out=values)


@dataclass
class _Offsets:
    """A counterfactual design as changes to the observed one: ``X_cf - X`` over ``columns``.

    ``changes`` holds one row per kind of change and ``inverse`` each row's kind; ``inverse`` is
    None when ``changes`` holds every row's own change.
    """

    columns: np.ndarray
    changes: np.ndarray
    inverse: np.ndarray | None


@dataclass
class Averages:
    """Results of :meth:`Predictor.averages`, each per posterior draw (S = chains x draws).

    ``overall`` (S,): weighted mean under the observed design; ``groups``: (S, G) per groups matrix;
    ``counterfactuals``: (S,) per counterfactual design; ``fidelity`` (S, values) or None.
    """

    overall: np.ndarray
    groups: list[np.ndarray]
    counterfactuals: list[np.ndarray]
    fidelity: np.ndarray | None


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
    contrasts = design.contrasts()
    pairs = [design.counterfactual(frame, c) for c in contrasts]
    designs, which = _distinct_designs(predictor.X, [X for pair in pairs for X in pair])
    group_dims = _group_dims(data)
    matrices = [
        group_weights(data.arrays[idx_key(block.block.factor)], predictor.weights, len(data.coords[block.dim]))
        for block in group_dims
    ]
    grid = None
    if fidelity is not None and predictor.fidelity_slope is not None:
        grid = _fidelity_grid(data, fidelity)
    means = predictor.averages(designs, matrices, None if grid is None else grid[1])
    at = [means.overall if k is None else means.counterfactuals[k] for k in which]
    out = xr.Dataset()
    out[f"outcome_{units.noun}"] = estimand(
        post.wrap(units.multiplier * means.overall),
        f"Expected {'share with' if units.noun == 'rate' else 'mean of'} {outcome}",
        units.level,
        null=None,
        label_nb=f"Forventet {'andel med' if units.noun == 'rate' else 'gjennomsnitt av'} {outcome_nb}",
        headline=True,
    )
    if contrasts:
        ames = np.column_stack([units.multiplier * (at[2 * j + 1] - at[2 * j]) for j in range(len(contrasts))])
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
    if grid is not None:
        out.update(_fidelity_estimands(predictor, data, fidelity, post, units.multiplier * means.fidelity, grid, units))
    out.update(_group_estimands(group_dims, means.groups, data, post, words, units))
    return out


def _distinct_designs(X: np.ndarray, matrices: list[np.ndarray]) -> tuple[list[np.ndarray], list[int | None]]:
    """The distinct design matrices other than ``X`` and, per matrix, its position among them (None: ``X``).

    Counterfactuals repeat: a numeric predictor's "+1 SD" contrast has the observed design as its
    low end, and every level of a categorical predictor shares the reference design.
    """
    distinct: list[np.ndarray] = []
    which: list[int | None] = []
    for matrix in matrices:
        if matrix.shape == X.shape and np.array_equal(matrix, X):
            which.append(None)
            continue
        found = next((k for k, seen in enumerate(distinct) if np.array_equal(matrix, seen)), None)
        if found is None:
            distinct.append(matrix)
            found = len(distinct) - 1
        which.append(found)
    return distinct, which


def _group_dims(data: ModelData) -> list[Any]:
    """The first block of each grouping dimension (one set of group means per dimension)."""
    out, done = [], set()
    for info in data.info["blocks"]:
        if info.dim not in done:
            done.add(info.dim)
            out.append(info)
    return out


def _group_estimands(
    blocks: list[Any],
    group_means: list[np.ndarray],
    data: ModelData,
    post: _Wrapper,
    words: dict[str, str],
    units: Any,
) -> dict:
    """Partially pooled and observed mean per group of every grouping factor, and group sizes."""
    out: dict[str, xr.DataArray] = {}
    summaries = data.info["group_summaries"]
    for info, means in zip(blocks, group_means, strict=True):
        dim = info.dim
        names = data.coords[dim]
        group, units_word = words.get(dim, dim.replace("_", " ")), words.get("units", "observations")
        noun = "outcome rate" if units.noun == "rate" else "mean outcome"
        noun_nb = "andel med utfallet" if units.noun == "rate" else "gjennomsnittlig utfall"
        group_nb = nb_word(words, dim, dim.replace("_", " "))
        out[f"{dim}_{units.noun}"] = estimand(
            post.wrap(units.multiplier * means, (dim,), {dim: names}),
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


def _fidelity_grid(data: ModelData, fidelity: FidelitySpec) -> tuple[np.ndarray, np.ndarray]:
    """The fidelity curve's 31 scores and, on the model's scale, those scores then the contrast's low and high."""
    scale = fidelity.resolved_scale
    centre, per = data.info["fidelity_centre"], fidelity.per
    low, high = fidelity.contrast
    raw = data.info["fidelity_raw"]
    grid_low = min(float(np.nanmin(raw)), low) - 2
    grid_high = max(float(np.nanmax(raw)), high) + 2
    grid = np.linspace(max(grid_low, scale.minimum), min(grid_high, scale.maximum), 31)
    return grid, (np.r_[grid, low, high] - centre) / per


def _fidelity_estimands(
    predictor: Predictor,
    data: ModelData,
    fidelity: FidelitySpec,
    post: _Wrapper,
    rates: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    units: Any,
) -> dict[str, xr.DataArray]:
    """Fidelity slope, odds ratio, contrast and curve; ``rates`` are the users'-scale means at ``grid``."""
    scale = fidelity.resolved_scale
    dim = data.info["fidelity_group"]
    per = fidelity.per
    low, high = fidelity.contrast
    raw = data.info["fidelity_raw"]
    grid = grid[0]
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
