"""Named prior sets: parse ``priors/*.toml``, apply overrides, hand builders distributions.

A prior set is a TOML file with one table per parameter name::

    description = "Weakly informative priors on the logit scale"

    [sd_service]
    dist = "HalfNormal"
    sigma = 1.0
    source = "why this value (a reference or a rationale)"

    [treatment_effect]              # a mixture, e.g. a robust meta-analytic-predictive prior
    dist = "NormalMixture"
    w = [0.5, 0.3, 0.2]             # weights: >= 0, summing to 1
    mu = [0.9, 0.6, 0.8]
    sigma = [0.3, 0.6, 2.9]
    labels = ["comp1", "comp2", "robust"]   # optional; "robust" marks the vague component
    source = "ipsbayes map-prior priors/map/ips_map.toml (...)"

Every model family declares the parameter names it needs (with a one-line
meaning); a set may hold names for several families. Overrides from the run
config replace a whole entry (when they give ``dist``) or update its numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ipsbayes.config_files import not_a_regular_file, read_toml
from ipsbayes.errors import ConfigError, did_you_mean
from ipsbayes.mixture import Mixture, mixture_problems
from ipsbayes.prior_slots import META_KEYS, PriorSlot, slot_problems

#: distribution -> (required parameters, optional parameters)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Normal": (("mu", "sigma"), ()),
    "HalfNormal": (("sigma",), ()),
    "StudentT": (("nu", "sigma"), ("mu",)),
    "HalfStudentT": (("nu", "sigma"), ()),
    "Cauchy": (("alpha", "beta"), ()),
    "HalfCauchy": (("beta",), ()),
    "Exponential": (("lam",), ()),
    "Gamma": (("alpha", "beta"), ()),
    "LogNormal": (("mu", "sigma"), ()),
    "Beta": (("alpha", "beta"), ()),
    "Uniform": (("lower", "upper"), ()),
    "LKJ": (("eta",), ()),
    "InverseGamma": (("alpha", "beta"), ()),
    "NormalMixture": (("w", "mu", "sigma"), ()),
}
_POSITIVE = {"sigma", "nu", "lam", "alpha", "beta", "eta"}
#: largest size of a prior's number: a location of 1e300 or a scale of 1e-300 passed the checks and every
#: initial point of the sampler then failed (exit 1 after compiling); 1e8 leaves room for outcomes in
#: large units (an intercept of 500,000 kroner)
MAX_PRIOR_NUMBER = 1e8
#: smallest scale (sigma, nu, ...) of a prior: below it the prior fixes the parameter and the sampler cannot move
MIN_PRIOR_SCALE = 1e-8
#: distributions whose parameters are lists (one value per mixture component)
_VECTOR = {"NormalMixture"}
#: the source of a prior the run config overrides without giving one
OVERRIDE_SOURCE = "override in the run config"


@dataclass(frozen=True)
class Prior:
    """One prior: a distribution name, its parameters and why it was chosen."""

    dist: str
    params: dict[str, float | tuple[float, ...]]
    source: str
    #: the scale the prior is stated on when it is not the parameter's own (see :data:`ipsbayes.prior_slots.ON_SCALES`)
    on: str | None = None
    #: component names of a mixture prior (``"robust"`` marks the vague component)
    labels: tuple[str, ...] = ()
    #: ``source`` in Norwegian, for Norwegian reports (optional key ``source_nb`` of a prior entry)
    source_nb: str = ""

    def create(self, name: str, logit_offset: Any = None, **kwargs: Any) -> Any:
        """Create the PyMC random variable ``name`` inside the current model context.

        The prior's numbers enter the graph as data (``<name>_prior_<param>``), not as
        constants, so a model compiled once can be refitted under another prior set of
        the same distributions without compiling again (nutpie ``with_data``).

        A prior stated on another scale (``on``) is placed on that quantity, which PyMC samples
        on an unconstrained scale with the Jacobian of its transform, and ``name`` becomes its
        deterministic image: ``on = "probability"`` gives ``name = logit(p) - logit_offset``
        (a Beta(a, b) on ``expit(name)`` is then exactly the logit-Beta density on ``name``);
        ``"variance"`` gives ``name = sqrt(v)`` and ``"precision"`` ``name = 1 / sqrt(tau)``.
        """
        import pymc as pm

        if self.dist == "LKJ":
            raise TypeError(f"prior '{name}' is an LKJ prior: use its eta in an LKJCholeskyCov")
        if self.on is not None:
            return _create_on_scale(self, name, logit_offset, **kwargs)
        params = {
            key: pm.Data(f"{name}_prior_{key}", np.asarray(value))
            for key, value in self.params.items()
            if key not in META_KEYS
        }
        return getattr(pm, self.dist)(name, **params, **kwargs)

    def distribution(self, name: str) -> Any:
        """An unnamed distribution (``pm.X.dist``), e.g. the SD distribution of an LKJ covariance."""
        import pymc as pm

        params = {key: pm.Data(f"{name}_prior_{key}", np.asarray(value)) for key, value in self.params.items()}
        return getattr(pm, self.dist).dist(**params)

    def hyperparameter(self, name: str, key: str) -> Any:
        """One number of this prior as model data (e.g. the LKJ ``eta``), named like :meth:`create`'s."""
        import pymc as pm

        return pm.Data(f"{name}_prior_{key}", self.params[key])

    def describe(self) -> str:
        """Short text such as ``Normal(mu=0, sigma=1)`` (``... on the probability`` when stated on another scale).

        A mixture is shown as its weighted components.
        """
        if self.dist == "NormalMixture":
            return f"NormalMixture({self.mixture().describe()})"

        def show(value: Any) -> str:
            if isinstance(value, list | tuple):
                return "[" + ", ".join(show(v) for v in value) + "]"
            return f"{value:g}" if isinstance(value, int | float) else str(value)

        args = ", ".join(f"{k}={show(v)}" for k, v in self.params.items() if k not in META_KEYS)
        return f"{self.dist}({args})" + (f" on the {self.on}" if self.on else "")

    def mixture(self) -> Mixture:
        """The prior as a :class:`~ipsbayes.mixture.Mixture` (``Normal`` is a one-component mixture)."""
        if self.dist == "NormalMixture":
            labels = tuple(self.labels or self.params.get("labels", ()))
            return Mixture("normal", self.params["w"], self.params["mu"], self.params["sigma"], labels)
        if self.dist == "Normal":
            return Mixture("normal", [1.0], [self.params["mu"]], [self.params["sigma"]])
        raise TypeError(f"a {self.dist} prior is not a normal mixture")

    def as_dict(self) -> dict[str, Any]:
        """Mapping suitable for writing back to TOML."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        labels = {"labels": list(self.labels)} if self.labels else {}
        on = {"on": self.on} if self.on else {}
        source_nb = {"source_nb": self.source_nb} if self.source_nb else {}
        return {"dist": self.dist, **params, **on, **labels, "source": self.source, **source_nb}


@dataclass(frozen=True)
class PriorSet:
    """A resolved prior set: the priors a model needs, overrides applied."""

    name: str
    description: str
    priors: dict[str, Prior] = field(default_factory=dict)
    path: Path | None = None
    #: the link scale the set's entries are stated on (a set's top-level ``link``), if it says
    link: str | None = None

    def __getitem__(self, key: str) -> Prior:
        """Return the prior for parameter ``key``."""
        try:
            return self.priors[key]
        except KeyError:
            raise KeyError(f"prior set '{self.name}' has no entry '{key}'; it has: {sorted(self.priors)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self.priors

    def table(self, language: str = "en") -> list[dict[str, str]]:
        """Rows (parameter, prior, source) for reports; a Norwegian report shows ``source_nb`` where there is one."""
        return [
            {
                "parameter": key,
                "prior": prior.describe(),
                "source": prior.source_nb if language == "nb" and prior.source_nb else prior.source,
            }
            for key, prior in self.priors.items()
        ]


def default_search_dirs(base_dir: Path | None = None) -> list[Path]:
    """Folders searched for prior sets, most specific first.

    ``$IPSBAYES_PRIORS``, then ``priors/`` beside and above the config folder,
    then ``./priors``, then the ``priors/`` folder of the ipsbayes source tree.
    """
    dirs = []
    if os.environ.get("IPSBAYES_PRIORS"):
        dirs.append(Path(os.environ["IPSBAYES_PRIORS"]))
    if base_dir is not None:
        dirs += [base_dir / "priors", base_dir.parent / "priors"]
    dirs += [Path.cwd() / "priors", Path(__file__).resolve().parents[2] / "priors"]
    unique: list[Path] = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique


def available_sets(search_dirs: list[Path]) -> list[str]:
    """Names of the prior sets found in ``search_dirs``."""
    return sorted({p.stem for d in search_dirs if d.is_dir() for p in d.glob("*.toml") if p.is_file()})


def check_prior(name: str, entry: Mapping[str, Any], where: str) -> list[str]:
    """Problems with one prior entry (unknown distribution, bad or missing parameters)."""
    dist = entry.get("dist")
    if dist is None:
        return [
            f"{where}: prior '{name}' has no 'dist' key; give one, e.g. {{ dist = \"HalfNormal\", sigma = 1.0 }}; "
            f"valid dists: {', '.join(DISTRIBUTIONS)}"
        ]
    if dist not in DISTRIBUTIONS:
        hint = did_you_mean(str(dist), DISTRIBUTIONS)
        return [f"{where}: prior '{name}': unknown dist {dist!r}{hint}; valid: {', '.join(DISTRIBUTIONS)}"]
    required, optional = DISTRIBUTIONS[dist]
    if dist in _VECTOR:
        return _check_mixture(name, entry, where)
    problems = []
    params = {k: v for k, v in entry.items() if k not in META_KEYS}
    for key in required:
        if key not in params:
            problems.append(f"{where}: prior '{name}' ({dist}) is missing parameter '{key}'")
    for key, value in params.items():
        if key not in required + optional:
            problems.append(
                f"{where}: prior '{name}' ({dist}): unknown parameter '{key}'{did_you_mean(key, required + optional)}; "
                f"valid: {', '.join(required + optional)}"
            )
        elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            problems.append(f"{where}: prior '{name}': parameter '{key}' must be a finite number, got {value!r}")
        elif key in _POSITIVE and value <= 0:
            problems.append(f"{where}: prior '{name}': parameter '{key}' must be > 0, got {value}")
        elif abs(value) > MAX_PRIOR_NUMBER or (key in _POSITIVE and value < MIN_PRIOR_SCALE):
            problems.append(
                f"{where}: prior '{name}': parameter '{key}' = {value:g} is outside what a sampler can start from; "
                + (
                    f"give a value between {MIN_PRIOR_SCALE:g} and {MAX_PRIOR_NUMBER:g}"
                    if key in _POSITIVE
                    else f"give a value between {-MAX_PRIOR_NUMBER:g} and {MAX_PRIOR_NUMBER:g}"
                )
            )
    if dist == "Uniform" and not problems and params["upper"] <= params["lower"]:
        problems.append(f"{where}: prior '{name}': Uniform needs upper > lower")
    return problems


def _check_mixture(name: str, entry: Mapping[str, Any], where: str) -> list[str]:
    """Problems with a ``NormalMixture`` entry: lists ``w``, ``mu``, ``sigma`` (and ``labels``)."""
    required, _ = DISTRIBUTIONS["NormalMixture"]
    problems = [
        f"{where}: prior '{name}' (NormalMixture) is missing parameter '{key}' (a list, one value per component)"
        for key in required
        if key not in entry
    ]
    for key in entry:
        if key not in (*required, *META_KEYS):
            problems.append(
                f"{where}: prior '{name}' (NormalMixture): unknown parameter '{key}'"
                f"{did_you_mean(key, (*required, 'labels'))}; valid: w, mu, sigma, labels"
            )
    if problems:
        return problems
    lists = {key: entry[key] for key in required}
    for key, value in lists.items():
        numeric = isinstance(value, list) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        if not numeric:
            problems.append(f"{where}: prior '{name}': '{key}' must be a list of numbers, got {value!r}")
    labels = entry.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        problems.append(f"{where}: prior '{name}': 'labels' must be a list of names, got {labels!r}")
    if problems:
        return problems
    found = mixture_problems("normal", *(np.asarray(lists[k], dtype=float) for k in required), tuple(labels))
    return [f"{where}: prior '{name}' (NormalMixture): {p}" for p in found]


def _numbers(entry: Mapping[str, Any]) -> dict[str, float | tuple[float, ...]]:
    """Parameter values of a checked entry: floats, or tuples of floats for mixtures."""
    return {
        k: tuple(float(x) for x in v) if isinstance(v, list) else float(v)
        for k, v in entry.items()
        if k not in META_KEYS
    }


def resolve_prior_set(
    set_name: str,
    needed: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    search_dirs: list[Path] | None = None,
    override_source: str = OVERRIDE_SOURCE,
    slots: Mapping[str, PriorSlot] | None = None,
) -> tuple[PriorSet | None, list[str]]:
    """Find a prior set, check it covers what a model needs, and apply overrides.

    Parameters
    ----------
    set_name : str
        Name of the set (file stem in one of the search folders).
    needed : mapping of str to str
        Parameter names the model family needs, with their meaning.
    overrides : mapping, optional
        Parameter name -> replacement (with ``dist``) or partial update of numbers.
    search_dirs : list of Path, optional
        Folders to search; default :func:`default_search_dirs`.
    override_source : str
        Text recorded as the source of overridden entries.
    slots : mapping of str to PriorSlot, optional
        What each parameter is (support, scale, default): entries are then checked for meaning,
        not only syntax (:func:`slot_problems`), entries a set states on another link scale are
        left to the family's data-scaled default, and parameters with a default may be absent
        (they are filled in after the data are read, see ``ModelFamily.default_priors``).

    Returns
    -------
    prior_set : PriorSet or None
        The resolved set, or None when a problem prevents resolving it.
    problems : list of str
        Every problem found (unknown set, missing or invalid entries, unknown override names).
    """
    overrides = overrides or {}
    search_dirs = search_dirs if search_dirs is not None else default_search_dirs()
    candidates = [d / f"{set_name}.toml" for d in search_dirs]
    path = next((p for p in candidates if p.is_file()), None)
    problems: list[str] = []
    for key in overrides:
        if key not in needed:
            problems.append(
                f"priors.overrides: unknown parameter '{key}'{did_you_mean(key, needed)}; "
                f"valid names for this model: {', '.join(needed)}"
            )
    slots = slots or {}
    if path is None and set_name == DEFAULTS_SET and slots:
        path, raw = None, {"description": 'Defaults scaled to the data (set = "defaults")'}
    elif path is None:
        known = available_sets(search_dirs)
        there = next((c for c in candidates if c.exists() or c.is_symlink()), None)
        if there is not None and (why := not_a_regular_file(there, "a prior set (.toml file)")):
            problems.append(f"priors.set '{set_name}': {why}")  # not "no prior set named ... (did you mean it?)"
            return None, problems
        problems.append(
            f"priors.set: no prior set named '{set_name}'{did_you_mean(set_name, known)}; "
            f"available: {', '.join(known) or '(none found)'}; searched {', '.join(map(str, search_dirs))}"
        )
        return None, problems
    else:
        raw = read_toml(path)
    description = str(raw.get("description", ""))
    set_link = raw.get("link") if isinstance(raw.get("link"), str) else None
    priors: dict[str, Prior] = {}
    for key, meaning in needed.items():
        slot = slots.get(key)
        entry = dict(raw.get(key, {})) if isinstance(raw.get(key), dict) else None
        if entry is not None and slot is not None and slot.link and set_link and set_link != slot.link:
            entry = None  # stated on another link scale: the family's data-scaled default applies instead
        override = dict(overrides.get(key, {}))
        source = entry.get("source", "") if entry else ""
        source_nb = entry.get("source_nb", "") if entry else ""
        if override:
            entry = override if ("dist" in override or entry is None) else {**entry, **override}
            source = str(override.get("source", override_source))
            default_nb = "overstyrt i kjøringens konfigurasjon" if override_source == OVERRIDE_SOURCE else ""
            source_nb = str(override.get("source_nb", "" if "source" in override else default_nb))
        if entry is None:
            if slot is None or not slot.has_default:
                problems.append(
                    f"{path}: prior set '{set_name}' has no entry '{key}' ({meaning}); add it or override it"
                )
            continue
        if not override and not str(source).strip():
            problems.append(f"{path}: prior '{key}' has no 'source' (each value needs its rationale or source)")
        where = str(path) if not override else "priors.overrides"
        entry_problems = check_prior(key, entry, where)
        if not entry_problems and slot is not None:
            entry_problems = slot_problems(key, entry, slot, where)
        problems += entry_problems
        if not entry_problems:
            labels = tuple(entry.get("labels", ()))
            priors[key] = Prior(
                dist=entry["dist"],
                params=_numbers(entry),
                source=str(source),
                on=entry.get("on"),
                labels=labels,
                source_nb=str(source_nb),
            )
    if problems:
        return None, problems
    return PriorSet(name=set_name, description=description, priors=priors, path=path, link=set_link), []


#: ``priors.set = "defaults"``: no file; every parameter takes its family's data-scaled default
DEFAULTS_SET = "defaults"


def _create_on_scale(prior: Prior, name: str, logit_offset: Any, **kwargs: Any) -> Any:
    """The random variable of a prior stated on another scale, and ``name`` as its deterministic image."""
    import pymc as pm
    import pytensor.tensor as pt

    inner = f"{name}_{prior.on}"
    params = {key: pm.Data(f"{inner}_prior_{key}", value) for key, value in prior.params.items()}
    if kwargs.get("initval") is not None:  # a starting value for ``name``, moved to the scale sampled
        start = float(kwargs["initval"])
        kwargs["initval"] = {"probability": 1.0 / (1.0 + math.exp(-start)), "variance": start**2}.get(
            prior.on, 1.0 / start**2
        )
    value = getattr(pm, prior.dist)(inner, **params, **kwargs)
    if prior.on == "probability":
        image = pt.log(value) - pt.log1p(-value)
        image = image if logit_offset is None else image - logit_offset
    elif prior.on == "variance":
        image = pt.sqrt(value)
    else:
        image = 1.0 / pt.sqrt(value)
    return pm.Deterministic(name, image, dims=kwargs.get("dims"))


def load_prior_set(
    set_name: str,
    needed: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    search_dirs: list[Path] | None = None,
) -> PriorSet:
    """Like :func:`resolve_prior_set` but raise one ConfigError listing every problem."""
    prior_set, problems = resolve_prior_set(set_name, needed, overrides, search_dirs)
    if prior_set is None:
        raise ConfigError(f"Prior set '{set_name}' cannot be used", problems)
    return prior_set
