"""``ipsbayes design CONFIG``: how large should the next trial be? Assurance by simulation.

For each planned size, ``trials`` future trials are simulated and each is analysed with the
same model and priors as the config (O'Hagan, Stevens & Campbell 2005; the probability of
success of RBesT's ``pos2S``, generalised to the CACE model):

1. a parameter vector is drawn from the **design prior**: the posterior of the current trial
   (``design_prior = "posterior"``), or the posterior with ``design_parameters`` (by default
   the treatment effect and the complier control rate) redrawn from a prior set such as the
   MAP prior (``design_prior = "ips_map"``). Uptake of IPS always comes from the current
   posterior (its compliance model), optionally re-centred on a planned uptake with its
   uncertainty (``[design.uptake]``); ``[design.fixed]`` pins parameters (``treatment_effect =
   0`` gives the false-positive rate);
2. participants' covariates are resampled from the current trial, randomised with the planned
   allocation, their principal strata, receipt and outcomes drawn from the model;
3. the trial is analysed with the config's model and priors; it succeeds when
   ``P(estimand > threshold | data) > probability`` (``[design.success]``).

Assurance is the share of successes, with binomial Monte Carlo SE; the expected width of the
estimand's interval comes with its SE too. The compiled model is reused across all simulated
trials of a worker, whatever their size (nutpie ``with_data``). Fits run on Dask like
``ipsbayes validate`` (local cluster, or a scheduler address), or in-process with ``workers = 0``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import ValidationError
from scipy.special import expit

from ipsbayes.config import RunConfig
from ipsbayes.config_problems import pydantic_problems
from ipsbayes.dask_pool import check_scheduler_address, check_scheduler_answers
from ipsbayes.design_spec import (
    MAX_PARTICIPANT_DRAWS,
    MAX_SIZE,
    MAX_TOTAL_TRIALS,
    MIN_SIZE,
    DesignSpec,
    UptakeSpec,
    parse_design,
)
from ipsbayes.errors import ConfigError
from ipsbayes.models import ModelData, ModelFamily, ModelSpec
from ipsbayes.output import releasing_claims
from ipsbayes.priors import PriorSet, default_search_dirs, resolve_prior_set


@dataclasses.dataclass(frozen=True)
class TrialJob:
    """One simulated trial (picklable; everything a Dask worker needs)."""

    size: int
    index: int
    seed: int
    config: RunConfig
    spec: ModelSpec
    priors: PriorSet
    design: DesignSpec
    draw: xr.Dataset  # one design-prior draw (chain = 1, draw = 1)
    frame: pd.DataFrame  # the current trial's participants (covariates are resampled from it)
    arrays: dict[str, np.ndarray]  # its standardised covariate matrices W and X


def design_draws(posterior: xr.Dataset, design: DesignSpec, search: list[Path], names: dict[str, str], seed: int):
    """Design-prior draws (chain = 1): the posterior, some parameters redrawn from a prior set, uptake and pins."""
    import pymc as pm

    keep = [n for n in posterior.data_vars if n in names]
    draws = posterior[keep].stack(sample=("chain", "draw")).transpose("sample", ...)
    size = draws.sizes["sample"]
    draws = draws.drop_vars(["sample", "chain", "draw"], errors="ignore").rename(sample="draw").expand_dims(chain=1)
    draws = draws.assign_coords(chain=[0], draw=np.arange(size))
    if design.design_prior != "posterior":
        prior_set, _ = resolve_prior_set(design.design_prior, names, search_dirs=search)
        with pm.Model():
            for offset, name in enumerate(design.design_parameters):
                rv = prior_set[name].distribution(name)
                values = pm.draw(rv, draws=size, random_seed=seed + offset)
                draws[name] = (("chain", "draw"), np.asarray(values, dtype=float).reshape(1, size))
    for name, value in design.fixed.items():  # a vector parameter (e.g. compliance_beta) keeps its own dims
        draws[name] = (
            xr.full_like(draws[name], float(value))
            if name in draws
            else (("chain", "draw"), np.full((1, size), float(value)))
        )
    return draws


def shift_uptake(draws: xr.Dataset, w: np.ndarray, uptake: UptakeSpec, rng: np.random.Generator) -> xr.Dataset:
    """Move ``compliance_intercept`` per draw so the mean complier probability equals a planned-uptake draw."""
    m, s = uptake.mean, uptake.sd
    n = m * (1 - m) / s**2 - 1
    target = rng.beta(m * n, (1 - m) * n, size=draws.sizes["draw"])
    base = draws["compliance_intercept"].values.reshape(-1)
    slope = draws["compliance_beta"].values.reshape(base.size, -1) if "compliance_beta" in draws else None
    linear = base[:, None] + (slope @ w.T if slope is not None and w.shape[1] else 0.0)
    low, high = np.full(base.size, -20.0), np.full(base.size, 20.0)
    for _ in range(60):  # bisection: mean_i expit(linear + c) is increasing in c
        mid = (low + high) / 2
        above = expit(linear + mid[:, None]).mean(axis=1) > target
        high, low = np.where(above, mid, high), np.where(above, low, mid)
    draws = draws.copy()
    draws["compliance_intercept"] = (("chain", "draw"), (base + (low + high) / 2).reshape(1, -1))
    return draws


def simulate_trial(job: TrialJob, family: ModelFamily, rng: np.random.Generator) -> tuple[pd.DataFrame, ModelData]:
    """A future trial of ``job.size``: resampled covariates, planned allocation, strata and outcomes from the draw."""
    spec = job.spec
    rows = rng.integers(0, len(job.frame), size=job.size)
    n_treated = round(job.design.allocation * job.size)
    z = rng.permutation(np.r_[np.ones(n_treated, int), np.zeros(job.size - n_treated, int)])
    generating = ModelData(
        coords={},
        arrays={"z": z, "d": z.copy(), "y": np.zeros(job.size, int), **{k: v[rows] for k, v in job.arrays.items()}},
    )
    replicated = family.replicate_data(spec, job.draw, xr.Dataset(), generating, rng)
    frame = job.frame.iloc[rows].reset_index(drop=True).copy()
    frame["participant_id"] = [f"S{i + 1:04d}" for i in range(job.size)]
    frame[spec.assignment] = z
    frame[spec.receipt] = replicated["d"]
    frame[spec.outcome] = replicated["y"]
    return frame, dataclasses.replace(generating, arrays={**generating.arrays, **replicated})


def run_trial(job: TrialJob) -> dict[str, Any]:
    """Simulate and analyse one future trial; a failure is a row, never an exception."""
    from ipsbayes.models import get_family
    from ipsbayes.sampling import sample
    from ipsbayes.validation import bundle_from_tables

    family = get_family(job.spec.kind)
    rng = np.random.default_rng(job.seed)
    started = time.perf_counter()
    base = {"size": job.size, "trial": job.index, "seed": job.seed}
    try:
        frame, truth_data = simulate_trial(job, family, rng)
        bundle = bundle_from_tables({"participants": frame}, f"simulated trial {job.size}/{job.index}")
        data = family.prepare(bundle, job.spec, job.config)
        truth_data = dataclasses.replace(truth_data, info=data.info)
        model = family.build(data, job.spec, job.priors)
        fit = sample(
            model, job.config.sampler, job.seed, predictive=False, log_likelihood=False, progress=False,
            reuse_compiled=True,
        )  # fmt: skip
        posterior = fit.datatree["posterior"].to_dataset()
        success = job.design.success
        values = family.estimands(posterior, data, job.spec, job.config)[success.estimand].values.ravel()
        truth = family.estimands(job.draw, truth_data, job.spec, job.config)[success.estimand].values.ravel()
        half = (1 - job.design.interval_prob) / 2
        low, high = np.quantile(values, [half, 1 - half])
        p_above = float(np.mean(values > success.threshold))
        return {
            **base,
            "ok": True,
            "p_above_threshold": p_above,
            "success": p_above > success.probability,
            "posterior_mean": float(values.mean()),
            "interval_width": float(high - low),
            "true_value": float(truth[0]),
            "n_received": int(frame[job.spec.receipt].sum()),
            "divergences": int(fit.datatree["sample_stats"]["diverging"].sum()),
            "compiled_model_reused": bool(fit.settings.get("compiled_model_reused")),
            "seconds": time.perf_counter() - started,
        }
    except Exception as exc:  # counted and reported
        return {
            **base,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=3),
            "seconds": time.perf_counter() - started,
        }


def scale_problems(design: DesignSpec, settings: dict[str, Any], origin: dict[str, str]) -> list[str]:
    """Sizes over :data:`MAX_PARTICIPANT_DRAWS` and totals over :data:`MAX_TOTAL_TRIALS` (empty when none).

    ``settings`` are those of each simulated analysis (:func:`ipsbayes.sampling.resolve_settings`);
    ``origin`` maps ``sizes`` and ``trials`` to the option or key they came from, e.g. ``--sizes``.
    """
    problems = []
    chains, draws = int(settings["chains"]), int(settings["draws"])
    largest = min(MAX_SIZE, MAX_PARTICIPANT_DRAWS // (chains * draws))
    too_large = [n for n in design.sizes if n > largest]
    if too_large:
        fits = f"give sizes of {MIN_SIZE} to {largest:,}" if largest >= MIN_SIZE else "no planned size fits"
        problems.append(
            f"{origin['sizes']}: {', '.join(f'{n:,}' for n in too_large)} participants: each simulated analysis keeps "
            f"{chains} chains x {draws:,} draws (profile '{settings['profile']}') and participants x draws may be "
            f"at most {MAX_PARTICIPANT_DRAWS:,} (about 2 GB per trial); {fits}, or set design.profile to one "
            "with fewer draws (ci: 800)"
        )
    total = len(design.sizes) * design.trials
    if total > MAX_TOTAL_TRIALS:
        problems.append(
            f"{origin['trials']}: {design.trials:,} trials x {len(design.sizes)} sizes ({origin['sizes']}) = "
            f"{total:,} simulated trials; at most {MAX_TOTAL_TRIALS:,} in one command: give at most "
            f"{MAX_TOTAL_TRIALS // len(design.sizes):,} trials for {len(design.sizes)} sizes, or fewer sizes"
        )
    return problems


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Assurance and expected interval width per size, each with its Monte Carlo SE."""
    out = []
    for size, group in rows.groupby("size"):
        ok = group[group["ok"]]
        k = len(ok)
        rate = float(ok["success"].mean()) if k else float("nan")
        width = ok["interval_width"] if k else pd.Series(dtype=float)
        out.append(
            {
                "size": int(size),
                "trials": k,
                "failed": int((~group["ok"]).sum()),
                "assurance": rate,
                "assurance_mcse": float(np.sqrt(max(rate * (1 - rate), 1e-12) / k)) if k else float("nan"),
                "mean_interval_width": float(width.mean()) if k else float("nan"),
                "interval_width_mcse": float(width.std(ddof=1) / np.sqrt(k)) if k > 1 else float("nan"),
                "mean_posterior_mean": float(ok["posterior_mean"].mean()) if k else float("nan"),
                "mean_true_value": float(ok["true_value"].mean()) if k else float("nan"),
                "divergent_fits": int((ok["divergences"] > 0).sum()) if k else 0,
            }
        )
    return pd.DataFrame(out)


def _run_jobs(jobs: list[TrialJob], scheduler: str | None, workers: int | None) -> tuple[list[dict], str]:
    """Run jobs in-process (``workers = 0``) or on Dask; progress on stderr."""
    interactive = sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"1", "true"}
    rows: list[dict] = []
    failures = [0]

    def keep(row: dict) -> None:
        rows.append(row)
        failures[0] += not row["ok"]
        done, failed = len(rows), failures[0]
        if interactive or done == len(jobs) or done % max(1, len(jobs) // 10) == 0:
            end = "\r" if interactive and done < len(jobs) else "\n"
            sys.stderr.write(f"design: {done}/{len(jobs)} simulated trials ({failed} failed){end}")

    if workers == 0 and not scheduler:
        for job in jobs:
            keep(run_trial(job))
        return rows, "in-process"
    from ipsbayes.dask_pool import run_tasks  # the cluster is closed before anything is written

    return rows, run_tasks(run_trial, jobs, scheduler, workers, keep)


@releasing_claims  # a failure or interrupt removes the claimed staging folder
def design(
    config_path: Path | str,
    *,
    trials: int | None = None,
    sizes: list[int] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    seed: int = 1,
    out: Path | str | None = None,
    language: str = "en",
    force: bool = False,
) -> Path:
    """Run ``ipsbayes design CONFIG`` and write the design folder.

    Parameters
    ----------
    config_path : path
        A run config with a ``[design]`` table.
    trials : int, optional
        Simulated trials per size (default ``design.trials``).
    sizes : list of int, optional
        Planned sizes (default ``design.sizes``).
    scheduler : str, optional
        Address of an existing Dask scheduler.
    workers : int, optional
        Local Dask workers (default: CPU count); 0 runs in this process.
    seed : int
        Base seed; trial ``i`` of size ``n`` uses ``seed * 1_000_003 + n * 10_007 + i``.
    out : path, optional
        Output folder (default ``runs/<name>-design``).
    language : {"en", "nb"}
        Language of the report.
    force : bool
        Write into a versioned sibling (``OUT-2``) when ``out`` holds files ipsbayes did not write.

    Returns
    -------
    Path
        The folder with ``assurance.csv``, ``trials.csv``, figures, ``report.html``/``report.md``.
    """
    from ipsbayes.data import read_bundle
    from ipsbayes.report.design_report import study_units, write_design_report
    from ipsbayes.report.standalone import check_language
    from ipsbayes.report.tables import spreadsheet_safe
    from ipsbayes.rundir import atomic_folder, claim_run_output, package_versions, write_json
    from ipsbayes.runner import check
    from ipsbayes.sampling import resolve_settings, sample

    check_language(language)
    if scheduler is not None:  # a malformed address fails before any work starts
        scheduler = check_scheduler_address(scheduler)
        check_scheduler_answers(scheduler)
    started = time.perf_counter()
    # the output location is checked and claimed before any data are read or any model is compiled
    claim = claim_run_output(config_path, out, force=force, kind="design", suffix="-design")
    plan = check(config_path)
    config, family, spec = plan.config, plan.family, plan.spec
    if claim is None:  # only when the config could not be read; check() then raises first
        claim = claim_run_output(config, out, force=force, kind="design", suffix="-design")
    spec_design = parse_design(config, family, spec, str(config_path))
    changes = {k: v for k, v in {"trials": trials, "sizes": sizes}.items() if v is not None}
    try:
        spec_design = DesignSpec.model_validate({**spec_design.model_dump(), **changes}) if changes else spec_design
    except ValidationError as exc:
        problems = [
            p.replace("command line: key 'sizes'", "--sizes").replace("command line: key 'trials'", "--trials")
            for p in pydantic_problems(exc, DesignSpec, "command line")
        ]
        raise ConfigError("Invalid command-line design settings", problems) from None
    fit_config = config.with_overrides(profile=spec_design.profile, cores=1)
    origin = {k: f"--{k}" if k in changes else f"{config_path}: key 'design.{k}'" for k in ("sizes", "trials")}
    if problems := scale_problems(spec_design, resolve_settings(fit_config.sampler), origin):
        raise ConfigError("Too much work for one ipsbayes design command", problems)
    read_bundle(config)
    names = family.prior_names_for(spec)
    search = [config.resolve(config.priors.path)] if config.priors.path else default_search_dirs(config.base_dir)
    if spec_design.posterior_run is not None:
        posterior = xr.open_datatree(config.resolve(spec_design.posterior_run) / "posterior.nc")["posterior"]
        posterior = posterior.to_dataset().load()
        source = f"posterior of run {spec_design.posterior_run}"
        source_nb = f"posterior fra kjøringen {spec_design.posterior_run}"
    else:
        # reuse_compiled: the trials analysed in this process then need no compilation of their own
        fit = sample(
            plan.model, config.sampler, config.seed, predictive=False, log_likelihood=False, reuse_compiled=True
        )
        posterior = fit.datatree["posterior"].to_dataset()
        source = f"posterior of {config.name} fitted now ({config.sampler.profile} profile)"
        source_nb = f"posterior for {config.name} tilpasset nå (profilen {config.sampler.profile})"
    missing = [n for n in names if n not in posterior and n not in spec_design.fixed]
    width = posterior["compliance_beta"].shape[-1] if "compliance_beta" in posterior else 0
    if missing or width != plan.data.arrays["W"].shape[1]:
        raise ConfigError(
            f"{config_path}: the design posterior ({source}) does not match this model: missing {missing}, "
            f"{width} compliance coefficients for {plan.data.arrays['W'].shape[1]} covariates"
        )
    draws = design_draws(posterior, spec_design, search, names, seed)
    rng = np.random.default_rng(seed)
    if spec_design.uptake is not None:
        draws = shift_uptake(draws, plan.data.arrays["W"], spec_design.uptake, rng)
    frame = plan.bundle.participants.frame
    arrays = {k: plan.data.arrays[k] for k in ("W", "X")}
    order = rng.permutation(draws.sizes["draw"])
    jobs = []
    for size in spec_design.sizes:
        for i in range(spec_design.trials):
            pick = int(order[(i + size) % len(order)])
            job_seed = seed * 1_000_003 + size * 10_007 + i
            one = draws.isel(draw=[pick])
            jobs.append(TrialJob(size, i, job_seed, fit_config, spec, plan.priors, spec_design, one, frame, arrays))
    rows, where = _run_jobs(jobs, scheduler, workers)
    table = pd.DataFrame(rows).sort_values(["size", "trial"]).reset_index(drop=True)
    curve = summarise(table)
    success = spec_design.success
    true_values = family.estimands(draws, plan.data, spec, config)[success.estimand].values.ravel()
    prior_source, prior_source_nb = source, source_nb
    if spec_design.design_prior != "posterior":
        redrawn = ", ".join(spec_design.design_parameters)
        prior_source += f"; {redrawn} from prior set '{spec_design.design_prior}'"
        prior_source_nb += f"; {redrawn} fra priorsettet '{spec_design.design_prior}'"
    meta = {
        "config": str(config_path),
        "design": spec_design.model_dump(mode="json"),
        "design_prior_source": prior_source,
        "design_prior_source_nb": prior_source_nb,
        "analysis_prior_set": plan.priors.name,
        "units": study_units({**family.vocabulary(spec), **config.report.labels}),
        "ceiling": float(np.mean(true_values > success.threshold)),
        "seed": seed,
        "where": where,
        "seconds": round(time.perf_counter() - started, 1),
        "fits": len(jobs),
        "failed_fits": int((~table["ok"]).sum()),
        "versions": package_versions(),
    }
    target = claim.target
    with atomic_folder(claim) as staging:
        trials = spreadsheet_safe(table.drop(columns=[c for c in ("traceback",) if c in table]))  # error texts
        trials.to_csv(staging / "trials.csv", index=False, lineterminator="\n", float_format="%.5g")
        curve.to_csv(staging / "assurance.csv", index=False, lineterminator="\n", float_format="%.5g")
        write_json(staging / "provenance.json", meta)
        write_design_report(staging, curve, meta, family.estimand_names(spec)[success.estimand], language)
    return target.resolve()


__all__ = ["DesignSpec", "TrialJob", "design", "parse_design", "run_trial", "simulate_trial", "summarise"]
