"""The runner: the only module that knows every stage.

``check`` validates everything that can be validated without sampling (config
schema, model spec, prior set, thresholds, data, graph) and raises one error
listing every problem. ``run`` then samples, diagnoses, computes estimands and
writes the run folder atomically.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# arviz_base before pymc: without jax it records where it was imported from (lazy_loader's inspect.stack),
# which costs 0.03 s with few modules loaded and 0.15 s once pymc's 2,000 are
import arviz_base  # noqa: F401
import numpy as np
import pymc as pm
import xarray as xr

from ipsbayes import chunks, compiler_flags, forked, loo_policy
from ipsbayes import progress as progress_stage
from ipsbayes.compared import compared_names
from ipsbayes.config import RunConfig, config_without_invalid_keys, parse_config
from ipsbayes.config_files import read_toml
from ipsbayes.conflict import prior_data_conflict
from ipsbayes.data import DataBundle, raise_if, read_bundle
from ipsbayes.diagnostics import Diagnostics
from ipsbayes.errors import ConfigError, DiagnosticsGateError, OutputError, did_you_mean
from ipsbayes.models import REGISTRY, ModelData, ModelFamily, ModelSpec
from ipsbayes.models.base import check_estimand_keys, data_as_given
from ipsbayes.output_policy import free_space_problem
from ipsbayes.pipeline import Outputs, build, complete_priors, fit, prepare
from ipsbayes.present.text import choose
from ipsbayes.prior_slots import META_KEYS
from ipsbayes.priors import PriorSet, default_search_dirs
from ipsbayes.priors_alone import PriorsAlone, prior_estimands
from ipsbayes.report import ReportSettings, reproducibility_rows, write_report
from ipsbayes.report.calibration import calibration_of
from ipsbayes.rundir import (
    Run,
    atomic_folder,
    claim_run_output,
    load_run,
    provenance,
    refresh_folder,
    releasing_claims,
    run_attributes,
    write_json,
    write_posterior,
    write_posterior_in_child,
    write_toml,
)
from ipsbayes.sampling import resolve_settings
from ipsbayes.sensitivity import (
    PowerScalingFailed,
    check_sensitivity,
    config_priors,
    expanded_differences,
    power_scaling,
    power_scaling_problems,
    sensitivity_fits,
    variant_data_problems,
)

#: posteriors of at least this many bytes are written on a thread beside the report: below it the
#: writing is mostly Python (many small variables) and would only take turns with the report for the GIL
BACKGROUND_WRITE_BYTES = 200_000_000


@dataclass
class Plan:
    """Everything validated and built, ready to sample."""

    config: RunConfig
    family: ModelFamily
    spec: ModelSpec
    priors: PriorSet
    bundle: DataBundle
    data: ModelData
    model: pm.Model
    timings: dict[str, float] = field(default_factory=dict)


def validate_config(
    source: Path | str | dict[str, Any] | RunConfig,
) -> tuple[RunConfig, ModelFamily, ModelSpec, PriorSet]:
    """Validate config, model spec, prior set and thresholds together; raise one ConfigError listing all problems."""
    if isinstance(source, RunConfig):
        config, problems, raw = source, [], {"model": source.model}
    else:
        path_or_dict = Path(source) if isinstance(source, str) else source
        raw = dict(path_or_dict) if isinstance(path_or_dict, dict) else read_toml(path_or_dict)
        config, problems = parse_config(path_or_dict)
    where = str(source) if isinstance(source, str | Path) else "config"
    family = spec = priors = None
    model_raw = raw.get("model") if isinstance(raw.get("model"), dict) else {}
    kind = model_raw.get("kind") if isinstance(model_raw.get("kind"), str) else None  # else config.py says why
    if kind is not None and kind not in REGISTRY:
        problems.append(
            f"{where}: key 'model.kind': unknown kind '{kind}'{did_you_mean(str(kind), REGISTRY)}; "
            f"valid kinds: {', '.join(sorted(REGISTRY))}"
        )
    elif kind is not None:
        family = REGISTRY[kind]
        spec, spec_problems = family.parse_spec(model_raw, where)
        problems += spec_problems
    checked, broken = (config, set()) if config is not None else _schema_valid_part(source)
    if checked is not None and spec is not None:
        search = (
            [checked.resolve(checked.priors.path)] if checked.priors.path else default_search_dirs(checked.base_dir)
        )
        if "priors" not in broken:
            priors, prior_problems = config_priors(checked, family, spec, search)
            problems += [f"{where}: {p}" for p in prior_problems]
        problems += [f"{where}: {p}" for p in check_estimand_keys(checked, family, spec)]  # a key left out is empty
        if not broken & {"sensitivity", "priors"}:
            problems += [f"{where}: {p}" for p in check_sensitivity(checked, family, spec, search)]
    if problems or config is None or family is None or spec is None or priors is None:
        raise ConfigError(f"Invalid config {where}", problems)
    return config, family, spec, priors


def check(source: Path | str | dict[str, Any] | RunConfig, *, sampling_follows: bool = False) -> Plan:
    """Validate config, priors and data and build the model graph, without sampling.

    Parameters
    ----------
    source : path, dict or RunConfig
        The run config.
    sampling_follows : bool
        The caller samples next: with nutpie, the log-probability at the initial point is then
        checked on the compiled model (:func:`ipsbayes.initial_point.check_initial_point`), not here.

    Raises
    ------
    ConfigError, DataError
        With every problem found (exit code 2).
    ModelError
        If the graph cannot be built or has a non-finite log-probability at its initial point.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    config, family, spec, priors = validate_config(source)
    if getattr(config, "design", None):  # `ipsbayes design` reads it: a typo there fails here, not after a run
        from ipsbayes.design_spec import parse_design

        parse_design(config, family, spec, str(config.source or "config"), run_needed=False)
    bundle = read_bundle(config)
    timings["read_data"] = time.perf_counter() - started
    started = time.perf_counter()
    data = prepare(family, bundle, spec, config)
    raise_if(variant_data_problems(config, family, spec, bundle), "A sensitivity variant does not fit the data")
    pointwise = loo_policy.keeps_pointwise(config, family, data, spec)
    summable = family.subsamples_log_likelihood(data, spec)
    if unfit := [
        *loo_policy.loo_problems(config, family, summable),
        *power_scaling_problems(config, data, pointwise, summable),
    ]:
        where = str(config.source) if config.source else "config"
        raise ConfigError(f"Invalid config {where}", [f"{where}: {problem}" for problem in unfit])
    timings["prepare_data"] = time.perf_counter() - started
    priors = complete_priors(family, spec, data, priors)
    if changed := expanded_differences(config, priors):  # a run folder's config.toml fed back, with changes
        note = (
            f"The priors of {', '.join(changed[:6])}{' and more' if len(changed) > 6 else ''} differ from those "
            "config.toml records as run (priors.expanded): the prior set, a prior set file or the data changed "
            "since (default priors are scaled to the data). The priors used are in the report's Model section."
        )
        data.notes.append(note)
        warnings.warn(note, stacklevel=2)
    started = time.perf_counter()
    nutpie = resolve_settings(config.sampler)["backend"] == "nutpie"
    model = build(family, data, spec, priors, check_initial_point=not (sampling_follows and nutpie))
    timings["build_model"] = time.perf_counter() - started
    return Plan(config, family, spec, priors, bundle, data, model, timings)


def _schema_valid_part(source: Path | str | dict[str, Any]) -> tuple[RunConfig | None, set[str]]:
    """The config without its schema-breaking keys, so their problems do not hide the later checks' ones."""
    try:
        return config_without_invalid_keys(Path(source) if isinstance(source, str) else source)
    except ConfigError:  # unreadable TOML: parse_config has already said so
        return None, set()


def describe_priors(plan: Plan, prob: float = 0.9, draws: int = 500) -> list[str]:
    """What ``ipsbayes check`` prints about priors: each parameter's prior, and what they imply on the users' scale.

    The implied priors are the model's headline estimands computed from prior draws (a prior
    predictive check on the users' scale), e.g. the prior 90% interval of the outcome rate.
    """
    lines = [f"priors ({plan.priors.name}):"]
    for name, prior in plan.priors.priors.items():
        lines.append(f"  {name}: {prior.describe()}  [{prior.source}]")
    try:
        implied = prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config, draws=draws)
    except Exception as exc:  # a prior predictive failure must not hide the rest of the check
        return [*lines, f"implied priors on the users' scale: not computable ({exc})"]
    low, high = (1 - prob) / 2, (1 + prob) / 2
    lines.append(f"implied priors on the users' scale ({prob:.0%} intervals from {draws} prior draws):")
    for name, var in implied.data_vars.items():
        if not var.attrs.get("headline") or not {"chain", "draw"} <= set(var.dims):
            continue
        other = [d for d in var.dims if d not in ("chain", "draw")]
        stacked = var.stack(sample=("chain", "draw"))
        elements = (
            [((), stacked)] if not other else [((str(k),), stacked.sel({other[0]: k})) for k in var[other[0]].values]
        )
        for key, values in elements[:6]:
            a, b = (float(x) for x in np.nanquantile(values.values.ravel(), [low, high]))
            label = f"{name}[{key[0]}]" if key else name
            lines.append(f"  {label} ({var.attrs.get('unit', '')}): {a:.3g} to {b:.3g}  ({var.attrs.get('label', '')})")
    return lines


@releasing_claims  # a failure or interrupt at any stage removes the claimed staging folder
def run(
    source: Path | str | dict[str, Any] | RunConfig,
    *,
    out: Path | str | None = None,
    profile: str | None = None,
    seed: int | None = None,
    strict: bool = False,
    progress: bool | None = None,
    force: bool = False,
) -> Run:
    """Fit the model a config describes and write its run folder.

    Parameters
    ----------
    source : path, dict or RunConfig
        The run config.
    out : path, optional
        Run folder (default ``runs/<name>``). An earlier run folder there is replaced atomically
        (files ipsbayes did not write are kept); anything else there is refused.
    profile : {"ci", "default", "final"}, optional
        Override the config's sampler profile.
    seed : int, optional
        Override the config's seed.
    strict : bool
        Raise :class:`~ipsbayes.errors.DiagnosticsGateError` (exit code 3) after writing the
        run folder when the diagnostics gate fails.
    progress : bool, optional
        Show progress bars (default: on an interactive terminal, off in CI).
    force : bool
        When ``out`` holds something ipsbayes may not replace, write into a versioned sibling
        (``runs/name-2``) instead of refusing; nothing is deleted.

    Returns
    -------
    Run
    """
    started = time.perf_counter()
    claim = claim_run_output(source, out, force=force)  # output checked and claimed before any work
    plan = check(source, sampling_follows=True)
    compiler_flags.use_known_flags()  # what an earlier process's PyTensor found for this CPU and compiler
    progress_stage.done("read data, build model")
    config = plan.config.with_overrides(profile=profile, seed=seed)
    rows = int(plan.data.arrays["y"].size)
    pointwise = loo_policy.keeps_pointwise(config, plan.family, plan.data, plan.spec)
    # what the priors alone imply needs no posterior draws: the sampler's wait computes it beside the chains
    priors_alone = PriorsAlone(plan.family, plan.model, plan.data, plan.spec, config)
    main_fit = fit(
        plan.family,
        plan.spec,
        plan.priors,
        config,
        data=plan.data,
        model=plan.model,
        outputs=Outputs(
            log_likelihood=pointwise,
            log_prior=config.sensitivity.power_scaling,
            likelihood_subsample=0 if pointwise else loo_policy.LOO_SUBSAMPLE_ROWS,
            predictive_draws=None if pointwise else loo_policy.LARGE_DATA_PREDICTIVE_DRAWS,
        ),
        progress=progress,
        while_sampling=priors_alone.during_sampling,
    )
    compiler_flags.keep_found_flags()  # found at the first C compile (the deterministics), for later processes
    timings = {**plan.timings, **main_fit.timings}
    datatree, estimands, diagnostics = main_fit.datatree, main_fit.estimands, main_fit.diagnostics
    if not pointwise:
        plan.data.notes.extend(loo_policy.large_data_notes(datatree, rows, asked=config.diagnostics.loo == "subsample"))
        estimands.attrs["notes"] = json.dumps(plan.data.notes)
    power = config.sensitivity.power_scaling and (pointwise or "log_likelihood_total" in datatree.children)
    step = time.perf_counter()
    datatree["estimands"] = xr.DataTree(estimands)
    alone = priors_alone.result(threads=main_fit.settings["cores"])  # computed while the chains sampled, or now
    shared, implied = alone.draws, alone.estimands
    if alone.failure is not None:
        plan.data.notes.append(
            f"The priors alone could not be drawn ({alone.failure}: a prior this vague gives infinite draws), "
            "so the report shows no estimands implied by the priors and no prior-data conflict check."
        )
        datatree["estimands"].attrs["notes"] = json.dumps(plan.data.notes)
    if implied is not None:
        datatree["prior_estimands"] = xr.DataTree(implied)
        conflict = prior_data_conflict(plan.model, plan.data, plan.priors, datatree, config.seed, prior_draws=shared)
        if conflict is not None:
            datatree["prior_data_conflict"] = xr.DataTree(conflict)
    timings["prior_estimands"] = time.perf_counter() - step
    if alone.while_sampling:  # its seconds overlapped the sampling's
        timings["prior_estimands_while_sampling"] = alone.seconds
    progress_stage.done("prior estimands")
    step = time.perf_counter()
    compared = compared_names(estimands, config.sensitivity.estimands)  # vector estimands element by element
    prior_vars = [f"{name}_{prior.on}" if prior.on else name for name, prior in main_fit.priors.priors.items()]
    try:
        scaled = power_scaling(datatree, estimands, compared, prior_vars) if power else None
    except PowerScalingFailed as exc:  # its message is the report's note
        scaled = None
        main_fit.data.notes.append(str(exc))
    if scaled is not None:
        progress_stage.done("power-scaling sensitivity")
        datatree["power_scaling"] = xr.DataTree(scaled)
    search = [config.resolve(config.priors.path)] if config.priors.path else default_search_dirs(config.base_dir)
    refits = sensitivity_fits(main_fit, plan.bundle, search, progress)
    datatree["estimands"].attrs["notes"] = json.dumps(main_fit.data.notes)  # e.g. a prior set not refitted
    if refits is not None:
        datatree["sensitivity"] = xr.DataTree(refits)
    timings["sensitivity"] = time.perf_counter() - step
    if "constant_data" in datatree.children:  # design matrices as the data gave them (the graph keeps them transposed)
        datatree["constant_data"] = xr.DataTree(data_as_given(datatree["constant_data"].to_dataset()))
    fit_settings = main_fit.settings
    target = claim.target if claim is not None else Path(out) if out is not None else Path("runs") / config.name
    space = free_space_problem(target, data_bytes(datatree))
    if space:
        raise OutputError(space[0].upper() + space[1:])
    resolved = resolved_config(config, main_fit.priors)
    data_files = {
        label: {"path": str(t.path.resolve()), "sha256": plan.bundle.hashes[label], "rows": len(t.frame)}
        for label, t in ((t.label, t) for t in plan.bundle.tables())
    }
    datatree.attrs.update(
        run_attributes(config=resolved, seed=config.seed, data_files=data_files, model_kind=plan.family.kind)
    )
    with atomic_folder(claim if claim is not None else target) as staging:
        step = time.perf_counter()
        write_toml(staging / "config.toml", resolved)
        write_json(staging / "diagnostics.json", diagnostics.to_dict())
        posterior_file = staging / "posterior.nc"
        if forked.available():  # written by a forked child on the second core while the report is drawn
            writing_beside = forked.in_child(functools.partial(write_posterior_in_child, datatree, posterior_file))
        else:  # HDF5 releases the GIL while it writes, so a large posterior is written on a thread
            write = functools.partial(write_posterior, datatree, posterior_file)
            writing_beside = chunks.in_background(write, thread=data_bytes(datatree) >= BACKGROUND_WRITE_BYTES)
        with writing_beside as writing:
            report_started = time.perf_counter()
            settings = report_settings(
                config,
                resolved,
                main_fit.priors,
                fit_settings,
                {"config": str(config.source) if config.source else "(in memory)", "data rows": plan.data.n_rows},
            )
            write_report(staging, datatree, diagnostics, settings)
            timings["report"] = time.perf_counter() - report_started
        timings["write_posterior"] = writing.seconds  # in a child or on a thread: overlaps "report"
        timings["write_posterior_and_report"] = time.perf_counter() - step
        progress_stage.done("report and posterior.nc")  # written together
        write_json(
            staging / "provenance.json",
            provenance(
                config=resolved,
                seed=config.seed,
                sampler=fit_settings,
                data_files=data_files,
                timings=timings,
                started=started,
                model={
                    "kind": plan.family.kind,
                    "title": plan.family.title,
                    "n_rows": plan.data.n_rows,
                    "dims": {k: len(v) for k, v in plan.data.coords.items()},
                },
            ),
        )
    result = load_run(target, datatree=datatree)
    if strict and not diagnostics.passed:
        raise DiagnosticsGateError(f"Diagnostics gate failed for {target} (report written)", diagnostics.messages)
    return result


def data_bytes(datatree: xr.DataTree) -> int:
    """Bytes of every variable's values in the tree (what writing it moves)."""
    return sum(int(var.nbytes) for node in datatree.subtree for var in node.dataset.variables.values())


def resolved_config(config: RunConfig, priors: PriorSet) -> dict[str, Any]:
    """The config as run: defaults filled in, paths absolute, the main table under the key the user gave it.

    ``priors`` keeps the set's name and the user's own ``overrides`` (which the sensitivity refits
    apply to their prior sets) and records the main analysis's priors as run under ``expanded``;
    feeding the file back to ``ipsbayes run`` fits the same priors and the same refits.
    """
    raw = config.model_dump(mode="json", exclude={"source"})
    for key in ("participants", "services", "reviews"):
        path = config.resolve(getattr(config.data, key))
        raw["data"][key] = str(path.resolve()) if path is not None else None
    for name, table in config.data.tables.items():
        raw["data"]["tables"][name]["path"] = str(config.resolve(table.path).resolve())
    if config.data.main_key != "participants":  # a generic config's main table keeps its own key
        raw["data"][config.data.main_key] = raw["data"].pop("participants")
    raw["priors"] = {
        "set": priors.name,
        "overrides": config.priors.overrides,
        **({"path": str(config.resolve(config.priors.path).resolve())} if config.priors.path else {}),
        "expanded": {name: prior.as_dict() for name, prior in priors.priors.items()},
    }
    return raw


def report_settings(
    config: RunConfig, resolved: dict[str, Any], priors: PriorSet, sampler: dict[str, Any], extra: dict[str, Any]
) -> ReportSettings:
    """Presentation settings for :func:`~ipsbayes.report.write_report`."""
    language = config.report.language
    chains, draws, tune = (sampler.get(key, "?") for key in ("chains", "draws", "tune"))
    backend, profile, kind = sampler.get("backend", "?"), sampler.get("profile", "?"), resolved["model"]["kind"]
    subtitle = choose(
        language,
        f"Run '{config.name}' - model {kind} - prior set '{priors.name}' - sampler {backend} ({profile} profile: "
        f"{chains} chains x {draws} draws after {tune} tuning) - seed {config.seed}",
        f"Kjøring '{config.name}' - modell {kind} - priorsett '{priors.name}' - sampler {backend} ({profile}-profil: "
        f"{chains} kjeder x {draws} trekk etter {tune} tilpasningstrinn) - frø {config.seed}",
    )
    reproducibility = {
        **extra,
        "seed": config.seed,
        "sampler": backend,
        "prior set file": str(priors.path) if priors.path else "(expanded in config.toml)",
    }
    return ReportSettings(
        title=config.report.title or config.description or config.name,
        subtitle=subtitle,
        interval_kind=config.report.interval_kind,
        interval_prob=config.report.interval_prob,
        thresholds=dict(config.report.thresholds),
        formats=list(config.report.figure_formats),
        language=config.report.language,
        labels=dict(config.report.labels),
        min_cell=config.report.min_cell,
        figure_width_cm=config.report.figures.width_cm,
        figure_font_size=config.report.figures.font_size,
        figure_dpi=config.report.figures.dpi,
        calibration=calibration_of(config, resolved["model"]["kind"]),
        prior_set=priors.name,
        priors=priors.table(language),
        reproducibility=reproducibility_rows(reproducibility, language),
    )


@releasing_claims
def rerender(run_dir: Path | str) -> Run:
    """Re-render figures, ``summary.csv`` and the reports of an existing run folder (no refit)."""
    from ipsbayes.priors import Prior

    existing = load_run(run_dir)
    config = RunConfig.model_validate({**existing.config, "source": None})
    priors = PriorSet(
        name=existing.config["priors"]["set"],
        description="",
        priors={
            k: Prior(
                v["dist"],
                {p: tuple(x) if isinstance(x, list) else x for p, x in v.items() if p not in META_KEYS},
                v.get("source", ""),
                on=v.get("on"),
                labels=tuple(v.get("labels", ())),
                source_nb=v.get("source_nb", ""),
            )
            for k, v in (existing.config["priors"].get("expanded") or existing.config["priors"]["overrides"]).items()
        },
    )
    settings = report_settings(
        config,
        existing.config,
        priors,
        existing.provenance.get("sampler", {}),
        {
            "run folder": str(existing.path),
            "data sha256": existing.provenance.get("data_sha256"),
            "re-rendered": "yes (figures and report redrawn from posterior.nc)",
        },
    )
    folder = Path(run_dir)
    with refresh_folder(folder) as staging:  # rewrites only the files the run's manifest lists
        for name in ("config.toml", "posterior.nc", "diagnostics.json", "provenance.json"):
            (staging / name).write_bytes((folder / name).read_bytes())
        write_report(staging, existing.datatree, existing.diagnostics, settings)
    return load_run(folder)


__all__ = ["Diagnostics", "Plan", "check", "describe_priors", "rerender", "run", "validate_config"]
