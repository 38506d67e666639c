"""Public helpers for fast sampling tests (ci profile) and recovery assertions.

Nothing in ``src/`` imports this module; tests and the validation command do.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.errors import IpsBayesError


def load_raw_config(path: Path | str) -> dict[str, Any]:
    """Read a config file as a plain dict with data paths made absolute (so it can be edited and run anywhere)."""
    path = Path(path).resolve()
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    for key, value in raw.get("data", {}).items():
        if key in {"participants", "services", "reviews", "main"} and not Path(value).is_absolute():
            raw["data"][key] = str((path.parent / value).resolve())
    for table in raw.get("data", {}).get("tables", {}).values():
        if not Path(table["path"]).is_absolute():
            table["path"] = str((path.parent / table["path"]).resolve())
    priors = raw.setdefault("priors", {})
    if "path" in priors and not Path(priors["path"]).is_absolute():
        priors["path"] = str((path.parent / priors["path"]).resolve())
    elif "path" not in priors and (path.parent / "priors").is_dir() and path.parent.name != "models":
        priors["path"] = str((path.parent / "priors").resolve())  # an example's own prior sets
    return raw


def edit_config(raw: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """Copy of ``raw`` with dotted keys replaced, e.g. ``edit_config(raw, **{"sampler.profile": "ci"})``."""
    out = copy.deepcopy(dict(raw))
    for dotted, value in changes.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def interval(draws: xr.DataArray | np.ndarray, prob: float = 0.9) -> tuple[float, float]:
    """Equal-tailed interval of posterior draws."""
    values = np.asarray(draws).ravel()
    return float(np.quantile(values, (1 - prob) / 2)), float(np.quantile(values, (1 + prob) / 2))


def assert_covers(draws: xr.DataArray | np.ndarray, truth: float, prob: float = 0.9, name: str = "") -> None:
    """Fail with a readable message unless ``truth`` lies inside the ``prob`` equal-tailed interval."""
    low, high = interval(draws, prob)
    if not low <= truth <= high:
        raise AssertionError(
            f"{name or 'parameter'}: true value {truth:.4g} outside the {prob:.0%} interval [{low:.4g}, {high:.4g}]"
        )


def assert_recovers(estimands: xr.Dataset, truth: Mapping[str, float], prob: float = 0.9) -> None:
    """Check several truths at once: keys are ``name`` or ``name[element]`` of estimands or posterior variables."""
    failures = []
    for key, value in truth.items():
        name, _, element = key.partition("[")
        values = estimands[name]
        if element:
            dim = next(d for d in values.dims if d not in ("chain", "draw"))
            values = values.sel({dim: element[:-1]})
        try:
            assert_covers(values, value, prob, key)
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        raise AssertionError("; ".join(failures))


def expect_error(func: Any, *args: Any, **kwargs: Any) -> IpsBayesError:
    """Call ``func`` and return the IpsBayesError it raises (AssertionError if none)."""
    try:
        func(*args, **kwargs)
    except IpsBayesError as exc:
        return exc
    raise AssertionError(f"{getattr(func, '__name__', func)} raised no IpsBayesError")


def quick_fit(source: Any, *, profile: str = "ci", seed: int | None = None) -> xr.Dataset:
    """Validate, build, sample, gate and compute estimands (no predictive draws, no report): for recovery tests.

    The fit runs through the same pipeline as ``ipsbayes run``; its diagnostics are in ``attrs["diagnostics"]``.
    """
    from ipsbayes.pipeline import fit
    from ipsbayes.runner import check

    plan = check(source)
    config = plan.config.with_overrides(profile=profile, seed=seed)
    fitted = fit(plan.family, plan.spec, plan.priors, config, data=plan.data, model=plan.model, progress=False)
    estimands = fitted.estimands
    estimands.attrs["diagnostics"] = fitted.diagnostics.status
    return estimands
