"""The evidence table: one row per historical trial, with events and totals per arm.

Rows are checked before any fitting (whole-number counts, ``0 <= r <= n``, ``n > 0``,
unique study names, covariates numeric) and every problem is reported at once. Rows
the researchers could not verify against the publication (``verified`` not true) are
left out of the default analysis and counted in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ipsbayes.errors import DataError
from ipsbayes.evidence.config import MapConfig

TRUE = {"true", "yes", "1", "y", "verified"}


@dataclass(frozen=True)
class Evidence:
    """The trials that enter the meta-analysis, as arrays."""

    studies: list[str]
    r_control: np.ndarray
    n_control: np.ndarray
    r_treatment: np.ndarray | None
    n_treatment: np.ndarray | None
    covariates: np.ndarray  # (trials, covariates)
    covariate_names: list[str]
    frame: pd.DataFrame
    left_out: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of trials."""
        return len(self.studies)


def _is_true(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return str(value).strip().lower() in TRUE


def read_evidence(config: MapConfig) -> Evidence:
    """Read, filter and check the evidence table named in ``config``.

    Raises
    ------
    DataError
        Listing every problem (missing columns, impossible counts, duplicate studies, no trials left).
    """
    path = config.resolve(config.evidence)
    frame = pd.read_csv(path, skipinitialspace=True)
    cols = config.columns
    count_columns = [cols.r_control, cols.n_control]
    if config.design == "two_arm":
        count_columns += [cols.r_treatment, cols.n_treatment]
    needed = [cols.study, *count_columns, *config.hierarchy.covariates]
    if cols.verified and not config.include_unverified:
        needed.append(cols.verified)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"Evidence table {path} does not match the config",
            [f"{path}: missing column '{c}'; columns present: {', '.join(map(str, frame.columns))}" for c in missing],
        )
    left_out: list[str] = []
    if cols.verified and not config.include_unverified:
        keep = frame[cols.verified].map(_is_true)
        left_out = frame.loc[~keep, cols.study].astype(str).tolist()
        frame = frame[keep]
    frame = frame.reset_index(drop=True)
    problems = _problems(frame, config, count_columns, path)
    if problems:
        raise DataError(f"Evidence table {path} cannot be used", problems)
    counts = {c: frame[c].to_numpy(dtype=int) for c in count_columns}
    covariates = frame[config.hierarchy.covariates].to_numpy(dtype=float).reshape(len(frame), -1)
    two_arm = config.design == "two_arm"
    return Evidence(
        studies=frame[cols.study].astype(str).tolist(),
        r_control=counts[cols.r_control],
        n_control=counts[cols.n_control],
        r_treatment=counts[cols.r_treatment] if two_arm else None,
        n_treatment=counts[cols.n_treatment] if two_arm else None,
        covariates=covariates,
        covariate_names=list(config.hierarchy.covariates),
        frame=frame,
        left_out=left_out,
    )


def _problems(frame: pd.DataFrame, config: MapConfig, count_columns: list[str], path: object) -> list[str]:
    cols = config.columns
    problems = []
    if frame.empty:
        return [f"{path}: no trials left to analyse (all rows were left out as unverified, or the table is empty)"]
    if config.design == "two_arm" and len(frame) < 2:
        problems.append(f"{path}: a meta-analysis needs at least 2 trials, found {len(frame)}")
    duplicated = frame[cols.study].astype(str).duplicated()
    if duplicated.any():
        problems.append(f"{path}: study names must be unique; repeated: {sorted(set(frame[cols.study][duplicated]))}")
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in count_columns}
    for column, values in numbers.items():
        bad = values.isna() | (values < 0) | (values % 1 != 0)
        if bad.any():
            rows = frame.loc[bad, cols.study].astype(str).tolist()
            problems.append(f"{path}: column '{column}' must hold whole numbers >= 0; bad in {rows}")
    pairs = [(cols.r_control, cols.n_control)]
    if config.design == "two_arm":
        pairs.append((cols.r_treatment, cols.n_treatment))
    for r, n in pairs:
        bad = (numbers[r] > numbers[n]) | (numbers[n] <= 0)  # rows with unreadable numbers are reported above
        if bad.any():
            rows = frame.loc[bad, cols.study].astype(str).tolist()
            problems.append(f"{path}: need 0 <= {r} <= {n} and {n} > 0; violated in {rows}")
    for column in config.hierarchy.covariates:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            rows = frame.loc[values.isna(), cols.study].astype(str).tolist()
            problems.append(f"{path}: covariate '{column}' must be numeric (e.g. 0/1); missing or text in {rows}")
    return problems
