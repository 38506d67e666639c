"""Simulators with known truth, one per study design (numpy/pandas only, no model code).

``simulate(design, seed, out)`` writes the design's tables as CSV plus
``truth.json``; the command line is ``ipsbayes simulate DESIGN --seed N --out DIR``.
The folder is written like a run folder (:mod:`ipsbayes.output`): staged next to
its target, moved into place complete, with a manifest; an earlier simulated data
set there is replaced, a folder of other files or a file is never touched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ipsbayes.errors import ConfigError, did_you_mean
from ipsbayes.output import atomic_output, claim_output, releasing_claims
from ipsbayes.simulate.ipsung import IpsUngDesign, simulate_ipsung
from ipsbayes.simulate.rij import RijDesign, simulate_rij

#: design name -> (design dataclass, simulator)
DESIGNS: dict[str, tuple[type, Callable[..., tuple[dict[str, pd.DataFrame], dict]]]] = {
    "ipsung": (IpsUngDesign, simulate_ipsung),
    "rij": (RijDesign, simulate_rij),
}


def make_design(name: str, options: Mapping[str, Any] | None = None) -> Any:
    """Build the design dataclass of ``name`` with ``options`` overriding its defaults.

    Raises
    ------
    ConfigError
        Listing every unknown option (with the valid ones), every value that cannot make
        a data set (with what would be valid) or an unknown design.
    """
    if name not in DESIGNS:
        raise ConfigError(f"Unknown design '{name}'{did_you_mean(name, DESIGNS)}; valid: {', '.join(DESIGNS)}")
    cls = DESIGNS[name][0]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
    problems, values = [], {}
    for key, value in (options or {}).items():
        if key not in fields:
            problems.append(f"unknown option '{key}'{did_you_mean(key, fields)}; valid: {', '.join(fields)}")
            continue
        default = getattr(cls(), key)
        try:
            values[key] = _coerce(value, default)
        except (TypeError, ValueError):
            problems.append(f"option '{key}': cannot read {value!r} as {type(default).__name__}")
    if problems:
        raise ConfigError(f"Invalid options for design '{name}'", problems)
    design = cls(**values)
    if impossible := design.problems():
        raise ConfigError(f"Invalid options for design '{name}'", impossible)
    return design


def _coerce(value: Any, default: Any) -> Any:
    """Convert command-line text to the type of the default value."""
    if not isinstance(value, str):
        return value
    if isinstance(default, bool):
        return value.lower() in {"1", "true", "yes"}
    if isinstance(default, tuple):
        return tuple(type(default[0])(v) for v in value.split(","))
    return type(default)(value)


@releasing_claims
def simulate(
    design: str,
    seed: int,
    out: Path | str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Simulate a data set of ``design``; write CSV tables and ``truth.json`` when ``out`` is given.

    Parameters
    ----------
    design : str
        Study design, e.g. ``"ipsung"`` or ``"rij"``.
    seed : int
        Random seed (same seed, same data).
    out : path, optional
        Folder to write ``<table>.csv`` files and ``truth.json`` into.
    options : mapping, optional
        Overrides of the design's defaults (sizes and true parameters).
    force : bool
        When ``out`` holds files ipsbayes did not write (or is a file), write into the first
        free ``out-2``, ``out-3``, ... instead of refusing.

    Returns
    -------
    tables : dict of DataFrame
    truth : dict

    Raises
    ------
    ConfigError
        For an unknown design or impossible options.
    OutputError
        When ``out`` cannot be used (exit code 2); nothing is written.
    """
    if not 0 <= int(seed) < 2**32:
        raise ConfigError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    design_obj = make_design(design, options)
    claim = claim_output(Path(out), kind="simulation", force=force) if out is not None else None
    tables, truth = DESIGNS[design][1](seed, design_obj)
    if claim is not None:
        with atomic_output(claim, timestamp=False) as folder:
            for name, frame in tables.items():
                frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
            (folder / "truth.json").write_text(json.dumps(_rounded(truth), indent=2, sort_keys=False) + "\n")
    return tables, truth


def _rounded(value: Any) -> Any:
    """Floats rounded to 12 significant digits.

    Derived truths (means over participants) can differ in the last bit between CPUs; the file should not.
    """
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value
