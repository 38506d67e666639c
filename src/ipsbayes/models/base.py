"""What every model family provides, and the registry the runner looks kinds up in.

A family is a plain declaration (NumPyro habit): a spec schema, the prior names
it needs, ``prepare`` (validate data, build arrays and coords), ``build``
(a ``pm.Model``, never sampled here) and ``estimands`` (posterior draws turned
into quantities on the users' scale). Sampling, diagnostics and reporting live
elsewhere and work for every family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pymc as pm
import xarray as xr
from pydantic import BaseModel, ConfigDict, ValidationError

from ipsbayes.config import RunConfig
from ipsbayes.config_problems import pydantic_problems
from ipsbayes.data import DataBundle
from ipsbayes.errors import ConfigError, did_you_mean
from ipsbayes.present.context import Presentation
from ipsbayes.prior_slots import PriorSlot
from ipsbayes.priors import Prior, PriorSet
from ipsbayes.textutil import NB_DEFAULT_WORDS, regular_plural


class ModelSpec(BaseModel):
    """Base of every family's ``[model]`` schema (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # no nan or inf in [model]
    kind: str


@dataclass
class ModelData:
    """Arrays and coordinates a family's ``build`` needs, plus what its estimands need.

    Attributes
    ----------
    coords : dict
        PyMC/ArviZ coordinates (named dims).
    arrays : dict
        Numeric arrays passed to the graph.
    info : dict
        Everything else estimands and reports need (labels, scalings, raw rates).
    n_rows : int
        Number of participants after cleaning.
    notes : list of str
        Things the report should mention (rows dropped, collapsing applied).
    derived : dict
        Quantities computed from these data once and reused by every set of draws (the posterior's,
        the prior's): e.g. the counterfactual design matrices. Not an argument: a copy made
        with ``dataclasses.replace`` starts with none, since its arrays may differ.
    """

    coords: dict[str, Any]
    arrays: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    n_rows: int = 0
    notes: list[str] = field(default_factory=list)
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)


class ModelFamily(ABC):
    """A model family: spec schema, prior names, data preparation, graph and estimands."""

    kind: ClassVar[str]
    title: ClassVar[str]
    spec_schema: ClassVar[type[ModelSpec]]
    #: prior name -> meaning (and scale); prior sets must provide each
    prior_names: ClassVar[dict[str, str]]
    #: parameters whose recovery the tests and the validate command check
    key_parameters: ClassVar[tuple[str, ...]] = ()
    #: prior estimands draw only the parameters, not the observed variables (their prior predictive, which
    #: estimands never read). Off by default: skipping them changes other families' seeded prior draws.
    prior_draws_only: ClassVar[bool] = False

    def parse_spec(self, raw: Mapping[str, Any], where: str) -> tuple[ModelSpec | None, list[str]]:
        """Validate the ``[model]`` table, returning every problem found."""
        try:
            spec = self.spec_schema.model_validate(dict(raw))
        except ValidationError as exc:
            problems = pydantic_problems(exc, self.spec_schema, f"{where} [model]")
            return None, [p.replace("key '", "key 'model.", 1) for p in problems]
        return spec, self.check_spec(spec, where)

    def check_spec(self, spec: ModelSpec, where: str) -> list[str]:
        """Family-specific checks that need no data (override when needed)."""
        return []

    def prior_names_for(self, spec: ModelSpec) -> dict[str, str]:
        """Prior names this spec needs (a spec may switch parts of the model off)."""
        return dict(self.prior_names)

    def prior_slots(self, spec: ModelSpec) -> dict[str, PriorSlot]:
        """What each prior's parameter is (support, scale, whether a data-scaled default exists).

        Priors are then checked for meaning, not only syntax: a Beta prior on a log-odds
        parameter is rejected unless stated ``on = "probability"`` (see :func:`ipsbayes.priors.slot_problems`).
        The default (no slots) checks syntax only.
        """
        return {}

    def default_priors(self, spec: ModelSpec, data: ModelData) -> dict[str, Prior]:
        """Data-scaled default priors for parameters a prior set leaves out (see :meth:`prior_slots`)."""
        return {}

    def vocabulary(self, spec: ModelSpec, data: ModelData | None = None) -> dict[str, str]:
        """Words of the study (unit, group, treatment and control names) for labels and reports."""
        return {}

    @abstractmethod
    def estimand_names(self, spec: ModelSpec) -> dict[str, str]:
        """Names of the sampled estimands this spec produces, with their unit.

        Used to validate ``report.thresholds`` and ``sensitivity.estimands`` before sampling.
        """

    def describe(self, spec: ModelSpec, data: ModelData, language: str = "en") -> str:
        """Markdown paragraph describing the fitted model for the report, in ``language`` ("en" or "nb").

        It must describe the model as configured and fitted (the spec actually run, the data
        actually used), never a fixed text. Column and file names go in backticks.
        """
        return f"{self.title}."

    def presentation(self) -> Presentation:
        """The family's report parts: answer block, sections and figures (none by default).

        Families import their presentation module lazily here, so building and
        sampling a model never imports plotting code.
        """
        return Presentation()

    def replicate_data(
        self,
        spec: ModelSpec,
        prior: xr.Dataset,
        prior_predictive: xr.Dataset,
        data: ModelData,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """Data arrays simulated from one prior draw, for simulation-based calibration.

        The default takes the prior predictive draw of the response (the observed
        variable named ``data.info["response"]``) as the new ``y``; families whose
        generative process also produces other data (the CACE model's treatment
        receipt, fidelity reviews) extend this.
        """
        response = data.info.get("response")
        observed = (
            prior_predictive[response]
            if response in prior_predictive
            else next(iter(prior_predictive.data_vars.values()))
        )
        return {"y": np.asarray(observed.values).reshape(data.arrays["y"].shape)}

    @abstractmethod
    def prepare(self, bundle: DataBundle, spec: ModelSpec, config: RunConfig) -> ModelData:
        """Validate the data against the spec and build arrays; raise DataError listing every problem."""

    @abstractmethod
    def build(self, data: ModelData, spec: ModelSpec, priors: PriorSet) -> pm.Model:
        """Return the PyMC model (non-centred where groups are small). Never samples."""

    @abstractmethod
    def estimands(self, posterior: xr.Dataset, data: ModelData, spec: ModelSpec, config: RunConfig) -> xr.Dataset:
        """Turn posterior draws into estimands on the users' scale.

        Every variable carries attrs ``label``, ``unit`` and ``null`` (the value of
        "no effect", used for P(effect > null)); variables without ``chain``/``draw``
        dims hold reference data (raw rates, group sizes) for the report.
        """

    def log_likelihood(self, posterior: xr.Dataset, data: ModelData, spec: ModelSpec) -> dict[str, np.ndarray] | None:
        """Pointwise log-likelihood of every observed variable from the posterior, in numpy.

        Shapes ``(chains * draws, *observed shape)``, keyed by the observed variables' names. None
        (the default): PyMC computes the group from the graph, one draw at a time. A family that
        returns arrays must give the numbers PyMC would (``tests/test_numpy_log_likelihood.py``).
        """
        return None

    def log_likelihood_summary(
        self, posterior: xr.Dataset, data: ModelData, spec: ModelSpec, rows: np.ndarray, *, totals: bool = True
    ) -> dict[str, LikelihoodSummary] | None:
        """The log-likelihood of data too large to store pointwise, by observed variable, in numpy.

        Per-draw totals over every row (power-scaling), the pointwise values of the rows in ``rows``
        and a point approximation for every row (subsampled LOO). With ``totals=False`` (the run
        knows them from the sampler's log density, :mod:`ipsbayes.prior_density`) the totals are left out
        (``total`` None) and only the subsample's rows are evaluated. None (the default): not
        available, and the run says what it skipped.
        """
        return None

    def subsamples_log_likelihood(self, data: ModelData, spec: ModelSpec) -> bool:
        """Whether :meth:`log_likelihood_summary` gives these data's totals and subsample (not None).

        Decides, before sampling, whether a run may keep a LOO subsample instead of every row
        (:func:`ipsbayes.loo_policy.keeps_pointwise`). Default: :attr:`sums_large_log_likelihood`.
        """
        return self.sums_large_log_likelihood

    @property
    def sums_large_log_likelihood(self) -> bool:
        """Whether the family gives the log-likelihood of data too large to store per row.

        True when it implements :meth:`log_likelihood_summary`, whose per-draw totals power-scaling
        uses above ``loo_policy.MAX_POINTWISE_ROWS`` rows; checked before sampling
        (:func:`ipsbayes.sensitivity.power_scaling_problems`).
        """
        return type(self).log_likelihood_summary is not ModelFamily.log_likelihood_summary

    def posterior_predictive(
        self, posterior: xr.Dataset, data: ModelData, spec: ModelSpec, seed: int
    ) -> dict[str, np.ndarray] | None:
        """Posterior predictive draws of every observed variable in numpy; shapes and None as in :meth:`log_likelihood`.

        The draws must follow the graph's distribution (``tests/test_numpy_predictive.py``) and depend
        only on ``seed``, never on how many threads drew them.
        """
        return None


@dataclass(frozen=True)
class LikelihoodSummary:
    """The log-likelihood of one observed variable when its rows are too many to store pointwise.

    Attributes
    ----------
    total : ndarray or None
        Per draw, the sum over every row: shape (chains * draws,); None when the caller asked
        for the subsample alone (it knows the totals).
    rows : ndarray
        Indices of a simple random subsample of rows, ascending: shape (m,).
    subsample : ndarray
        The pointwise log-likelihood of those rows: shape (chains * draws, m).
    approximation : ndarray
        Every row's log-likelihood at the posterior means of the parameters (the point log
        predictive density, Magnusson et al. 2019): shape (rows,).
    """

    total: np.ndarray | None
    rows: np.ndarray
    subsample: np.ndarray
    approximation: np.ndarray


#: Design matrices (rows x a few columns) that enter the graph through their transpose: the data
#: container ``<name>_T`` holds the matrix transposed and C-contiguous, and the graph uses its ``.T``.
#: Both products in a gradient then read memory in the order BLAS wants: ``X @ beta`` runs over
#: columns and ``X.T @ g`` becomes ``X_T @ g``. With ``X`` stored row by row, numba's products take
#: 2.2 and 2.4 us instead of 0.7 and 0.9 us at 1,500 x 6, and a gradient of the reference model
#: 37.5 us instead of 34.7 (``benchmarks/results/design_layout.md``); the log density is the same
#: function (``tests/test_design_layout.py``).
TRANSPOSED_DATA = frozenset({"X", "W"})


def data_name(name: str) -> str:
    """Name of the ``pm.Data`` container holding the array ``name`` (``X_T`` for a design matrix)."""
    return f"{name}_T" if name in TRANSPOSED_DATA else name


def observed_name(column: str, model: pm.Model) -> str:
    """Name of a model's observed variable: its outcome column's, unless the model already uses it.

    Call inside the model's context, after every other variable is created: a name the model already
    gives to a data container (``X_T``, ``y``, ``z``, ...), a parameter (``beta``, ``sd_service``, ...),
    a dim, or a dim of the draws (``chain``, ``draw``) takes ``_observed`` (again, while still taken),
    and a ``/`` becomes ``_``, so an outcome column may be called
    anything (``tests/test_observed_names.py``). Every model kind names its observed variable here
    and records the name as ``data.info["response"]``.
    """
    taken = set(model.named_vars) | set(model.coords) | SAMPLE_DIMS
    name = column.replace("/", "_")  # PyMC's names cannot hold '/' (its separator of nested models)
    while name in taken:
        name = f"{name}_observed"
    return name


#: the dims every group of a run's posterior.nc adds: no variable may take their names
SAMPLE_DIMS = frozenset({"chain", "draw"})


def data_as_given(constant: xr.Dataset) -> xr.Dataset:
    """A run's ``constant_data`` with each design matrix under its own name, rows first (``X_T`` -> ``X``).

    The graph keeps design matrices transposed (:data:`TRANSPOSED_DATA`); a run folder shows them
    as the data gave them, as run folders always have. A matrix whose own name the dataset already
    uses (a dim or coordinate of that name) keeps its stored name and orientation: writing the run
    folder never fails on a name.
    """
    taken = set(constant.variables) | set(constant.dims)
    variables = {}
    for key, value in constant.data_vars.items():
        given = next((n for n in TRANSPOSED_DATA if data_name(n) == key and value.ndim == 2), None)
        if given is None or given in taken:
            variables[key] = value
        else:
            variables[given] = value.transpose()
    return xr.Dataset(variables, coords=constant.coords, attrs=constant.attrs)


def model_data(arrays: dict[str, np.ndarray], dims: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Register the arrays a graph uses as ``pm.Data`` (inside a model context).

    Data enter the graph as shared variables rather than constants, so a compiled
    model can be reused for new data of the same structure (refits, validation).
    A design matrix in :data:`TRANSPOSED_DATA` is stored transposed (container
    ``<name>_T``); the tensor returned for it is that container's ``.T``, so the graph
    reads ``d["X"]`` with the matrix's own shape either way.
    """
    data: dict[str, Any] = {}
    for name in dims:
        if name not in arrays:
            continue
        value = np.asarray(arrays[name])
        if name in TRANSPOSED_DATA and value.ndim == 2:
            axes = dims.get(name)
            stored = np.ascontiguousarray(value.T)
            data[name] = pm.Data(data_name(name), stored, dims=tuple(reversed(axes)) if axes else None).T
        else:
            data[name] = pm.Data(name, arrays[name], dims=dims.get(name))
    return data


def natural_key(label: object) -> tuple:
    """Sort key putting 'S2' before 'S10'."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(label)))


REGISTRY: dict[str, ModelFamily] = {}


def register(family: ModelFamily) -> ModelFamily:
    """Add a family to the registry (import time, no side effects beyond this dict)."""
    REGISTRY[family.kind] = family
    return family


def get_family(kind: str) -> ModelFamily:
    """Return the family registered under ``kind``.

    Raises
    ------
    ConfigError
        Naming the valid kinds when ``kind`` is unknown.
    """
    if kind not in REGISTRY:
        raise ConfigError(
            f"Unknown model kind '{kind}'{did_you_mean(kind, REGISTRY)}; valid kinds: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[kind]


def estimand(
    values: xr.DataArray,
    label: str,
    unit: str,
    null: float | None = 0.0,
    label_nb: str | None = None,
    **attrs: Any,
) -> xr.DataArray:
    """Attach the attrs every estimand carries (label, unit, null value; ``label_nb``: the label in bokmål)."""
    values = values.copy()
    values.attrs.update({"label": label, "unit": unit, **attrs})
    if label_nb is not None:
        values.attrs["label_nb"] = label_nb
    if null is not None:
        values.attrs["null"] = float(null)
    return values


#: Norwegian words for the families' default English vocabulary (a config's own words are kept as written)
_NB_DEFAULT_WORDS = NB_DEFAULT_WORDS  # kept under its old name for the families


def nb_word(words: Mapping[str, Any], key: str, default: str) -> str:
    """A study word for a Norwegian label: ``<key>_nb`` from the vocabulary, else the (English) word.

    The word is ``words[key]`` (or ``default``); a family's default English words (service,
    participants, ...) become their bokmål form, a config's own words stay as written.
    """
    if words.get(f"{key}_nb"):
        return str(words[f"{key}_nb"])
    word = str(words.get(key) or default)
    return _NB_DEFAULT_WORDS.get(word, word)


def nb_plural(words: Mapping[str, Any], key: str, default: str) -> str:
    """A study word's plural for a Norwegian label: ``<key>_plural_nb``, ``<key>_plural``, else a regular plural."""
    if words.get(f"{key}_plural_nb") or words.get(f"{key}_plural"):
        return nb_word(words, f"{key}_plural", "")
    word = nb_word(words, key, default)
    return regular_plural(word, "nb")


def en_plural(words: Mapping[str, Any], key: str, default: str) -> str:
    """A study word's English plural: ``<key>_plural`` when given, else the word's regular plural.

    The word is ``words[key]`` (or ``default``): "county" -> "counties", "batch" -> "batches".
    """
    if words.get(f"{key}_plural"):
        return str(words[f"{key}_plural"])
    return regular_plural(str(words.get(key) or default), "en")


def draws_array(posterior: xr.Dataset, name: str) -> np.ndarray:
    """Posterior draws of ``name`` with chain and draw flattened into the first axis.

    The array ``values.stack(sample=("chain", "draw")).transpose("sample", ...)`` holds, without
    the index xarray builds for the stacked dimension (``tests/test_fast_paths.py``).
    """
    values = posterior[name].transpose("chain", "draw", ...)
    return values.to_numpy().reshape(-1, *values.shape[2:])


def unstack_draws(
    values: np.ndarray, posterior: xr.Dataset, dims: tuple[str, ...] = (), coords: Mapping[str, Any] | None = None
) -> xr.DataArray:
    """Inverse of :func:`draws_array`: reshape (sample, ...) back to (chain, draw, ...)."""
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    shaped = values.reshape((n_chain, n_draw, *values.shape[1:]))
    all_coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values, **(coords or {})}
    return xr.DataArray(
        shaped,
        dims=("chain", "draw", *dims),
        coords={k: v for k, v in all_coords.items() if k in ("chain", "draw", *dims)},
    )


def check_estimand_keys(config: RunConfig, family: ModelFamily, spec: ModelSpec) -> list[str]:
    """Problems for ``report.thresholds`` and ``sensitivity.estimands`` entries that name no estimand."""
    valid = family.estimand_names(spec)
    listing = ", ".join(f"{k} ({u})" for k, u in valid.items())
    keys = [("report.thresholds", k) for k in config.report.thresholds]
    keys += [("sensitivity.estimands", k) for k in config.sensitivity.estimands]
    return [
        f"{where}: unknown estimand '{key}'{did_you_mean(key, valid)}; valid: {listing}"
        for where, key in keys
        if key not in valid
    ]
