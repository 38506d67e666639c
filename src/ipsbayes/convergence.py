"""R-hat, effective sample sizes and Monte Carlo errors of every posterior element at once.

ArviZ's ``summary(kind="diagnostics")`` computes rank-normalised split R-hat (Vehtari et al.
2021), bulk and tail ESS and the Monte Carlo standard errors of the mean and SD by calling a
Python function once per posterior element. With a few hundred elements (group effects, their
slopes, deterministics) that loop took 1-2 s of a ``ci`` run and more at larger sizes. The
functions here are the same estimators, written for a stack of elements ``(element, chain,
draw)``: ranks, FFT autocovariances and Geyer's initial positive and monotone sequences are
computed for all elements together. ``tests/test_convergence.py`` checks that every number
equals ArviZ's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import fft, special, stats

from ipsbayes.chunks import allowed_threads, for_each_chunk

SAMPLE_DIMS = ("chain", "draw")
COLUMNS = ("ess_bulk", "ess_tail", "r_hat", "mcse_mean", "mcse_sd")


def diagnostic_summary(
    posterior: xr.Dataset, var_names: Sequence[str] | None = None, tail_prob: float | None = None
) -> pd.DataFrame:
    """ArviZ's ``summary(..., kind="diagnostics", round_to="none")``, vectorised over elements.

    Parameters
    ----------
    posterior : Dataset
        Draws with dimensions ``chain`` and ``draw`` first.
    var_names : sequence of str, optional
        Variables to summarise (default: all).
    tail_prob : float, optional
        Tail ESS is the smaller of the quantile ESS at ``(1 - p)`` and ``p``; ArviZ's default
        is ``rcParams["stats.ci_prob"]``.

    Returns
    -------
    DataFrame
        One row per element, labelled as ArviZ labels them; columns ``ess_bulk``, ``ess_tail``,
        ``r_hat``, ``mcse_mean``, ``mcse_sd``.
    """
    from arviz_base import rcParams
    from arviz_base.labels import BaseLabeller
    from arviz_base.sel_utils import xarray_sel_iter

    prob = float(rcParams["stats.ci_prob"] if tail_prob is None else tail_prob)
    names = list(posterior.data_vars) if var_names is None else list(var_names)
    # ArviZ orders each variable's elements by the Dataset's dimension order, then labels them
    elements = posterior[names].isel(chain=0, draw=0, drop=True)
    dims = list(elements.dims)
    arrays = [posterior[name].transpose(*SAMPLE_DIMS, *sorted(elements[name].dims, key=dims.index)) for name in names]
    stack = np.concatenate([_element_stack(array) for array in arrays])  # every element at once
    values = np.empty((len(COLUMNS), stack.shape[0]))

    def columns(part: slice) -> None:  # every estimator works element by element: a part is computed alone
        block = stack[part]
        values[:, part] = [ess_bulk(block), ess_tail(block, prob), rhat_rank(block), mcse_mean(block), mcse_sd(block)]

    # sorting and FFTs release the GIL: the run's threads (chunks.threads) take a share of the elements each
    for_each_chunk(columns, stack.shape[0], -(-stack.shape[0] // allowed_threads()))
    # ArviZ's row labels ("theta[school_a]"), made by its own labeller
    labeller = BaseLabeller()
    labels = [labeller.make_label_flat(name, sel, isel) for name, sel, isel in xarray_sel_iter(elements)]
    frame = pd.DataFrame(values.T, index=labels, columns=list(COLUMNS))
    finite = np.isfinite(stack).all(axis=(1, 2))
    constant = finite & (stack.max(axis=(1, 2), initial=-np.inf) == stack.min(axis=(1, 2), initial=np.inf))
    # elements whose R-hat and ESS are undefined for a reason a check must tell apart: draws that are not
    # finite numbers (a problem) and draws that never vary (nothing to converge)
    frame.attrs["nonfinite"] = [labels[i] for i in np.flatnonzero(~finite)]
    frame.attrs["constant"] = [labels[i] for i in np.flatnonzero(constant)]
    return frame


def mean_ess(posterior: xr.Dataset) -> np.ndarray:
    """ESS of the mean ("mean" method: split chains, no ranks) of every element of every variable."""
    return np.concatenate(
        [ess_mean(_element_stack(posterior[name].transpose(*SAMPLE_DIMS, ...))) for name in posterior.data_vars]
    )


def _element_stack(array: xr.DataArray) -> np.ndarray:
    """``(chain, draw, *shape)`` values as a float array ``(element, chain, draw)``."""
    values = np.asarray(array.values, dtype=float)
    chains, draws = values.shape[:2]
    return np.moveaxis(values.reshape(chains, draws, -1), 2, 0)


def _valid(stack: np.ndarray, min_chains: int) -> np.ndarray:
    """ArviZ's ``not_valid``, negated: no NaN and at least 4 draws and ``min_chains`` chains."""
    ok = ~np.isnan(stack).any(axis=(1, 2))
    if stack.shape[1] < min_chains or stack.shape[2] < 4:
        ok[:] = False
    return ok


def split_chains(stack: np.ndarray) -> np.ndarray:
    """First halves of every chain, then second halves (an odd middle draw is dropped)."""
    half = stack.shape[2] // 2
    return np.concatenate((stack[:, :, :half], stack[:, :, -half:]), axis=1)


def z_scale(stack: np.ndarray) -> np.ndarray:
    """Normal scores of the average ranks over all chains and draws of each element (Blom's offset)."""
    flat = stack.reshape(stack.shape[0], -1)
    ranks = stats.rankdata(flat, method="average", axis=1)
    size = flat.shape[1]
    return special.ndtri((ranks - 0.375) / (size - 0.75 + 1)).reshape(stack.shape)


def _rhat(stack: np.ndarray) -> np.ndarray:
    draws = stack.shape[2]
    chain_mean = stack.mean(axis=2)
    chain_var = stack.var(axis=2, ddof=1)
    between = draws * chain_mean.var(axis=1, ddof=1)
    within = chain_var.mean(axis=1)
    return np.sqrt((between / within + draws - 1) / draws)


def rhat_rank(stack: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) R-hat."""
    out = np.full(stack.shape[0], np.nan)
    ok = _valid(stack, min_chains=2)
    if ok.any():
        split = split_chains(stack[ok])
        bulk = _rhat(z_scale(split))
        folded = np.abs(split - np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None])
        tail = _rhat(z_scale(folded))
        # ArviZ takes Python's max(bulk, tail): a tail R-hat of 0/0 (every folded draw equal, as when
        # half the draws take each of two values) leaves the bulk R-hat, where np.maximum gives NaN
        out[ok] = np.where(tail > bulk, tail, bulk)
    return out


def _autocov(stack: np.ndarray) -> np.ndarray:
    """Autocovariance at every lag along the draws (ArviZ's FFT estimate, divided by n)."""
    n = stack.shape[2]
    m = fft.next_fast_len(2 * n)
    centred = stack - stack.mean(axis=2, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=2)
    spectrum *= np.conjugate(spectrum)
    return np.fft.irfft(spectrum, n=m, axis=2)[:, :, :n] / n


def effective_size(stack: np.ndarray) -> np.ndarray:
    """ESS of each element's chains (ArviZ's ``_ess``): Geyer's initial positive, then monotone, sequence.

    Pairs of autocorrelations ``(rho[2j], rho[2j+1])`` are summed while the running pair sums stay
    positive; the pair sums are then replaced by their running minimum. ArviZ walks the pairs
    with a Python loop per element; here the stopping pair and the running minimum are found for
    all elements at once.
    """
    k, chains, draws = stack.shape
    total = chains * draws
    out = np.full(k, float(total))
    constant = (stack.max(axis=(1, 2)) - stack.min(axis=(1, 2))) < np.finfo(float).resolution
    work = ~constant
    if not work.any():
        return out
    x = stack[work]
    acov = _autocov(x)
    mean_var = acov[:, :, 0].mean(axis=1) * draws / (draws - 1.0)
    var_plus = mean_var * (draws - 1.0) / draws
    if chains > 1:
        var_plus = var_plus + x.mean(axis=2).var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0
    last_pair = max((draws - 2 + 1) // 2 - 1, 0)  # the loop computes pair j while 2j - 1 < draws - 3
    pairs = rho[:, : 2 * last_pair + 2].reshape(x.shape[0], last_pair + 1, 2)
    sums = pairs.sum(axis=2)
    nonpositive = ~(sums > 0)
    stop = np.where(nonpositive.any(axis=1), nonpositive.argmax(axis=1), last_pair + 1)
    stop = np.minimum(stop, last_pair)  # the pair that ended the loop
    running = np.minimum.accumulate(sums, axis=1)
    before_stop = np.arange(last_pair + 1)[None, :] < stop[:, None]
    positive_sum = np.where(before_stop, running, 0.0).sum(axis=1)
    rows = np.arange(x.shape[0])
    even = pairs[rows, stop, 0]
    kept = (sums[rows, stop] >= 0) | (even > 0)  # ArviZ stores a pair with a non-negative sum, then a positive rho[2j]
    last = np.where(kept, even, 0.0)
    tau = -1.0 + 2.0 * positive_sum + last
    tau = np.maximum(tau, 1 / np.log10(total))
    ess = total / tau
    ess[np.isnan(rho[:, 1])] = np.nan
    out[work] = ess
    return out


def ess_bulk(stack: np.ndarray) -> np.ndarray:
    """Bulk ESS: ESS of the normal scores of the split chains' ranks."""
    out = np.full(stack.shape[0], np.nan)
    ok = _valid(stack, min_chains=1)
    if ok.any():
        out[ok] = effective_size(z_scale(split_chains(stack[ok])))
    return out


def ess_mean(stack: np.ndarray) -> np.ndarray:
    """ESS of the mean: ESS of the split chains."""
    out = np.full(stack.shape[0], np.nan)
    ok = _valid(stack, min_chains=1)
    if ok.any():
        out[ok] = effective_size(split_chains(stack[ok]))
    return out


def _quantile_ess(stack: np.ndarray, prob: float) -> np.ndarray:
    flat = stack.reshape(stack.shape[0], -1)
    cut = np.quantile(flat, prob, axis=1, method="linear")
    return effective_size(split_chains((stack <= cut[:, None, None]).astype(float)))


def ess_tail(stack: np.ndarray, prob: float) -> np.ndarray:
    """Tail ESS: the smaller quantile ESS at ``min(p, 1 - p)`` and ``max(p, 1 - p)``."""
    out = np.full(stack.shape[0], np.nan)
    ok = _valid(stack, min_chains=1)
    if ok.any():
        low, high = sorted((prob, 1 - prob))
        out[ok] = np.minimum(_quantile_ess(stack[ok], low), _quantile_ess(stack[ok], high))
    return out


def mcse_mean(stack: np.ndarray) -> np.ndarray:
    """Monte Carlo SE of the mean: SD / sqrt(ESS of the mean)."""
    flat_sd = stack.reshape(stack.shape[0], -1).std(axis=1, ddof=1)
    return flat_sd / np.sqrt(ess_mean(stack))


def mcse_sd(stack: np.ndarray) -> np.ndarray:
    """Monte Carlo SE of the SD, from the ESS of the squared deviations (ArviZ's ``_mcse_sd``)."""
    out = np.full(stack.shape[0], np.nan)
    ok = _valid(stack, min_chains=1)
    if ok.any():
        x = stack[ok]
        centred = x - x.reshape(x.shape[0], -1).mean(axis=1)[:, None, None]
        squared = centred**2
        ess = ess_mean(squared)
        evar = squared.reshape(x.shape[0], -1).mean(axis=1)
        varvar = ((centred**4).reshape(x.shape[0], -1).mean(axis=1) - evar**2) / ess
        out[ok] = np.sqrt(varvar / evar / 4)
    return out


def sampler_statistics(datatree: xr.DataTree) -> dict[str, dict[str, Any]]:
    """Divergences, maximum-tree-depth hits and E-BFMI per chain, as ``az.diagnose`` reports them.

    ``az.diagnose`` also computes bulk and tail ESS and two R-hats of every variable, which
    :func:`diagnose` already has from :func:`~ipsbayes.convergence.diagnostic_summary`; this
    reads only the sampler's statistics
    (same keys and values as ``az.diagnose(..., return_diagnostics=True)[1]``, test in
    ``tests/test_fast_paths.py``).
    """
    if "sample_stats" not in datatree.children:
        return {}
    stats = datatree["sample_stats"].to_dataset()
    out: dict[str, dict[str, Any]] = {}
    if "diverging" in stats:
        out["divergent"] = {"n_divergent": int(stats["diverging"].sum().values)}
    if "reached_max_treedepth" in stats:
        out["treedepth"] = {"n_max": int(stats["reached_max_treedepth"].sum().values)}
    if "energy" in stats:
        out["bfmi"] = {"bfmi_values": az.bfmi(datatree)["energy"].values}
    return out
