"""The run config: a TOML file that says what to fit, with which priors, and how.

Parsing never stops at the first problem. :func:`parse_config` returns the
config together with *every* problem it found (unknown keys with a
"did you mean", wrong types, files that do not exist) so that the runner can add
the problems found by the model spec and the prior set and raise one
:class:`~ipsbayes.errors.ConfigError` listing them all.

The ``[model]`` table is kept as a plain dict here: its schema belongs to the
model family named by ``model.kind`` (see :mod:`ipsbayes.models`), which
validates it in a second pass.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ipsbayes.errors import ConfigError, did_you_mean

IntervalKind = Literal["eti", "hdi"]
ProfileName = Literal["ci", "default", "final"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the data live and what to do with missing values.

    Paths are relative to the config file unless absolute.
    """

    participants: Path = Field(description="participant table (CSV or Parquet)")
    services: Path | None = Field(None, description="service table (CSV or Parquet)")
    reviews: Path | None = Field(None, description="fidelity reviews, several per service")
    missing: Literal["error", "drop"] = Field(
        "error", description="missing values: fail with counts per column, or drop those rows"
    )


class PriorsConfig(_Strict):
    """Which named prior set to use, and per-parameter overrides."""

    set: str = "weakly_informative"
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    path: Path | None = Field(None, description="folder holding prior sets (default: priors/)")


class SamplerConfig(_Strict):
    """Sampler profile plus optional explicit settings that override it."""

    profile: ProfileName = "default"
    backend: Literal["nutpie", "pymc"] = "nutpie"
    chains: int | None = Field(None, ge=1, le=64)
    draws: int | None = Field(None, ge=10)
    tune: int | None = Field(None, ge=0)
    target_accept: float | None = Field(None, gt=0.5, lt=1.0)
    cores: int | None = Field(None, ge=1)


class ReportConfig(_Strict):
    """How estimates are summarised and which figures are written."""

    title: str | None = None
    interval_kind: IntervalKind = "eti"
    interval_prob: float = Field(0.9, gt=0.0, lt=1.0)
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="estimand name -> threshold on its reporting scale; the report gives P(> threshold)",
    )
    figure_formats: list[Literal["png", "svg"]] = Field(default_factory=lambda: ["png", "svg"])

    @field_validator("figure_formats")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one of 'png', 'svg'")
        return value


class DiagnosticsConfig(_Strict):
    """Thresholds of the diagnostics gate (defaults follow Vehtari et al. 2021 and Stan)."""

    rhat_warn: float = Field(1.01, gt=1.0)
    rhat_fail: float = Field(1.05, gt=1.0)
    ess_per_chain: float = Field(100.0, gt=0, description="bulk/tail ESS below this x chains warns")
    ess_fail_per_chain: float = Field(25.0, gt=0, description="bulk/tail ESS below this x chains fails")
    max_divergences: int = Field(0, ge=0, description="more divergent transitions than this fails")
    bfmi_min: float = Field(0.3, gt=0)
    pareto_k_max: float | None = Field(
        None, gt=0, description="LOO Pareto k above this warns (default: ArviZ's sample-size rule)"
    )


class SensitivityConfig(_Strict):
    """Extra fits that show how much the answer depends on priors and model assumptions.

    Each prior set and each model variant is fitted to the same data with the
    same sampler settings; the report compares the chosen estimands side by side.
    """

    prior_sets: list[str] = Field(default_factory=list, description="prior sets to refit with")
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="variant name -> [model] keys to change (e.g. exclusion_restriction)"
    )
    estimands: list[str] = Field(default_factory=list, description="estimands to compare (default: headline ones)")
    power_scaling: bool = Field(True, description="ArviZ power-scaling prior/likelihood sensitivity (psense)")


class ValidationConfig(_Strict):
    """How ``ipsbayes validate`` checks calibration: simulation-based calibration and interval coverage.

    Coverage uses the design's own simulator (independent of the model code) with its
    fixed true values; SBC draws parameters from the prior and data from the model.
    """

    design: str | None = Field(None, description="simulator for the coverage study (ipsung, rij)")
    options: dict[str, Any] = Field(default_factory=dict, description="simulator options (sizes, true values)")
    truth: dict[str, str] = Field(
        default_factory=dict, description="estimand or estimand[element] -> dotted key in the simulator's truth.json"
    )
    datasets: int = Field(100, ge=1)
    sbc: bool = True
    probs: list[float] = Field(default_factory=lambda: [0.5, 0.8, 0.9, 0.95])


class RunConfig(_Strict):
    """A validated run config.

    Attributes
    ----------
    name : str
        Run name; the default run folder is ``runs/<name>``.
    seed : int
        Seed for sampling and predictive draws: same config + data + seed = same numbers.
    model : dict
        The ``[model]`` table, validated by the model family named in ``model["kind"]``.
    source : Path or None
        The file the config was read from (paths inside are relative to its folder).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(20261122, ge=0, lt=2**32)
    data: DataConfig
    model: dict[str, Any]
    priors: PriorsConfig = Field(default_factory=PriorsConfig)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    sensitivity: SensitivityConfig = Field(default_factory=SensitivityConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    design: dict[str, Any] = Field(
        default_factory=dict, description="[design] of `ipsbayes design` (ipsbayes.assurance)"
    )
    source: Path | None = Field(None, exclude=True)

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the config are resolved against."""
        return self.source.parent if self.source is not None else Path.cwd()

    def resolve(self, path: Path | None) -> Path | None:
        """Resolve a path from the config against :attr:`base_dir`."""
        if path is None:
            return None
        return path if path.is_absolute() else (self.base_dir / path)

    def with_overrides(self, **sampler: Any) -> RunConfig:
        """Return a copy with sampler settings (profile, ...) replaced; ``None`` keeps the value."""
        changes = {k: v for k, v in sampler.items() if v is not None}
        seed = changes.pop("seed", self.seed)
        new_sampler = self.sampler.model_copy(update=changes)
        return self.model_copy(update={"sampler": new_sampler, "seed": seed})


def pydantic_problems(error: ValidationError, schema: type[BaseModel], where: str) -> list[str]:
    """Turn a pydantic ``ValidationError`` into one readable line per problem.

    Parameters
    ----------
    error : ValidationError
        The error pydantic raised.
    schema : type of BaseModel
        The schema that was validated, used to list valid keys for unknown ones.
    where : str
        Prefix naming the file (and table), e.g. ``"models/x.toml [model]"``.
    """
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        key = ".".join(loc) if loc else "(top level)"
        if item["type"] == "extra_forbidden":
            valid = _valid_keys(schema, loc[:-1])
            hint = did_you_mean(loc[-1], valid)
            problems.append(f"{where}: unknown key '{key}'{hint}; valid keys here: {', '.join(valid)}")
        elif item["type"] == "missing":
            problems.append(f"{where}: required key '{key}' is missing")
        else:
            given = item.get("input")
            shown = f" (got {given!r})" if not isinstance(given, dict) else ""
            problems.append(f"{where}: key '{key}': {item['msg']}{shown}")
    return problems


def _valid_keys(schema: type[BaseModel], path: list[str]) -> list[str]:
    """Keys accepted by ``schema`` at the nested table ``path``."""
    current: Any = schema
    for part in path:
        field = getattr(current, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    return sorted(k for k in current.model_fields if k != "source")


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into a ConfigError naming the file."""
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def parse_config(source: Path | dict[str, Any]) -> tuple[RunConfig | None, list[str]]:
    """Parse a run config and collect every problem instead of stopping at the first.

    Parameters
    ----------
    source : Path or dict
        A TOML file, or an already-loaded mapping (paths then resolve against the
        current directory).

    Returns
    -------
    config : RunConfig or None
        The parsed config, or None when its schema was violated.
    problems : list of str
        Every problem found: schema violations and input files that do not exist.
    """
    if isinstance(source, dict):
        raw, path, where = dict(source), None, "config"
    else:
        path = Path(source)
        raw, where = read_toml(path), str(path)
    try:
        config = RunConfig.model_validate({**raw, "source": path})
    except ValidationError as exc:
        problems = pydantic_problems(exc, RunConfig, where)
        if isinstance(raw.get("model"), dict) and "kind" not in raw["model"]:
            problems.append(f"{where}: key 'model.kind' is missing; valid kinds are listed by `ipsbayes check`")
        return None, problems
    problems = []
    if "kind" not in config.model:
        problems.append(f"{where}: key 'model.kind' is missing")
    for key in ("participants", "services", "reviews"):
        given = getattr(config.data, key)
        resolved = config.resolve(given)
        if resolved is not None and not resolved.is_file():
            problems.append(
                f"{where}: key 'data.{key}': file not found: {resolved} "
                f"(relative paths are read from {config.base_dir})"
            )
        elif resolved is not None and resolved.suffix.lower() not in {".csv", ".parquet", ".pq"}:
            problems.append(f"{where}: key 'data.{key}': {resolved.name} is not .csv or .parquet")
    if config.diagnostics.rhat_fail < config.diagnostics.rhat_warn:
        problems.append(f"{where}: key 'diagnostics.rhat_fail' must be >= 'diagnostics.rhat_warn'")
    return config, problems


def load_config(source: Path | str | dict[str, Any]) -> RunConfig:
    """Load a run config, raising one ConfigError that lists every problem.

    This checks only the generic schema; :func:`ipsbayes.runner.check` adds the
    model spec, prior set and data checks.
    """
    config, problems = parse_config(Path(source) if isinstance(source, str) else source)
    if problems or config is None:
        raise ConfigError(f"Invalid config {source if not isinstance(source, dict) else ''}".strip(), problems)
    return config
