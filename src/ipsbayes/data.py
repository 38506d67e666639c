"""Read participant/service tables and check the things every table must satisfy.

:func:`read_bundle` reads every table a config names and checks what holds whatever the model:
unique ids, finite numbers, more than one group. The column checks a model family runs on what
it declares (required columns, binary outcomes, ranges, nesting) are in :mod:`ipsbayes.data_checks`.
Each check returns a list of problems rather than raising, so a model family can run all of them
and raise one :class:`~ipsbayes.errors.DataError` (:func:`raise_if`) that names the file, the
column, example row numbers and what would be valid. Row numbers are 1-based data rows (row 1 is
the first row after the CSV header).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipsbayes.config import RunConfig, not_a_regular_file
from ipsbayes.errors import DataError, did_you_mean
from ipsbayes.textutil import plain, plain_repr, shorten

MAX_EXAMPLE_ROWS = 5
#: columns listed in a message before "... (N more)"
MAX_LISTED = 12
#: key columns checked for duplicates when the table has them (``[data] participant_id`` overrides the first)
DEFAULT_KEYS = {"participants": ["participant_id"], "services": ["service"], "reviews": ["service", "review"]}
SEPARATORS = (",", ";", "\t", "|")
_DECIMAL_COMMA = re.compile(r'^"?-?\d+,\d+"?$')


@dataclass
class Table:
    """A table read from disk, remembering where it came from for error messages."""

    frame: pd.DataFrame
    path: Path
    label: str
    #: decimal mark the CSV was read with (None: not a CSV)
    decimal: str | None = None

    @property
    def where(self) -> str:
        """Short name used in error messages."""
        return f"{self.label} table {self.path}"


@dataclass
class DataBundle:
    """The raw tables of one run plus their hashes and what cleaning did."""

    participants: Table
    services: Table | None = None
    reviews: Table | None = None
    monthly_status: Table | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    dropped_rows: dict[str, int] = field(default_factory=dict)
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


def sniff_csv(path: Path) -> tuple[str, str]:
    """Guess the separator and decimal mark of a CSV file from its first lines.

    The separator is the candidate (``,``, ``;``, tab, ``|``) found most often in the
    header line outside quotes. With ``;`` (what Excel writes where the decimal mark
    is a comma, as in a Norwegian locale) the decimal mark is ``,`` when some field of
    the first 200 lines looks like ``1,5``.

    Returns
    -------
    separator, decimal : str
    """
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = [line for _, line in zip(range(200), handle, strict=False)]
    if not lines:
        return ",", "."
    header = re.sub(r'"[^"]*"', "", lines[0])
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    separator = max(SEPARATORS, key=lambda sep: (counts[sep], sep == ","))
    if counts[separator] == 0:
        separator = ","
    decimal = "."
    if separator != ",":
        for row in csv.reader(lines[1:], delimiter=separator):
            if any(_DECIMAL_COMMA.match(field.strip()) for field in row):
                decimal = ","
                break
    return separator, decimal


def read_table(path: Path, label: str, separator: str | None = None, decimal: str | None = None) -> Table:
    """Read a CSV or Parquet file into a :class:`Table`.

    Parameters
    ----------
    path : Path
        The file.
    label : str
        Which table it is (``participants``, ``services``, ``reviews``), for messages.
    separator, decimal : str, optional
        CSV separator and decimal mark (``[data] separator`` / ``decimal``); detected
        with :func:`sniff_csv` when not given.

    Raises
    ------
    DataError
        When the file is missing, a folder or not a regular file, empty, has an unsupported suffix,
        repeats a column name in its header, or cannot be parsed.
    """
    problem = not_a_regular_file(path)
    if problem is not None:
        raise DataError(f"The {label} table cannot be read: {problem}")
    suffix = path.suffix.lower()
    dec: str | None = None
    header: list[str] = []
    try:
        if suffix == ".csv":
            sniffed = sniff_csv(path)
            sep, dec = separator or sniffed[0], decimal or (sniffed[1] if separator in (None, sniffed[0]) else ".")
            header = csv_header(path, sep)
            frame = pd.read_csv(path, sep=sep, decimal=dec, encoding="utf-8-sig")
        elif suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            header = list(pq.read_schema(path).names)  # pandas cannot read a file that repeats a name
            frame = pd.read_parquet(path) if not repeated_names(header) else pd.DataFrame()
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}'; use .csv or .parquet")
    except pd.errors.EmptyDataError:
        raise DataError(f"The {label} table {path} is empty (no header line, 0 rows)") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as UTF-8 CSV "
            "(Excel: Save as > CSV UTF-8)"
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        cause = " ".join(str(exc).split())[:300]
        raise DataError(f"{path}: could not be read as {suffix[1:]}: {cause}") from exc
    repeated = repeated_names(header)
    if repeated:
        raise DataError(
            f"The {label} table {path} repeats column name(s) in its header: {'; '.join(repeated)}. Each column "
            "needs a name of its own (names are compared without surrounding spaces): rename or remove the repeats"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    table = Table(frame.reset_index(drop=True), path, label, dec)
    if len(frame) == 0:
        raise DataError(
            f"The {table.where} has 0 rows (only a header with {len(frame.columns)} column(s)); "
            "give it one row per record"
        )
    if suffix == ".csv" and len(frame.columns) == 1 and separator is None:
        only = str(frame.columns[0])
        hint = next((s for s in SEPARATORS if s != sep and s in only), None)
        if hint is not None:
            raise DataError(
                f"The {table.where} was read as a single column '{only[:80]}'; set [data] separator = "
                f"{hint!r} if its fields are separated by {hint!r}"
            )
    return table


def csv_header(path: Path, separator: str) -> list[str]:
    """The column names of a CSV file's header line as written (pandas renames a repeated ``age`` to ``age.1``)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return next((row for row in csv.reader(handle, delimiter=separator) if any(f.strip() for f in row)), [])


def repeated_names(names: Sequence[object]) -> list[str]:
    """Column names given more than once (ignoring surrounding spaces; empty names are pandas' "Unnamed").

    Returns
    -------
    list of str
        One entry per repeated name with its 1-based column positions, e.g. ``'age' (columns 4 and 13)``.
    """
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        text = str(name).strip()
        if text:
            positions.setdefault(text, []).append(number)
    repeated = [(name, where) for name, where in positions.items() if len(where) > 1]
    shown = [
        f"{plain_repr(name, 60)} (columns {', '.join(map(str, where[:-1]))} and {where[-1]})"
        for name, where in repeated[:MAX_LISTED]
    ]
    return shown + ([f"... ({len(repeated)} repeated names in all)"] if len(repeated) > MAX_LISTED else [])


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
    groups = table.frame.loc[repeated].groupby(columns, sort=False, dropna=False).groups
    shown = []
    for key, index in list(groups.items())[:MAX_EXAMPLE_ROWS]:
        name = " / ".join(plain(k) for k in key) if isinstance(key, tuple) else plain(key)
        rows = ", ".join(str(i + 1) for i in list(index)[:MAX_EXAMPLE_ROWS])
        more = f", ... ({len(index)} rows)" if len(index) > MAX_EXAMPLE_ROWS else ""
        shown.append(f"{name} (rows {rows}{more})")
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
            f"{bundle.services.where} has only one row (one {group}); a multilevel model compares {group}s "
            f"and needs at least two. With one {group}, fit a model without the {group} level"
        ]
    frame = bundle.participants.frame
    if group in frame.columns and frame[group].nunique(dropna=True) == 1:
        value = plain(frame[group].dropna().iloc[0])
        return [
            f"{bundle.participants.where}: all {len(frame):,} rows are in one {group} ({value}); a multilevel "
            f"model compares {group}s and needs at least two. With one {group}, fit a model without the {group} level"
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
        if not (comma.any() and point.any()) or not (comma | point | text.str.match(_WHOLE_NUMBER)).all():
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
    shown = ", ".join(f"{plain_repr(value, 30)} (row {int(index) + 1})" for index, value in values.iloc[:3].items())
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
    if table.label == "participants" and config.data.participant_id is not None:
        column = config.data.participant_id
        if column not in table.frame.columns:
            return [], [
                f"{table.where}: [data] participant_id names column '{column}', which is missing"
                f"{did_you_mean(column, table.frame.columns)}; columns present: "
                f"{shorten(table.frame.columns, MAX_LISTED)}"
            ]
        return [column], []
    return list(DEFAULT_KEYS.get(table.label, [])), []


def read_bundle(config: RunConfig) -> DataBundle:
    """Read every table the config names, check that their ids are unique and hash the files.

    Raises
    ------
    DataError
        For a table that cannot be read, has 0 rows, or repeats an id (naming ids and rows).
    """
    data = config.data
    options = {"separator": data.separator, "decimal": data.decimal}
    participants = read_table(config.resolve(data.participants), "participants", **options)
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
    for table in bundle.tables():
        columns, missing = key_columns(config, table)
        problems += missing + duplicate_keys(table, columns)
    for table in bundle.tables():
        problems += mixed_decimals(table) + non_finite(table)
    group = config.model.get("service", "service")
    if isinstance(group, str):
        problems += single_group(bundle, group)
    raise_if(problems, "The data cannot be used as they are")
    bundle.hashes = {t.label: file_sha256(t.path) for t in bundle.tables()}
    return bundle


def example_rows(mask: np.ndarray | pd.Series) -> str:
    """Format the first few offending 1-based row numbers and the total count."""
    rows = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(str(r) for r in rows[:MAX_EXAMPLE_ROWS])
    more = f", ... ({len(rows)} rows in all)" if len(rows) > MAX_EXAMPLE_ROWS else ""
    return f"row{'s' * (len(rows) != 1)} {shown}{more}"


def raise_if(problems: list[str], headline: str) -> None:
    """Raise one DataError listing ``problems`` when there are any."""
    if problems:
        raise DataError(headline, problems)
