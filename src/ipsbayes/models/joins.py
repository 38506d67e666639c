"""Columns a model needs, joined onto the main table from tables declared with their keys.

``[data.tables.<name>]`` declares a table and the column(s) linking it to the main
table. A column the formula uses that the main table lacks is taken from the first
declared table (one row per key) that has it; the IPS ``services`` table is the same
thing with the service column as its key. Every problem is collected: unknown
columns (naming the tables searched), keys missing from either side, repeated keys,
and missing values in joined columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ipsbayes.data import MAX_LISTED, DataBundle, Table, example_rows
from ipsbayes.data_checks import column_hint, missing_values, unmatched_keys
from ipsbayes.textutil import shorten, visible


def join_tables(
    bundle: DataBundle, needed: Sequence[str], service_keys: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """The main table with every needed column present, joined from the declared tables.

    Parameters
    ----------
    bundle : DataBundle
        The tables (a copy the caller may change).
    needed : sequence of str
        Columns the model uses.
    service_keys : sequence of str
        Join key of the ``services`` shorthand table (its service column).

    Returns
    -------
    frame : DataFrame
        The main table's rows with joined columns added (a new frame).
    sources : dict
        Joined column -> table name.
    problems : list of str
        Every problem found.
    """
    main = bundle.participants
    tables: list[tuple[str, Table, list[str]]] = []
    if bundle.services is not None and service_keys:
        tables.append(("services", bundle.services, list(service_keys)))
    for name, table in bundle.extra.items():
        if name not in bundle.many:
            tables.append((name, table, bundle.keys.get(name, [])))
    problems: list[str] = []
    wanted: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for column in dict.fromkeys(needed):
        if column in main.frame.columns:
            continue
        found = next((t for t in tables if column in t[1].frame.columns and column not in t[2]), None)
        if found is None:
            searched = ", ".join([main.where, *(t[1].where for t in tables)])
            problems.append(
                f"{main.where}: missing column '{visible(column)}' (used by the model)"
                f"{column_hint(column, list(main.frame.columns))}; not found in {searched}; declare the table that "
                f"holds it under [data.tables] with its key; columns present: {shorten(main.frame.columns, MAX_LISTED)}"
            )
            continue
        wanted.setdefault(found[0], []).append(column)
        sources[column] = found[0]
    frame = main.frame.copy()
    for name, table, keys in tables:
        if name not in wanted:
            continue
        found = _key_problems(main, table, keys, both_ways=name == "services")
        _, missing = missing_values(table, wanted[name], main.label)
        problems += found + missing
        if found or missing:
            continue
        frame = _merge(frame, table.frame[[*keys, *wanted[name]]], keys)
    return frame, sources, problems


def _key_problems(main: Table, table: Table, keys: list[str], both_ways: bool) -> list[str]:
    """Keys absent from either table, repeated in the joined table, or unmatched."""
    problems = [
        f"{where.where}: missing key column '{key}' of the {table.label} table"
        for key in keys
        for where in (main, table)
        if key not in where.frame.columns
    ]
    if problems:
        return problems
    if len(keys) == 1:
        found = unmatched_keys(main, table, keys[0], both_ways=both_ways)
        return [p for p in found if "must be unique" not in p] + _repeated(table, keys)
    main_present, table_present = main.frame[keys].notna().all(axis=1), table.frame[keys].notna().all(axis=1)
    if not table_present.all():  # an empty key identifies no row; in the main table it is a missing value
        problems.append(
            f"{table.where}: {'+'.join(keys)} is empty at {example_rows(~table_present)}; every row there needs "
            "all its key columns"
        )
    main_keys = main.frame[keys].astype(str).agg(":".join, axis=1)
    table_keys = table.frame[keys].astype(str).agg(":".join, axis=1)
    orphan = main_present & ~main_keys.isin(set(table_keys[table_present]))
    if orphan.any():
        problems.append(
            f"{main.where}: {'+'.join(keys)} value(s) {', '.join(sorted(set(main_keys[orphan]))[:5])} do not appear "
            f"in the {table.where} ({example_rows(orphan)})"
        )
    return problems + _repeated(table, keys)


def _repeated(table: Table, keys: list[str]) -> list[str]:
    duplicated = table.frame.duplicated(subset=keys)
    if duplicated.any():
        return [
            f'{table.where}: {"+".join(keys)} must identify one row (rows = "one"); repeated at '
            f'{example_rows(duplicated)}; declare rows = "many" if several rows per key are meant'
        ]
    return []


def _merge(frame: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Left join on ``keys`` compared as text (so 7 and "7" match), keeping the main table's key dtypes."""
    left, right = frame.copy(), right.copy()
    for key in keys:
        left[key] = left[key].astype(str)
        right[key] = right[key].astype(str)
    merged = left.merge(right, on=keys, how="left", validate="many_to_one")
    for key in keys:
        merged[key] = frame[key].to_numpy()
    return merged
