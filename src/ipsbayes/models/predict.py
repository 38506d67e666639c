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

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr
from scipy import sparse
from threadpoolctl import threadpool_limits

from ipsbayes.chunks import for_each_chunk
from ipsbayes.families import OutcomeFamily
from ipsbayes.kernels import logistic_curve, logistic_shifted
from ipsbayes.models.base import ModelData, draws_array
from ipsbayes.models.groups import idx_key

_CHUNK_CELLS = 4_000_000


@dataclass
class BlockDraws:
    """Draws of one block's group effects and the rows' groups and slope values."""

    effect: np.ndarray  # (S, J) or (S, J, k)
    idx: np.ndarray  # (n,)
    x: np.ndarray | None  # None (intercept), (n,) or (n, k)

    def rows(self, draws: slice) -> np.ndarray:
        """Contribution to the linear predictor: (draws, n)."""
        effect = np.take(self.effect[draws], self.idx, axis=1)  # the same gather as [:, idx], twice as fast
        if self.x is None:
            return effect
        if effect.ndim == 3:
            return np.einsum("snk,nk->sn", effect, self.x)
        return effect * self.x[None, :]


@dataclass(frozen=True, eq=False)
class Counterfactual:
    """A counterfactual design: the population-level columns and, where they change, varying slopes' values.

    A predictor that also has a varying slope (``x + (x | g)``) moves both terms: each row's
    ``u_g x`` changes with ``x``. ``slopes`` maps a block's position in :attr:`Predictor.blocks`
    to that block's values under the counterfactual ((n,) or (n, k)); blocks left out keep theirs.
    """

    X: np.ndarray
    slopes: dict[int, np.ndarray] = field(default_factory=dict)


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

    def of_rows(self, rows: np.ndarray) -> Predictor:
        """The same draws over the rows ``rows`` only (indices into the data's rows)."""
        blocks = [BlockDraws(b.effect, b.idx[rows], None if b.x is None else b.x[rows]) for b in self.blocks]
        return replace(
            self,
            X=self.X[rows],
            weights=self.weights[rows],
            blocks=blocks,
            fidelity_idx=None if self.fidelity_idx is None else self.fidelity_idx[rows],
        )

    @property
    def n_draws(self) -> int:
        """Number of posterior draws (chains x draws)."""
        return len(self.intercept)

    def eta(
        self,
        draws: slice,
        X: np.ndarray | None = None,
        fidelity_value: float | None = None,
        slopes: dict[int, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Linear predictor for a slice of draws: shape (draws, rows).

        ``slopes``: block position -> that block's values in place of the observed (a :class:`Counterfactual`'s).
        """
        by_column = self._by_column if X is None else np.asarray(X).T
        eta = self.beta[draws] @ by_column  # one new array, then added to in place (the same sums, in the same order)
        eta += self.intercept[draws, None]
        for position, block in enumerate(self.blocks):
            if slopes and position in slopes:
                block = BlockDraws(block.effect, block.idx, slopes[position])
            eta += block.rows(draws)
        if self.fidelity_slope is not None:
            if fidelity_value is not None:
                level = np.full(len(self.fidelity_idx), fidelity_value)[None, :]
            elif self.fidelity.ndim == 2:  # latent fidelity: one value per draw and group
                level = self.fidelity[draws][:, self.fidelity_idx]
            else:
                level = self._fidelity_by_row
            eta += self.fidelity_slope[draws, None] * level
        return eta

    @functools.cached_property
    def _by_column(self) -> np.ndarray:
        """``X`` transposed into an array of its own, so that ``beta @ X.T`` reads it row by row.

        At 150,000 rows a draw's ``beta @ X.T`` took 224 us on the transposed view and 98 us on this.
        """
        return np.ascontiguousarray(self.X.T)

    @functools.cached_property
    def _fidelity_by_row(self) -> np.ndarray:
        """Each row's (observed, centred and scaled) fidelity, gathered once rather than at every draw: (1, rows)."""
        return self.fidelity[None, self.fidelity_idx]

    def _step(self) -> int:
        return max(1, _CHUNK_CELLS // max(len(self.weights), 1))

    def mean(
        self,
        X: np.ndarray | Counterfactual | None = None,
        fidelity_value: float | None = None,
        groups: sparse.csr_matrix | None = None,
    ) -> np.ndarray:
        """Weighted mean expected outcome per draw (or per draw and group).

        Parameters
        ----------
        X : ndarray or Counterfactual, optional
            Counterfactual design matrix, or design with varying slopes' values (default: observed).
        fidelity_value : float, optional
            Centred/scaled fidelity given to every group (default: each its own).
        groups : sparse matrix (rows x G), optional
            Row weights normalised within each group; returns (S, G).
        """
        weights = sparse.csr_matrix(self.weights[:, None] / self.weights.sum()) if groups is None else groups
        slopes = X.slopes if isinstance(X, Counterfactual) else None
        X = X.X if isinstance(X, Counterfactual) else X
        out = []
        for start in range(0, self.n_draws, self._step()):
            draws = slice(start, start + self._step())
            expected = self.family.mean(self.eta(draws, X, fidelity_value, slopes))
            out.append(np.asarray((weights.T @ expected.T).T))
        result = np.concatenate(out, axis=0)
        return result[:, 0] if groups is None else result

    def averages(
        self,
        counterfactuals: list[np.ndarray | Counterfactual] | tuple[np.ndarray | Counterfactual, ...] = (),
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
          per draw (and kind of row), with no exponential per row; the fidelity curve's sums over
          rows, and a counterfactual's, run in one fused pass (:mod:`ipsbayes.kernels`);
        - chunks of draws are small enough to stay in the processor's cache.

        A chunk whose shortcut gives a non-finite value (extreme prior draws) is computed the plain
        way, and so is a :class:`Counterfactual` that changes varying slopes (each row's shift then
        depends on its group's effect). ``tests/test_predict_averages.py`` checks every output against
        :meth:`mean`.
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
        # each matrix transposed once (not once per chunk: 4,000 transposes of 150,000 rows took 0.9 s);
        # the product sums every group's rows in the same order as ``matrix.T @ mu.T``
        transposed = [matrix.T.tocsr() for matrix in groups]

        def chunk(draws: slice) -> None:
            eta = self.eta(draws)
            exp_neg, span = None, (np.nan, np.nan)
            with np.errstate(over="ignore", under="ignore"):
                if logit:
                    exp_neg = np.exp(-eta)
                    mu = np.reciprocal(np.add(exp_neg, 1.0))  # as _reciprocal_one_plus, without a copy
                    span = _span(exp_neg)
                else:
                    mu = self.family.mean(eta)
            if not _normal(*span):  # exp(-eta) overflowed or underflowed somewhere: no shortcut in this chunk
                exp_neg = None
            overall[draws] = mu @ weights
            for matrix, out in zip(transposed, by_group, strict=True):
                out[draws] = np.asarray((matrix @ mu.T).T)
            for offsets, out in zip(counterfactuals, shifted, strict=True):
                out[draws] = self._shifted_mean(draws, eta, exp_neg, offsets, weights, largest=span[1])
            if curve is not None:
                curve[draws] = self._fidelity_means(draws, eta, exp_neg, span, values, weights)

        for_each_chunk(chunk, self.n_draws, step)

    def _offsets(self, X: np.ndarray | Counterfactual) -> _Offsets:
        """How a counterfactual design moves the linear predictor: changed columns and kinds of rows."""
        slopes = {}
        if isinstance(X, Counterfactual):
            for position, values in X.slopes.items():
                change = np.asarray(values, dtype=float) - self.blocks[position].x
                if np.any(change != 0):
                    slopes[position] = change
            X = X.X
        difference = np.asarray(X, dtype=float) - self.X
        columns = np.flatnonzero(np.any(difference != 0, axis=0))
        changes = difference[:, columns]
        if slopes:  # each row's shift depends on its group's slope: computed per row
            return _Offsets(columns, changes, None, slopes)
        if len(columns) == 0:
            return _Offsets(columns, np.zeros((1, 0)), np.zeros(len(self.X), dtype=np.intp))
        found = row_kinds(changes, _MAX_KINDS)
        if found is None:  # every row its own change: no sharing
            return _Offsets(columns, changes, None)
        return _Offsets(columns, *found)

    def _shifted_mean(
        self,
        draws: slice,
        eta: np.ndarray,
        exp_neg: np.ndarray | None,
        offsets: _Offsets,
        weights: np.ndarray,
        largest: float | None = None,
    ) -> np.ndarray:
        """Weighted mean expected outcome under a counterfactual design, for one chunk of draws.

        The shortcut multiplies ``exp(-eta)`` by ``exp(-shift)``: both must be normal numbers (an
        overflowed or underflowed factor would make a wrong product that is still finite); the
        product itself may overflow or underflow, which only rounds an expit below 1e-308 to 0 or 1.
        ``largest`` is the greatest ``exp(-eta)`` of the chunk, where known (the kernel's pairs need a bound).
        """
        shift = self.beta[draws][:, offsets.columns] @ offsets.changes.T  # (draws, kinds or rows)
        if offsets.inverse is not None:
            if exp_neg is not None:
                with np.errstate(over="ignore", under="ignore"):
                    factors = np.exp(-shift)
                    if _normal(*_span(factors)):
                        result = logistic_shifted(exp_neg, factors, offsets.inverse, weights, largest=largest)
                        if np.all(np.isfinite(result)):
                            return result
            shift_rows = shift[:, offsets.inverse]
        else:
            shift_rows = shift
        for position, change in offsets.slopes.items():  # u_g x moves with x: (draws, rows)
            block = self.blocks[position]
            shift_rows = shift_rows + BlockDraws(block.effect, block.idx, change).rows(draws)
        with np.errstate(over="ignore", under="ignore"):
            return self._mean_of(eta + shift_rows) @ weights

    def _fidelity_means(
        self,
        draws: slice,
        eta: np.ndarray,
        exp_neg: np.ndarray | None,
        span: tuple[float, float],
        values: np.ndarray,
        weights: np.ndarray,
    ) -> np.ndarray:
        """Weighted mean expected outcome with every group at each fidelity value, for one chunk of draws.

        ``exp(-(eta - slope * level))`` is ``exp(-eta) * exp(slope * level)``, whose second factor takes
        one value per group: one exponential per group, not per row (equal to a few units in the last
        place). ``span`` is the least and greatest ``exp(-eta)``. The shortcut is taken only where every
        factor and every product ``exp(-eta) * exp(slope * level)`` is a normal number (bounded by the
        spans): an overflowed or underflowed factor would give a wrong value that is still finite.
        """
        slope = self.fidelity_slope[draws, None]
        latent = self.fidelity.ndim == 2  # latent fidelity: one value per draw and group
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if exp_neg is not None:
                per_group = np.exp(slope * (self.fidelity[draws] if latent else self.fidelity[None, :]))
                at_values = np.exp(-slope * values[None, :])
                low, high = _span(per_group)
                if _normal(low, high) and _normal(span[0] * low, span[1] * high) and _normal(*_span(at_values)):
                    exp_base = np.take(per_group, self.fidelity_idx, axis=1)
                    exp_base *= exp_neg
                    out = logistic_curve(exp_base, at_values, weights, largest=span[1] * high)
                    if np.all(np.isfinite(out)):
                        return out
            level = self.fidelity[draws][:, self.fidelity_idx] if latent else self._fidelity_by_row
            base = eta - slope * level
            return np.column_stack([self._mean_of(base + slope * value) @ weights for value in values])

    def _mean_of(self, eta: np.ndarray) -> np.ndarray:
        """The family's expected outcome (expit without scipy's slower ufunc for a logit link)."""
        if self.family.link == "logit":
            return _reciprocal_one_plus(np.exp(-eta))
        return self.family.mean(eta)


#: cells (draws x rows) per chunk in :meth:`Predictor.averages`: small enough to stay in cache
_CACHE_CELLS = 1 << 18
#: above this many kinds of row change, a counterfactual's offsets are computed per row
_MAX_KINDS = 256


_TINY, _HUGE = float(np.finfo(float).tiny), float(np.finfo(float).max)


def _span(values: np.ndarray) -> tuple[float, float]:
    """The least and greatest of ``values`` (nan where any is nan; (1, 1) when there are none)."""
    if values.size == 0:
        return 1.0, 1.0
    return float(values.min()), float(values.max())


def _normal(low: float, high: float) -> bool:
    """Whether every number between ``low`` and ``high`` is a normal float: no inf, 0, subnormal or nan."""
    return bool(low >= _TINY and high <= _HUGE)


def row_kinds(changes: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct rows of ``changes`` and each row's index among them, or None above ``limit`` of them.

    The same as ``np.unique(changes, axis=0, return_inverse=True)`` (rows in lexicographic order), which
    sorts the rows as records: 0.05-0.1 s per counterfactual design at 150,000 rows. Here each column
    is coded by a one-dimensional ``np.unique``, the codes are combined into one integer per row and
    that is made unique (a few ms). A column with more than ``limit`` distinct values means more than
    ``limit`` distinct rows, so None is returned at once. Non-finite changes take ``np.unique``'s way.
    """
    if not np.all(np.isfinite(changes)):
        kinds, inverse = np.unique(changes, axis=0, return_inverse=True)
        return None if len(kinds) > limit else (kinds, inverse.ravel().astype(np.intp))
    codes = np.zeros(len(changes), dtype=np.int64)
    for column in changes.T:
        values, inverse = np.unique(column, return_inverse=True)
        if len(values) > limit:
            return None
        if codes.size and codes.max() >= 2**62 // len(values):  # keep the product inside int64: renumber densely
            codes = np.unique(codes, return_inverse=True)[1].ravel()
        codes = codes * len(values) + inverse  # the earlier columns weigh more: lexicographic order
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    if len(first) > limit:
        return None
    return changes[first], inverse.ravel().astype(np.intp)


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
    slopes: dict[int, np.ndarray] = field(default_factory=dict)  # block position -> change of its values (rows)


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


__all__ = ["Averages", "BlockDraws", "Counterfactual", "Predictor", "group_weights", "row_kinds"]
