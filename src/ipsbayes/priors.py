"""Named prior sets: parse ``priors/*.toml``, apply overrides, hand builders distributions.

A prior set is a TOML file with one table per parameter name::

    description = "Weakly informative priors on the logit scale"

    [sd_service]
    dist = "HalfNormal"
    sigma = 1.0
    source = "why this value (a reference or a rationale)"

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

from ipsbayes.config import read_toml
from ipsbayes.errors import ConfigError, did_you_mean

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
}
_POSITIVE = {"sigma", "nu", "lam", "alpha", "beta", "eta"}
_META_KEYS = {"dist", "source"}


@dataclass(frozen=True)
class Prior:
    """One prior: a distribution name, its parameters and why it was chosen."""

    dist: str
    params: dict[str, float]
    source: str

    def create(self, name: str, **kwargs: Any) -> Any:
        """Create the PyMC random variable ``name`` inside the current model context.

        The prior's numbers enter the graph as data (``<name>_prior_<param>``), not as
        constants, so a model compiled once can be refitted under another prior set of
        the same distributions without compiling again (nutpie ``with_data``).
        """
        import pymc as pm

        if self.dist == "LKJ":
            raise TypeError(f"prior '{name}' is an LKJ prior: use its eta in an LKJCholeskyCov")
        params = {key: pm.Data(f"{name}_prior_{key}", value) for key, value in self.params.items()}
        return getattr(pm, self.dist)(name, **params, **kwargs)

    def distribution(self, name: str) -> Any:
        """An unnamed distribution (``pm.X.dist``), e.g. the SD distribution of an LKJ covariance."""
        import pymc as pm

        params = {key: pm.Data(f"{name}_prior_{key}", value) for key, value in self.params.items()}
        return getattr(pm, self.dist).dist(**params)

    def hyperparameter(self, name: str, key: str) -> Any:
        """One number of this prior as model data (e.g. the LKJ ``eta``), named like :meth:`create`'s."""
        import pymc as pm

        return pm.Data(f"{name}_prior_{key}", self.params[key])

    def describe(self) -> str:
        """Short text such as ``Normal(mu=0, sigma=1)``."""
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({args})"

    def as_dict(self) -> dict[str, Any]:
        """Mapping suitable for writing back to TOML."""
        return {"dist": self.dist, **self.params, "source": self.source}


@dataclass(frozen=True)
class PriorSet:
    """A resolved prior set: the priors a model needs, overrides applied."""

    name: str
    description: str
    priors: dict[str, Prior] = field(default_factory=dict)
    path: Path | None = None

    def __getitem__(self, key: str) -> Prior:
        """Return the prior for parameter ``key``."""
        try:
            return self.priors[key]
        except KeyError:
            raise KeyError(f"prior set '{self.name}' has no entry '{key}'; it has: {sorted(self.priors)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self.priors

    def table(self) -> list[dict[str, str]]:
        """Rows (parameter, prior, source) for reports."""
        return [
            {"parameter": key, "prior": prior.describe(), "source": prior.source} for key, prior in self.priors.items()
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
    return sorted({p.stem for d in search_dirs if d.is_dir() for p in d.glob("*.toml")})


def check_prior(name: str, entry: Mapping[str, Any], where: str) -> list[str]:
    """Problems with one prior entry (unknown distribution, bad or missing parameters)."""
    dist = entry.get("dist")
    if dist not in DISTRIBUTIONS:
        hint = did_you_mean(str(dist), DISTRIBUTIONS)
        return [f"{where}: prior '{name}': unknown dist {dist!r}{hint}; valid: {', '.join(DISTRIBUTIONS)}"]
    required, optional = DISTRIBUTIONS[dist]
    problems = []
    params = {k: v for k, v in entry.items() if k not in _META_KEYS}
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
    if dist == "Uniform" and not problems and params["upper"] <= params["lower"]:
        problems.append(f"{where}: prior '{name}': Uniform needs upper > lower")
    return problems


def resolve_prior_set(
    set_name: str,
    needed: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    search_dirs: list[Path] | None = None,
    override_source: str = "override in the run config",
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
    if path is None:
        known = available_sets(search_dirs)
        problems.append(
            f"priors.set: no prior set named '{set_name}'{did_you_mean(set_name, known)}; "
            f"available: {', '.join(known) or '(none found)'}; searched {', '.join(map(str, search_dirs))}"
        )
        return None, problems
    raw = read_toml(path)
    description = str(raw.get("description", ""))
    priors: dict[str, Prior] = {}
    for key, meaning in needed.items():
        entry = dict(raw.get(key, {})) if isinstance(raw.get(key), dict) else None
        override = dict(overrides.get(key, {}))
        source = entry.get("source", "") if entry else ""
        if override:
            entry = override if ("dist" in override or entry is None) else {**entry, **override}
            source = str(override.get("source", override_source))
        if entry is None:
            problems.append(f"{path}: prior set '{set_name}' has no entry '{key}' ({meaning}); add it or override it")
            continue
        if not override and not str(source).strip():
            problems.append(f"{path}: prior '{key}' has no 'source' (each value needs its rationale or source)")
        entry_problems = check_prior(key, entry, str(path) if not override else "priors.overrides")
        problems += entry_problems
        if not entry_problems:
            params = {k: float(v) for k, v in entry.items() if k not in _META_KEYS}
            priors[key] = Prior(dist=entry["dist"], params=params, source=str(source))
    if problems:
        return None, problems
    return PriorSet(name=set_name, description=description, priors=priors, path=path), []


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
