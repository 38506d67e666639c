"""What the priors alone imply: the model's estimands computed from prior draws.

A prior predictive check on the users' scale (what the priors alone say about the CACE, the
outcome rate, ...). It needs no posterior draws, so a run computes it while the chains sample
(:class:`PriorsAlone`, passed to :func:`~ipsbayes.pipeline.fit` as ``while_sampling``).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

from ipsbayes import chunks
from ipsbayes.config import RunConfig
from ipsbayes.conflict import DRAWS as CONFLICT_DRAWS
from ipsbayes.conflict import has_assignment
from ipsbayes.models import ModelData, ModelFamily, ModelSpec
from ipsbayes.sampling import sample_prior_predictive


def prior_estimands(
    family: ModelFamily,
    model: Any,
    data: ModelData,
    spec: ModelSpec,
    config: RunConfig,
    draws: int = 500,
    prior_draws: xr.DataTree | None = None,
) -> xr.Dataset:
    """Estimands implied by the priors alone (prior predictive check on the users' scale).

    ``prior_draws`` (from :func:`~ipsbayes.sampling.sample_prior_predictive`, e.g. shared with the
    prior-data conflict check) saves compiling the prior sampler a second time; its first ``draws`` are used.
    Families with ``prior_draws_only`` draw only the parameters (their estimands need no observed-variable draws).
    """
    if prior_draws is None:
        names = [v.name for v in [*model.free_RVs, *model.deterministics]] if family.prior_draws_only else None
        prior_draws = sample_prior_predictive(model, draws=draws, seed=config.seed, var_names=names)
    prior = prior_draws["prior"].to_dataset().isel(draw=slice(0, draws))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return family.estimands(prior, data, spec, config)


@dataclass
class PriorsAlone:
    """The priors' own draws and the estimands they imply, computed once, while the chains sample if they can.

    Nothing here needs the posterior draws, so a run passes this as ``while_sampling`` to
    :func:`~ipsbayes.pipeline.fit` (nutpie samples on its own threads meanwhile) and reads
    :meth:`result` afterwards, which computes it then if the sampler did not run it. The numbers
    are the same either way: the draws take the run's seed, and the estimands' chunks give the
    same numbers on any number of threads. The prior predictive draws are shared with the
    prior-data conflict check (one compilation) where the data have an assignment column.
    """

    family: ModelFamily
    model: Any
    data: ModelData
    spec: ModelSpec
    config: RunConfig
    #: prior predictive draws (``CONFLICT_DRAWS`` of them), where the conflict check uses them too
    draws: xr.DataTree | None = None
    estimands: xr.Dataset | None = None
    #: the error's class name where the priors could not be drawn (e.g. a prior so vague it gives infinite draws)
    failure: str | None = None
    #: seconds it took; None until computed
    seconds: float | None = None
    #: while the sampler waits, whether it ran there
    while_sampling: bool = False
    _error: Exception | None = field(default=None, repr=False)

    def __call__(self, threads: int | None = None) -> None:
        """Compute it (once); any error but an interrupt is kept for :meth:`result`."""
        if self.seconds is not None:
            return
        started = time.perf_counter()
        try:
            if has_assignment(self.data):
                self.draws = sample_prior_predictive(self.model, CONFLICT_DRAWS, self.config.seed)
            with chunks.threads(threads):
                self.estimands = prior_estimands(
                    self.family, self.model, self.data, self.spec, self.config, prior_draws=self.draws
                )
        except ArithmeticError as exc:  # e.g. InverseGamma(0.001, 0.001): a draw of 0 inverted (PyTensor's scalar path)
            self.draws, self.estimands, self.failure = None, None, type(exc).__name__
        except Exception as exc:  # raised where the run asks for the result, not inside the sampler's wait
            self._error = exc
        self.seconds = time.perf_counter() - started

    def during_sampling(self) -> None:
        """:meth:`__call__` on one thread, beside the chains (what the sampler's wait runs)."""
        if self.seconds is None:
            self.while_sampling = True
            self()

    def result(self, threads: int | None = None) -> PriorsAlone:
        """Computed (now, on up to ``threads`` threads, if not yet); raises the error it met."""
        self(threads)
        if self._error is not None:
            raise self._error
        return self


__all__ = ["PriorsAlone", "prior_estimands"]
