"""Column checks a model family runs on the tables it reads (after :func:`ipsbayes.data.read_bundle`).

Like the checks in :mod:`ipsbayes.data`, each returns a list of problems rather than raising, naming
the file, the column, example row numbers (1-based data rows) and what would be valid, so a family
can run all of them and raise one :class:`~ipsbayes.errors.DataError` through
:func:`ipsbayes.data.raise_if`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ipsbayes.data import MAX_LISTED, DataBundle, Table, duplicate_keys, example_rows
from ipsbayes.errors import did_you_mean
from ipsbayes.textutil import invisible, invisible_names, plain_repr, regular_plural, shorten, visible


def missing_columns(table: Table, columns: Iterable[str], purpose: str = "") -> list[str]:
    """Problems for required columns absent from ``table``.

    A header that differs from the wanted name only by invisible characters (a zero-width space,
    a non-breaking space, a control character) is named with those characters spelled out.
    """
    have = list(table.frame.columns)
    problems = []
    for column in columns:
        if column not in have:
            why = f" ({purpose})" if purpose else ""
            problems.append(
                f"{table.where}: missing column '{visible(column)}'{why}{column_hint(column, have)}; "
                f"columns present: {shorten(have, MAX_LISTED)}"
            )
    return problems


def column_hint(column: str, have: Sequence[object]) -> str:
    """Which header is the wanted column with invisible characters in it, else a "did you mean"."""
    for name in have:
        text = str(name)
        if text != column and "".join(c for c in text if not invisible(c)) == column:
            return (
                f": the header has '{visible(text)}', which holds the invisible character(s) "
                f"{invisible_names(text)}; delete them from the header (retype the name)"
            )
        if text != column and " ".join("".join(" " if invisible(c) else c for c in text).split()) == column:
            return (
                f": the header has '{visible(text)}', which holds the invisible character(s) "
                f"{invisible_names(text)}; replace them by ordinary spaces in the header (retype the name)"
            )
    return did_you_mean(column, [str(name) for name in have if len(str(name)) <= 200])


#: what a missing value is in a CSV cell, as pandas and R read it (a group named "NA" is a missing group)
MISSING_CELLS = "an empty cell, or one that reads NA, N/A, NaN, None, null or #N/A, is missing"


def missing_values(table: Table, columns: Sequence[str], main: str = "participants") -> tuple[pd.Series, list[str]]:
    """Rows with a missing value in any of ``columns``, and one problem line per column.

    The advice follows the table: only rows of the main (participants) table can be dropped by
    ``data.missing = "drop"``; the services, reviews and other joined tables are never dropped
    from (every caller checks them with the ``error`` policy), so their missing values must be filled.
    """
    present = [c for c in dict.fromkeys(columns) if c in table.frame.columns]
    isna = table.frame[present].isna()
    problems = []
    for column in present:
        if isna[column].any():
            problems.append(
                f"{table.where}: column '{column}' has {int(isna[column].sum())} missing value(s) at "
                f"{example_rows(isna[column])} ({MISSING_CELLS}); {_missing_advice(table, main)}"
            )
    return isna.any(axis=1), problems


def _missing_advice(table: Table, main: str = "participants") -> str:
    """What to do about missing values in ``table``: drop rows (main table only) or fill them.

    ``main`` is the main table's label: ``participants`` (IPS configs, whose rows are participants)
    or ``main`` (a ``[data] main`` config, whose rows are observations).
    """
    if table.is_main:
        return 'fill them, or set data.missing = "drop" to drop those rows'
    never = (
        f"missing values in the {table.label} table cannot be dropped, whatever data.missing says "
        f'(data.missing = "drop" drops rows of the {main} table only'
    )
    if table.label == "reviews":
        return f"{never}), so fill in each review's score or delete the reviews that have none"
    unit = "a service" if table.label == "services" else f"a row of the {table.label} table"
    if main == "participants":
        return (
            f"{never}: dropping {unit} would silently drop every participant linked to it), so fill them in; "
            "if a value is unknown, decide what to do with those participants and edit both tables"
        )
    return (
        f"{never}: dropping {unit} would silently drop every row of the {main} table linked to it), so fill "
        f"them in; if a value is unknown, decide what to do with those rows and edit both tables"
    )


def handle_missing(table: Table, columns: Sequence[str], policy: str, bundle: DataBundle) -> list[str]:
    """Apply the missing-value policy: report problems (``error``) or drop rows (``drop``)."""
    rows, problems = missing_values(table, columns, bundle.participants.label)
    if policy == "drop" and len(rows) and rows.all():
        return [_all_dropped(table, columns)]
    if policy == "drop" and rows.any():
        _remember_dropped(table, columns, rows, bundle)
        table.frame = table.frame.loc[~rows].reset_index(drop=True)
        bundle.dropped_rows[table.label] = bundle.dropped_rows.get(table.label, 0) + int(rows.sum())
        return []
    return problems


def _remember_dropped(table: Table, columns: Sequence[str], rows: pd.Series, bundle: DataBundle) -> None:
    """Record which data rows of ``table``'s file are dropped, per column missing, for :func:`dropped_rows_note`.

    Rows are counted in the file as read (data row 1 is the first below the header), also when an
    earlier drop already removed rows of the same table.
    """
    n = len(table.frame)
    kept = bundle.kept_rows.get(table.label)
    position = kept if kept is not None and len(kept) == n else np.arange(n)
    mask = rows.to_numpy(dtype=bool)
    where = bundle.dropped_where.setdefault(table.label, {})
    for column in dict.fromkeys(columns):
        if column in table.frame.columns:
            missing = table.frame[column].isna().to_numpy() & mask
            if missing.any():
                where.setdefault(column, []).extend(int(r) + 1 for r in position[missing])
    bundle.kept_rows[table.label] = position[~mask]
    bundle.dropped_files[table.label] = table.path


#: data rows listed per column in :func:`dropped_rows_note` before "and N more"
MAX_DROPPED_LISTED = 5


def dropped_rows_note(bundle: DataBundle) -> str | None:
    """A sentence saying which rows ``data.missing = "drop"`` dropped, or None when none were.

    E.g. "4 rows of pupils.csv were dropped for missing values (x: data rows 6, 18, 401; diagnosis:
    data row 23; rows counted from 1 below the header)." Each column lists its first few data rows
    (as every data message counts them) and then "and N more".
    """
    parts = []
    for label, count in bundle.dropped_rows.items():
        if not count:
            continue
        path = bundle.dropped_files.get(label)
        name = f"the {label} table" if path is None else Path(path).name
        rows = "row" if count == 1 else "rows"
        was = "was" if count == 1 else "were"
        where = bundle.dropped_where.get(label, {})
        listed = "; ".join(f"{column}: {_listed_rows(numbers)}" for column, numbers in where.items())
        detail = f" ({listed}; rows counted from 1 below the header)" if listed else ""
        parts.append(f"{count:,} {rows} of {name} {was} dropped for missing values{detail}")
    return f"{'. '.join(parts)}." if parts else None


def _listed_rows(numbers: Sequence[int]) -> str:
    """``data rows 6, 18, 401`` or ``data rows 1, 2, 3, 4, 5 and 12 more``."""
    shown = ", ".join(str(n) for n in numbers[:MAX_DROPPED_LISTED])
    more = f" and {len(numbers) - MAX_DROPPED_LISTED:,} more" if len(numbers) > MAX_DROPPED_LISTED else ""
    return f"data row{'s' * (len(numbers) != 1)} {shown}{more}"


def _all_dropped(table: Table, columns: Sequence[str]) -> str:
    """The problem when ``data.missing = "drop"`` would drop every row, naming the columns that cause it."""
    present = [c for c in dict.fromkeys(columns) if c in table.frame.columns]
    counts = table.frame[present].isna().sum()
    causes = counts[counts > 0].sort_values(ascending=False, kind="stable")
    n = len(table.frame)
    named = "; ".join(
        f"'{visible(str(column))}' is empty in {'every row' if count == n else f'{count:,} of {n:,} rows'}"
        for column, count in causes.items()
    )
    return (
        f'{table.where}: data.missing = "drop" would drop all {n:,} rows, because a column the model uses is '
        f"empty in each of them: {named}. Fill those columns, or remove them from the model"
    )


def non_binary(table: Table, column: str) -> list[str]:
    """Problems when ``column`` holds anything other than 0/1 (or True/False); converts valid text to 0/1."""
    values = table.frame[column]
    if pd.api.types.is_bool_dtype(values):
        table.frame[column] = values.astype(int)
        return []
    numeric = pd.to_numeric(values, errors="coerce")
    valid = numeric.isin([0, 1]) | values.isna()
    if valid.all():
        if values.notna().all():
            table.frame[column] = numeric.astype(int)
        return []
    bad = sorted({str(v) for v in values[~valid]})[:5]
    return [f"{table.where}: column '{column}' must be binary (0/1); found {', '.join(bad)} at {example_rows(~valid)}"]


def out_of_range(table: Table, column: str, low: float, high: float, what: str = "") -> list[str]:
    """Problems when numeric ``column`` is not numeric or falls outside ``[low, high]``."""
    values = pd.to_numeric(table.frame[column], errors="coerce")
    not_numeric = values.isna() & table.frame[column].notna()
    problems = []
    if not_numeric.any():
        problems.append(f"{table.where}: column '{column}' must be numeric; not numeric at {example_rows(not_numeric)}")
    outside = (values < low) | (values > high)
    if outside.any():
        label = f" ({what})" if what else ""
        problems.append(
            f"{table.where}: column '{column}' must lie in {low:g}-{high:g}{label}; "
            f"found {values[outside].iloc[0]:g} at {example_rows(outside)}"
        )
    return problems


def unmatched_keys(child: Table, parent: Table, key: str, both_ways: bool = True) -> list[str]:
    """Problems for keys in ``child`` absent from ``parent`` (and, optionally, vice versa).

    An empty key in ``child`` is a missing value, left to ``data.missing`` (it was reported as the
    value "nan"); an empty key in ``parent`` identifies no group and is named with its rows.
    """
    problems = []
    child_present, parent_present = child.frame[key].notna(), parent.frame[key].notna()
    if not parent_present.all():
        problems.append(
            f"{parent.where}: {key} is empty at {example_rows(~parent_present)}; every row there needs its {key}"
        )
    child_keys = child.frame[key].astype(str)
    parent_keys = parent.frame[key].astype(str)
    orphan = child_present & ~child_keys.isin(set(parent_keys[parent_present]))
    if orphan.any():
        names = shorten(sorted(set(child_keys[orphan])), 5)
        problems.append(
            f"{child.where}: {key} value(s) {names} do not appear in the {parent.where} "
            f"({example_rows(orphan)}); every {key} needs a row there"
        )
    if both_ways:
        unused = parent_present & ~parent_keys.isin(set(child_keys[child_present]))
        if unused.any():
            names = shorten(sorted(set(parent_keys[unused])), 5)
            problems.append(
                f"{parent.where}: {key} value(s) {names} have no rows in the {child.where} "
                f"({example_rows(unused)}); remove them or add their participants"
            )
    if parent.label == "services":
        problems += duplicate_keys(parent, [key])
    return problems


def constant_columns(table: Table, columns: Iterable[str]) -> list[str]:
    """Problems for predictors that take a single value (no information, unidentifiable slope)."""
    problems = []
    for column in columns:
        if column in table.frame.columns and table.frame[column].nunique(dropna=True) < 2:
            value = table.frame[column].dropna().iloc[0] if table.frame[column].notna().any() else "missing"
            problems.append(
                f"{table.where}: predictor '{column}' is constant (every row is {value}); "
                "remove it from the model or check the file"
            )
    return problems


def varying_within(table: Table, group: str, columns: Iterable[str]) -> list[str]:
    """Problems for group-level predictors that vary within a group."""
    problems = []
    for column in columns:
        if column not in table.frame.columns or group not in table.frame.columns:
            continue
        counts = table.frame.groupby(group, sort=True)[column].nunique(dropna=True)
        varying = counts[counts > 1]
        if len(varying):
            first = varying.index[0]
            rows = table.frame[group] == first
            problems.append(
                f"{table.where}: '{column}' is a {group}-level predictor but varies within "
                f"{len(varying)} {group if len(varying) == 1 else regular_plural(group, 'en')}, e.g. {group} {first} "
                f"at {example_rows(rows)}; give one value per {group} (or put it in a table with one row per {group})"
            )
    return problems


def varying_within_factor(table: Table, columns: Sequence[str], name: str, column: str) -> list[str]:
    """Problems when a group-level predictor varies within the groups of a factor.

    The factor is one column, or several (``school:class``) whose values are joined into ``name``.
    """
    if len(columns) == 1:
        return varying_within(table, columns[0], [column])
    labelled = table.frame.copy()
    labelled[name] = labelled[list(columns)].astype(str).agg(":".join, axis=1)
    return varying_within(Table(labelled, table.path, table.label), name, [column])


def not_nested(table: Table, inner: str, outer: str) -> list[str]:
    """Problems when an ``inner`` unit (job specialist) appears under several ``outer`` units."""
    counts = table.frame.groupby(inner)[outer].nunique()
    crossing = counts[counts > 1]
    if crossing.empty:
        return []
    first = crossing.index[0]
    return [
        f"{table.where}: {inner} must be nested in {outer}, but {len(crossing)} {inner}(s) appear "
        f"in several {regular_plural(outer, 'en')}, e.g. {inner} {first} at "
        f"{example_rows(table.frame[inner] == first)}; "
        f"give each {inner} an id unique to its {outer}"
    ]


def merge_service_columns(bundle: DataBundle, group: str, columns: Sequence[str]) -> pd.DataFrame:
    """Participants with the requested service-level columns joined from the services table."""
    frame = bundle.participants.frame
    if bundle.services is None:
        return frame.copy()
    wanted = [c for c in columns if c in bundle.services.frame.columns and c not in frame.columns]
    if not wanted:
        return frame.copy()
    services = bundle.services.frame[[group, *wanted]].copy()
    services[group] = services[group].astype(str)
    left = frame.copy()
    key_dtype = left[group].dtype
    left[group] = left[group].astype(str)
    merged = left.merge(services, on=group, how="left", validate="many_to_one")
    if not pd.api.types.is_object_dtype(key_dtype):
        merged[group] = frame[group].to_numpy()
    return merged


#: most trials one row may have: a binomial log-likelihood of more (e.g. 1e12) is not finite in float64 at the
#: initial point, and no study of people counts more than a billion trials per row
MAX_TRIALS = 1_000_000_000


def trial_counts(frame: pd.DataFrame, column: str | None, table: Table) -> tuple[np.ndarray | None, list[str]]:
    """A binomial outcome's number of trials per row: whole numbers >= 1, or problems naming the rows.

    Parameters
    ----------
    frame : DataFrame
        The rows the model uses (after missing values were handled).
    column : str or None
        The trials column; None when the outcome has no trials (nothing to check).
    table : Table
        The table the rows came from, named in the problem.

    Returns
    -------
    trials : ndarray or None
        None when there is no column; int64 counts when every count is valid; otherwise float64
        with NaN at the invalid rows, so that the outcome can still be checked against the others.
    problems : list of str
        One per kind of invalid count (not a number, below 1, not whole), each with its rows.
    """
    if column is None:
        return None, []
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)  # float: 2**63 must not wrap round as an int64
    kinds = {
        "not a number": values.isna(),
        "below 1": values < 1,
        "not a whole number": values.notna() & (values % 1 != 0) & (values >= 1) & (values <= MAX_TRIALS),
        f"more than {MAX_TRIALS:,}": values > MAX_TRIALS,
    }
    problems = [
        f"{table.where}: trials column '{column}' must hold whole numbers from 1 to {MAX_TRIALS:,}; {kind} "
        f"(e.g. {plain_repr(raw[bad].iloc[0])}) at {example_rows(bad)}"
        for kind, bad in kinds.items()
        if bad.any()
    ]
    if problems:
        invalid = np.logical_or.reduce([bad.to_numpy() for bad in kinds.values()])
        return np.where(invalid, np.nan, values.to_numpy(np.float64)), problems
    return values.to_numpy(np.int64), []
