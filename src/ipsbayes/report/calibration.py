"""Find the ``ipsbayes validate`` run of a config and read what it measured, for the report to quote.

A validation folder (``runs/<name>-validation/`` by default, ``runs/validation/<name>/``
from ``make validate``, or the folder ``validation.results`` names) holds
``coverage.csv`` (coverage per quantity and nominal probability, mean truth and mean
posterior mean) and ``provenance.json`` (design, options, datasets). Only a folder
whose provenance names the same config and model kind is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ipsbayes.config import RunConfig


def candidate_folders(name: str, roots: Iterable[Path], explicit: Path | None = None) -> list[Path]:
    """Where a validation run of config ``name`` may live, most specific first."""
    folders = [explicit] if explicit is not None else []
    for root in roots:
        folders += [
            root / "runs" / f"{name}-validation",
            root / "runs" / "validation" / name,
            root / f"{name}-validation",
        ]
    return folders


def find_validation(name: str, kind: str, roots: Iterable[Path], explicit: Path | None = None) -> Path | None:
    """The first validation folder of config ``name`` (model ``kind``) with a ``coverage.csv``, or None."""
    for folder in candidate_folders(name, roots, explicit):
        if not (folder / "coverage.csv").is_file():
            continue
        meta = _provenance(folder)
        if meta.get("model") not in (None, kind):
            continue
        config = str(meta.get("config", ""))
        if config and Path(config).stem != name and folder != explicit:
            continue
        return folder
    return None


def load_calibration(folder: Path | None, interval_prob: float) -> dict[str, Any] | None:
    """Coverage at the report's interval probability and the mean pull per quantity, from a validation folder.

    Returns
    -------
    dict or None
        ``path``, ``design``, ``n_participants`` (from the simulator options, when set) and
        ``quantities``: quantity -> {nominal, coverage, mcse, datasets, mean_truth, mean_posterior_mean}
        (coverage study only; the nominal probability closest to ``interval_prob``).
    """
    if folder is None:
        return None
    try:
        table = pd.read_csv(folder / "coverage.csv")
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if table.empty or "quantity" not in table or "nominal" not in table:
        return _ignored(folder, "it has no 'quantity' and 'nominal' columns")
    if "study" in table:
        table = table[table["study"] == "coverage"]
    for key in ("nominal", *_NUMBERS):
        if key in table:
            numbers = pd.to_numeric(table[key], errors="coerce")
            if numbers.isna().any() and not table[key].isna().all():
                return _ignored(folder, f"column '{key}' holds values that are not numbers")
            table = table.assign(**{key: numbers})
    meta = _provenance(folder)
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    quantities = {}
    for quantity, rows in table.groupby("quantity"):
        row = rows.iloc[(rows["nominal"] - interval_prob).abs().argsort()[:1]].iloc[0]
        quantities[str(quantity)] = {key: float(row[key]) for key in ("nominal", *_NUMBERS) if key in row}
    design = meta.get("design") if isinstance(meta.get("design"), str) else None
    return {
        "path": str(folder),
        "design": design,
        "n_participants": _size(design, options),
        "quantities": quantities,
    }


def _size(design: str | None, options: dict[str, Any]) -> int | None:
    """Participants per simulated data set (the simulator's default unless the options set it)."""
    if design is None:
        return None
    from ipsbayes.errors import IpsBayesError
    from ipsbayes.simulate import make_design

    try:
        return int(getattr(make_design(design, options), "n_participants", 0)) or None
    except (IpsBayesError, TypeError, ValueError):  # a design or options this version does not know: no size
        return None


#: the columns of coverage.csv quoted in reports
_NUMBERS = ("coverage", "mcse", "datasets", "mean_truth", "mean_posterior_mean")


def _ignored(folder: Path, why: str) -> None:
    """Say that a validation folder cannot be quoted (the run goes on without its calibration)."""
    import logging

    logging.getLogger("ipsbayes").warning(
        "validation results in %s are not quoted in the report: %s/coverage.csv %s", folder, folder, why
    )


def _provenance(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / "provenance.json").read_text()))
    except (OSError, ValueError):
        return {}


def calibration_of(config: RunConfig, kind: str) -> dict[str, Any] | None:
    """What ``ipsbayes validate`` measured for this config, when a validation run of it can be found."""
    explicit = config.resolve(Path(config.validation.results)) if config.validation.results else None
    roots = dict.fromkeys([Path.cwd(), config.base_dir, config.base_dir.parent])
    return load_calibration(find_validation(config.name, kind, roots, explicit), config.report.interval_prob)


__all__ = ["calibration_of", "candidate_folders", "find_validation", "load_calibration"]
