"""Read participant/service tables and check the things every table must satisfy.

:func:`read_bundle` reads every table a config names and checks what holds whatever the model:
unique ids, finite numbers, more than one group. The column checks a model family runs on what
it declares (required columns, binary outcomes, ranges, nesting) are in :mod:`ipsbayes.data_checks`.
Each check returns a list of problems rather than raising, so a model family can run all of them
and raise one :class:`~ipsbayes.errors.DataError` (:func:`raise_if`) that names the file, the
column, example row numbers and what would be valid. Row numbers are 1-based data rows (row 1 is
the first row after the CSV header, line 2 of the file), written by :func:`row_numbers` with their lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipsbayes.config import RunConfig
from ipsbayes.data_read import (
    MAX_LISTED,
    SEPARATORS,
    Table,
    csv_header,
    read_table,
    repeated_names,
    sniff_csv,
    unsupported_columns,
)
from ipsbayes.errors import DataError, did_you_mean
from ipsbayes.textutil import plain, plain_repr, regular_plural, shorten

__all__ = ["SEPARATORS", "Table", "csv_header", "read_table", "repeated_names", "sniff_csv"]

MAX_EXAMPLE_ROWS = 5
#: key columns checked for duplicates when the table has them (``[data] participant_id`` overrides the first)
DEFAULT_KEYS = {
    "participants": ["participant_id"],
    "main": ["participant_id"],
    "services": ["service"],
    "reviews": ["service", "review"],
}


@dataclass
class DataBundle:
    """The raw tables of one run plus their hashes and what cleaning did."""

    participants: Table
    services: Table | None = None
    reviews: Table | None = None
    monthly_status: Table | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    #: rows dropped for missing values (``data.missing = "drop"``), by table label
    dropped_rows: dict[str, int] = field(default_factory=dict)
    #: which data rows were dropped, by table label: column -> 1-based data rows of the file missing it
    dropped_where: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: file positions (0-based) of the rows left after earlier drops, by table label
    kept_rows: dict[str, np.ndarray] = field(default_factory=dict)
    #: the file each table that lost rows was read from, by table label
    dropped_files: dict[str, Path] = field(default_factory=dict)
    #: further tables declared under ``[data.tables]``, by name, with their join keys and row kind
    extra: dict[str, Table] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)
    many: set[str] = field(default_factory=set)

    def tables(self) -> list[Table]:
        """The tables that are present."""
        tables = (self.participants, self.services, self.reviews, self.monthly_status, *self.extra.values())
        return [t for t in tables if t is not None]

    def copy(self) -> DataBundle:
        """A copy whose tables can be cleaned and recoded without changing this bundle's frames."""

        def _copy(table: Table | None) -> Table | None:
            return None if table is None else Table(table.frame.copy(), table.path, table.label, table.decimal)

        return DataBundle(
            participants=_copy(self.participants),
            services=_copy(self.services),
            reviews=_copy(self.reviews),
            monthly_status=_copy(self.monthly_status),
            hashes=dict(self.hashes),
            dropped_rows=dict(self.dropped_rows),
            dropped_where={label: {c: list(r) for c, r in cols.items()} for label, cols in self.dropped_where.items()},
            kept_rows={label: rows.copy() for label, rows in self.kept_rows.items()},
            dropped_files=dict(self.dropped_files),
            extra={name: _copy(table) for name, table in self.extra.items()},
            keys={name: list(keys) for name, keys in self.keys.items()},
            many=set(self.many),
        )


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (recorded in provenance)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def duplicate_keys(table: Table, columns: Sequence[str]) -> list[str]:
    """Problems for rows that repeat a key (one column or a combination) that must be unique.

    Parameters
    ----------
    table : Table
        The table to check.
    columns : sequence of str
        The key column(s); missing values count as values.

    Returns
    -------
    list of str
        One problem naming the repeated ids with their rows, or nothing.
    """
    columns = list(columns)
    if not columns or any(c not in table.frame.columns for c in columns):
        return []
    keys = table.frame[columns].astype(str)
    repeated = keys.duplicated(keep=False)
    if not repeated.any():
        return []
    by = columns if len(columns) > 1 else columns[0]
    groups = table.frame.loc[repeated].groupby(by, sort=False, dropna=False).groups
    shown = []
    for key, index in list(groups.items())[:MAX_EXAMPLE_ROWS]:
        name = " / ".join(plain(k) for k in key) if isinstance(key, tuple) else key
        shown.append(f"{plain_repr(name, 60)} at {row_numbers([i + 1 for i in index])}")
    what = " + ".join(columns)
    more = f"; {len(groups):,} repeated ids in all, {int(repeated.sum()):,} rows" if len(groups) > len(shown) else ""
    return [
        f"{table.where}: {what} must be unique, but {len(groups):,} value(s) appear more than once: "
        f"{'; '.join(shown)}{more}. Remove the repeated rows (each {what} once) and run again"
    ]


def single_group(bundle: DataBundle, group: str) -> list[str]:
    """Problems when every participant is in one group (a multilevel model compares at least two).

    Parameters
    ----------
    bundle : DataBundle
        The tables read.
    group : str
        The grouping column (the model's ``service`` key, ``service`` by default).
    """
    if bundle.services is not None and len(bundle.services.frame) == 1:
        return [
            f"{bundle.services.where} has only one row (one {group}); a multilevel model compares "
            f"{regular_plural(group, 'en')} and needs at least two. With one {group}, fit a model without the "
            f"{group} level"
        ]
    frame = bundle.participants.frame
    if group in frame.columns and frame[group].nunique(dropna=True) == 1:
        value = plain(frame[group].dropna().iloc[0])
        return [
            f"{bundle.participants.where}: all {len(frame):,} rows are in one {group} ({value}); a multilevel "
            f"model compares {regular_plural(group, 'en')} and needs at least two. With one {group}, fit a model "
            f"without the {group} level"
        ]
    return []


#: a number written with a decimal comma, with a decimal point, and a whole number (as text in a CSV cell)
_COMMA_NUMBER = re.compile(r"^[-+]?\d*,\d+$")
_POINT_NUMBER = re.compile(r"^[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_WHOLE_NUMBER = re.compile(r"^[-+]?\d+$")
_MARKS = {",": "decimal comma", ".": "decimal point"}


def mixed_decimals(table: Table) -> list[str]:
    """Problems for CSV columns whose numbers mix decimal commas and decimal points.

    A CSV is read with one decimal mark (``[data] decimal``, or detected from the values), so a
    column holding both ``68,5`` and ``112.7`` is read as text and every model check would call it
    "not numeric" without saying why. The problem names the column, example rows and values of
    each mark, the mark the file was read with and what to do.
    """
    if table.decimal is None:
        return []
    problems = []
    frame = table.frame
    for position, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_numeric_dtype(dtype) or not (
            pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        ):
            continue
        values = frame.iloc[:, position]
        text = values[values.map(lambda v: isinstance(v, str))].str.strip()
        comma, point = text.str.match(_COMMA_NUMBER), text.str.match(_POINT_NUMBER)
        numbers = (comma | point | text.str.match(_WHOLE_NUMBER)).all()
        if table.decimal == "." and numbers and comma.any() and not point.any():  # "11,5" quoted in a "," file
            problems.append(
                f"{table.where}: column '{frame.columns[position]}' holds numbers written with a decimal comma "
                f"({_examples(text[comma])}), but the file is read with a decimal point, so the column would be "
                f"text: a category with {text.nunique()} levels instead of a number. Write the numbers with a "
                'decimal point, or say [data] decimal = "," (quoted values such as "11,5" are then read as 11.5)'
            )
            continue
        if not (comma.any() and point.any()) or not numbers:
            continue
        other = "." if table.decimal == "," else ","
        examples = {mark: _examples(text[found]) for mark, found in ((",", comma), (".", point))}
        problems.append(
            f"{table.where}: column '{frame.columns[position]}' mixes decimal commas and decimal points: "
            f"{examples[',']} with a comma, {examples['.']} with a point. The file is read with "
            f"{_MARKS[table.decimal]} ('{table.decimal}'), so the numbers written with '{other}' cannot be read. "
            f"Use one decimal mark in the whole file (e.g. write every number in this column with "
            f'\'{table.decimal}\'); [data] decimal = "," or "." says which mark the file uses'
        )
    return problems


def _examples(values: pd.Series) -> str:
    """The first few values with their 1-based rows, and how many rows there are in all."""
    shown = ", ".join(
        f"{plain_repr(value, 30)} at {row_numbers([int(index) + 1])}" for index, value in values.iloc[:3].items()
    )
    more = f" and {len(values) - 3} more rows" if len(values) > 3 else ""
    return f"{shown}{more}"


#: numbers beyond this size cannot be standardised or summed without overflow
MAX_ABS_VALUE = 1e100


def non_finite(table: Table) -> list[str]:
    """Problems for numeric columns holding infinite or absurdly large values (no model can use them)."""
    problems = []
    frame = table.frame
    number_columns = [i for i, dtype in enumerate(frame.dtypes) if _is_number(dtype)]
    text_columns = [i for i, dtype in enumerate(frame.dtypes) if pd.api.types.is_object_dtype(dtype)]
    # one array for all numeric columns (a table can have 100,000 of them); only flagged columns are examined
    numbers = frame.iloc[:, number_columns].to_numpy(dtype=float, na_value=np.nan)
    flagged = [number_columns[i] for i in np.flatnonzero(_too_large(numbers).any(axis=0))]
    for position in sorted([*flagged, *text_columns]):
        column, values = frame.columns[position], frame.iloc[:, position]
        if pd.api.types.is_object_dtype(values) and values.notna().any():
            numeric = pd.to_numeric(values, errors="coerce")
            whole = values.map(lambda v: isinstance(v, int) or (isinstance(v, str) and v.strip().lstrip("-").isdigit()))
            if numeric.notna().sum() == values.notna().sum() and whole[values.notna()].all():
                big = numeric.abs() >= 2**63
                problems.append(
                    f"{table.where}: column '{column}' holds whole numbers too large to read, e.g. "
                    f"{plain(values[big].iloc[0]) if big.any() else '?'} at {example_rows(big)}; "
                    "numbers must be smaller than 2**63 in size"
                )
            continue
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        bad = _too_large(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            problems.append(
                f"{table.where}: column '{column}' holds {plain(values[bad].iloc[0])} at {example_rows(bad)}; "
                f"numbers must be finite and smaller than {MAX_ABS_VALUE:g} in size"
            )
    return problems


def _too_large(numbers: np.ndarray) -> np.ndarray:
    """Which values are infinite or beyond :data:`MAX_ABS_VALUE` in size (missing values are not)."""
    return np.isinf(numbers) | (np.abs(np.nan_to_num(numbers)) > MAX_ABS_VALUE)


def _is_number(dtype: Any) -> bool:
    """A numeric column dtype other than bool (booleans cannot be infinite)."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def key_columns(config: RunConfig, table: Table) -> tuple[list[str], list[str]]:
    """The key columns of ``table`` and problems for a key the config names that the table lacks."""
    if table.is_main and config.data.participant_id is not None:
        column = config.data.participant_id
        if column not in table.frame.columns:
            return [], [
                f"{table.where}: [data] participant_id names column '{column}', which is missing"
                f"{did_you_mean(column, table.frame.columns)}; columns present: "
                f"{shorten(table.frame.columns, MAX_LISTED)}"
            ]
        return [column], []
    return list(DEFAULT_KEYS.get(table.label, [])), []


#: ``(1 | herd)``, ``(1 + x || region:school)``: the grouping factor after the bar
_GROUP_TERM = re.compile(r"\|\|?([^()|]*)\)")
_NAME = re.compile(r"[A-Za-z_.][\w.]*")
#: model settings that name an id or grouping column
_LABEL_SETTINGS = ("service", "participant", "specialist")


def label_columns(config: RunConfig) -> set[str]:
    """Columns that hold labels rather than numbers: ids, join keys and grouping factors.

    They are read as text exactly as written (``"01"`` and ``"1"`` are two groups, ``"0001"`` stays
    ``"0001"``), in every table: the default keys (``participant_id``, ``service``, ``review``),
    ``[data] participant_id``, the keys of ``[data.tables]``, the model's ``service`` /
    ``participant`` / ``specialist`` settings, the ``nested`` columns and the formula's grouping
    factors (after the ``|`` of each group term).
    """
    names = {key for keys in DEFAULT_KEYS.values() for key in keys}
    if config.data.participant_id is not None:
        names.add(config.data.participant_id)
    for table in config.data.tables.values():
        names |= set(table.keys)
    model = config.model
    names |= {model[k] for k in _LABEL_SETTINGS if isinstance(model.get(k), str)}
    nested = model.get("nested")
    if isinstance(nested, dict):
        names |= {str(v) for pair in nested.items() for v in pair}
    formula = model.get("formula")
    if isinstance(formula, str):
        for term in _GROUP_TERM.findall(formula):
            names |= set(_NAME.findall(term))
    return names


def mentioned_names(config: RunConfig) -> set[str]:
    """Every name the ``[model]`` table and the data keys mention (a superset of the columns a model uses)."""
    names = set(label_columns(config))

    def walk(value: Any) -> None:
        if isinstance(value, str):
            names.update(_NAME.findall(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(str(key))
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(dict(config.model))
    return names


def read_bundle(config: RunConfig) -> DataBundle:
    """Read every table the config names, check that their ids are unique and hash the files.

    Label columns (:func:`label_columns`) are read as text exactly as written.

    Raises
    ------
    DataError
        For a table that cannot be read, has 0 rows, repeats an id (naming ids and rows), or has a
        column of a type no model can use (a Parquet date or list) that the model uses.
    """
    data = config.data
    options = {"separator": data.separator, "decimal": data.decimal, "text_columns": label_columns(config)}
    participants = read_table(config.resolve(data.participants), data.main_key, **options)
    bundle = DataBundle(participants=participants)
    if data.services is not None:
        bundle.services = read_table(config.resolve(data.services), "services", **options)
    if data.reviews is not None:
        bundle.reviews = read_table(config.resolve(data.reviews), "reviews", **options)
    if data.monthly_status is not None:
        bundle.monthly_status = read_table(config.resolve(data.monthly_status), "monthly status", **options)
    for name, table in data.tables.items():
        bundle.extra[name] = read_table(config.resolve(table.path), name, **options)
        bundle.keys[name] = table.keys
        if table.rows == "many":
            bundle.many.add(name)
    problems = []
    used = mentioned_names(config)
    for table in bundle.tables():
        columns, missing = key_columns(config, table)
        problems += missing + duplicate_keys(table, columns) + unsupported_columns(table, used)
    for table in bundle.tables():
        problems += mixed_decimals(table) + non_finite(table)
    group = config.model.get("service", "service")
    if isinstance(group, str):
        problems += single_group(bundle, group)
    raise_if(problems, "The data cannot be used as they are")
    bundle.hashes = {t.label: file_sha256(t.path) for t in bundle.tables()}
    return bundle


def example_rows(mask: np.ndarray | pd.Series) -> str:
    """The first few offending rows of a boolean mask, as :func:`row_numbers` writes them."""
    return row_numbers(np.flatnonzero(np.asarray(mask)) + 1)


def row_numbers(rows: Sequence[int] | np.ndarray) -> str:
    """Data rows as every data message counts them, e.g. ``data row 5 (counted from 1 below the header)``.

    Data row 1 is the first row below the header. That is line 2 of a plain CSV file and row 2 of a
    spreadsheet, but blank lines (which are skipped) and quoted values spanning lines move the lines,
    and Parquet has none, so the message does not claim a line.

    Parameters
    ----------
    rows : sequence of int
        1-based data row numbers; the first :data:`MAX_EXAMPLE_ROWS` are shown.
    """
    rows = [int(r) for r in rows]
    shown, more = rows[:MAX_EXAMPLE_ROWS], len(rows) > MAX_EXAMPLE_ROWS
    s = "s" * (len(rows) != 1)
    dots = ", ..." if more else ""
    total = f"{len(rows):,} rows in all, " if more else ""
    return f"data row{s} {', '.join(map(str, shown))}{dots} ({total}counted from 1 below the header)"


def config_where(config: RunConfig) -> str:
    """The config as a message names it: its file as given (``models/x.toml``), else ``the config 'x'``."""
    return str(config.source) if config.source is not None else f"the config '{config.name}'"


def raise_if(problems: list[str], headline: str) -> None:
    """Raise one DataError listing ``problems`` when there are any."""
    if problems:
        raise DataError(headline, problems)
