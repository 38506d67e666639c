"""The run's ``log_likelihood`` and ``posterior_predictive`` groups from the model family's numpy forms.

PyMC computes both groups one posterior draw at a time: ``compute_log_likelihood`` evaluates the
compiled log-density 4,000 times, ``sample_posterior_predictive`` calls the compiled draw function
4,000 times (2.6-2.9 s and 1.9 s at 15,000 rows). A model family that has the same quantities in
numpy (:meth:`ipsbayes.models.base.ModelFamily.log_likelihood` and ``posterior_predictive``: the
regression families without auxiliary parameters) fills them in chunks of draws on the sampler's
cores instead. The groups are built as PyMC builds them: the same variable names, dims, coordinates
and attributes. The log-likelihood is the same number (``tests/test_numpy_log_likelihood.py``); the
predictive draws come from the same distribution with another random stream
(``tests/test_numpy_predictive.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pymc as pm
import xarray as xr
from arviz_base import dict_to_dataset
from pymc.backends.arviz import coords_and_dims_for_inferencedata

from ipsbayes import chunks, prior_density
from ipsbayes.backends import draw_mode
from ipsbayes.models.base import LikelihoodSummary

logger = logging.getLogger("ipsbayes")

#: a family's numpy form: posterior draws in, arrays (chains * draws, *observed shape) by observed variable out
FamilyGroup = Callable[[xr.Dataset], dict[str, np.ndarray] | None]


def add_from_family(
    datatree: xr.DataTree, model: pm.Model, group: str, compute: FamilyGroup | None, cores: int
) -> bool:
    """Add ``group`` from ``compute``; False (nothing added) when it gives nothing that fits.

    It fits when it covers exactly the model's observed variables, each with the observed shape.

    Parameters
    ----------
    datatree : DataTree
        The fit: ``posterior`` and ``observed_data`` groups.
    model : pm.Model
        The model that was sampled (its observed variables, coordinates and dims).
    group : str
        ``"log_likelihood"`` or ``"posterior_predictive"``.
    compute : callable, optional
        The family's numpy form; None: nothing to add.
    cores : int
        Threads the chunks may use (:mod:`ipsbayes.chunks`).
    """
    if compute is None or "observed_data" not in datatree.children:
        return False
    posterior = datatree["posterior"].to_dataset()
    with chunks.threads(cores):
        values = compute(posterior)
    if values is None or set(values) != {rv.name for rv in model.observed_RVs}:
        return False
    observed = datatree["observed_data"].to_dataset()
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    shaped = {}
    for name, array in values.items():
        if name not in observed or array.shape != (chains * draws, *observed[name].shape):
            return False
        shaped[name] = array.reshape(chains, draws, *observed[name].shape)
    coords, dims = coords_and_dims_for_inferencedata(model)
    datatree[group] = xr.DataTree(
        dict_to_dataset(
            shaped,
            inference_library=pm,
            dims=dims,
            coords={**coords, "chain": posterior["chain"].values, "draw": posterior["draw"].values},
            sample_dims=["chain", "draw"],
            skip_event_dims=True,
        )
    )
    return True


def add_likelihood_summary(
    datatree: xr.DataTree,
    model: pm.Model,
    compute: Callable[[xr.Dataset, np.ndarray], dict[str, LikelihoodSummary] | None] | None,
    rows: int,
    seed: int,
    cores: int,
    known_totals: dict[str, np.ndarray] | None = None,
) -> bool:
    """Add the log-likelihood of data too large to store pointwise; False (nothing added) when not available.

    Three groups, each keyed by the observed variable:

    - ``log_likelihood_total`` (chain, draw): the sum over every row, for power-scaling;
    - ``loo_subsample`` (chain, draw, ``<name>_loo_row``): the pointwise values of ``rows`` rows
      drawn without replacement (seeded by ``seed``), for PSIS-LOO on a subsample;
    - ``loo_approximation`` (the observed dims): every row's log-likelihood at the posterior means,
      for the difference estimator of the whole data's elpd (Magnusson et al. 2019).

    Parameters
    ----------
    datatree : DataTree
        The fit: ``posterior`` and ``observed_data`` groups.
    model : pm.Model
        The model that was sampled (its observed variables).
    compute : callable, optional
        The family's :meth:`~ipsbayes.models.base.ModelFamily.log_likelihood_summary` (posterior,
        rows, totals=True) -> summaries; None: nothing to add.
    rows : int
        Rows in the LOO subsample (all rows when there are fewer).
    seed : int
        Seed of the subsample.
    cores : int
        Threads the chunks may use (:mod:`ipsbayes.chunks`).
    known_totals : dict, optional
        Per-draw totals by observed name from the sampler's log density
        (:func:`ipsbayes.prior_density.likelihood_totals`). Used instead of summing every row at every
        draw when they match that sum at a few probe draws; otherwise ignored.
    """
    if compute is None or "observed_data" not in datatree.children:
        return False
    observed = datatree["observed_data"].to_dataset()
    names = {rv.name for rv in model.observed_RVs}
    if not names <= set(observed.data_vars) or any(observed[n].ndim != 1 for n in names):
        return False
    sizes = {observed[n].size for n in names}
    if len(sizes) != 1:
        return False
    n_rows = sizes.pop()
    chosen = np.sort(np.random.default_rng(seed).choice(n_rows, size=min(rows, n_rows), replace=False))
    posterior = datatree["posterior"].to_dataset()
    with chunks.threads(cores):
        known = known_totals if known_totals is not None and _totals_agree(known_totals, posterior, compute) else None
        summaries = compute(posterior, rows=chosen, totals=known is None)
    if summaries is None or set(summaries) != names:
        return False
    if known is not None:
        summaries = {name: replace(summary, total=known[name]) for name, summary in summaries.items()}
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    sample = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
    total, subsample, approximation = {}, {}, {}
    for name, summary in summaries.items():
        total[name] = xr.DataArray(summary.total.reshape(chains, draws), dims=("chain", "draw"), coords=sample)
        row_dim = f"{name}_loo_row"
        subsample[name] = xr.DataArray(
            summary.subsample.reshape(chains, draws, -1),
            dims=("chain", "draw", row_dim),
            coords={**sample, row_dim: summary.rows},
            attrs={"n_rows": n_rows, "seed": seed},
        )
        approximation[name] = observed[name].copy(data=summary.approximation)
    datatree["log_likelihood_total"] = xr.DataTree(xr.Dataset(total))
    datatree["loo_subsample"] = xr.DataTree(xr.Dataset(subsample))
    datatree["loo_approximation"] = xr.DataTree(xr.Dataset(approximation))
    return True


def _totals_agree(known: dict[str, np.ndarray], posterior: xr.Dataset, compute: Callable) -> bool:
    """Whether ``known`` per-draw totals equal the sums over every row at a few draws of every chain.

    Anything that goes wrong while checking counts as a disagreement: the rows are then summed.
    """
    try:
        return _probe(known, posterior, compute)
    except Exception as exc:  # the totals are a shortcut: never a reason for a run to fail
        logger.debug("the sampler's log-likelihood totals were not checked (%s: %s): not used", type(exc).__name__, exc)
        return False


def _probe(known: dict[str, np.ndarray], posterior: xr.Dataset, compute: Callable) -> bool:
    draws = posterior.sizes["draw"]
    picked = np.unique([0, draws // 2, draws - 1])
    probe = compute(posterior.isel(draw=picked), rows=np.arange(1))  # every chain's first, middle and last draw
    if probe is None or set(probe) != set(known):
        return False
    flat = (np.arange(posterior.sizes["chain"])[:, None] * draws + picked[None, :]).ravel()
    for name, summary in probe.items():
        if known[name].shape != (posterior.sizes["chain"] * draws,) or not prior_density.agrees(
            known[name][flat], summary.total
        ):
            logger.debug("the sampler's log-likelihood totals of %s differ from the sums over rows: not used", name)
            return False
    return True


def add_predictive(
    datatree: xr.DataTree,
    model: pm.Model,
    compute: FamilyGroup | None,
    seed: int,
    cores: int,
    draws: int | None,
) -> None:
    """Add ``posterior_predictive``: from every posterior draw, or from at least ``draws`` evenly spaced ones.

    The family's numpy form where it gives one (:func:`add_from_family`), else PyMC's draws.

    With ``draws`` (data too large for per-row draws of every posterior draw) only a family's numpy
    form is used: the predictive checks that read the group are those of the regression families,
    and PyMC's per-draw loop would cost seconds for a group no figure reads (time-to-event models).
    """
    if draws is None:
        if not add_from_family(datatree, model, "posterior_predictive", compute, cores):
            pm.sample_posterior_predictive(
                datatree,
                model=model,
                random_seed=seed,
                progressbar=False,
                extend_inferencedata=True,
                compile_kwargs=draw_mode(model),
            )
        return
    posterior = datatree["posterior"].to_dataset()
    # every step-th draw of each chain; rounding the step down keeps at least `draws` (800 draws: all, not 400)
    step = max(1, posterior.sizes["chain"] * posterior.sizes["draw"] // max(int(draws), 1))
    source = xr.DataTree.from_dict(
        {
            "posterior": posterior.isel(draw=slice(None, None, step)),
            **{g: datatree[g].to_dataset() for g in ("observed_data", "constant_data") if g in datatree.children},
        }
    )
    if add_from_family(source, model, "posterior_predictive", compute, cores):
        predicted = source["posterior_predictive"].to_dataset()
        predicted.attrs["thinning"] = int(step)  # every step-th draw of each chain
        datatree["posterior_predictive"] = xr.DataTree(predicted)


__all__ = ["FamilyGroup", "add_from_family", "add_likelihood_summary", "add_predictive"]
