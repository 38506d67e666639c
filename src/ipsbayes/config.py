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

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ipsbayes.config_files import expand_home, not_a_regular_file, read_toml
from ipsbayes.config_problems import (
    FilePath,
    Number,
    WholeNumber,
    WholePercent,
    pydantic_problems,
    valid_without_bad_keys,
)
from ipsbayes.errors import ConfigError
from ipsbayes.textutil import plain_repr

IntervalKind = Literal["eti", "hdi"]
ProfileName = Literal["ci", "default", "final"]

#: Documented limits, checked by ``ipsbayes check`` before any work (README, "Limits").
MAX_DRAWS = 100_000
MAX_TUNE = 100_000
MAX_CHAINS = 64
MAX_CORES = 256
MAX_DATASETS = 10_000
MAX_SEED = 2**32
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


class _Strict(BaseModel):
    """Unknown keys are errors; numbers are typed :data:`Number` (finite) or :data:`WholeNumber` (no booleans)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TableConfig(_Strict):
    """A further data table, declared with the key columns that link it to the main table.

    ``rows = "one"``: one row per key (e.g. schools with their school-level predictors); the model
    joins the columns it needs onto the main table's rows. ``rows = "many"``: several rows per key
    (e.g. repeated fidelity reviews of a service), used by the model part that asks for it.
    """

    path: FilePath = Field(description="CSV or Parquet file")
    key: str | list[str] = Field(description="column(s) shared with the main table that identify a row here")
    rows: Literal["one", "many"] = "one"

    @field_validator("key")
    @classmethod
    def _named_once(cls, key: str | list[str]) -> str | list[str]:
        """At least one key column, each named once and not empty (``key = []`` crashed the join)."""
        names = [key] if isinstance(key, str) else list(key)
        if not names or any(not str(name).strip() for name in names):
            raise ValueError('name the column(s) shared with the main table, e.g. key = "school" or key = ["a", "b"]')
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"each key column once; {', '.join(repr(n) for n in repeated)} is named twice")
        return key

    @property
    def keys(self) -> list[str]:
        """The key columns as a list."""
        return [self.key] if isinstance(self.key, str) else list(self.key)


class DataConfig(_Strict):
    """Where the data live and what to do with missing values.

    Paths are relative to the config file unless absolute (a leading ``~`` is the home folder).
    ``main`` (or its IPS name ``participants``) is the table with one row per observation; further tables are
    declared under ``[data.tables.<name>]`` with their join keys. ``services`` and
    ``reviews`` are shorthand for the IPS layout (a service table joined on the model's
    service column, and repeated reviews of services).
    """

    participants: FilePath = Field(description="main table, one row per observation (CSV or Parquet); alias: main")
    services: FilePath | None = Field(None, description="service table (CSV or Parquet)")
    reviews: FilePath | None = Field(None, description="fidelity reviews, several per service")
    monthly_status: FilePath | None = Field(
        None, description="register status per participant and month since start (time_to_event models)"
    )
    monthly_format: Literal["long", "wide"] = Field(
        "long", description="monthly_status layout: one row per participant-month, or one column per month"
    )
    tables: dict[str, TableConfig] = Field(
        default_factory=dict, description="further tables by name, each with its path and join key(s)"
    )
    missing: Literal["error", "drop"] = Field(
        "error", description="missing values: fail with counts per column, or drop those rows"
    )
    separator: Literal[",", ";", "\t", "|"] | None = Field(
        None, description="CSV field separator (default: detected from the header line)"
    )
    decimal: Literal[".", ","] | None = Field(
        None, description="CSV decimal mark (default: ',' when the separator is ';' and numbers use commas)"
    )
    participant_id: str | None = Field(
        None,
        description="column identifying participants, which must be unique (default: 'participant_id' when present)",
    )

    #: the key the config named the main table with: ``main`` (generic) or ``participants`` (IPS)
    _main_key: str = PrivateAttr("participants")

    @model_validator(mode="wrap")
    @classmethod
    def _main(cls, raw: Any, handler: ModelWrapValidatorHandler[DataConfig]) -> DataConfig:
        """``main`` is the generic name of the main table (``participants`` in IPS configs); the key given is kept."""
        key = "participants"
        if isinstance(raw, dict) and "main" in raw:
            raw = dict(raw)
            main = raw.pop("main")
            if "participants" not in raw:
                raw["participants"], key = main, "main"
        try:
            config = handler(raw)
        except ValidationError as exc:
            if key == "participants":
                raise
            raise _renamed_key(exc, "participants", key) from None
        if isinstance(config, DataConfig):
            config._main_key = key
        return config

    @field_validator("tables")
    @classmethod
    def _not_main(cls, value: dict[str, TableConfig]) -> dict[str, TableConfig]:
        taken = [name for name in value if name in ("main", "participants")]
        if taken:
            raise ValueError(f"'{taken[0]}' names the main table ([data] main); give this table another name")
        return value

    @property
    def main_key(self) -> str:
        """The key the config gave the main table (``main`` or ``participants``), its label in messages."""
        return self._main_key

    def key_name(self, field: str) -> str:
        """The config key of a ``[data]`` field as the config wrote it (``participants`` -> ``main``)."""
        return self._main_key if field == "participants" else field


def _renamed_key(error: ValidationError, old: str, new: str) -> ValidationError:
    """``error`` with key ``old`` called ``new`` in its locations (``main`` is validated as ``participants``)."""
    items = []
    for item in error.errors():
        loc = item["loc"]
        loc = (new, *loc[1:]) if loc[:1] == (old,) else loc
        kind = PydanticCustomError(item["type"], item["msg"].replace("{", "{{").replace("}", "}}"))
        items.append({"type": kind, "loc": loc, "input": item["input"]})
    return ValidationError.from_exception_data(error.title, items)


class PriorsConfig(_Strict):
    """Which named prior set to use, and per-parameter overrides."""

    set: str = "weakly_informative"
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    path: Path | None = Field(None, description="folder holding prior sets (default: priors/)")
    expanded: dict[str, dict[str, Any]] | None = Field(
        None,
        description="the main analysis's priors as run, which ipsbayes writes into a run folder's config.toml: "
        "the main fit uses them; `set` and `overrides` give the sensitivity refits theirs",
    )


class SamplerConfig(_Strict):
    """Sampler profile plus optional explicit settings that override it."""

    profile: ProfileName = "default"
    backend: Literal["nutpie", "pymc"] = "nutpie"
    chains: WholeNumber | None = Field(None, ge=1, le=MAX_CHAINS)
    draws: WholeNumber | None = Field(None, ge=10, le=MAX_DRAWS)
    tune: WholeNumber | None = Field(None, ge=0, le=MAX_TUNE)
    target_accept: Number | None = Field(None, gt=0.5, lt=1.0)
    cores: WholeNumber | None = Field(None, ge=1, le=MAX_CORES)
    freeze_data: bool = Field(
        False,
        description="compile the data into the model's graph: faster gradients for some models (time to event: "
        "about a quarter), a compile in every process (no compile cache); other draws than unfrozen with the "
        "same seed",
    )


class FigureConfig(_Strict):
    """The figure profile: figures are drawn at the width they will be printed at.

    Each figure is exactly ``width_cm`` wide; placed at that width, every text element is at
    least 8 pt (labels at ``font_size``, tick labels one point smaller, titles one larger).
    PNGs are written at ``dpi``; SVGs keep their text as text (editable, searchable).
    """

    width_cm: Number = Field(16.0, ge=8.0, le=40.0, description="printed width of every figure (cm), e.g. a text width")
    dpi: WholeNumber = Field(300, ge=72, le=1200, description="PNG resolution (dots per inch at width_cm)")
    font_size: Number = Field(9.0, ge=9.0, le=16.0, description="base font size in points (tick labels: one less)")


class ReportConfig(_Strict):
    """How estimates are summarised and which figures are written."""

    title: str | None = None
    interval_kind: IntervalKind = "eti"
    interval_prob: WholePercent = Field(0.9, description="a whole percentage, 0.01 to 0.99 (reports print it as one)")
    thresholds: dict[str, Number] = Field(
        default_factory=dict,
        description="estimand name -> threshold on its reporting scale; the report gives P(> threshold)",
    )
    figure_formats: list[Literal["png", "svg"]] = Field(default_factory=lambda: ["png", "svg"])
    figures: FigureConfig = Field(default_factory=FigureConfig, description="figure profile: width, DPI, font size")
    language: Literal["en", "nb"] = Field("en", description="report language: English or Norwegian bokmål")
    labels: dict[str, str] = Field(
        default_factory=dict, description="readable labels for columns, levels, units and group names"
    )
    min_cell: WholeNumber = Field(
        5, ge=1, description="observed counts or rates based on fewer participants than this are never published"
    )

    @field_validator("figure_formats")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one of 'png', 'svg'")
        return value


class DiagnosticsConfig(_Strict):
    """Thresholds of the diagnostics gate (defaults follow Vehtari et al. 2021 and Stan)."""

    rhat_warn: Number = Field(1.01, gt=1.0)
    rhat_fail: Number = Field(1.05, gt=1.0)
    ess_per_chain: Number = Field(100.0, gt=0, description="bulk/tail ESS below this x chains warns")
    ess_fail_per_chain: Number = Field(25.0, gt=0, description="bulk/tail ESS below this x chains fails")
    max_divergences: WholeNumber = Field(0, ge=0, description="more divergent transitions than this fails")
    bfmi_min: Number = Field(0.3, gt=0)
    pareto_k_max: Number | None = Field(
        None, gt=0, description="LOO Pareto k above this warns (default: ArviZ's sample-size rule)"
    )
    loo: Literal["auto", "exact", "subsample"] = Field(
        "auto",
        description=(
            "PSIS-LOO from every row's stored log-likelihood ('exact'), or from a random 2,000-row subsample "
            "scaled up by a difference estimator ('subsample', Magnusson et al. 2019; it also stores no per-row "
            "log-likelihood and draws the predictive checks from 500 posterior draws; with no more than 2,000 "
            "rows every row is used, exactly); 'auto': exact up to 10,000 likelihood rows, and above that "
            "wherever the model cannot subsample"
        ),
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
    datasets: WholeNumber = Field(100, ge=1, le=MAX_DATASETS)
    results: str | None = Field(
        None,
        description="folder of an earlier `ipsbayes validate` run whose coverage and shrinkage the report quotes "
        "(default: runs/<name>-validation or runs/validation/<name>)",
    )
    sbc: bool = True
    probs: list[Number] = Field(default_factory=lambda: [0.5, 0.8, 0.9, 0.95])


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

    name: str
    description: str = ""
    seed: WholeNumber = Field(20261122, ge=0, lt=MAX_SEED)
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

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                "must be a plain name of at most 100 letters, digits, '-' and '_', starting with a letter or digit "
                "(it names the run folder runs/<name>)"
            )
        return value

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the config are resolved against."""
        return self.source.parent if self.source is not None else Path.cwd()

    def resolve(self, path: Path | None) -> Path | None:
        """Resolve a path from the config against :attr:`base_dir` (a leading ``~`` is the home folder)."""
        if path is None:
            return None
        path = expand_home(path)
        return path if path.is_absolute() else (self.base_dir / path)

    def input_files(self) -> list[Path]:
        """The config file and every data file it names (no output may be written over a folder holding one)."""
        paths = [self.source] if self.source is not None else []
        for key in ("participants", "services", "reviews"):
            path = self.resolve(getattr(self.data, key))
            if path is not None:
                paths.append(path)
        return paths

    def with_overrides(self, **sampler: Any) -> RunConfig:
        """Return a copy with sampler settings (profile, ...) replaced; ``None`` keeps the value.

        Asking for another profile (``--profile ci``) means that profile's settings: the config's
        own chains, tune, draws and target_accept (tuned for its profile) are dropped unless given here.
        """
        changes = {k: v for k, v in sampler.items() if v is not None}
        seed = changes.pop("seed", self.seed)
        if changes.get("profile", self.sampler.profile) != self.sampler.profile:
            for key in ("chains", "tune", "draws", "target_accept"):
                changes.setdefault(key, None)
        new_sampler = self.sampler.model_copy(update=changes)
        return self.model_copy(update={"sampler": new_sampler, "seed": seed})


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
    if "evidence" in raw and "model" not in raw and "data" not in raw:
        return None, [
            f"{where} is a map-prior config (it has 'evidence' and no [model] or [data]); "
            f"use `ipsbayes map-prior {where}`"
        ]
    try:
        config = RunConfig.model_validate({**raw, "source": path})
    except ValidationError as exc:
        problems = pydantic_problems(exc, RunConfig, where)
        if isinstance(raw.get("model"), dict) and "kind" not in raw["model"]:
            problems.append(f"{where}: key 'model.kind' is missing; valid kinds are listed by `ipsbayes check`")
        problems += _kind_problems(raw, where)
        repaired, broken = config_without_invalid_keys(source)
        if repaired is not None and "data" not in broken:
            problems += _file_problems(repaired, where)
        return None, problems
    problems = []
    if "kind" not in config.model:
        problems.append(f"{where}: key 'model.kind' is missing")
    problems += _kind_problems(raw, where)
    problems += _file_problems(config, where)
    if config.diagnostics.rhat_fail < config.diagnostics.rhat_warn:
        problems.append(f"{where}: key 'diagnostics.rhat_fail' must be >= 'diagnostics.rhat_warn'")
    if config.diagnostics.ess_fail_per_chain > config.diagnostics.ess_per_chain:
        problems.append(f"{where}: key 'diagnostics.ess_fail_per_chain' must be <= 'diagnostics.ess_per_chain'")
    return config, problems


def _file_problems(config: RunConfig, where: str) -> list[str]:
    """Input files of ``[data]`` that are missing, not regular files, or not .csv/.parquet."""
    problems = []
    files = [(key, getattr(config.data, key)) for key in ("participants", "services", "reviews", "monthly_status")]
    files += [(f"tables.{name}.path", table.path) for name, table in config.data.tables.items()]
    for key, given in files:
        resolved = config.resolve(given)
        problem = None if resolved is None else not_a_regular_file(resolved)
        if problem is not None:
            absolute = given is None or expand_home(given).is_absolute()
            relative = "" if absolute else f" (relative paths are read from {config.base_dir})"
            problems.append(f"{where}: key 'data.{config.data.key_name(key)}': {problem}{relative}")
        elif resolved is not None and resolved.suffix.lower() not in {".csv", ".parquet", ".pq"}:
            problems.append(f"{where}: key 'data.{config.data.key_name(key)}': {resolved.name} is not .csv or .parquet")
    return problems


def config_without_invalid_keys(source: Path | dict[str, Any]) -> tuple[RunConfig | None, set[str]]:
    """The config with every key that broke its schema left out (defaults in their place).

    A wrong ``report.language`` must not hide a missing data file or an unknown prior set: those
    checks run on this config, each only where its own table was valid.

    Parameters
    ----------
    source : Path or dict
        What :func:`parse_config` was given.

    Returns
    -------
    config : RunConfig or None
        None when it still does not validate (a required key is missing, a table is not a table).
    tables : set of str
        The top-level tables (or keys) that had a problem.
    """
    raw = dict(source) if isinstance(source, dict) else read_toml(Path(source))
    path = None if isinstance(source, dict) else Path(source)
    return valid_without_bad_keys(RunConfig, raw, {"source": path})


def _kind_problems(raw: dict[str, Any], where: str) -> list[str]:
    """A ``model.kind`` that is not text (a table, a list, a number) is a problem of its own."""
    model = raw.get("model")
    kind = model.get("kind") if isinstance(model, dict) else None
    if kind is None or isinstance(kind, str):
        return []
    what = {dict: "a table", list: "a list"}.get(type(kind), f"the {type(kind).__name__} {plain_repr(kind)}")
    return [f"{where}: key 'model.kind' must be the name of a model kind in quotes, e.g. kind = \"cace\"; got {what}"]


def load_config(source: Path | str | dict[str, Any]) -> RunConfig:
    """Load a run config, raising one ConfigError that lists every problem.

    This checks only the generic schema; :func:`ipsbayes.runner.check` adds the
    model spec, prior set and data checks.
    """
    config, problems = parse_config(Path(source) if isinstance(source, str) else source)
    if problems or config is None:
        raise ConfigError(f"Invalid config {source if not isinstance(source, dict) else ''}".strip(), problems)
    return config
