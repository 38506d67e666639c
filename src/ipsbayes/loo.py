"""Exact PSIS-LOO (Vehtari et al. 2017, 2024) for many observations at once.

ArviZ's ``loo`` smooths the importance weights of one observation at a time in a
Python loop (a sort, a generalised Pareto fit and two log-sum-exps per observation:
about a millisecond each, so 15 s for 15,000 rows and minutes for 150,000). This
module does the same computation on blocks of observations with numpy: the same
tail length, the same empirical-Bayes Pareto fit (``arviz_stats`` ``_gpdfit``), the
same truncation and normalisation, so ``elpd_loo``, its SE, ``p_loo`` and every
Pareto k equal ArviZ's to float rounding (``tests/test_loo.py`` checks this against
``az.loo``), with two deliberate exceptions where ArviZ has no usable answer:

- a row whose largest importance ratios are all equal (its log-likelihood does not vary in the
  tail) gets k = 0 and no smoothing, as Stan's C++ does; ArviZ raises "All tail values are the
  same" (R's loo warns and gives k = Inf);
- a row whose tail ratios underflow (a log-likelihood spanning about 750 over the draws: the
  Pareto fit's grid is undefined) gets k = inf and is left unsmoothed, so the check flags it, as R's
  loo leaves it unsmoothed with k NaN; ArviZ gives a small k and a NaN elpd, and does not warn.

Only the largest ``M + 1`` importance ratios of each observation are
sorted (a partition finds them), and the log-likelihood is read a block of columns
at a time, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import logsumexp  # the Pareto fit's weights

from ipsbayes.chunks import for_each_chunk

#: cells (draws x observations) handled per block: a block's few copies (4 MB each) stay near the
#: processor's cache; with 2,000,000-cell blocks and one Pareto fit per block a 15,000-row run's
#: diagnostics took twice as long (README, eighteenth round; ``benchmarks/results/loo_blocks.md``)
_BLOCK_CELLS = 500_000
#: cells (grid points x tail draws x observations) of the Pareto fit's one large array, per group of observations
_FIT_CELLS = 500_000


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO of one observed variable (the numbers ArviZ's ``ELPDData`` carries)."""

    elpd: float
    se: float
    p: float
    pareto_k: np.ndarray  # (n,)
    elpd_i: np.ndarray  # (n,)
    good_k: float
    n_samples: int
    r_eff: float
    p_i: np.ndarray | None = None  # (n,) effective number of parameters by observation


@dataclass(frozen=True)
class SubsampledLoo:
    """PSIS-LOO of all rows estimated from a random subsample (the numbers ArviZ's ``loo_subsample`` gives)."""

    elpd: float
    se: float  # the elpd's SE as exact PSIS-LOO of every row would give it, estimated from the subsample
    subsampling_se: float  # the further uncertainty of estimating from a subsample (reported beside ``se``)
    p: float
    pareto_k: np.ndarray  # (m,) of the subsampled rows
    elpd_i: np.ndarray  # (m,)
    rows: np.ndarray  # (m,) their indices
    n_rows: int
    good_k: float
    n_samples: int
    r_eff: float


def relative_efficiency(posterior: xr.Dataset) -> float:
    """ArviZ's default ``r_eff``: mean ESS ("mean" method) over every posterior element, over the draws."""
    from ipsbayes.convergence import mean_ess

    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    if chains == 1:
        return 1.0
    return float(mean_ess(posterior).mean() / (chains * draws))


def tail_length(n_samples: int, r_eff: float) -> int:
    """Number of largest importance ratios the Pareto fit uses (ArviZ's ``_get_ps_tails``)."""
    if n_samples * r_eff > 225:
        return int(np.floor(3 * (n_samples / r_eff) ** 0.5))
    return int(np.floor(n_samples / 5))


def gpd_fit(tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empirical-Bayes generalised Pareto fit of each column of ``tail`` (sorted ascending along axis 0).

    The same estimator as ``arviz_stats`` ``_gpdfit`` (Zhang and Stephens 2009, prior on k centred
    at 0.5 with weight 10), for many columns at once: in groups of columns whose grid x tail x
    columns array holds at most ``_FIT_CELLS`` numbers (each column's fit is its own, so the
    groups change no number). Returns ``(k, sigma)``: NaN for a column whose first quartile equals
    its minimum, ``(inf, NaN)`` where the fit is undefined.
    """
    n, columns = tail.shape[0], tail.shape[1]
    m_est = 30 + int(n**0.5)
    step = max(1, _FIT_CELLS // (m_est * n))  # the (grid, tail, columns) array of a group stays small
    if columns <= step:
        return _gpd_fit_columns(tail)
    k, sigma = np.empty(columns), np.empty(columns)
    for start in range(0, columns, step):  # each column's fit is its own: the same numbers as all at once
        k[start : start + step], sigma[start : start + step] = _gpd_fit_columns(tail[:, start : start + step])
    return k, sigma


def _gpd_fit_columns(tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gpd_fit` of every column at once."""
    prior_bs, prior_k = 3, 10
    n = tail.shape[0]
    m_est = 30 + int(n**0.5)
    xstar = tail[int((n / 4 + 0.5) - 1)]
    degenerate = xstar <= tail[0]
    grid = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        b = grid[:, None] / (prior_bs * xstar)[None, :] + (1 / tail[-1])[None, :]  # (m, B)
        k_b = np.mean(np.log1p(-b[:, None, :] * tail[None, :, :]), axis=1)  # (m, B)
        length = n * (np.log(-b / k_b) - k_b - 1)
        weights = np.exp(length - logsumexp(length, axis=0))
        weights = np.where(weights >= 10 * np.finfo(float).eps, weights, 0.0)
        weights /= weights.sum(axis=0)
        b_post = np.sum(b * weights, axis=0)
        kappa = np.mean(np.log1p(-b_post * tail), axis=0)
        sigma = -kappa / b_post
        kappa = (n * kappa + prior_k * 0.5) / (n + prior_k)
    undefined = np.isnan(kappa)
    kappa = np.where(undefined, np.inf, kappa)
    sigma = np.where(undefined, np.nan, sigma)
    return np.where(degenerate, np.nan, kappa), np.where(degenerate, np.nan, sigma)


def _logsumexp(values: np.ndarray) -> np.ndarray:
    """log(sum(exp(values))) along the last axis (scipy's, without its checks: a third of the time)."""
    top = values.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(values - top), axis=-1)) + top[..., 0]


def _block(log_lik: np.ndarray, r_eff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSIS-LOO of the rows of ``log_lik`` (observations x draws, C order): elpd_i, p_loo_i, Pareto k."""
    width, n_samples = log_lik.shape
    m = tail_length(n_samples, r_eff)
    if m < 5:
        raise ValueError("n_draws_tail must be at least 5")
    ratios = -log_lik
    ratios -= ratios.max(axis=1, keepdims=True)
    rows = np.arange(width)[:, None]
    split = n_samples - m
    part = np.argpartition(ratios, split - 1, axis=1)
    cutoff = ratios[rows[:, 0], part[:, split - 1]]
    tail_idx = part[:, split:]
    tail = np.take_along_axis(ratios, tail_idx, axis=1)
    order = np.argsort(tail, axis=1)
    tail_idx = np.take_along_axis(tail_idx, order, axis=1)
    tail = np.take_along_axis(tail, order, axis=1)
    max_tail, min_tail = tail[:, -1], tail[:, 0]
    # a row whose tail ratios are all equal (its log-likelihood does not vary in the tail; ArviZ raises
    # "All tail values are the same") has equal weights there: nothing to smooth, and no heavy tail (k = 0)
    flat = np.abs(max_tail - min_tail) < np.finfo(float).tiny
    k, sigma = np.zeros(width), np.zeros(width)
    if not flat.all():
        varying = ~flat
        k[varying], sigma[varying] = gpd_fit((np.exp(tail[varying]) - np.exp(cutoff[varying])[:, None]).T)
    smooth = np.isfinite(k) & ~flat
    if smooth.any():
        probs = (np.arange(m) + 0.5)[None, :] / m
        ks, ss, mu = k[smooth, None], sigma[smooth, None], np.exp(cutoff[smooth])[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            zero = ks == 0
            safe = np.where(zero, 1.0, ks)
            general = mu + ss * np.expm1(-safe * np.log1p(-probs)) / safe
            exponential = mu - ss * np.log1p(-probs)
            q = np.where(zero, exponential, general)
            q = np.where(ss > 0, q, np.nan)
            smoothed = np.log(q)
        top = max_tail[smooth, None]
        smoothed = np.where(smoothed > top, top, smoothed)
        ratios[rows[smooth], tail_idx[smooth]] = smoothed
    # log weights lw = ratios - lse(ratios); elpd_i = lse(lw + log_lik)
    normaliser = _logsumexp(ratios)
    ratios += log_lik
    elpd_i = _logsumexp(ratios) - normaliser
    lppd_i = _logsumexp(log_lik) - np.log(n_samples)
    return elpd_i, lppd_i - elpd_i, k


def psis_loo(log_lik: xr.DataArray, r_eff: float) -> LooResult:
    """PSIS-LOO of a pointwise log-likelihood ``(chain, draw, *obs)``, the same numbers as ``az.loo``.

    Parameters
    ----------
    log_lik : DataArray
        Pointwise log-likelihood with dims ``chain``, ``draw`` and the observations' dims.
    r_eff : float
        Relative efficiency of the draws (:func:`relative_efficiency`, as ArviZ computes it).
    """
    obs_dims = [d for d in log_lik.dims if d not in ("chain", "draw")]
    values = log_lik.transpose("chain", "draw", *obs_dims).values
    n_samples = values.shape[0] * values.shape[1]
    flat = values.reshape(n_samples, -1)
    n = flat.shape[1]
    step = max(1, _BLOCK_CELLS // n_samples)
    elpd_i, p_i, k = np.empty(n), np.empty(n), np.empty(n)

    def block_of(cols: slice) -> None:
        block = np.ascontiguousarray(np.asarray(flat[:, cols], dtype=float).T)  # observations x draws
        elpd_i[cols], p_i[cols], k[cols] = _block(block, r_eff)

    for_each_chunk(block_of, n, step)  # blocks of observations, in threads where the run allows
    se = float(np.sqrt(n * np.var(elpd_i, ddof=1))) if n > 1 else 0.0
    good_k = min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7
    return LooResult(
        elpd=float(elpd_i.sum()),
        se=se,
        p=float(p_i.sum()),
        pareto_k=k,
        elpd_i=elpd_i,
        good_k=float(good_k),
        n_samples=n_samples,
        r_eff=r_eff,
        p_i=p_i,
    )


def subsampled_loo(log_lik: xr.DataArray, approximation: np.ndarray, r_eff: float) -> SubsampledLoo:
    """PSIS-LOO of every row from the exact values of a simple random subsample of rows.

    The difference estimator of Magnusson et al. (2019), as ArviZ's ``loo_subsample`` applies it:
    exact PSIS-LOO (:func:`psis_loo`) on the subsample, a cheap approximation of every row's elpd
    (here the point log predictive density at the posterior means), and the subsample's differences
    between the two scaled up to all rows. ArviZ's estimators give the elpd, its total SE and the
    SE of subsampling alone; p_loo is the simple random sampling estimate. With every row in the
    subsample the result is the exact PSIS-LOO.

    Parameters
    ----------
    log_lik : DataArray
        Pointwise log-likelihood of the subsampled rows, dims ``chain``, ``draw`` and one row dim
        whose coordinate holds the rows' indices.
    approximation : ndarray
        The approximation for every row (its length is the number of rows).
    r_eff : float
        Relative efficiency of the draws (:func:`relative_efficiency`).
    """
    from arviz_stats.base import array_stats

    (row_dim,) = [d for d in log_lik.dims if d not in ("chain", "draw")]
    rows = np.asarray(log_lik[row_dim].values, dtype=int)
    exact = psis_loo(log_lik, r_eff)
    n_rows = len(approximation)
    elpd, subsampling_se, se = array_stats.diff_srs_estimator(exact.elpd_i, approximation[rows], approximation, n_rows)
    p, _, _ = array_stats.srs_estimator(exact.p_i, n_rows)
    if not (np.isfinite(exact.elpd_i).all() and np.isfinite(approximation).all()):
        # ArviZ's estimators leave a non-finite subsampled row out, and add a NaN approximation as 0, without
        # a word; exact PSIS-LOO of such data is NaN, and so is this estimate of it
        elpd = se = subsampling_se = p = np.nan
    return SubsampledLoo(
        elpd=float(elpd),
        se=float(se),
        subsampling_se=float(subsampling_se),
        p=float(p),
        pareto_k=exact.pareto_k,
        elpd_i=exact.elpd_i,
        rows=rows,
        n_rows=n_rows,
        good_k=exact.good_k,
        n_samples=exact.n_samples,
        r_eff=r_eff,
    )


__all__ = ["LooResult", "SubsampledLoo", "gpd_fit", "psis_loo", "relative_efficiency", "subsampled_loo", "tail_length"]
