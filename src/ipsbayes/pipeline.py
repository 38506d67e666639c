"""One fit, end to end: prepare -> build -> sample -> diagnostics gate -> estimands.

Every fit in ipsbayes goes through :func:`fit`: the main fit of ``ipsbayes run``,
the sensitivity refits under other prior sets and model variants, the many fits
of ``ipsbayes validate`` and the test helpers. So every fit anywhere gets the
same data checks, the same sampler seam and the same diagnostics gate, and a
sensitivity table can never show numbers from a fit nobody checked.

The data a caller hands in are never changed: :func:`prepare` works on a copy
of the tables (missing-value policies, recoding of binary columns and joins all
happen on that copy).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymc as pm
import xarray as xr

from ipsbayes import chunks
from ipsbayes import progress as progress_stage
from ipsbayes.config import RunConfig
from ipsbayes.data import DataBundle
from ipsbayes.diagnostics import Diagnostics, diagnose
from ipsbayes.errors import ModelError
from ipsbayes.initial_point import InitialPointError, nonfinite_initial_logps
from ipsbayes.models import ModelData, ModelFamily, ModelSpec
from ipsbayes.priors import PriorSet
from ipsbayes.sampling import resolve_settings, sample


@dataclass(frozen=True)
class Outputs:
    """Which groups a fit adds besides the posterior (each costs time at large sizes).

    Attributes
    ----------
    log_likelihood : bool
        Pointwise log-likelihood (LOO, Pareto k, power-scaling).
    predictive : bool
        Posterior predictive draws (predictive checks).
    log_prior : bool
        Log prior density per draw (power-scaling sensitivity).
    likelihood_subsample : int
        Without ``log_likelihood``: the per-draw total log-likelihood and the pointwise values of a
        random subsample of this many rows (power-scaling, subsampled LOO); 0: neither.
    predictive_draws : int, optional
        Predictive draws from about this many evenly spaced posterior draws (None: every draw).
    """

    log_likelihood: bool = True
    predictive: bool = True
    log_prior: bool = False
    likelihood_subsample: int = 0
    predictive_draws: int | None = None


#: refits and validation fits: posterior and gate only
LIGHT = Outputs(log_likelihood=False, predictive=False, log_prior=False)


@dataclass
class Fitted:
    """A finished fit: what was fitted, its draws, its estimands and its gate."""

    family: ModelFamily
    spec: ModelSpec
    priors: PriorSet
    config: RunConfig
    data: ModelData
    model: pm.Model
    datatree: xr.DataTree
    estimands: xr.Dataset
    diagnostics: Diagnostics
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset."""
        return self.datatree["posterior"].to_dataset()


def prepare(family: ModelFamily, bundle: DataBundle, spec: ModelSpec, config: RunConfig) -> ModelData:
    """Validate the data against ``spec`` and build the model's arrays, leaving ``bundle`` untouched.

    Raises
    ------
    DataError
        Listing every problem in the data (exit code 2).
    """
    return family.prepare(bundle.copy(), spec, config)


def complete_priors(family: ModelFamily, spec: ModelSpec, data: ModelData, priors: PriorSet) -> PriorSet:
    """The prior set with the family's data-scaled defaults for every parameter it left out.

    Defaults depend on the data (e.g. group SDs relative to the outcome's SD), so they are
    filled in after :func:`prepare`; what each parameter gets is then listed by ``ipsbayes check``
    and in the report's prior table. A family returns None for a parameter the data make
    unnecessary (a correlation prior for a block that turned out to have one column).
    """
    needed = family.prior_names_for(spec)
    defaults = family.default_priors(spec, data)
    missing = [name for name in needed if name not in priors]
    extra = [name for name, prior in defaults.items() if name not in needed and name.startswith("corr_") and prior]
    if not missing and not extra:
        return priors
    absent = [name for name in missing if name not in defaults]
    if absent:
        raise ModelError(f"The {family.kind} model has no prior for: {', '.join(absent)}")
    # a default of None: the parameter is not part of the model with these data (e.g. no correlation to model)
    completed = {name: priors[name] if name in priors else defaults[name] for name in needed}
    # parameters only the data reveal (an LKJ prior for a categorical varying effect) take their default
    completed |= {name: prior for name, prior in defaults.items() if name not in needed and name.startswith("corr_")}
    return dataclasses.replace(priors, priors={k: v for k, v in completed.items() if v is not None})


def build(
    family: ModelFamily, data: ModelData, spec: ModelSpec, priors: PriorSet, *, check_initial_point: bool = True
) -> pm.Model:
    """Build the model graph and check its log-probability is finite at the initial point.

    Parameters
    ----------
    family, data, spec, priors
        What to build.
    check_initial_point : bool
        Compile PyMC's per-variable log-probabilities and evaluate them at the initial point
        (0.2-0.9 s). :func:`fit` leaves this to the sampler when it samples with nutpie: the
        compiled model's log-density is evaluated there in microseconds, and the per-variable
        check runs only if that value is not finite (:func:`ipsbayes.initial_point.check_initial_point`).

    Raises
    ------
    ModelError
        If the graph cannot be built, naming the family, or if some variable's
        log-probability is not finite at the initial point.
    """
    try:
        model = family.build(data, spec, priors)
        bad = nonfinite_initial_logps(model) if check_initial_point else []
    except Exception as exc:  # a bug or an impossible spec: say which model failed
        raise ModelError(f"Could not build the {family.kind} model: {exc}") from exc
    if bad:
        raise _initial_point_error(family, bad)
    return model


def _initial_point_error(family: ModelFamily, bad: list[str]) -> ModelError:
    return ModelError(
        f"The {family.kind} model has a non-finite log-probability at its initial point for: "
        f"{', '.join(bad)}; check priors and data"
    )


def fit(
    family: ModelFamily,
    spec: ModelSpec,
    priors: PriorSet,
    config: RunConfig,
    *,
    bundle: DataBundle | None = None,
    data: ModelData | None = None,
    model: pm.Model | None = None,
    outputs: Outputs = LIGHT,
    reuse_compiled: bool = False,
    progress: bool | None = None,
    while_sampling: Callable[[], object] | None = None,
) -> Fitted:
    """Fit one model end to end and put it through the diagnostics gate.

    Parameters
    ----------
    family, spec, priors, config
        What to fit: the model family, its validated spec, the resolved prior set and the run config
        (sampler settings, seed, gate thresholds).
    bundle : DataBundle, optional
        Raw tables; prepared on a copy when ``data`` is not given.
    data : ModelData, optional
        Already prepared arrays (e.g. data simulated for calibration); skips preparation.
    model : pm.Model, optional
        An already built graph for ``data``; skips building.
    outputs : Outputs
        Extra groups to compute after sampling (default: none, as for refits).
    reuse_compiled : bool
        Reuse a compiled model of the same structure from earlier fits in this process.
    progress : bool, optional
        Sampler progress bars (default: on an interactive terminal only).
    while_sampling : callable, optional
        Work that does not need the draws, run while the chains sample where the sampler allows it
        (:func:`~ipsbayes.sampling.sample`); it must keep its own errors.

    Returns
    -------
    Fitted
    """
    timings: dict[str, float] = {}
    if data is None:
        if bundle is None:
            raise TypeError("fit() needs either bundle or data")
        started = time.perf_counter()
        data = prepare(family, bundle, spec, config)
        timings["prepare_data"] = time.perf_counter() - started
    priors = complete_priors(family, spec, data, priors)
    if model is None:
        started = time.perf_counter()
        nutpie = resolve_settings(config.sampler)["backend"] == "nutpie"
        model = build(family, data, spec, priors, check_initial_point=not nutpie)
        timings["build_model"] = time.perf_counter() - started
    try:
        sampled = sample(
            model,
            config.sampler,
            config.seed,
            progress=progress,
            log_likelihood=outputs.log_likelihood,
            predictive=outputs.predictive,
            log_prior=outputs.log_prior,
            reuse_compiled=reuse_compiled,
            likelihood_subsample=outputs.likelihood_subsample,
            predictive_draws=outputs.predictive_draws,
            while_sampling=while_sampling,
            family_groups={
                "log_likelihood": functools.partial(family.log_likelihood, data=data, spec=spec),
                "log_likelihood_summary": functools.partial(family.log_likelihood_summary, data=data, spec=spec),
                "posterior_predictive": functools.partial(
                    family.posterior_predictive, data=data, spec=spec, seed=config.seed
                ),
            },
        )
    except InitialPointError as exc:
        raise _initial_point_error(family, exc.names) from exc
    timings |= sampled.timings
    observed = sampled.datatree["observed_data"] if "observed_data" in sampled.datatree.children else None
    response = data.info.get("response")
    if data.info.get("collapsed_from") and observed is not None and response in observed.data_vars:
        observed[response].attrs["collapsed_from"] = int(data.info["collapsed_from"])  # its LOO rows are patterns
    with chunks.threads(sampled.settings["cores"]):  # the sampler's cores are free again: its chains are done
        estimands, diagnostics = _estimands_and_diagnostics(family, spec, config, data, sampled.datatree, timings)
    progress_stage.done("estimands and diagnostics")
    return Fitted(
        family=family,
        spec=spec,
        priors=priors,
        config=config,
        data=data,
        model=model,
        datatree=sampled.datatree,
        estimands=estimands,
        diagnostics=diagnostics,
        settings=sampled.settings,
        timings=timings,
    )


def _estimands_and_diagnostics(
    family: ModelFamily,
    spec: ModelSpec,
    config: RunConfig,
    data: ModelData,
    datatree: xr.DataTree,
    timings: dict[str, float],
) -> tuple[xr.Dataset, Diagnostics]:
    started = time.perf_counter()
    estimands = family.estimands(datatree["posterior"].to_dataset(), data, spec, config)
    estimands.attrs.update(
        {
            "model_kind": family.kind,
            "model_title": family.title,
            **descriptions(family, spec, data),
            "notes": json.dumps(data.notes),
        }
    )
    # the family's own words win (a family may store only what the config names, leaving the rest to the report)
    estimands.attrs.setdefault("vocabulary", json.dumps(family.vocabulary(spec, data)))
    timings["estimands"] = time.perf_counter() - started
    started = time.perf_counter()
    words = json.loads(estimands.attrs["vocabulary"]) if isinstance(estimands.attrs["vocabulary"], str) else None
    diagnostics = diagnose(datatree, config.diagnostics, words=words)  # parameters named in the study's words
    timings["diagnostics"] = time.perf_counter() - started
    return estimands, diagnostics


def descriptions(family: ModelFamily, spec: ModelSpec, data: ModelData) -> dict[str, str]:
    """The fitted model described in English (``model_description``) and Norwegian (``model_description_nb``).

    Families whose ``describe`` takes no ``language`` get the English text only.
    """
    import inspect

    out = {"model_description": family.describe(spec, data)}
    if "language" in inspect.signature(family.describe).parameters:
        out["model_description_nb"] = family.describe(spec, data, language="nb")
    return out


__all__ = ["LIGHT", "Fitted", "Outputs", "build", "complete_priors", "descriptions", "fit", "prepare"]
