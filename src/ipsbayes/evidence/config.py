"""The ``ipsbayes map-prior`` config: which historical trials, which hierarchy, which mixture, where to write.

A map-prior config is its own TOML file (e.g. ``priors/map/ips_map.toml``); it is not a run
config, because it fits the evidence table, not participant data. Defaults, and why:

- between-trial SDs ``HalfNormal(1)`` on the log-odds and on the log odds ratio: RBesT's
  recommended conservative default for binary endpoints (Weber et al. 2021). It allows
  large heterogeneity (median SD 0.67, i.e. trial odds ratios spread about twofold around
  their mean), which borrows less than a tighter prior would: the safer direction when
  the new trial is in a population none of the earlier trials studied;
- means ``Normal(0, 2)`` (RBesT's ``beta.prior = 2``): weak, centred on a 50% rate and on no
  effect, so the trials, not the prior, decide where the MAP prior sits;
- robust weight 0.2 for the treatment effect (the value used in RBesT's vignettes and by
  Schmidli et al. 2014) and 0.5 for the control rate: IPS's relative effect has been stable
  across populations (severe mental illness, PTSD, young adults, common mental disorders),
  while a control-arm employment rate depends on the population and its labour market, so
  exchangeability of refugees' control rate with those trials is much less certain;
- mixture selection by AIC with penalty 6 per parameter and up to 4 components (RBesT's
  ``automixfit`` defaults).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ipsbayes.config import SamplerConfig
from ipsbayes.config_files import not_a_regular_file, read_toml
from ipsbayes.config_problems import Number, WholeNumber, pydantic_problems
from ipsbayes.errors import ConfigError


class _Strict(BaseModel):
    """Unknown keys are errors; numbers are typed :data:`Number` (finite) or :data:`WholeNumber` (no booleans)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NormalPrior(_Strict):
    """A normal prior with its reason."""

    mu: Number = 0.0
    sigma: Number = Field(2.0, gt=0)
    source: str = ""


class Columns(_Strict):
    """Column names of the evidence table (one row per trial)."""

    study: str = "study"
    r_control: str = "employed_control"
    n_control: str = "total_control"
    r_treatment: str = "employed_ips"
    n_treatment: str = "total_ips"
    verified: str | None = Field(
        "verified",
        description="yes/no column: rows marked no (or empty) are left out, any other value is an error "
        "(empty key: keep all)",
    )


class HierarchySpec(_Strict):
    """The hierarchical (meta-analytic) model across trials."""

    control_mean: NormalPrior = NormalPrior(mu=0.0, sigma=2.0)
    effect_mean: NormalPrior = NormalPrior(mu=0.0, sigma=2.0)
    control_tau: Number = Field(
        1.0, gt=0, le=1e8, description="HalfNormal scale of the between-trial SD of control log-odds"
    )
    effect_tau: Number = Field(1.0, gt=0, description="HalfNormal scale of the between-trial SD of log odds ratios")
    covariates: list[str] = Field(default_factory=list, description="numeric trial columns that shift the log OR")
    covariate_sigma: Number = Field(1.0, gt=0, description="Normal(0, sigma) prior of each covariate's shift")
    target: dict[str, Number] = Field(default_factory=dict, description="covariate values of the new trial (default 0)")


class ShiftSpec(_Strict):
    """A shift for a target population none of the trials studied (a prior assumption, not estimated)."""

    effect: NormalPrior | None = None
    control: NormalPrior | None = None

    @model_validator(mode="after")
    def _sources(self) -> ShiftSpec:
        for name in ("effect", "control"):
            prior = getattr(self, name)
            if prior is not None and not prior.source.strip():
                raise ValueError(f"shift.{name} needs a 'source': say why the new population differs by this much")
        return self


class MixtureSpec(_Strict):
    """Parametric approximation of the MAP draws, and robustification."""

    family: Literal["normal", "beta"] = Field("normal", description="beta: one-arm designs on the rate scale")
    max_components: WholeNumber = Field(4, ge=1, le=8)
    criterion: Literal["aic", "bic"] = "aic"
    aic_penalty: Number = Field(6.0, gt=0)
    robust_weight_effect: Number = Field(0.2, ge=0, lt=1)
    robust_weight_control: Number = Field(0.5, ge=0, lt=1)
    predictive_per_draw: WholeNumber = Field(2, ge=1, le=50, description="predictive draws per posterior draw")


class OutputSpec(_Strict):
    """What the command writes besides its report folder."""

    prior_set: Path | None = Field(
        None,
        description="prior-set TOML to install (non-ci profile, diagnostics passed, no --out), relative to this config",
    )
    base_set: str = Field("weakly_informative", description="prior set the other parameters are copied from")
    folder: Path | None = Field(None, description="report folder (default runs/<name>)")

    @field_validator("prior_set", "folder", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():  # Path("") would read as the current folder, "."
            raise ValueError("give a path, not an empty string (leave the key out for none)")
        return value


class MapConfig(_Strict):
    """A validated map-prior config."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: WholeNumber = Field(20261122, ge=0, lt=2**32)
    outcome_label: str = Field("employment", description="what the rates are rates of, for the report")
    treatment_label: str = Field("IPS", description="name of the intervention, for the report")
    outcome_label_nb: str = Field("", description="outcome_label in Norwegian (default: 'jobb' for 'employment')")
    treatment_label_nb: str = Field("", description="treatment_label in Norwegian (default: treatment_label)")
    evidence: Path
    design: Literal["two_arm", "one_arm"] = "two_arm"
    include_unverified: bool = False
    columns: Columns = Columns()
    hierarchy: HierarchySpec = HierarchySpec()
    shift: ShiftSpec = ShiftSpec()
    mixture: MixtureSpec = MixtureSpec()
    output: OutputSpec = OutputSpec()
    sampler: SamplerConfig = SamplerConfig(target_accept=0.95)
    source: Path | None = Field(None, exclude=True)

    @field_validator("evidence")
    @classmethod
    def _csv(cls, value: Path) -> Path:
        if value.suffix.lower() != ".csv":
            raise ValueError(f"the evidence table must be a .csv file, got {value.name}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MapConfig:
        if self.design == "two_arm" and self.mixture.family == "beta":
            raise ValueError("mixture.family = 'beta' needs design = 'one_arm' (log odds ratios need normal mixtures)")
        if self.design == "one_arm" and (self.hierarchy.covariates or self.shift.effect is not None):
            raise ValueError("a one-arm design has no treatment effect: drop hierarchy.covariates and shift.effect")
        unknown = set(self.hierarchy.target) - set(self.hierarchy.covariates)
        if unknown:
            raise ValueError(f"hierarchy.target names columns that are not covariates: {', '.join(sorted(unknown))}")
        return self

    def label(self, what: Literal["outcome", "treatment"], language: str) -> str:
        """The outcome's or intervention's words in the report's language (Norwegian falls back to English)."""
        english = self.outcome_label if what == "outcome" else self.treatment_label
        if language != "nb":
            return english
        norsk = self.outcome_label_nb if what == "outcome" else self.treatment_label_nb
        return norsk or NORWEGIAN.get(english, english)

    def resolve(self, path: Path) -> Path:
        """A path from the config, relative to the config's folder."""
        base = self.source.parent if self.source is not None else Path.cwd()
        return path if path.is_absolute() else base / path


def load_map_config(path: Path | str) -> MapConfig:
    """Read and validate a map-prior config; raise one ConfigError listing every problem."""
    path = Path(path)
    raw = read_toml(path)
    if "evidence" not in raw and ("model" in raw or "data" in raw):
        raise ConfigError(
            f"Invalid map-prior config {path}",
            [f"{path} is a run config (it has [model] or [data], and no 'evidence'); use `ipsbayes run {path}`"],
        )
    try:
        config = MapConfig.model_validate({**raw, "source": path})
    except ValidationError as exc:
        raise ConfigError(f"Invalid map-prior config {path}", pydantic_problems(exc, MapConfig, str(path))) from None
    problems = []
    evidence = config.resolve(config.evidence)
    problem = not_a_regular_file(evidence, "a .csv file")
    if problem is not None:
        problems.append(f"{path}: key 'evidence': {problem}")
    target = config.output.prior_set
    if target is not None:
        resolved = config.resolve(target)
        blocking = next((p for p in resolved.parents if p.exists() and not p.is_dir()), None)
        if not str(target).strip() or resolved.suffix != ".toml":
            problems.append(f"{path}: key 'output.prior_set' must be a file name ending in .toml, got {str(target)!r}")
        elif blocking is not None:
            problems.append(
                f"{path}: key 'output.prior_set': {blocking} is a file, so {resolved} cannot be written under it; "
                "give a path inside a folder"
            )
        elif resolved.is_symlink():  # replacing it would turn the link into a file and leave its target stale
            problems.append(
                f"{path}: key 'output.prior_set': {resolved} is a symbolic link (to {os.readlink(resolved)}); name "
                "the file itself, or another file"
            )
        elif resolved.exists() and not resolved.is_file():
            problems.append(f"{path}: key 'output.prior_set': {resolved} exists and is not a regular file")
        elif resolved.exists() and (why := written_unchanged(resolved)):
            problems.append(
                f"{path}: key 'output.prior_set': {resolved} exists and {why}; "
                "refusing to overwrite it (choose another file name, or move it away)"
            )
    if problems:
        raise ConfigError(f"Invalid map-prior config {path}", problems)
    return config


#: Norwegian words for the default labels (other labels need outcome_label_nb / treatment_label_nb)
NORWEGIAN = {"employment": "jobb"}

#: first-line marker of prior sets written by ``ipsbayes map-prior`` (only those are overwritten)
GENERATED_MARK = "# Written by `ipsbayes map-prior`"
#: the header line holding the SHA-256 of the TOML below the header, to tell an edited prior set
CONTENT_MARK = "# Content sha256: "


def content_digest(body: str) -> str:
    """The SHA-256 of a prior set's TOML (the text after its comment header)."""
    import hashlib

    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def written_unchanged(path: Path) -> str:
    """Why the prior set at ``path`` may not be replaced ("" when ``map-prior`` wrote it and it is unchanged).

    A file without the :data:`GENERATED_MARK` is the user's; one whose TOML no longer matches the
    :data:`CONTENT_MARK` it was written with was edited by hand, and is the user's too.
    """
    if path.is_symlink():
        return "is a symbolic link"
    text = path.read_text(errors="replace")
    if GENERATED_MARK not in text[:400]:
        return "was not written by ipsbayes map-prior"
    header, _, body = text.partition("\n\n")
    for line in header.splitlines():
        if line.startswith(CONTENT_MARK) and line[len(CONTENT_MARK) :].strip() != content_digest(body):
            return "was edited since ipsbayes map-prior wrote it"
    return ""
