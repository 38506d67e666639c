"""The evidence table: one row per historical trial, with events and totals per arm.

Rows are checked before any fitting (whole-number counts, ``0 <= r <= n``, ``n > 0``,
unique study names, covariates numeric) and every problem is reported at once. Rows
the researchers could not verify against the publication (``verified`` not true) are
left out of the default analysis and counted in the report. Text may not hold line breaks
or other control characters (they would end up in the comments of the written prior set).
Rows are named by study and by their 1-based data row (row 1 is the first row after the
CSV header), as in :mod:`ipsbayes.data`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ipsbayes.data_read import read_table
from ipsbayes.errors import DataError
from ipsbayes.evidence.config import MapConfig
from ipsbayes.textutil import shorten

#: the words a flag column (``columns.verified``) may hold, in any case; an empty cell counts as "no"
TRUE = {"true", "yes", "1", "y", "verified"}
FALSE = {"false", "no", "0", "n", "unverified", ""}

#: line breaks and other control characters (C0, DEL, C1, Unicode line/paragraph separators)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: column holding each row's 1-based data-row number in the CSV (kept through the filtering)
ROW = "_row"
#: largest count a trial's arm may hold (a larger one is a typo, and would overflow the integer cast)
MAX_COUNT = 10_000_000


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


def flag(value: object) -> bool | None:
    """A flag cell as True or False, or None when it is neither (e.g. "maybe").

    Accepted: yes/no, true/false, 1/0, y/n, verified/unverified (any case) and booleans; an empty
    cell is "no". Numbers read as 1.0/0.0 (a column of 1, 0 and empty cells) count as 1/0.
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        if value != value:  # NaN: an empty cell in a column pandas read as numbers
            return False
        return True if value == 1 else (False if value == 0 else None)
    if value is None:
        return False
    text = str(value).strip().lower()
    return True if text in TRUE else (False if text in FALSE else None)


def flag_problems(frame: pd.DataFrame, column: str, study: str, path: object) -> list[str]:
    """One problem naming the rows of a flag column that hold neither a yes nor a no word."""
    parsed = frame[column].map(flag)
    bad = parsed.isna()
    if not bad.any():
        return []
    values = shorten(dict.fromkeys(repr(str(v).strip()) for v in frame.loc[bad, column]), 5)
    return [
        f"{path}: column '{column}' must say yes or no; found {values} in {_rows(frame, bad, study)}. "
        "Valid values (any case): yes/no, true/false, 1/0, y/n, verified/unverified; an empty cell means no"
    ]


def read_evidence(config: MapConfig) -> Evidence:
    """Read, filter and check the evidence table named in ``config``.

    Raises
    ------
    DataError
        Listing every problem (missing columns, impossible counts, duplicate studies, no trials left).
    """
    path = config.resolve(config.evidence)
    cols = config.columns
    # the data tables' reader: separator sniffed, empty or unparsable files and rows longer than the header named
    frame = read_table(path, "evidence", text_columns=[cols.study]).frame
    for column in frame.columns:  # "A, 12, 40": the spaces after separators are not part of the values
        if pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object:
            stripped = frame[column].map(lambda v: v.strip() if isinstance(v, str) else v)
            numbers = pd.to_numeric(stripped, errors="coerce")
            whole = column != cols.study and (numbers.notna() | stripped.isna()).all()
            frame[column] = numbers if whole else stripped
    count_columns = [cols.r_control, cols.n_control]
    if config.design == "two_arm":
        count_columns += [cols.r_treatment, cols.n_treatment]
    needed = [cols.study, *count_columns, *config.hierarchy.covariates]
    if cols.verified and not config.include_unverified:
        needed.append(cols.verified)
    problems = control_problems(frame, path)
    if problems:
        raise DataError(f"Evidence table {path} cannot be used", problems)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"Evidence table {path} does not match the config",
            [f"{path}: missing column '{c}'; columns present: {', '.join(map(str, frame.columns))}" for c in missing],
        )
    frame[ROW] = np.arange(1, len(frame) + 1)
    left_out: list[str] = []
    if cols.verified and not config.include_unverified:
        problems = flag_problems(frame, cols.verified, cols.study, path)
        if problems:
            raise DataError(f"Evidence table {path} cannot be used", problems)
        keep = frame[cols.verified].map(flag).astype(bool)
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
    unnamed = frame[cols.study].isna() | (frame[cols.study].astype(str).str.strip() == "")
    if unnamed.any():
        problems.append(f"{path}: column '{cols.study}' is empty in data row(s) {_numbers(frame, unnamed)}")
        frame = frame[~unnamed]
    duplicated = frame[cols.study].astype(str).duplicated()
    if duplicated.any():
        repeated = frame[cols.study].astype(str).duplicated(keep=False)
        problems.append(f"{path}: study names must be unique; repeated: {_rows(frame, repeated, cols.study)}")
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in count_columns}
    for column, values in numbers.items():
        bad = values.isna() | (values < 0) | (values % 1 != 0) | (values > MAX_COUNT)
        if bad.any():
            problems.append(
                f"{path}: column '{column}' must hold whole numbers from 0 to {MAX_COUNT:,}; bad in "
                f"{_rows(frame, bad, cols.study)}"
            )
    pairs = [(cols.r_control, cols.n_control)]
    if config.design == "two_arm":
        pairs.append((cols.r_treatment, cols.n_treatment))
    for r, n in pairs:
        bad = (numbers[r] > numbers[n]) | (numbers[n] <= 0)  # rows with unreadable numbers are reported above
        if bad.any():
            problems.append(f"{path}: need 0 <= {r} <= {n} and {n} > 0; violated in {_rows(frame, bad, cols.study)}")
    for column in config.hierarchy.covariates:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            rows = _rows(frame, pd.Series(bad, index=frame.index), cols.study)
            problems.append(
                f"{path}: covariate '{column}' must be a finite number (e.g. 0/1); missing, infinite or text in {rows}"
            )
    return problems


def control_problems(frame: pd.DataFrame, path: object) -> list[str]:
    """One problem per text cell holding a line break or control character, with column and data row."""
    problems = []
    for column in frame.columns:
        if CONTROL.search(str(column)):
            problems.append(f"{path}: a column name holds a line break or control character: {str(column)!r}")
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            continue
        for index, value in values.items():
            if isinstance(value, str) and CONTROL.search(value):
                shown = value if len(value) <= 60 else value[:57] + "..."
                problems.append(
                    f"{path}: column '{column}', data row {int(index) + 1}: text may not hold line breaks or control "
                    f"characters, found {shown!r}"
                )
    return problems


def _numbers(frame: pd.DataFrame, bad: pd.Series) -> str:
    """The data row numbers (counted from 1 below the header) of the ``bad`` rows."""
    return shorten(str(row) for row in frame.loc[bad, ROW])


def _rows(frame: pd.DataFrame, bad: pd.Series, study: str) -> str:
    """The bad rows as 'T02 (data row 3), T04 (data row 5)' (data rows counted from 1 below the header)."""
    names, rows = frame.loc[bad, study].astype(str), frame.loc[bad, ROW]
    return shorten(f"{name} (data row {row})" for name, row in zip(names, rows, strict=True))
