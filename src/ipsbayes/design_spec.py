"""The ``[design]`` table of a run config (``ipsbayes design``): what it may say, checked against the model.

:mod:`ipsbayes.assurance` simulates and analyses the planned trials; this module holds the table's
schema (sizes, allocation, design prior, success rule, planned uptake, pinned parameters) and
:func:`parse_design`, which checks it against the model and its prior sets and raises one
:class:`~ipsbayes.errors.ConfigError` listing every problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ipsbayes.config import MAX_DATASETS, RunConfig
from ipsbayes.config_problems import Number, WholeNumber, WholePercent, pydantic_problems
from ipsbayes.errors import ConfigError, did_you_mean
from ipsbayes.models import ModelFamily, ModelSpec
from ipsbayes.priors import default_search_dirs, resolve_prior_set


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SuccessSpec(_Strict):
    """When a simulated trial counts as a success: ``P(estimand > threshold) > probability``."""

    estimand: str = "cace"
    threshold: Number = 0.0
    probability: Number = Field(0.95, gt=0, lt=1)


class UptakeSpec(_Strict):
    """Planned share of compliers (taking IPS up when offered), with its uncertainty (a beta distribution)."""

    mean: Number = Field(gt=0, lt=1)
    sd: Number = Field(gt=0)

    @model_validator(mode="after")
    def _feasible(self) -> UptakeSpec:
        if self.sd**2 >= self.mean * (1 - self.mean):
            raise ValueError(f"sd {self.sd} is too large for a share with mean {self.mean} (need sd^2 < m(1-m))")
        return self


#: smallest planned trial size (participants) the design command simulates
MIN_SIZE = 8
#: largest planned size: one simulated trial of 10,000 at the ci profile takes 20 s and 0.8 GB on one core
MAX_SIZE = 10_000
#: participants x posterior draws of one simulated analysis, at about 100 bytes each (2 GB measured for 2,000
#: participants x 10,000 draws, the final profile): up to 5,000 participants at the default profile, 2,000 at final
MAX_PARTICIPANT_DRAWS = 20_000_000
#: planned sizes, and simulated trials (sizes x trials, each a Dask task of about 20 kB), in one command
MAX_PLANNED_SIZES, MAX_TOTAL_TRIALS = 20, 50_000


class DesignSpec(_Strict):
    """The ``[design]`` table of a run config."""

    sizes: list[WholeNumber] = Field(default_factory=lambda: [66, 100, 150, 200, 300, 400, 600])
    allocation: Number = Field(0.5, gt=0, lt=1, description="share randomised to the intervention")
    trials: WholeNumber = Field(200, ge=1, le=MAX_DATASETS, description="simulated trials per size")
    design_prior: str = Field("posterior", description="'posterior' or a prior-set name (e.g. ips_map)")
    design_parameters: list[str] = Field(default_factory=lambda: ["treatment_effect", "complier_control_intercept"])
    posterior_run: Path | None = Field(None, description="run folder whose posterior is the design prior")
    success: SuccessSpec = SuccessSpec()
    interval_prob: WholePercent = Field(0.9, description="a whole percentage, 0.01 to 0.99")
    uptake: UptakeSpec | None = None
    fixed: dict[str, Number] = Field(default_factory=dict)
    profile: Literal["ci", "default", "final"] = Field("ci", description="sampler profile of each simulated analysis")

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        outside = [n for n in value if not MIN_SIZE <= n <= MAX_SIZE]
        if not value or outside:  # pydantic_problems adds the value given
            raise ValueError(f"give planned sizes of at least {MIN_SIZE} participants and at most {MAX_SIZE:,}")
        if len(set(value)) > MAX_PLANNED_SIZES:
            raise ValueError(f"give at most {MAX_PLANNED_SIZES} planned sizes, not {len(set(value))}")
        return sorted(set(value))


def parse_design(
    config: RunConfig, family: ModelFamily, spec: ModelSpec, where: str, *, run_needed: bool = True
) -> DesignSpec:
    """Validate ``[design]`` against the model: estimand, parameter names, prior sets, run folder; one error.

    ``run_needed`` False (``ipsbayes check``): the ``design.posterior_run`` folder may not exist yet.
    """
    raw = getattr(config, "design", None) or {}
    if not raw:
        raise ConfigError(f"{where}: no [design] table; add one (see README, 'Planning the next trial')")
    names = family.prior_names_for(spec)
    try:
        design = DesignSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [p.replace("key '", "key 'design.", 1) for p in pydantic_problems(exc, DesignSpec, where)]
        given = {  # the names can be checked even where a value cannot: every problem in one run
            "design_parameters": raw.get("design_parameters") if isinstance(raw.get("design_parameters"), list) else [],
            "fixed": list(raw["fixed"]) if isinstance(raw.get("fixed"), dict) else [],
        }
        raise ConfigError(f"Invalid [design] in {where}", problems + _unknown_parameters(given, names, where)) from None
    problems = []
    if family.kind != "cace":
        problems.append(f"{where}: ipsbayes design supports randomised trials analysed with kind = 'cace'")
    estimands = family.estimand_names(spec)
    if design.success.estimand not in estimands:
        problems.append(
            f"{where}: key 'design.success.estimand': unknown estimand '{design.success.estimand}'"
            f"{did_you_mean(design.success.estimand, estimands)}; valid: {', '.join(estimands)}"
        )
    unit = estimands.get(design.success.estimand) if isinstance(estimands, dict) else None
    if unit in ("ratio", "%") and "threshold" not in (raw.get("success") or {}):
        null = "its no-effect value is 1" if unit == "ratio" else "it is a share"
        problems.append(
            f"{where}: key 'design.success.threshold' is needed for '{design.success.estimand}' ({null}): the "
            "default 0 would make every simulated trial a success"
        )
    for size in design.sizes:
        treated = round(design.allocation * size)
        if treated in (0, size):
            problems.append(
                f"{where}: key 'design.allocation' = {design.allocation:g} leaves an arm of the {size}-participant "
                f"trial empty ({treated} of {size} assigned to the intervention); give a larger size or an allocation "
                "nearer 0.5"
            )
    problems += _unknown_parameters(
        {"design_parameters": design.design_parameters, "fixed": list(design.fixed)}, names, where
    )
    if design.design_prior != "posterior":
        search = [config.resolve(config.priors.path)] if config.priors.path else default_search_dirs(config.base_dir)
        prior_set, found = resolve_prior_set(design.design_prior, names, search_dirs=search)
        problems += [f"{where}: key 'design.design_prior': {p}" for p in found]
        for name in design.design_parameters if not found else []:  # draws are taken on the model's own scale
            on = getattr(prior_set.priors.get(name), "on", None)
            if on:
                problems.append(
                    f"{where}: key 'design.design_prior': prior '{name}' of '{design.design_prior}' is stated on the "
                    f"{on} scale; a design prior's draws are used as the model's own parameters, so state it on "
                    "the model's scale (without 'on')"
                )
    if design.posterior_run is not None and run_needed:
        folder = config.resolve(design.posterior_run)
        if not (folder / "posterior.nc").is_file():
            problems.append(f"{where}: key 'design.posterior_run': no posterior.nc in {folder}")
    if problems:
        raise ConfigError(f"Invalid [design] in {where}", problems)
    return design


def _unknown_parameters(given: dict[str, list], names: dict[str, str] | list[str], where: str) -> list[str]:
    """A problem for each name under ``design.<key>`` that is not one of the model's parameters."""
    problems = []
    for key, listed in given.items():
        for name in listed:
            if isinstance(name, str) and name not in names:
                problems.append(
                    f"{where}: key 'design.{key}': '{name}' is not a parameter of this model"
                    f"{did_you_mean(name, names)}; valid: {', '.join(names)}"
                )
    return problems


__all__ = ["DesignSpec", "SuccessSpec", "UptakeSpec", "parse_design"]
