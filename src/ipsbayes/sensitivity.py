"""How much the answers depend on the priors and on model assumptions.

Three tools, all reported side by side with the main fit:

- **prior estimands**: the model's estimands computed from prior draws (a prior
  predictive check on the users' scale: what the priors alone say about the CACE,
  the outcome rate, ...), in :mod:`ipsbayes.priors_alone`;
- **refits**: the same data refitted under other prior sets and model variants
  (e.g. without the exclusion restriction), each with the same sampler settings;
- **power-scaling sensitivity** (Kallioinen et al. 2023, ArviZ ``psense_summary``):
  how much the posterior of each estimand moves when the prior or the likelihood
  is raised to a power near one, without refitting.

Refits and power-scaling compare scalars: a vector estimand (a share per outcome, an effect per
predictor, an incidence per month) is compared element by element (:mod:`ipsbayes.compared`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes import forked
from ipsbayes import progress as progress_stage
from ipsbayes.compared import compared_names, flatten, parent_of, vocabulary_of
from ipsbayes.config import RunConfig
from ipsbayes.data import DataBundle
from ipsbayes.errors import IpsBayesError, did_you_mean
from ipsbayes.models import ModelData, ModelFamily, ModelSpec
from ipsbayes.pipeline import LIGHT, Fitted, complete_priors, fit, prepare
from ipsbayes.priors import Prior, PriorSet, resolve_prior_set
from ipsbayes.resources import available_memory, resident_memory
from ipsbayes.sampling import resolve_settings

MAIN = "main"


def variant_spec(
    family: ModelFamily, spec: ModelSpec, changes: Mapping[str, Any], where: str
) -> tuple[ModelSpec | None, list[str]]:
    """The main spec with ``changes`` applied, validated by the family."""
    return family.parse_spec(deep_merge(spec.model_dump(mode="json", exclude_none=True), changes), where)


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; nested tables are merged key by key, not replaced."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def check_sensitivity(config: RunConfig, family: ModelFamily, spec: ModelSpec, search_dirs: list[Path]) -> list[str]:
    """Problems with ``[sensitivity]``: unknown prior sets, invalid variants, priors a variant lacks."""
    problems = []
    for name in config.sensitivity.prior_sets:
        _, found = config_priors(config, family, spec, search_dirs, name)
        problems += [f"sensitivity.prior_sets '{name}': {p}" for p in found]
    for name, changes in config.sensitivity.variants.items():
        valid_keys = set(family.spec_schema.model_fields) - {"kind"}
        unknown = [k for k in changes if k not in valid_keys]
        for key in unknown:
            problems.append(f"sensitivity.variants.{name}: unknown model key '{key}'{did_you_mean(key, valid_keys)}")
        if unknown:
            continue
        new_spec, found = variant_spec(family, spec, changes, f"sensitivity.variants.{name}")
        problems += found
        if new_spec is not None:
            _, found = config_priors(config, family, new_spec, search_dirs)
            problems += [f"sensitivity.variants.{name}: {p}" for p in found]
    return problems


def config_priors(
    config: RunConfig, family: ModelFamily, spec: ModelSpec, search_dirs: list[Path], name: str | None = None
) -> tuple[PriorSet, list[str]]:
    """Prior set ``name`` (default: the config's ``priors.set``) with ``priors.overrides`` for ``spec``; problems.

    ``priors.expanded`` (what a run folder's config.toml records as run) is a record, never an input:
    a fed-back config with another set or other data gets that set's priors, scaled to those data
    (:func:`expanded_differences` says where they differ from the record).
    """
    return resolve_prior_set(
        name or config.priors.set,
        family.prior_names_for(spec),
        config.priors.overrides,
        search_dirs,
        slots=family.prior_slots(spec),
    )


def expanded_differences(config: RunConfig, priors: PriorSet) -> list[str]:
    """Priors of the main analysis that differ from those ``priors.expanded`` records as run (none without it).

    A run folder's config.toml fed back with the same set, overrides, prior files and data fits the
    recorded priors; an edited set, an edited prior set file or other data (priors scaled to the data)
    give others, and the run says which.
    """
    recorded = config.priors.expanded
    if not recorded:
        return []

    def numbers(entry: dict | None) -> dict | None:  # the prior itself, not its description (source wording)
        return None if entry is None else {k: v for k, v in entry.items() if k not in ("source", "source_nb")}

    now = {name: prior.as_dict() for name, prior in priors.priors.items()}
    return sorted(n for n in set(now) | set(recorded) if numbers(now.get(n)) != numbers(recorded.get(n)))


def variant_data_problems(config: RunConfig, family: ModelFamily, spec: ModelSpec, bundle: DataBundle) -> list[str]:
    """Problems the data raise for each ``[sensitivity.variants]`` model (a formula naming a missing column...).

    Checked with the main model's data before anything is sampled, so a variant that cannot be fitted
    stops ``ipsbayes check`` and ``run`` at once rather than after the main fit.
    """
    problems = []
    for name, changes in config.sensitivity.variants.items():
        variant, _ = variant_spec(family, spec, changes, f"sensitivity.variants.{name}")
        if variant is None:  # its spec problems are reported with the config's
            continue
        try:
            prepare(family, bundle, variant, config)
        except IpsBayesError as exc:
            problems += [f"sensitivity.variants.{name}: {problem}" for problem in exc.problems or [str(exc)]]
    return problems


def power_scaling_problems(config: RunConfig, data: ModelData, pointwise: bool, summable: bool) -> list[str]:
    """Why ``sensitivity.power_scaling`` cannot be done for these data (empty when it can).

    Power-scaling the likelihood needs each draw's log-likelihood. A run that keeps no pointwise
    log-likelihood (``pointwise`` false, :func:`ipsbayes.loo_policy.keeps_pointwise`) keeps it only as
    per-draw totals, which a model that cannot summarise it (``summable`` false,
    :meth:`~ipsbayes.models.base.ModelFamily.subsamples_log_likelihood`) cannot compute; such a run
    would skip power-scaling after the fit, so ``check`` says so first.
    """
    rows = int(data.arrays["y"].size)
    asked = "power_scaling" in config.sensitivity.model_fields_set  # the default is skipped with a note instead
    if not (config.sensitivity.power_scaling and asked) or pointwise or summable:
        return []
    return [
        "sensitivity.power_scaling: power-scaling needs every draw's log-likelihood, and this model "
        f"of {rows:,} likelihood rows (too many to store per row) cannot sum it; set "
        "`sensitivity.power_scaling = false` and refit under other prior sets with `sensitivity.prior_sets` instead"
    ]


def refit(
    main: Fitted,
    bundle: DataBundle,
    spec: ModelSpec,
    priors: PriorSet,
    progress: bool | None = None,
) -> Fitted:
    """Fit ``spec`` with ``priors`` to the main fit's data through the common pipeline (gate included).

    The compiled model is reused across refits of the same structure (prior numbers are model data).
    """
    return fit(
        main.family,
        spec,
        priors,
        main.config,
        bundle=bundle,
        outputs=LIGHT,
        reuse_compiled=True,
        progress=progress,
    )


def sensitivity_fits(
    main: Fitted,
    bundle: DataBundle,
    search_dirs: list[Path],
    progress: bool | None = None,
) -> xr.Dataset | None:
    """Refit under each prior set and model variant; stack the compared scalars along ``analysis``.

    The compared scalars are ``sensitivity.estimands`` or else every headline estimand, a vector
    estimand element by element (:func:`~ipsbayes.compared.compared_names`: ``focus_ame[age: +1 SD
    (4.39)]``), each a variable of its own with its estimand's attributes. A variant lacking one
    (another formula, other contrasts) leaves it out of the comparison (``attrs["not_compared"]``,
    JSON: analysis -> names).

    Every refit passes through the same diagnostics gate as the main fit; the
    status and messages of each analysis are kept in the ``gates`` attribute
    (JSON: analysis -> {"status", "messages"}) so reports can show them beside the numbers.
    Where the cores allow, refits run side by side in forked children (:func:`parallel_refits`),
    with the same numbers as one after another.
    """
    family, config, spec, priors = main.family, main.config, main.spec, main.priors
    settings = config.sensitivity
    names = compared_names(main.estimands, settings.estimands)
    if (not settings.prior_sets and not settings.variants) or not names:
        return None
    labels = dict(config.report.labels)

    def scalars(fitted: Fitted) -> xr.Dataset:  # vector estimands element by element, named as in the main fit
        return flatten(fitted.estimands, names, labels, vocabulary_of(main.estimands))

    label = f"{MAIN} ({priors.name})"
    results = {label: scalars(main)}
    repeated: list[str] = []
    gates = {label: _gate(main)}
    jobs: list[tuple[str, ModelSpec, PriorSet]] = []  # (label, spec, priors) of each refit
    set_changes: dict[str, dict[str, list[str]]] = {}  # what each prior set changes, for the report to say
    for set_name in settings.prior_sets:
        if set_name == priors.name:
            continue
        other, _ = config_priors(config, family, spec, search_dirs, set_name)
        completed = complete_priors(family, spec, main.data, other)
        if _same_numbers(completed, priors):
            repeated.append(set_name)  # its refit would repeat the main analysis draw for draw
            continue
        jobs.append((f"prior set: {set_name}", spec, other))
        set_changes[f"prior set: {set_name}"] = prior_changes(priors, completed, other)
    for variant, changes in settings.variants.items():
        new_spec, _ = variant_spec(family, spec, changes, variant)
        new_priors, _ = config_priors(config, family, new_spec, search_dirs, priors.name)
        jobs.append((f"variant: {variant}", new_spec, new_priors))
    width = parallel_refits(config, len(jobs))

    def compared(job: tuple[str, ModelSpec, PriorSet], bars: bool | None) -> tuple[xr.Dataset, dict[str, Any]]:
        refitted = refit(main, bundle, job[1], job[2], bars)
        return scalars(refitted), _gate(refitted)

    def side_by_side(job: tuple[str, ModelSpec, PriorSet]) -> tuple[xr.Dataset, dict[str, Any]]:
        logger = logging.getLogger("ipsbayes")  # the children's stage lines, progress lines and bars would
        level = logger.level  # interleave: the batch reports one line
        logger.setLevel(logging.WARNING)
        try:
            with progress_stage.reporting(None):
                return compared(job, False)
        finally:
            logger.setLevel(level)  # (where a fork was refused, this ran in the caller)

    for start in range(0, len(jobs), width):
        batch = jobs[start : start + width]
        if len(batch) == 1:
            with progress_stage.group(f"refit, {batch[0][0]}"):
                outcomes = [compared(batch[0], progress)]
        else:
            outcomes = forked.run_all([functools.partial(side_by_side, job) for job in batch], width)
            progress_stage.done(f"refits side by side: {', '.join(label for label, _, _ in batch)}")
        for (label, _, _), (values, gate) in zip(batch, outcomes, strict=True):
            results[label], gates[label] = values, gate
    main.data.notes.extend(
        f"The prior set '{name}' gives this model the same priors as '{priors.name}', so it was not refitted "
        "(its refit would repeat the main analysis draw for draw)."
        for name in repeated
    )
    # a variant may lack an estimand or element (another formula): only what every analysis has is set side by side
    missing = {a: [n for n in names if n not in r.data_vars] for a, r in results.items()}
    kept = [n for n in names if not any(n in lacking for lacking in missing.values())]
    if not kept:  # nothing in common: the analyses lacking the main fit's estimands are left out instead
        results = {a: r for a, r in results.items() if not missing[a]}
        kept = names
    if len(results) < 2:
        return None
    main_scalars = next(iter(results.values()))
    stacked = xr.concat(
        [r[kept] for r in results.values()], dim=pd.Index(list(results), name="analysis"), combine_attrs="override"
    )
    for name in kept:
        stacked[name].attrs = dict(main_scalars[name].attrs)
    stacked.attrs = {
        "variants": json.dumps(settings.variants, default=str),
        "prior_sets": ",".join(settings.prior_sets),
        "gates": json.dumps(gates),
        "not_compared": json.dumps({a: m for a, m in missing.items() if m}),
        "prior_changes": json.dumps({a: c for a, c in set_changes.items() if a in results}),
    }
    return stacked


def prior_changes(main: PriorSet, refit: PriorSet, named: PriorSet) -> dict[str, list[str]]:
    """What a prior-set refit changes against the main analysis, for the report to say.

    Returns ``changed`` ("name: prior" for each parameter whose distribution or numbers differ from
    the main analysis's) and ``defaulted`` (the parameters the set does not name, which take the
    family's defaults: a set written for other parameter names, like the IPS sets for a county design,
    leaves the group SDs at their defaults).
    """
    changed = [
        f"{name}: {prior.describe()}"
        for name, prior in refit.priors.items()
        if name not in main.priors or not _same_prior(prior, main[name])
    ]
    return {"changed": changed, "defaulted": [name for name in refit.priors if name not in named.priors]}


def parallel_refits(config: RunConfig, refits: int) -> int:
    """How many sensitivity refits run side by side: the usable cores over the cores one refit samples on.

    Each refit samples its chains on ``sampler.cores`` cores (by default one per chain, up to the
    machine's cores). Where the machine has room for two or more such refits, and forking is
    available (:func:`ipsbayes.forked.available`), they run in forked children side by side
    (:func:`ipsbayes.forked.run_all`); the numbers are those of refits one after another, since every
    refit samples with the run's seed. On 2 cores with the default settings this is 1. Memory caps it
    too: a child may come to hold a copy of every page of this process it writes, so no more refits
    run at once than the memory available holds copies of this process.
    """
    if refits < 2 or not forked.available():
        return 1
    per_refit = max(1, int(resolve_settings(config.sampler)["cores"]))
    width = min(refits, len(os.sched_getaffinity(0)) // per_refit)
    available, resident = available_memory(), resident_memory()
    if available is not None and resident:
        width = min(width, available // resident)
    return max(1, width)


def _same_numbers(one: PriorSet, other: PriorSet) -> bool:
    """True when two prior sets give every parameter the same distribution and numbers (sources aside)."""
    return one.priors.keys() == other.priors.keys() and all(_same_prior(one[n], other[n]) for n in one.priors)


def _same_prior(one: Prior, other: Prior) -> bool:
    """True when two priors are the same distribution with the same numbers (sources aside)."""
    key = lambda p: (p.dist, json.dumps(p.params, sort_keys=True, default=str), p.on, p.labels)  # noqa: E731
    return key(one) == key(other)


def _gate(fitted: Fitted) -> dict[str, Any]:
    diagnostics = fitted.diagnostics
    return {
        "status": diagnostics.status,
        "messages": diagnostics.messages,
        # parameters in the study's words, as the main fit's findings ("IPS-effekt", not "treatment-effekt")
        "messages_nb": diagnostics.messages_in("nb", vocabulary_of(fitted.estimands)),
    }


def log_likelihood_total(datatree: xr.DataTree) -> xr.Dataset:
    """The log-likelihood summed over every observed variable and observation, per draw.

    Power-scaling the likelihood weights each draw by ``exp((alpha - 1) * total)``; ArviZ's
    ``psense`` and ``power_scale_dataset`` sum the pointwise values themselves, which at 15,000 rows
    cost seconds of stacking and copying per call. Handing them the total gives the same weights.
    """
    if "log_likelihood" not in datatree.children:  # too many rows to store: the fit kept the totals
        summed = datatree["log_likelihood_total"].to_dataset()
        return xr.Dataset({"log_likelihood_total": sum(summed.data_vars.values())})
    pointwise = datatree["log_likelihood"].to_dataset()
    total = None
    for values in pointwise.data_vars.values():
        flat = values.transpose("chain", "draw", ...).values
        flat = flat.reshape(flat.shape[0], flat.shape[1], -1)
        part = flat.sum(axis=-1)  # numpy's sum: xarray's skips NaN through a masked copy, seconds at 15,000 rows
        if not np.all(np.isfinite(part)):
            part = np.nansum(flat, axis=-1)  # as ArviZ sums (NaN skipped)
        total = part if total is None else total + part
    chain, draw = pointwise["chain"], pointwise["draw"]
    return xr.Dataset(
        {"log_likelihood_total": (("chain", "draw"), total)}, coords={"chain": chain.values, "draw": draw.values}
    )


class PowerScalingFailed(Exception):
    """ArviZ could not compute power-scaling sensitivity for this posterior; the message is the report's note."""


def power_scaling(
    datatree: xr.DataTree, estimands: xr.Dataset, names: list[str], prior_names: list[str] | None = None
) -> xr.Dataset | None:
    """ArviZ power-scaling sensitivity of ``names`` to prior and likelihood (None when not computable).

    ``names`` are compared scalars (:func:`~ipsbayes.compared.compared_names`): estimands, or
    elements of vector estimands (``focus_ame[age: +1 SD (4.39)]``). Each vector estimand also
    gets a row under its own name, just before its elements: the largest prior and the largest
    likelihood sensitivity over them, so a question about the estimand as a whole ("does the
    effect depend on the prior?") has one truthful answer. That row has no diagnosis of its own
    (its elements have theirs, so nothing is flagged twice); such rows are listed in
    ``attrs["elements"]`` (JSON: estimand -> its elements' names).

    Only the priors named in the prior set are power-scaled (``prior_names``): the
    standard-normal priors of non-centred group effects are part of the hierarchical
    structure, not a choice to be tested (Kallioinen et al. 2023, section 5).

    Raises
    ------
    PowerScalingFailed
        Where ArviZ cannot fit the importance weights (a degenerate posterior or log prior).
    """
    likelihood = "log_likelihood" in datatree.children or "log_likelihood_total" in datatree.children
    scalars = flatten(estimands, names) if names else xr.Dataset()
    if "log_prior" not in datatree.children or not likelihood or not scalars.data_vars:
        return None
    log_prior = datatree["log_prior"].to_dataset()
    not_scaled: list[str] = []
    if prior_names is not None:
        variables, not_scaled = prior_variables(prior_names, list(log_prior.data_vars))
        log_prior = log_prior[variables]
        if not variables:
            return None
    tree = xr.DataTree.from_dict(
        {
            "posterior": scalars,
            "log_prior": log_prior,
            "log_likelihood": log_likelihood_total(datatree),
        }
    )
    logger = logging.getLogger("arviz_stats.psense")  # its "potential issues" notice: we report them ourselves
    level, logger.level = logger.level, logging.ERROR
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = az.psense_summary(tree, round_to=6)
    except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
        # a degenerate posterior or log prior: ArviZ cannot fit the weights ("All tail values are the same")
        raise PowerScalingFailed(
            f"Power-scaling sensitivity could not be computed for this posterior ({type(exc).__name__}: {exc}); how "
            "much the estimates depend on the priors is shown only by the refits under other prior sets, where the run "
            "has them."
        ) from None
    finally:
        logger.setLevel(level)
    frame = pd.DataFrame(table) if not isinstance(table, pd.DataFrame) else table
    frame.index = [str(i) for i in frame.index]
    frame, elements = with_largest_rows(frame.reindex([n for n in scalars.data_vars if n in frame.index]), estimands)
    frame.index.name = "estimand"
    columns = {str(c): np.asarray(frame[c].to_numpy()) for c in frame.columns}
    index = [str(i) for i in frame.index]
    return xr.Dataset(
        {
            name: xr.DataArray(
                values if values.dtype != object else values.astype(str), dims="estimand", coords={"estimand": index}
            )
            for name, values in columns.items()
        },
        attrs={
            "method": "power-scaling sensitivity (Kallioinen et al. 2023), arviz psense_summary",
            "threshold": 0.05,
            "prior_names": ",".join(log_prior.data_vars),
            "priors_not_scaled": ",".join(not_scaled),
            "elements": json.dumps(elements),
        },
    )


def prior_variables(prior_names: list[str], available: list[str]) -> tuple[list[str], list[str]]:
    """The log-prior variables that hold each named prior's density, and the names that none holds.

    A prior usually has a variable of its own. The SDs and the correlations of correlated group effects
    do not: both densities are inside one LKJ Cholesky variable (``chol_<g>`` in multilevel formulas,
    ``<g>_chol`` in the competing-outcomes model), which is scaled for either name; leaving it out had
    reported such a model as insensitive to those priors.
    """
    variables: list[str] = []
    missing = []
    for name in prior_names:
        candidates = [name] if name in available else []
        if not candidates and name.startswith(("sd_", "corr_")):
            group = name.partition("_")[2]
            candidates = [c for c in (f"chol_{group}", f"{group}_chol") if c in available]
        if candidates:
            variables += [c for c in candidates if c not in variables]
        else:
            missing.append(name)
    return variables, missing


def with_largest_rows(frame: pd.DataFrame, estimands: xr.Dataset) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """``frame`` (one psense row per compared scalar) with a row per vector estimand before its elements.

    The estimand's row holds the largest of each numeric column (prior and likelihood
    sensitivity) over its elements, and empty text (no diagnosis) in the others.

    Returns
    -------
    DataFrame, dict
        The rows, and each vector estimand's elements (its rows' names).
    """
    parents = {key: parent_of(estimands, key) for key in frame.index}
    elements: dict[str, list[str]] = {}
    for key, parent in parents.items():
        if parent is not None:
            elements.setdefault(parent, []).append(key)
    blocks = []
    for key, parent in parents.items():
        if parent is not None and elements[parent][0] == key:
            block = frame.loc[elements[parent]]
            largest = {c: block[c].max() if pd.api.types.is_numeric_dtype(block[c]) else "" for c in block.columns}
            blocks.append(pd.DataFrame([largest], index=[parent]))
        blocks.append(frame.loc[[key]])
    return (pd.concat(blocks) if blocks else frame), elements
