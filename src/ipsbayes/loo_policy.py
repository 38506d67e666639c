"""Which per-row groups a run keeps: every row's log-likelihood (exact PSIS-LOO) or a subsample.

``[diagnostics] loo`` decides (:func:`keeps_pointwise`): ``"exact"`` keeps every row's
log-likelihood and predictive draws; ``"subsample"`` keeps each draw's total, a random subsample of
rows and a point approximation for every row (PSIS-LOO by the difference estimator of Magnusson et
al. 2019), and predictive draws from a few hundred evenly spaced posterior draws; ``"auto"`` keeps
every row up to :data:`EXACT_LOO_ROWS` likelihood rows, and above that where the model can subsample.
The run's notes say what was kept (:func:`large_data_notes`).
"""

from __future__ import annotations

import xarray as xr

from ipsbayes.config import RunConfig
from ipsbayes.models import ModelData, ModelFamily, ModelSpec

#: above this many likelihood rows, per-row draws (log-likelihood, predictive) would not fit in memory
MAX_POINTWISE_ROWS = 50_000
#: ``[diagnostics] loo = "auto"``: above this many likelihood rows a model that can summarise its
#: log-likelihood keeps a subsample instead of every row (post-fit work then grows with the question,
#: not the rows: at 15,000 rows exact LOO and its draws x rows groups cost more than half the fit)
EXACT_LOO_ROWS = 10_000
#: where LOO is subsampled: rows in the subsample (Magnusson et al. 2019) ...
LOO_SUBSAMPLE_ROWS = 2_000
#: ... and posterior draws behind the predictive checks (as many as the PAVA figure's band reads at least)
LARGE_DATA_PREDICTIVE_DRAWS = 500


def keeps_pointwise(config: RunConfig, family: ModelFamily, data: ModelData, spec: ModelSpec) -> bool:
    """Whether a run stores every row's log-likelihood and predictive draws (exact PSIS-LOO).

    ``[diagnostics] loo``: ``"exact"`` always (the memory check before sampling still applies),
    ``"subsample"`` only up to :data:`LOO_SUBSAMPLE_ROWS` rows, whose subsample would be every row
    (:func:`loo_problems` refuses it where the model cannot subsample),
    ``"auto"`` up to :data:`EXACT_LOO_ROWS` likelihood rows, and up to :data:`MAX_POINTWISE_ROWS`
    where :meth:`~ipsbayes.models.base.ModelFamily.subsamples_log_likelihood` says the model cannot
    (it would otherwise lose LOO and power-scaling altogether).
    """
    rows = int(data.arrays["y"].size)
    if config.diagnostics.loo != "auto":  # a subsample of every row would be exact LOO: keep the rows then
        return config.diagnostics.loo == "exact" or rows <= LOO_SUBSAMPLE_ROWS
    if rows > MAX_POINTWISE_ROWS:
        return False
    return rows <= EXACT_LOO_ROWS or not family.subsamples_log_likelihood(data, spec)


def loo_problems(config: RunConfig, family: ModelFamily, summable: bool) -> list[str]:
    """Why ``[diagnostics] loo`` cannot be done as asked (empty when it can); ``summable``: the model can subsample."""
    if config.diagnostics.loo != "subsample" or summable:
        return []
    return [
        f"diagnostics.loo: this {family.kind} model has no form for a subsample of its log-likelihood rows "
        "(only models with a Bernoulli or binomial outcome and no fidelity reviews have one); "
        'write loo = "exact" or loo = "auto"'
    ]


def large_data_notes(datatree: xr.DataTree, rows: int, asked: bool = False) -> list[str]:
    """What a fit that kept no per-row draws kept instead (read from its groups).

    Three notes (the stored log-likelihood, LOO and power-scaling, the predictive checks), each
    with its Norwegian text in :mod:`ipsbayes.present.notes`. ``asked``: the config chose
    ``loo = "subsample"`` (else the rows passed the ``"auto"`` limit).
    """
    limit = EXACT_LOO_ROWS if rows <= MAX_POINTWISE_ROWS else MAX_POINTWISE_ROWS
    notes = [
        f"{rows:,} likelihood rows with loo = 'subsample': the pointwise log-likelihood is not stored."
        if asked
        else f"{rows:,} likelihood rows (more than {limit:,}): the pointwise log-likelihood is not stored "
        "(loo = 'exact' under [diagnostics] keeps it). With discrete covariates, collapse = 'auto' turns "
        "participants into far fewer binomial rows."
    ]
    if "loo_subsample" in datatree.children:
        subsample = next(iter(datatree["loo_subsample"].to_dataset().data_vars.values()))
        notes.append(
            f"LOO is estimated from a simple random subsample of {subsample.shape[-1]:,} rows, with every row's "
            "log-likelihood at the posterior means as the approximation in a difference estimator (Magnusson et "
            "al. 2019); the diagnostics give its SE and, beside it, the SE of the subsampling. Power-scaling "
            "sensitivity uses each draw's total log-likelihood."
        )
    else:
        notes.append("LOO and power-scaling of the likelihood were skipped: this model has no form for summing it.")
    if "posterior_predictive" in datatree.children:
        predicted = datatree["posterior_predictive"].to_dataset()
        n = predicted.sizes["chain"] * predicted.sizes["draw"]
        notes.append(f"Predictive checks use {n:,} evenly spaced posterior draws.")
    else:
        notes.append("Posterior predictive draws were skipped.")
    return notes


__all__ = [
    "EXACT_LOO_ROWS",
    "LARGE_DATA_PREDICTIVE_DRAWS",
    "LOO_SUBSAMPLE_ROWS",
    "MAX_POINTWISE_ROWS",
    "keeps_pointwise",
    "large_data_notes",
    "loo_problems",
]
