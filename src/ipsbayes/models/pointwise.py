"""A regression family's log-likelihood and predictive draws from its linear predictor, chunk by chunk.

PyMC computes the ``log_likelihood`` and ``posterior_predictive`` groups one posterior draw at a
time (4,000 calls of a compiled function, each copied into place: 2.6-2.9 s and 1.9 s at 15,000
rows). The linear predictor of every draw is already at hand in numpy
(:class:`~ipsbayes.models.predict.Predictor`, the one the estimands use), and a family without
auxiliary parameters has its log-likelihood and its draws in numpy
(:meth:`~ipsbayes.families.base.OutcomeFamily.log_likelihood` and ``predictive_draws``), so both
groups are filled in chunks of draws on the sampler's cores (:mod:`ipsbayes.chunks`).
``tests/test_numpy_log_likelihood.py`` checks the log-likelihood against PyMC's for the regression
configurations shipped; ``tests/test_numpy_predictive.py`` the draws' distribution and seeding.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr

from ipsbayes.chunks import for_each_chunk
from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import LikelihoodSummary, ModelData
from ipsbayes.models.predict import Predictor

#: cells (draws x rows) per chunk: small enough to stay in the processor's cache
_CHUNK_CELLS = 1 << 18


def log_likelihood_group(posterior, data: ModelData, family: OutcomeFamily) -> dict[str, np.ndarray] | None:
    """The outcome's pointwise log-likelihood (draws, rows) by its name; None where PyMC must compute it.

    None when the family has no numpy form or the model observes more than the outcome (review scores).
    """
    if "review_score" in data.arrays:
        return None
    values = pointwise_log_likelihood(Predictor.from_posterior(posterior, data, family), data)
    return None if values is None else {data.info["response"]: values}


def predictive_group(posterior, data: ModelData, family: OutcomeFamily, seed: int) -> dict[str, np.ndarray] | None:
    """The outcome's posterior predictive draws (draws, rows) by its name; None as for :func:`log_likelihood_group`."""
    if "review_score" in data.arrays:
        return None
    values = predictive_draws(Predictor.from_posterior(posterior, data, family), data, seed)
    return None if values is None else {data.info["response"]: values}


def summarisable(data: ModelData, family: OutcomeFamily) -> bool:
    """Whether :func:`likelihood_summary_group` and :func:`predictive_group` have a numpy form for these data."""
    return "review_score" not in data.arrays and family.numpy_pointwise


def likelihood_summary_group(
    posterior: xr.Dataset, data: ModelData, family: OutcomeFamily, rows: np.ndarray, *, totals: bool = True
) -> dict[str, LikelihoodSummary] | None:
    """The outcome's :class:`~ipsbayes.models.base.LikelihoodSummary` by name; None as for log_likelihood_group.

    ``totals=False``: no per-draw totals (``total`` None), only the rows in ``rows`` evaluated.
    """
    if not summarisable(data, family):
        return None
    summed = likelihood_summary(Predictor.from_posterior(posterior, data, family), data, rows, totals=totals)
    if summed is None:
        return None
    total, subsample = summed
    at_mean = Predictor.from_posterior(posterior_mean(posterior), data, family)
    y, trials = data.arrays["y"], data.arrays.get("trials")
    with np.errstate(over="ignore"):
        approximation = family.log_likelihood(y.astype(float), at_mean.eta(slice(0, 1)), trials)[0]
    return {data.info["response"]: LikelihoodSummary(total, np.asarray(rows), subsample, approximation)}


def likelihood_summary(
    predictor: Predictor, data: ModelData, rows: np.ndarray, *, totals: bool = True
) -> tuple[np.ndarray | None, np.ndarray] | None:
    """Per-draw total log-likelihood over every row, and the pointwise values of ``rows``, in one pass.

    The same numbers as :func:`pointwise_log_likelihood` summed over rows and indexed by ``rows``
    (bit for bit: each draw's row sum is numpy's pairwise sum of the same values), without holding
    draws x rows in memory. Returns ``(total (draws,), subsample (draws, len(rows)))``; None when
    the family has no numpy form. ``totals=False``: only the rows in ``rows`` are evaluated and
    ``total`` is None (the same values to rounding: the linear predictor of fewer rows may be
    summed in another order by BLAS).
    """
    family = predictor.family
    if not family.numpy_pointwise:
        return None
    y, trials = data.arrays["y"], data.arrays.get("trials")
    if not totals:
        chosen = np.asarray(rows, dtype=int)
        values = pointwise_log_likelihood(predictor.of_rows(chosen), _rows_of(data, chosen))
        return None, values
    total = np.empty(predictor.n_draws)
    subsample = np.empty((predictor.n_draws, len(rows)))
    value = y.astype(float)

    def chunk(draws: slice) -> None:
        with np.errstate(over="ignore"):
            values = family.log_likelihood(value, predictor.eta(draws), trials)
        summed = values.sum(axis=1)
        total[draws] = summed if np.all(np.isfinite(summed)) else np.nansum(values, axis=1)  # as ArviZ sums
        subsample[draws] = values[:, rows]

    for_each_chunk(chunk, predictor.n_draws, _step(len(y)))
    return total, subsample


def posterior_mean(posterior: xr.Dataset) -> xr.Dataset:
    """The posterior means of every variable as a posterior of one draw (for the point log predictive density)."""
    return posterior.mean(("chain", "draw")).expand_dims(chain=[0], draw=[0]).transpose("chain", "draw", ...)


def pointwise_log_likelihood(predictor: Predictor, data: ModelData) -> np.ndarray | None:
    """Log-likelihood of each row at each draw, shape (draws, rows); None when the family has no numpy form.

    Parameters
    ----------
    predictor : Predictor
        Posterior draws of the linear predictor's parts.
    data : ModelData
        The prepared data: the response ``y`` and, for collapsed rows or counts, ``trials``.
    """
    family = predictor.family
    if not family.numpy_pointwise:
        return None
    y, trials = data.arrays["y"], data.arrays.get("trials")
    out = np.empty((predictor.n_draws, len(y)))
    value = y.astype(float)

    def chunk(draws: slice) -> None:
        with np.errstate(over="ignore"):
            out[draws] = family.log_likelihood(value, predictor.eta(draws), trials)

    for_each_chunk(chunk, predictor.n_draws, _step(len(y)))
    return out


def draws_dtype(family: OutcomeFamily, y: np.ndarray, trials: np.ndarray | None) -> np.dtype:
    """The type of the predictive draws: the response's, or the smallest integer type their range allows.

    A binary outcome's draws are 0 or 1, a binomial one's at most the row's trials
    (:attr:`~ipsbayes.families.base.OutcomeFamily.draws_within_trials`): ``int8`` holds them where
    the trials allow, as ``posterior.nc`` stores them (:func:`ipsbayes.rundir.write_posterior`),
    so a 15,000-row run's 500 predictive draws take 7.5 MB instead of 60 (each page new to the
    process costs the run time).
    """
    if not (family.draws_within_trials and np.issubdtype(y.dtype, np.integer)):
        return y.dtype
    largest = 1 if trials is None or trials.size == 0 else int(np.max(trials))
    for small in (np.int8, np.int16, np.int32):
        if largest <= np.iinfo(small).max:
            return np.dtype(small)
    return y.dtype


def predictive_draws(predictor: Predictor, data: ModelData, seed: int) -> np.ndarray | None:
    """One predictive response per row and draw, shape (draws, rows); None when the family has no numpy form.

    Each chunk of draws has its own random stream, spawned from ``seed`` by the chunk's position,
    so the draws are the same however many threads make them. Their type is :func:`draws_dtype`'s.
    """
    family = predictor.family
    if not family.numpy_pointwise:
        return None
    y, trials = data.arrays["y"], data.arrays.get("trials")
    step = _step(len(y))
    streams = np.random.SeedSequence(seed).spawn(-(-predictor.n_draws // step))
    out = np.empty((predictor.n_draws, len(y)), dtype=draws_dtype(family, y, trials))

    def chunk(draws: slice) -> None:
        rng = np.random.default_rng(streams[draws.start // step])
        out[draws] = family.predictive_draws(predictor.eta(draws), trials, rng)

    for_each_chunk(chunk, predictor.n_draws, step)
    return out


def _rows_of(data: ModelData, rows: np.ndarray) -> ModelData:
    """``data`` with only the response and trials of ``rows`` (what :func:`pointwise_log_likelihood` reads)."""
    arrays = {"y": data.arrays["y"][rows]}
    if data.arrays.get("trials") is not None:
        arrays["trials"] = data.arrays["trials"][rows]
    return replace(data, arrays=arrays)


def _step(rows: int) -> int:
    return max(1, _CHUNK_CELLS // max(rows, 1))


__all__ = [
    "likelihood_summary",
    "likelihood_summary_group",
    "log_likelihood_group",
    "pointwise_log_likelihood",
    "posterior_mean",
    "predictive_draws",
    "predictive_group",
]
