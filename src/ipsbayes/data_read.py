"""Read one CSV or Parquet file into a :class:`Table`, so that no value is silently misread.

:func:`read_table` is what :func:`ipsbayes.data.read_bundle` calls for every table. Beyond parsing it:

* reads the *label* columns (ids, join keys, grouping factors) as text exactly as written, so
  ``"01"`` and ``"1"`` stay two groups and ``"0001"`` is never published as ``1``;
* recognises files that are not CSV text whatever their name (an Excel workbook, a Parquet file)
  and Excel's ``sep=;`` first line, and says what they are;
* reads a Parquet text column holding only numbers as numbers (as a CSV is read), converts
  decimal columns to floats, and remembers columns of types no model can use (dates, lists,
  nested or binary values) so that a model that uses one is stopped with the column and its type.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ipsbayes.config_files import not_a_regular_file
from ipsbayes.errors import DataError
from ipsbayes.textutil import plain_repr, visible

#: columns listed in a message before "... (N more)"
MAX_LISTED = 12
SEPARATORS = (",", ";", "\t", "|")
#: labels of the main table: the config's key for it, ``main`` or (IPS configs) ``participants``
MAIN_LABELS = ("main", "participants")
_DECIMAL_COMMA = re.compile(r'^"?-?\d+,\d+"?$')
#: Excel's separator hint, written as the first line of a "CSV (semicolon)" export
_SEP_LINE = re.compile(r'^\ufeff?"?sep=(.?)"?\s*$', re.IGNORECASE)
#: first bytes of file formats that are not CSV text, with what to say about them
_MAGIC = (
    (b"PK\x03\x04", "a zip archive, most likely an Excel workbook (.xlsx)", "in Excel, Save as > CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)", "in Excel, Save as > CSV UTF-8"),
    (b"PAR1", "a Parquet file", "rename it to end in .parquet"),
)


@dataclass
class Table:
    """A table read from disk, remembering where it came from for error messages."""

    frame: pd.DataFrame
    path: Path
    label: str
    #: decimal mark the CSV was read with (None: not a CSV)
    decimal: str | None = None
    #: Parquet columns of a type no model can use, with that type (reported when a model uses them)
    unsupported: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Short name used in error messages."""
        return f"{self.label} table {self.path}"

    @property
    def is_main(self) -> bool:
        """True for the table with one row per observation (``[data] main``, or ``participants`` in IPS configs)."""
        return self.label in MAIN_LABELS


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


def not_csv_text(path: Path) -> str | None:
    """What a ``.csv`` file really is when its first bytes say it is not text (a workbook, Parquet)."""
    with path.open("rb") as handle:
        start = handle.read(8)
    for magic, what, advice in _MAGIC:
        if start.startswith(magic):
            return f"{path} is not CSV text but {what} named .csv; {advice}"
    return None


def excel_sep_line(path: Path) -> str | None:
    """A problem when the file's first line is Excel's ``sep=;`` separator hint rather than a header."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline()
    found = _SEP_LINE.match(first.rstrip("\r\n"))
    if found is None:
        return None
    sep = found.group(1) or ","
    return (
        f"{path}: line 1 is {first.strip()!r}, Excel's hint for which separator the file uses, not a header line. "
        f"Delete that line so the column names come first (the separator {sep!r} is then detected, or set "
        f"[data] separator = {sep!r})"
    )


def read_table(
    path: Path,
    label: str,
    separator: str | None = None,
    decimal: str | None = None,
    text_columns: Collection[str] = (),
) -> Table:
    """Read a CSV or Parquet file into a :class:`Table`.

    Parameters
    ----------
    path : Path
        The file.
    label : str
        Which table it is (``main`` or ``participants``, ``services``, ``reviews``, a ``[data.tables]`` name),
        for messages.
    separator, decimal : str, optional
        CSV separator and decimal mark (``[data] separator`` / ``decimal``); detected
        with :func:`sniff_csv` when not given.
    text_columns : collection of str
        Label columns (ids, join keys, grouping factors), read as text exactly as written.

    Raises
    ------
    DataError
        When the file is missing, a folder or not a regular file, empty, not CSV text, has an
        unsupported suffix, repeats a column name in its header, or cannot be parsed.
    """
    problem = not_a_regular_file(path)
    if problem is not None:
        raise DataError(f"The {label} table cannot be read: {problem}")
    suffix = path.suffix.lower()
    dec: str | None = None
    header: list[str] = []
    unsupported: dict[str, str] = {}
    try:
        if suffix == ".csv":
            problem = not_csv_text(path) or excel_sep_line(path)
            if problem is not None:
                raise DataError(f"The {label} table cannot be read: {problem}")
            sniffed = sniff_csv(path)
            sep, dec = separator or sniffed[0], decimal or (sniffed[1] if separator in (None, sniffed[0]) else ".")
            header = csv_header(path, sep)
            text = {name: str for name in header if name.strip() in text_columns}
            with warnings.catch_warnings():  # a row longer than the header: an error, not a shifted table
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # index_col=False: pandas would otherwise take the first column of such a file as its index
                frame = pd.read_csv(
                    path, sep=sep, decimal=dec, encoding="utf-8-sig", dtype=text or None, index_col=False
                )
        elif suffix in {".parquet", ".pq"}:
            frame, header, unsupported = _read_parquet(path, text_columns)
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}'; use .csv or .parquet")
    except pd.errors.ParserWarning:
        raise DataError(
            f"{path}: {longer_rows(path, sep, len(header))} more fields than the header has names "
            f"({len(header)}); remove the extra field(s) or give the column a name"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"The {label} table {path} is empty (no header line, 0 rows)") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as UTF-8 CSV "
            "(Excel: Save as > CSV UTF-8)"
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        cause = " ".join(str(exc).split())[:300]
        if "EOF inside string" in cause:  # a quote opened and never closed: everything after it is one field
            where = re.search(r"starting at row (\d+)", cause)
            row = f" at data row {int(where.group(1))}" if where else ""  # pandas counts the header as row 0
            raise DataError(
                f'{path}: a double quote (") opens a quoted field that never closes{row}; close the quote, or '
                'remove it (a quote inside a field is written twice: "")'
            ) from exc
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", cause)
        if fields:  # pandas' "line" counts neither quoted line breaks nor blank lines as ours do: count again
            expected = int(fields.group(1))
            raise DataError(
                f"{path}: {longer_rows(path, sep, expected)} more fields than the rows above ({expected}); remove "
                "the extra field, or quote a value that holds the separator"
            ) from exc
        raise DataError(f"{path}: could not be read as {suffix[1:]}: {cause}") from exc
    repeated = repeated_names(header)
    if repeated:
        raise DataError(
            f"The {label} table {path} repeats column name(s) in its header: {'; '.join(repeated)}. Each column "
            "needs a name of its own (names are compared without surrounding spaces): rename or remove the repeats"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    table = Table(frame.reset_index(drop=True), path, label, dec, unsupported)
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
                f"The {table.where} was read as a single column {visible(only, 80)}; set [data] separator = "
                f"{hint!r} if its fields are separated by {hint!r}"
            )
    return table


def _read_parquet(path: Path, text_columns: Collection[str]) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """A Parquet file's frame, header and unusable columns (see :func:`parquet_columns`)."""
    import pyarrow.parquet as pq

    header = list(pq.read_schema(path).names)  # pandas cannot read a file that repeats a name
    if repeated_names(header):
        return pd.DataFrame(), header, {}
    table = pq.read_table(path)
    table, unsupported = parquet_columns(table)
    frame = table.to_pandas()
    for column in frame.columns:
        name = str(column).strip()
        if name in unsupported:
            continue
        if name in text_columns:
            frame[column] = as_labels(frame[column])
        else:
            frame[column] = numbers_as_text(frame[column])
    return frame, header, unsupported


def parquet_columns(table: object) -> tuple[object, dict[str, str]]:
    """Convert decimal columns to float and find columns no model can use.

    Parameters
    ----------
    table : pyarrow.Table
        As read from the file.

    Returns
    -------
    table : pyarrow.Table
        Decimal columns cast to float64 (their values as the nearest double); others unchanged.
    unsupported : dict
        Column name (stripped) -> its Arrow type, for dates and times, durations, lists, structs,
        maps, unions and binary values.
    """
    import pyarrow as pa

    unsupported: dict[str, str] = {}
    for position, column in enumerate(table.schema):
        kind = column.type
        if pa.types.is_decimal(kind):
            table = table.set_column(position, column.name, table.column(position).cast(pa.float64()))
        elif (
            pa.types.is_temporal(kind)
            or pa.types.is_nested(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
            or pa.types.is_fixed_size_binary(kind)
        ):
            unsupported[str(column.name).strip()] = str(kind)
    return table, unsupported


def as_labels(values: pd.Series) -> pd.Series:
    """A label column (id, key, group) as text: whole numbers without ``.0``, missing values kept."""
    if pd.api.types.is_string_dtype(values):
        return values
    if pd.api.types.is_object_dtype(values):
        return values.map(lambda v: v if isinstance(v, str) or _missing(v) else str(v))
    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        if (present % 1 == 0).all():
            values = values.astype("Int64")
    return values.astype(object).map(lambda v: None if pd.isna(v) else str(v)).astype(object)


def numbers_as_text(values: pd.Series) -> pd.Series:
    """A text column whose every non-empty value is a number, read as numbers (as a CSV is read).

    Empty text counts as missing (as an empty CSV cell). A column with any other text is left as it
    is: the model's checks report one that is mostly numbers (naming the rows with text), and
    ``C(column)`` makes a category on purpose.
    """
    if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
        return values
    if not values.map(lambda v: isinstance(v, str) or _missing(v)).all():
        return values
    stripped = values.str.strip()
    stripped = stripped.where(stripped != "")
    if stripped.notna().sum() == 0:
        return values
    numbers = pd.to_numeric(stripped, errors="coerce")
    if numbers.notna().sum() != stripped.notna().sum():
        return values
    return numbers


def _missing(value: object) -> bool:
    """None or NaN (a missing cell), without asking pandas about lists or other objects."""
    return value is None or (isinstance(value, float) and value != value)


def unsupported_columns(table: Table, used: Collection[str]) -> list[str]:
    """Problems for columns a model uses whose Parquet type no model can read."""
    return [
        f"{table.where}: column '{visible(column)}' has Parquet type {kind}, which no model can use. Usable types "
        "are numbers (integer, float or decimal), true/false and text (categories): convert the column before "
        "saving the file (a date, e.g., to days since a start date or to an age in years)"
        for column, kind in table.unsupported.items()
        if column in used
    ]


def longer_rows(path: Path, separator: str, width: int) -> str:
    """``data rows 1, 4 have`` for the rows of a CSV file with more fields than ``width`` (the header's)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:  # blank lines are skipped, as pandas skips them
        records = (row for row in csv.reader(handle, delimiter=separator) if row)
        rows = [i for i, row in enumerate(records) if i and len(row) > width]
    if not rows:
        return "a data row has"
    shown = ", ".join(str(r) for r in rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
    return f"data row{'s' if len(rows) > 1 else ''} {shown} {'have' if len(rows) > 1 else 'has'}"


def csv_header(path: Path, separator: str) -> list[str]:
    """The column names of a CSV file's header line as written (pandas renames a repeated ``age`` to ``age.1``)."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            return next((row for row in csv.reader(handle, delimiter=separator) if any(f.strip() for f in row)), [])
    except csv.Error as exc:  # e.g. a header field over the csv module's limit: an open quote, or not text
        raise DataError(
            f"{path}: the header line cannot be read ({exc}): a double quote that never closes makes the rest of "
            "the file one field, and a file of NUL bytes is not CSV text; check the first line"
        ) from None


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
