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
import math
import re
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


#: range of a design's numbers that its ``LIMITS`` do not list
NUMBER_RANGE = (-1_000.0, 1_000.0)
#: range of a design's whole numbers that its ``LIMITS`` do not list
WHOLE_RANGE = (0, 1_000_000)
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no"}


def make_design(name: str, options: Mapping[str, Any] | None = None, *, text: bool = True) -> Any:
    """Build the design dataclass of ``name`` with ``options`` overriding its defaults.

    Every option must have its default's type (text from the command line is converted where
    ``text``; options from a config file are TOML values, where a number in quotes is refused), be
    finite and lie in the design's ``LIMITS`` (:data:`NUMBER_RANGE` and :data:`WHOLE_RANGE` for
    the others) before the design's own ``problems()`` check how the settings fit together.

    Raises
    ------
    ConfigError
        Listing every unknown option (with the valid ones), every value that cannot make
        a data set (naming the option, the value and what would be valid) or an unknown design.
    """
    if name not in DESIGNS:
        raise ConfigError(f"Unknown design '{name}'{did_you_mean(name, DESIGNS)}; valid: {', '.join(DESIGNS)}")
    cls = DESIGNS[name][0]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
    defaults = cls()
    problems, values, wrong = [], {}, set()
    for key, value in (options or {}).items():
        if key not in fields:
            problems.append(f"unknown option '{key}'{did_you_mean(key, fields)}; valid: {', '.join(fields)}")
            continue
        default = getattr(defaults, key)
        if not text and isinstance(value, str) and not isinstance(default, str):
            problems.append(
                f"option '{key}': {_shown(value)} is text; write {_kind(default)} without quotes "
                f"({key} = {value.strip()})"
            )
            wrong.add(key)
            continue
        try:
            values[key] = _coerce(value, default)
        except (TypeError, ValueError, OverflowError):
            problems.append(f"option '{key}': cannot read {_shown(value)} as {_kind(default)}")
            wrong.add(key)
            continue
        if (problem := _range_problem(key, values[key], default, getattr(cls, "LIMITS", {}))) is not None:
            problems.append(problem)
            wrong.add(key)
    # how the other settings fit together, with the default in place of each value already refused
    # (a problem naming a refused option is left out: it would quote the default, not the value given)
    design = cls(**{k: v for k, v in values.items() if k not in wrong})
    problems += [p for p in design.problems() if not any(re.search(rf"\b{k}\b", p) for k in wrong)]
    if problems:
        raise ConfigError(f"Invalid options for design '{name}'", problems)
    return design


def _coerce(value: Any, default: Any) -> Any:
    """``value`` as the type of ``default``: command-line text is converted, anything else must have that type."""
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not items:
            raise TypeError("a list")
        return tuple(_coerce(item, default[0]) for item in items)
    if isinstance(default, bool):
        text = value.strip().lower() if isinstance(value, str) else None
        if isinstance(value, bool) or text in _TRUE | _FALSE:
            return value if isinstance(value, bool) else text in _TRUE
        raise ValueError("not true or false")
    if isinstance(value, bool) or isinstance(value, list | tuple | dict):
        raise TypeError("not a single value of this type")
    if isinstance(default, int):
        if isinstance(value, float):
            raise TypeError("a number where a whole number is meant")
        return int(value.strip()) if isinstance(value, str) else int(value)
    if isinstance(default, float):
        return float(value.strip()) if isinstance(value, str) else float(value)
    if not isinstance(value, type(default)):
        raise TypeError("not text")
    return value


def _range_problem(key: str, value: Any, default: Any, limits: Mapping[str, tuple[float, float]]) -> str | None:
    """Why ``value`` of option ``key`` is not finite or not in its range (None when it is fine)."""
    if isinstance(default, bool | str) or (isinstance(default, tuple) and isinstance(default[0], str)):
        return None
    whole = isinstance(default, int) or (isinstance(default, tuple) and isinstance(default[0], int))
    low, high = limits.get(key, WHOLE_RANGE if whole else NUMBER_RANGE)
    items = value if isinstance(value, tuple) else (value,)
    valid = f"{'a whole number' if whole else 'a finite number'} from {_number(low)} to {_number(high)}"
    if isinstance(default, tuple):
        valid = f"numbers separated by commas, each {valid}"
    if all(math.isfinite(item) and low <= item <= high for item in items):
        return None
    return f"option '{key}' = {_shown(value)}: must be {valid}"


def _kind(default: Any) -> str:
    """What a value of ``default``'s type is called in a message."""
    if isinstance(default, tuple):
        return f"numbers separated by commas ({_kind(default[0])} each)"
    if isinstance(default, bool):
        return "true or false"
    return {int: "a whole number", float: "a number"}.get(type(default), "text")


def _number(limit: float) -> str:
    """A limit as a message states it: ``200,000``, ``-1,000``, ``0.01``."""
    return f"{int(limit):,}" if float(limit).is_integer() else f"{limit:g}"


def _shown(value: Any) -> str:
    """A value as a message shows it: numbers as Python writes them, text quoted, at most 60 characters."""
    if isinstance(value, tuple):
        text = ",".join(_shown(item) for item in value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float | int):
        text = repr(value)
    else:
        text = repr(str(value)) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else f"{text[:60]}..."


@releasing_claims
def simulate(
    design: str,
    seed: int,
    out: Path | str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
    text: bool = True,
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
    text : bool
        Whether ``options`` may be text to convert (the command line's); False for a config's TOML values.

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
    design_obj = make_design(design, options, text=text)
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
