"""``ipsbayes map-prior``: from the evidence table to a robust mixture prior set.

Steps: read and check the config and the evidence table (everything before sampling),
fit the meta-analytic model (:mod:`ipsbayes.evidence.model`) with nutpie, gate it on the
usual diagnostics, draw the predictive distribution of a new trial, approximate it by a
normal (or beta) mixture chosen by AIC (:func:`ipsbayes.mixture.automixfit`), add the
vague component, compute effective sample sizes, and write the prior set and a report.

The bridge to the CACE model. The trials report intention-to-treat (ITT) contrasts, in
populations where nearly everyone offered IPS took it up, so their log odds ratios are,
approximately, effects on compliers; where uptake was lower the ITT log OR is diluted
towards zero, which makes the MAP prior for the complier effect slightly sceptical rather
than optimistic. Their control arms estimate the employment rate without IPS of people
who wanted work, which the CACE model's ``complier_control_intercept`` (compliers under
usual follow-up, at average covariates) stands in for. Neither bridge is exact, and
refugees are a population none of the trials studied: hence the robust components, the
optional population shift, and the prior-data conflict check of every run that uses
the prior (:mod:`ipsbayes.conflict`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import expit

from ipsbayes.config import DiagnosticsConfig
from ipsbayes.config_files import read_toml
from ipsbayes.diagnostics import Diagnostics, diagnose
from ipsbayes.errors import OutputError
from ipsbayes.ess import ess, unit_information_sd
from ipsbayes.evidence.config import (
    CONTENT_MARK,
    GENERATED_MARK,
    MapConfig,
    content_digest,
    load_map_config,
    written_unchanged,
)
from ipsbayes.evidence.model import build_map_model, predictive_draws
from ipsbayes.evidence.table import CONTROL, Evidence, read_evidence
from ipsbayes.mixture import Mixture, MixtureFit, automixfit
from ipsbayes.output import claim_output, releasing_claims
from ipsbayes.priors import default_search_dirs
from ipsbayes.sampling import sample

#: MAP quantity -> CACE prior name it becomes
TARGETS = {"effect": "treatment_effect", "control": "complier_control_intercept"}


@dataclass
class MapPart:
    """The MAP prior of one quantity (``effect``: log odds ratio; ``control``: control log-odds or rate)."""

    name: str
    draws: np.ndarray
    fit: MixtureFit
    robust: Mixture
    robust_weight: float
    unit_sd: float | None
    ess: dict[str, float]

    @property
    def mixture(self) -> Mixture:
        """The (non-robust) MAP mixture."""
        return self.fit.mixture

    def draws_summary(self) -> dict[str, float]:
        """Mean, SD and 2.5/50/97.5% quantiles of the MCMC predictive draws."""
        q = np.quantile(self.draws, [0.025, 0.5, 0.975])
        return {
            "mean": float(self.draws.mean()),
            "sd": float(self.draws.std()),
            "q0.025": float(q[0]),
            "q0.5": float(q[1]),
            "q0.975": float(q[2]),
        }


@dataclass
class MapResult:
    """Everything ``map-prior`` computed."""

    config: MapConfig
    evidence: Evidence
    datatree: xr.DataTree
    diagnostics: Diagnostics
    parts: dict[str, MapPart]
    timings: dict[str, float] = field(default_factory=dict)

    def rates(self) -> tuple[float, float | None]:
        """Control and treatment rates at the MAP means (where unit information is evaluated)."""
        control = self.parts["control"]
        if control.mixture.family == "beta":
            return control.mixture.mean(), None
        p0 = float(expit(control.mixture.mean()))
        effect = self.parts.get("effect")
        return p0, (float(expit(control.mixture.mean() + effect.mixture.mean())) if effect else None)


def derive_map(config: MapConfig, *, profile: str | None = None, progress: bool | None = False) -> MapResult:
    """Fit the meta-analytic model and turn its predictive distribution into robust mixtures."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    evidence = read_evidence(config)
    model = build_map_model(evidence, config)
    sampler = config.sampler.model_copy(update={"profile": profile}) if profile else config.sampler
    fit = sample(model, sampler, config.seed, predictive=False, log_likelihood=False, progress=progress)
    timings["sampling"] = time.perf_counter() - started
    hyper = [name for name in ("mu_control", "tau_control", "mu_effect", "tau_effect", "beta") if name in model]
    diagnostics = diagnose(fit.datatree, DiagnosticsConfig(), var_names=hyper)
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed + 1)
    draws = predictive_draws(fit.datatree["posterior"].to_dataset(), config, rng)
    mix = config.mixture
    parts: dict[str, MapPart] = {}
    control = draws["control"] if mix.family == "normal" else expit(draws["control"])
    control_fit = automixfit(control, mix.family, mix.max_components, mix.criterion, mix.aic_penalty, config.seed)
    if mix.family == "beta":
        control_sd = None
        robust = control_fit.mixture.robustify(mix.robust_weight_control, mean=0.5, n=1)
    else:
        control_sd = unit_information_sd(float(expit(control_fit.mixture.mean())))
        robust = control_fit.mixture.robustify(mix.robust_weight_control, sigma=control_sd)
    parts["control"] = _part("control", control, control_fit, robust, mix.robust_weight_control, None)
    if "effect" in draws:
        effect_fit = automixfit(
            draws["effect"], "normal", mix.max_components, mix.criterion, mix.aic_penalty, config.seed
        )
        p0 = float(expit(control_fit.mixture.mean()))
        p1 = float(expit(control_fit.mixture.mean() + effect_fit.mixture.mean()))
        effect_sd = unit_information_sd(p0, p1)
        robust = effect_fit.mixture.robustify(mix.robust_weight_effect, sigma=effect_sd)
        parts["effect"] = _part("effect", draws["effect"], effect_fit, robust, mix.robust_weight_effect, effect_sd)
    timings["mixtures_and_ess"] = time.perf_counter() - started
    return MapResult(config, evidence, fit.datatree, diagnostics, parts, timings)


def _part(
    name: str, draws: np.ndarray, fit: MixtureFit, robust: Mixture, weight: float, unit_sd: float | None
) -> MapPart:
    """ESS in Bernoulli observations (control) or in participants per arm (effect: normal, unit-information SD)."""
    likelihood = "gaussian" if unit_sd is not None else "binomial"
    sigma = unit_sd or 1.0
    values = {
        "elir": ess(fit.mixture, "elir", likelihood, sigma),
        "moment": ess(fit.mixture, "moment", likelihood, sigma),
        "elir_robust": ess(robust, "elir", likelihood, sigma),
        "moment_robust": ess(robust, "moment", likelihood, sigma),
    }
    return MapPart(name, draws, fit, robust, weight, unit_sd, values)


def _base_entries(config: MapConfig) -> tuple[dict[str, Any], Path]:
    """Entries of the base prior set (copied unchanged for parameters the MAP prior does not cover)."""
    search = default_search_dirs(config.source.parent if config.source else None)
    for folder in search:
        path = folder / f"{config.output.base_set}.toml"
        if path.is_file():
            return read_toml(path), path
    from ipsbayes.errors import ConfigError

    raise ConfigError(
        f"output.base_set: no prior set named '{config.output.base_set}' in {', '.join(map(str, search))}"
    )


def prior_set_text(result: MapResult) -> str:
    """The prior-set TOML: the two robust MAP mixtures plus every other entry of the base set."""
    config, evidence = result.config, result.evidence
    base, base_path = _base_entries(config)
    names = ", ".join(evidence.studies)
    evidence_path = config.resolve(config.evidence)
    digest = hashlib.sha256(evidence_path.read_bytes()).hexdigest()[:16]
    entries: dict[str, Any] = {
        "description": f"Robust meta-analytic-predictive (MAP) prior from {evidence.size} IPS trials"
        + (f"; {config.description}" if config.description else "")
    }
    for part_name, parameter in TARGETS.items():
        part = result.parts.get(part_name)
        if part is None or part.mixture.family != "normal":
            continue
        what = "log odds ratio of employment, IPS vs control" if part_name == "effect" else "control-arm log-odds"
        ess_unit = "participants per arm" if part_name == "effect" else "control participants"
        shift = getattr(config.shift, part_name)
        shifted = (
            f" Shifted for the target population by Normal({shift.mu:g}, {shift.sigma:g}): {shift.source}"
            if shift
            else ""
        )
        entries[parameter] = {
            **part.robust.as_prior(),
            "source": (
                f"MAP prior ({what}) for a new trial from {evidence.size} trials ({names}); hierarchical model "
                f"with HalfNormal({getattr(config.hierarchy, part_name + '_tau'):g}) between-trial SD, "
                f"{part.mixture.size}-component mixture ({config.mixture.criterion.upper()}), robust weight "
                f"{part.robust_weight:g} (vague component N(mean, {part.robust.b[-1]:.2f}) = one observation). "
                f"ESS (ELIR, Neuenschwander et al. 2020): {part.ess['elir']:.0f} {ess_unit} before and "
                f"{part.ess['elir_robust']:.0f} after robustification.{shifted} Written by ipsbayes map-prior "
                f"from {config.source.name if config.source else 'a config'}; evidence sha256 {digest}."
            ),
        }
    for key, value in base.items():
        if key not in entries and isinstance(value, dict):
            entries[key] = {**value, "source": f"(as in {config.output.base_set}) {value.get('source', '')}".strip()}
    where = _relative(config.source, config.resolve(config.output.prior_set)) if config.output.prior_set else None
    header = [
        f"{GENERATED_MARK} from {where or config.source or 'a config'}; do not edit by hand, rerun the command.",
        f"# Evidence: {evidence_path.name} (sha256 {digest}), {evidence.size} trials: {', '.join(evidence.studies)}.",
        f"# Left out ({config.columns.verified} not true): {len(evidence.left_out)} rows.",
        f"# Parameters the MAP prior does not cover are copied from {base_path.name}.",
    ]
    body = toml_text(entries)
    header.append(f"{CONTENT_MARK}{content_digest(body)}")
    return "\n".join(comment_safe(line) for line in header) + "\n\n" + body


def comment_safe(text: str) -> str:
    r"""``text`` with line breaks and control characters escaped (``\n``), so a TOML comment stays one comment.

    The evidence table is checked for them (:mod:`ipsbayes.evidence.table`); this is the second line of
    defence for anything else that reaches a comment (file names, column names).
    """
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _relative(path: Path | None, start: Path) -> str | None:
    """``path`` relative to the folder of ``start`` (how a reader of that file finds it)."""
    return None if path is None else os.path.relpath(path.resolve(), start.resolve().parent)


def toml_text(entries: dict[str, Any]) -> str:
    """Flat TOML: top-level scalars, then one table per prior with scalars and one-line lists."""

    def value(item: Any) -> str:
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(float(item)) if isinstance(item, float) else str(item)
        # a valid TOML basic string: JSON escapes C0 controls, quotes and backslashes; TOML also bans DEL
        return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(str(item), ensure_ascii=False))

    lines = [f"{k} = {value(v)}" for k, v in entries.items() if not isinstance(v, dict)]
    for name, table in entries.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]", *(f"{k} = {value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class MapPriorOutput:
    """What ``map-prior`` wrote: the report folder, the prior set in it, and whether it was installed.

    ``installed`` is the ``[output] prior_set`` file when it was created or replaced (``replaced``
    says which); otherwise ``not_installed`` says why it was left alone.
    """

    folder: Path
    prior_set: Path | None
    target: Path | None
    installed: Path | None = None
    replaced: bool = False
    not_installed: str = ""

    def files(self) -> list[Path]:
        """Every file written, in the report folder and outside it."""
        written = sorted(p for p in self.folder.rglob("*") if p.is_file())
        return written + ([self.installed] if self.installed is not None else [])


def install_refusal(*, out_given: bool, profile: str, diagnostics: Diagnostics) -> str:
    """Why a fresh prior set must not replace ``[output] prior_set`` ("" when it may).

    The file named there is committed and used by runs (``priors/ips_map.toml``), so only a
    run that wrote nowhere else on purpose (no ``--out``), at a non-ci profile, whose
    diagnostics gate passed, may replace it.
    """
    if out_given:
        return "--out writes only inside its folder"
    if profile == "ci":
        return "the ci profile is a quick check (too few draws for a prior others will use)"
    if not diagnostics.passed:
        return "the MAP fit failed its diagnostics gate (see the report)"
    return ""


@releasing_claims  # a failure or interrupt removes the claimed staging folder
def map_prior(
    config_path: Path | str,
    *,
    out: Path | str | None = None,
    profile: str | None = None,
    language: str = "en",
    force: bool = False,
) -> MapPriorOutput:
    """Run ``ipsbayes map-prior CONFIG``: derive the robust MAP prior, write the prior set and a report.

    The report folder is claimed before any fitting and written like a run folder
    (:mod:`ipsbayes.output`): an earlier MAP prior folder there is replaced, files
    ipsbayes did not write are kept, anything else there is refused. The prior set is
    always written into that folder. The file ``output.prior_set`` (outside it) is
    (re)written only without ``out``, at a non-ci profile, when the diagnostics gate
    passed (:func:`install_refusal`), and then only when it does not exist or carries
    :data:`~ipsbayes.evidence.config.GENERATED_MARK`, and atomically.

    Parameters
    ----------
    config_path : path
        A map-prior config (see :mod:`ipsbayes.evidence.config`).
    out : path, optional
        Report folder (default ``output.folder`` or ``runs/<name>``); given, nothing is written outside it.
    profile : {"ci", "default", "final"}, optional
        Override the sampler profile.
    language : {"en", "nb"}
        Language of the report.
    force : bool
        Write into a versioned sibling (``OUT-2``) when ``out`` holds files ipsbayes did not write.

    Returns
    -------
    MapPriorOutput
        The report folder (``report.html``, ``report.md``, ``<name>.toml``, ``summary.csv``, figures)
        and what happened to ``output.prior_set``.
    """
    from ipsbayes.report.map_report import write_map_report
    from ipsbayes.rundir import atomic_folder, write_posterior

    started = time.perf_counter()
    config = load_map_config(config_path)
    target = Path(out) if out else (config.resolve(config.output.folder) if config.output.folder else None)
    target = target or Path("runs") / config.name
    inputs = [Path(config_path), config.resolve(config.evidence)]
    claim = claim_output(target, kind="map_prior", force=force, inputs=inputs)
    result = derive_map(config, profile=profile)
    text = prior_set_text(result) if config.design == "two_arm" else None
    result.timings["total"] = time.perf_counter() - started
    with atomic_folder(claim) as staging:
        write_posterior(result.datatree, staging / "posterior.nc")
        if text is not None:
            (staging / f"{config.name}.toml").write_text(text)
        write_map_report(staging, result, language=language)
    folder = claim.target.resolve()
    written = folder / f"{config.name}.toml" if text is not None else None
    install = Path(os.path.normpath(config.resolve(config.output.prior_set))) if config.output.prior_set else None
    if written is None or install is None:
        return MapPriorOutput(folder, written, install)
    why = install_refusal(
        out_given=out is not None, profile=profile or config.sampler.profile, diagnostics=result.diagnostics
    )
    if why:
        return MapPriorOutput(folder, written, install, not_installed=why)
    existed = install.exists()
    write_prior_set(install, text)
    return MapPriorOutput(folder, written, install, installed=install.resolve(), replaced=existed)


def write_prior_set(path: Path, text: str) -> None:
    """Write a generated prior set atomically, never over a file ``ipsbayes map-prior`` did not write."""
    if (path.exists() or path.is_symlink()) and (why := written_unchanged(path)):
        raise OutputError(f"Refusing to overwrite {path}: it {why} (choose another output.prior_set)")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )  # a new file, never a user's
    temporary = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(handle, 0o666 & ~umask)  # as a plain write would make it (mkstemp's file is private)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


__all__ = [
    "MapPart",
    "MapPriorOutput",
    "MapResult",
    "derive_map",
    "install_refusal",
    "map_prior",
    "prior_set_text",
    "write_prior_set",
]
