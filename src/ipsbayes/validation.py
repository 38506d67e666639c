"""``ipsbayes validate``: is the model calibrated? Many fits, run in parallel on Dask.

Two studies, each over ``K`` simulated data sets:

- **interval coverage**: data from the design's own simulator (which shares no
  code with the model) with fixed true values; for each estimand named in
  ``[validation.truth]``, how often its posterior interval contains the truth
  (nominal 50/80/90/95%), with Monte Carlo standard errors;
- **simulation-based calibration** (Talts et al. 2018; Modrák et al. 2023):
  parameters drawn from the prior, data from the model's generative process, the
  model refitted; the PIT of each true value among its posterior draws must be
  uniform, checked with ArviZ's ECDF-PIT plots.

Fits run as Dask tasks on a local cluster (default) or an existing scheduler.
Compiled models are kept per structure in each worker's memory and in the compile
cache on disk (:mod:`ipsbayes.compile_cache`), shared by all workers and later runs,
so a fit whose structure was compiled before only swaps data (see
:func:`ipsbayes.nutpie_compile.compile_nutpie`). Failed fits are
counted and reported, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.config import RunConfig
from ipsbayes.dask_pool import check_scheduler_address, check_scheduler_answers, run_tasks
from ipsbayes.data import DataBundle, Table
from ipsbayes.errors import ConfigError, DataError, did_you_mean
from ipsbayes.models import ModelData, ModelFamily, ModelSpec
from ipsbayes.pipeline import fit, prepare
from ipsbayes.priors import PriorSet
from ipsbayes.rundir import atomic_folder, claim_run_output, package_versions, releasing_claims, write_json
from ipsbayes.runner import validate_config
from ipsbayes.sampling import sample_prior_predictive

SAMPLE_DIMS = ("chain", "draw")
MAX_RANK_DRAWS = 400
#: SBC scores parameters and headline estimands with at most this many elements each
#: (scalars, per-equation SDs, correlations), not group effects (one per service).
SBC_MAX_ELEMENTS = 8


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker needs for one fit (picklable; no files needed on the worker)."""

    study: str  # "coverage" or "sbc"
    index: int
    seed: int
    config: RunConfig
    spec: ModelSpec
    priors: PriorSet
    bundle: DataBundle | None = None


def lookup(truth: dict[str, Any], dotted: str) -> float:
    """Value at a dotted path such as ``work_or_education_12m.coefficients_per_unit.age``."""
    node: Any = truth
    for part in _split_dotted(dotted):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return float(node)


def coverage_problems(config: RunConfig, family: ModelFamily, spec: ModelSpec, where: str) -> list[str]:
    """What would make every coverage fit of ``ipsbayes validate`` fail, found from one simulated data set.

    The design's simulator runs once (numpy only, no fit): each ``[validation.truth]`` entry must name an
    estimand of this model and a value in the simulator's truth, and the simulated tables must fit the
    model (a CACE config given ``design = "ipsung"`` does not).
    """
    from ipsbayes.simulate import simulate

    settings = config.validation
    if settings.design is None or not settings.truth:
        return []
    problems = []
    estimands = family.estimand_names(spec)
    for key in settings.truth:
        name = key.partition("[")[0]
        if re.search(r"\+1 SD \(", key):  # "ame[age: +1 SD (4.39)]": the SD is the data's, other in every data set
            problems.append(
                f"{where}: key 'validation.truth.{key}': the element names the SD of the observed data, which differs "
                "in every simulated data set, so no fit would find it; compare a quantity whose name does not "
                "depend on the data (a coefficient, e.g. log_odds_per_unit[age], or an estimand without elements)"
            )
            continue
        if name not in estimands:
            problems.append(
                f"{where}: key 'validation.truth.{key}': unknown estimand '{name}'{did_you_mean(name, estimands)}; "
                f"valid: {', '.join(estimands)}"
            )
    try:
        tables, truth = simulate(settings.design, 1, options=settings.options, text=False)
    except ConfigError as exc:
        return [*problems, f"{where}: [validation] {exc.headline}", *exc.problems]
    for key, dotted in settings.truth.items():
        try:
            lookup(truth, dotted)
        except (KeyError, IndexError, ValueError, TypeError):
            top = ", ".join(str(k) for k in truth) if isinstance(truth, dict) else ""
            problems.append(
                f"{where}: key 'validation.truth.{key}': '{dotted}' is not a number in the '{settings.design}' "
                f"simulator's truth.json (its top-level keys: {top})"
            )
    try:
        prepare(family, bundle_from_tables(tables, f"simulated {settings.design}"), spec, config)
    except (ConfigError, DataError) as exc:
        first = exc.problems[0] if exc.problems else exc.headline
        problems.append(
            f"{where}: key 'validation.design': data simulated by '{settings.design}' do not fit this model ({first})"
        )
    return problems


def _split_dotted(dotted: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in dotted:
        depth += char == "["
        depth -= char == "]"
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def select(estimands: xr.Dataset, key: str) -> xr.DataArray:
    """Estimand ``name`` or element ``name[element]`` (e.g. ``log_odds_per_unit[age]``)."""
    name, _, element = key.partition("[")
    values = estimands[name]
    if element:
        dims = [d for d in values.dims if d not in SAMPLE_DIMS]
        labels = [part.strip() for part in element[:-1].split(", ")] if len(dims) > 1 else [element[:-1]]
        values = values.sel(dict(zip(dims, labels, strict=True)))
    return values


def _thin(values: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil(values.size / MAX_RANK_DRAWS)))
    return values[::step]


def score(draws: xr.DataArray, truth: float, probs: list[float], rng: np.random.Generator) -> dict[str, float]:
    """PIT of the truth among (thinned) draws, ties broken at random, and interval coverage per probability."""
    values = np.asarray(draws.transpose(*SAMPLE_DIMS).values).ravel()
    thinned = _thin(values)
    below, ties = np.sum(thinned < truth), np.sum(thinned == truth)
    pit = (below + rng.uniform() * (ties + 1)) / (thinned.size + 1)
    out = {"truth": truth, "mean": float(values.mean()), "sd": float(values.std()), "pit": float(pit)}
    for prob in probs:
        low, high = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2])
        out[f"covered_{prob:g}"] = float(low <= truth <= high)
    return out


def bundle_from_tables(tables: dict[str, pd.DataFrame], label: str) -> DataBundle:
    """A DataBundle from in-memory tables (simulated data never touch the disk)."""
    made = {name: Table(frame, Path(f"<{label}: {name}>"), name) for name, frame in tables.items()}
    return DataBundle(
        participants=made["participants"],
        services=made.get("services"),
        reviews=made.get("reviews"),
        monthly_status=made.get("monthly_status"),
    )


def _fit(family: ModelFamily, job: Job, data: ModelData) -> tuple[xr.Dataset, xr.Dataset, dict[str, Any]]:
    """One calibration fit through the common pipeline: posterior, estimands and the gate's verdict."""
    fitted = fit(family, job.spec, job.priors, job.config, data=data, reuse_compiled=True, progress=False)
    stats = fitted.datatree["sample_stats"].to_dataset()
    quality = {
        "divergences": int(stats["diverging"].sum()),
        "gate": fitted.diagnostics.status,
        "compile_reused": fitted.settings.get("compiled_model_reused"),
    }
    return fitted.posterior, fitted.estimands, quality


def run_job(job: Job) -> list[dict[str, Any]]:
    """One fit of one simulated data set; returns one row per scored quantity (or one failure row)."""
    from ipsbayes.models import get_family
    from ipsbayes.simulate import simulate

    family = get_family(job.spec.kind)
    rng = np.random.default_rng(job.seed + 7919)
    started = time.perf_counter()
    base = {"study": job.study, "dataset": job.index, "seed": job.seed}
    try:
        if job.study == "coverage":
            validation = job.config.validation
            tables, truth = simulate(validation.design, job.seed, options=validation.options, text=False)
            bundle = bundle_from_tables(tables, f"simulated {validation.design} seed {job.seed}")
            data = prepare(family, bundle, job.spec, job.config)
            _posterior, estimands, quality = _fit(family, job, data)
            truths = {key: lookup(truth, dotted) for key, dotted in validation.truth.items()}
            draws = {key: select(estimands, key) for key in truths}
        else:
            data = prepare(family, job.bundle, job.spec, job.config)
            model = family.build(data, job.spec, job.priors)
            prior_tree = sample_prior_predictive(model, draws=1, seed=job.seed)
            prior = prior_tree["prior"].to_dataset()
            replaced = family.replicate_data(job.spec, prior, prior_tree["prior_predictive"].to_dataset(), data, rng)
            data = dataclasses.replace(data, arrays={**data.arrays, **replaced})
            posterior, estimands, quality = _fit(family, job, data)
            parameters = [n for n in posterior.data_vars if n in prior]
            truths, draws = sbc_quantities(prior, posterior, parameters)
            true_estimands = family.estimands(prior, data, job.spec, job.config)
            headline = [
                n for n, var in estimands.data_vars.items() if var.attrs.get("headline") and n in true_estimands
            ]
            more_truths, more_draws = sbc_quantities(true_estimands, estimands, headline)
            truths |= more_truths
            draws |= more_draws
        if not truths:
            raise ValueError("nothing to score: no quantity of this fit matches a true value")
        seconds = time.perf_counter() - started
        return [
            {
                **base,
                "quantity": key,
                "ok": True,
                "seconds": seconds,
                **quality,
                **score(draws[key], value, job.config.validation.probs, rng),
            }
            for key, value in truths.items()
        ]
    except Exception as exc:  # a failed fit is a result: counted and reported
        return [
            {
                **base,
                "quantity": "",
                "ok": False,
                "seconds": time.perf_counter() - started,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=3),
            }
        ]


def sbc_quantities(
    truth: xr.Dataset, posterior: xr.Dataset, names: list[str]
) -> tuple[dict[str, float], dict[str, xr.DataArray]]:
    """True values (one prior draw) and posterior draws of every element of small variables, keyed as ``select`` reads.

    Variables with more than :data:`SBC_MAX_ELEMENTS` elements (group effects) are left
    out, and so are elements that do not vary over the posterior (a correlation
    matrix's unit diagonal): their rank says nothing about calibration.
    """
    truths: dict[str, float] = {}
    draws: dict[str, xr.DataArray] = {}
    for name in names:
        var = posterior[name]
        if not set(SAMPLE_DIMS) <= set(var.dims):
            continue
        dims = [d for d in var.dims if d not in SAMPLE_DIMS]
        if int(np.prod([var.sizes[d] for d in dims])) > SBC_MAX_ELEMENTS:
            continue
        for index in np.ndindex(*[var.sizes[d] for d in dims]):
            where = {d: i for d, i in zip(dims, index, strict=True)}
            values = var.isel(where)
            if float(values.std()) == 0.0:
                continue
            labels = [str(var[d].values[i]) if d in var.coords else str(i) for d, i in where.items()]
            key = f"{name}[{', '.join(labels)}]" if labels else name
            truths[key] = float(truth[name].isel(where).values.ravel()[0])
            draws[key] = values
    return truths, draws


def coverage_table(rows: pd.DataFrame, probs: list[float]) -> pd.DataFrame:
    """Empirical coverage per quantity and nominal probability, with binomial Monte Carlo SE."""
    ok = rows[rows["ok"]]
    out = []
    for (study, quantity), group in ok.groupby(["study", "quantity"], sort=False):
        for prob in probs:
            covered = group[f"covered_{prob:g}"]
            k = len(covered)
            rate = float(covered.mean())
            out.append(
                {
                    "study": study,
                    "quantity": quantity,
                    "nominal": prob,
                    "coverage": rate,
                    "mcse": agresti_coull_se(rate, k),
                    # the binomial SE if coverage were exactly nominal: what a test against the nominal level uses
                    "mcse_nominal": float(np.sqrt(prob * (1 - prob) / k)),
                    "datasets": k,
                    "mean_truth": float(group["truth"].mean()),
                    "mean_posterior_mean": float(group["mean"].mean()),
                }
            )
    return pd.DataFrame(out)


def agresti_coull_se(rate: float, k: int) -> float:
    """SE of a coverage rate from ``k`` data sets, never 0 when every (or no) data set covered the truth.

    The binomial SE ``sqrt(p(1 - p)/k)`` is 0 at p = 0 or 1 whatever ``k``; the Agresti-Coull estimate
    ``(x + 2)/(k + 4)`` is not (as the design report's assurance SE).
    """
    adjusted = (rate * k + 2) / (k + 4)
    return float(np.sqrt(adjusted * (1 - adjusted) / (k + 4)))


def _progress(done: int, total: int, failed: int, started: float, interactive: bool) -> None:
    if interactive:
        elapsed = time.perf_counter() - started
        sys.stderr.write(f"\rvalidate: {done}/{total} fits ({failed} failed) {elapsed:.0f}s")
        sys.stderr.flush()
    elif done == total or done % max(1, total // 10) == 0:
        print(f"validate: {done}/{total} fits ({failed} failed)", file=sys.stderr)


@releasing_claims  # a failure or interrupt removes the claimed staging folder
def validate(
    config_path: Path | str,
    *,
    datasets: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    profile: str = "ci",
    seed: int = 1,
    out: Path | str | None = None,
    sbc: bool | None = None,
    force: bool = False,
) -> Path:
    """Run the coverage and SBC studies for a config and write a validation folder.

    Parameters
    ----------
    config_path : path
        A run config with a ``[validation]`` table.
    datasets : int, optional
        Simulated data sets per study (default ``validation.datasets``).
    scheduler : str, optional
        Address of an existing Dask scheduler; default a local cluster.
    workers : int, optional
        Workers of the local cluster (default: CPU count).
    profile : {"ci", "default", "final"}
        Sampler profile of every fit.
    seed : int
        Base seed; data set ``k`` uses ``seed * 100_003 + k``.
    out : path, optional
        Output folder (default ``runs/<name>-validation``).
    sbc : bool, optional
        Run simulation-based calibration too (default ``validation.sbc``).
    force : bool
        Write into a versioned sibling (``OUT-2``) when ``out`` holds files ipsbayes did not write.

    Returns
    -------
    Path
        The validation folder (``report.html``, ``report.md``, ``coverage.csv``, ``fits.csv``, figures).
    """
    from ipsbayes.data import read_bundle
    from ipsbayes.report.tables import spreadsheet_safe
    from ipsbayes.report.validation_report import write_validation_report
    from ipsbayes.simulate import make_design

    if scheduler is not None:  # a malformed address fails before any work starts
        scheduler = check_scheduler_address(scheduler)
        check_scheduler_answers(scheduler)
    config, family, spec, priors = validate_config(config_path)
    claim = claim_run_output(config, out, force=force, kind="validation", suffix="-validation")
    if datasets is not None and not 1 <= datasets <= 10_000:
        raise ConfigError(f"datasets must be between 1 and 10,000, got {datasets}")
    settings = config.validation
    if settings.design is None or not settings.truth:
        raise ConfigError(f"{config_path}: [validation] needs 'design' and 'truth' to run ipsbayes validate")
    try:  # every simulator option is checked before any worker starts
        make_design(settings.design, settings.options, text=False)
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: [validation] {exc.headline}", exc.problems) from None
    if problems := coverage_problems(config, family, spec, str(config_path)):  # else every coverage fit would fail
        raise ConfigError(f"Invalid [validation] in {config_path}", problems)
    k = settings.datasets if datasets is None else datasets
    run_sbc = settings.sbc if sbc is None else sbc
    fit_config = config.with_overrides(profile=profile, cores=1)
    bundle = read_bundle(config) if run_sbc else None
    jobs = [Job("coverage", i, seed * 100_003 + i, fit_config, spec, priors) for i in range(k)]
    if run_sbc:
        jobs += [Job("sbc", i, seed * 100_003 + 50_000 + i, fit_config, spec, priors, bundle) for i in range(k)]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    interactive = sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"1", "true"}
    count = {"done": 0, "failed": 0}

    def keep(result: list[dict[str, Any]]) -> None:
        rows.extend(result)
        count["done"] += 1
        count["failed"] += not all(row["ok"] for row in result)
        _progress(count["done"], len(jobs), count["failed"], started, interactive)

    where = run_tasks(run_job, jobs, scheduler, workers, keep)  # the cluster is closed before anything is written
    if interactive:
        sys.stderr.write("\n")
    table = pd.DataFrame(rows)
    coverage = coverage_table(table, settings.probs)
    target = claim.target
    meta = {
        "config": str(config_path),
        "datasets_per_study": k,
        "profile": profile,
        "seed": seed,
        "scheduler": where,
        "sbc": run_sbc,
        "design": settings.design,
        "options": settings.options,
        "seconds": round(time.perf_counter() - started, 1),
        "fits": len(jobs),
        "failed_fits": int((~table.drop_duplicates(["study", "dataset"])["ok"]).sum()),
        "versions": package_versions(),
        "model": family.kind,
        "prior_set": priors.name,
    }
    with atomic_folder(claim) as staging:
        fits = spreadsheet_safe(table.drop(columns=[c for c in ("traceback",) if c in table], errors="ignore"))
        fits.to_csv(staging / "fits.csv", index=False, lineterminator="\n")  # quantities name the data's levels
        spreadsheet_safe(coverage).to_csv(
            staging / "coverage.csv", index=False, lineterminator="\n", float_format="%.4g"
        )
        write_json(staging / "provenance.json", meta)
        write_validation_report(staging, table, coverage, meta, config)
    return target.resolve()


__all__ = ["Job", "coverage_table", "run_job", "score", "validate"]
