"""The monthly status table: register status per participant and month since start.

Registers deliver one status per participant and month (employment,
apprenticeship, education, benefits, ...). ipsbayes reads it in long form (one
row per participant-month: participant, month since start, status, optionally
the calendar month) or wide form (one row per participant, one column per month
such as ``month_1`` ... ``month_24``, cells after the end of follow-up empty).

Both forms are turned into one long frame and checked together, collecting every
problem (as :mod:`ipsbayes.data` does) so one :class:`~ipsbayes.errors.DataError`
names the file, the column, example rows and what would be valid:

- months must be whole numbers, none before the first month (``first_month``,
  1 by default: month 1 is the first month after enrolment);
- no participant-month twice;
- months contiguous from the first month to the last one followed (follow-up may
  end at different months: right-censoring);
- statuses from the declared vocabulary;
- every participant in the participant table and vice versa;
- where a calendar column is given, calendar month minus month since start is the
  same for all of a participant's rows (participants may enter in different
  calendar months; their months since start must still line up).

:func:`first_events` then reduces each participant to the first month in a
target state (and which target), or to the last month followed when no target
was reached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ipsbayes.data import MAX_EXAMPLE_ROWS, MAX_LISTED, Table, row_numbers
from ipsbayes.errors import did_you_mean
from ipsbayes.textutil import shorten


@dataclass(frozen=True)
class PanelColumns:
    """Column names of the monthly status table (defaults follow the IPS ung register extract)."""

    participant: str = "participant_id"
    month: str = "month"
    status: str = "status"
    calendar: str | None = "calendar_month"
    wide_prefix: str = "month_"
    first_month: int = 1


def _rows_text(rows: np.ndarray) -> str:
    """Row numbers (already 1-based) as every data message writes them (:func:`ipsbayes.data.row_numbers`)."""
    return row_numbers(np.asarray(rows))


def wide_to_long(table: Table, columns: PanelColumns) -> tuple[pd.DataFrame, list[str]]:
    """Turn the wide form into long rows, keeping the file row and column of each cell for messages.

    Empty cells after a participant's last status are the end of follow-up; an empty
    cell followed by a status is a gap (reported by :func:`check_panel`).
    """
    frame = table.frame
    problems = []
    if columns.participant not in frame.columns:
        problems.append(
            f"{table.where}: missing column '{columns.participant}' (participant id)"
            f"{did_you_mean(columns.participant, frame.columns)}; columns present: {shorten(frame.columns, MAX_LISTED)}"
        )
    pattern = re.compile(rf"^{re.escape(columns.wide_prefix)}(-?\d+)$")
    month_columns: dict[int, str] = {}
    for column in frame.columns:
        if (match := pattern.match(str(column))) is None:
            continue
        month = int(match.group(1))
        if month in month_columns:  # month_1 and month_01: one month written twice, neither may be dropped
            problems.append(
                f"{table.where}: columns '{month_columns[month]}' and '{column}' both hold month {month}; keep one"
            )
            continue
        month_columns[month] = column
    if not month_columns:
        problems.append(
            f"{table.where}: no month columns named '{columns.wide_prefix}<month>' (e.g. "
            f"'{columns.wide_prefix}{columns.first_month}'); columns present: {shorten(frame.columns, MAX_LISTED)}"
        )
    if problems:
        return pd.DataFrame(), problems
    numbers = sorted(month_columns)
    if numbers[0] < columns.first_month:
        problems.append(
            f"{table.where}: column '{month_columns[numbers[0]]}' is a month before start (month "
            f"{columns.first_month} is the first month after enrolment); remove the columns before "
            f"'{columns.wide_prefix}{columns.first_month}'"
        )
    absent = sorted(set(range(columns.first_month, numbers[-1] + 1)) - set(numbers))
    if absent:
        problems.append(
            f"{table.where}: month columns must run without gaps from '{columns.wide_prefix}{columns.first_month}' "
            f"to '{month_columns[numbers[-1]]}'; missing: {', '.join(columns.wide_prefix + str(m) for m in absent[:5])}"
        )
    keep = [columns.participant] + ([columns.calendar] if columns.calendar in frame.columns else [])
    long = frame[keep + [month_columns[m] for m in numbers]].copy()
    long["_row"] = np.arange(1, len(frame) + 1)
    long = long.melt(id_vars=[*keep, "_row"], var_name="_column", value_name=columns.status)
    long[columns.month] = long["_column"].map({c: m for m, c in month_columns.items()})
    if columns.calendar in frame.columns:  # the wide form's calendar column is the entry month
        entry = pd.PeriodIndex(pd.to_datetime(long[columns.calendar], errors="coerce"), freq="M")
        long[columns.calendar] = (entry + (long[columns.month] - columns.first_month).to_numpy()).astype(str)
    # drop empty cells after the last status (end of follow-up); keep earlier empty cells as gaps
    long = long.sort_values(["_row", columns.month], kind="stable")
    filled = long[columns.status].notna()
    last = filled[::-1].groupby(long["_row"][::-1]).cummax()[::-1]
    long = long[last].reset_index(drop=True)
    return long, problems


def long_rows(table: Table, columns: PanelColumns) -> tuple[pd.DataFrame, list[str]]:
    """The long form with the file row of each line (1-based data rows) for messages."""
    frame = table.frame
    needed = [columns.participant, columns.month, columns.status]
    problems = [
        f"{table.where}: missing column '{c}'{did_you_mean(c, frame.columns)}; columns present: "
        f"{shorten(frame.columns, MAX_LISTED)}"
        for c in needed
        if c not in frame.columns
    ]
    if problems:
        return pd.DataFrame(), problems
    keep = needed + ([columns.calendar] if columns.calendar in frame.columns else [])
    long = frame[keep].copy()
    long["_row"] = np.arange(1, len(frame) + 1)
    long["_column"] = columns.status
    return long, []


def _where(long: pd.DataFrame, mask: pd.Series, wide: bool) -> str:
    """Rows (long form) or rows and month columns (wide form) where ``mask`` holds."""
    hits = long.loc[mask]
    if not wide:
        return _rows_text(hits["_row"].to_numpy())
    cells = [f"{r} ({c})" for r, c in zip(hits["_row"], hits["_column"], strict=True)]
    more = f", ... ({len(cells)} cells in all)" if len(cells) > MAX_EXAMPLE_ROWS else ""
    return (
        f"data row{'s' * (len(cells) != 1)} " + ", ".join(cells[:MAX_EXAMPLE_ROWS]) + more + " (a CSV file's line is "
        "one more)"
    )


def check_panel(
    long: pd.DataFrame,
    table: Table,
    columns: PanelColumns,
    statuses: Sequence[str],
    participants: Table,
    wide: bool = False,
    as_read: set[str] | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check the long frame; return the clean frame, every problem and participants without any month.

    The clean frame has columns ``participant`` (str), ``month`` (int) and ``status``
    (str), sorted by participant and month. ``as_read`` are the ids the participant table
    had as read (before rows with missing values were dropped): months of those are no
    error; ids that were never there are. Participants without a month are counted
    among the participants the table holds now.
    """
    c = columns
    problems: list[str] = []
    vocabulary = ", ".join(statuses)
    for column in (c.participant,) if wide else (c.participant, c.month, c.status):
        empty = long[column].isna()
        if empty.any():
            problems.append(
                f"{table.where}: column '{column}' has {int(empty.sum())} missing value(s) at "
                f"{_where(long, empty, wide)}; every participant-month needs a {column}"
            )
    month = pd.to_numeric(long[c.month], errors="coerce")
    whole = month.notna() & (month == np.round(month))
    bad_month = long[c.month].notna() & ~whole
    if bad_month.any():
        problems.append(
            f"{table.where}: column '{c.month}' must be a whole number of months since start; found "
            f"{long.loc[bad_month, c.month].iloc[0]!r} at {_where(long, bad_month, wide)}"
        )
    before = whole & (month < c.first_month)
    if before.any() and not wide:
        problems.append(
            f"{table.where}: column '{c.month}' has months before start (month {c.first_month} is the first month "
            f"after enrolment; set model.first_month if your months start elsewhere): found "
            f"{int(month[before].min())} at {_where(long, before, wide)}"
        )
    status = long[c.status]
    known = status.isna() | status.astype(str).isin(set(statuses))
    if not known.all():
        values = sorted({str(v) for v in status[~known]})
        hint = did_you_mean(values[0], statuses)
        problems.append(
            f"{table.where}: {'the month columns have' if wide else f'column {c.status!r} has'} status(es) "
            "outside the vocabulary: "
            f"{', '.join(repr(v) for v in values[:5])}{hint} at {_where(long, ~known, wide)}; valid "
            f"(model.statuses): {vocabulary}"
        )
    usable = long[c.participant].notna() & whole & ~before
    ids = long[c.participant].astype(str)
    duplicated = usable & pd.DataFrame({"p": ids, "m": month}).duplicated(keep=False)
    if duplicated.any():
        first = long.loc[duplicated].iloc[0]
        problems.append(
            f"{table.where}: participant {first[c.participant]} has month {int(month[duplicated].iloc[0])} more "
            f"than once ({int(duplicated.sum())} duplicated participant-months at {_where(long, duplicated, wide)}); "
            "give one status per participant and month"
        )
    problems += _gaps(long[usable], ids[usable], month[usable], table, c, wide)
    problems += _calendar(long[usable], ids[usable], month[usable], table, c, wide)
    known_ids = set(participants.frame[c.participant].astype(str)) if c.participant in participants.frame else set()
    read_ids = known_ids if as_read is None else as_read
    if c.participant not in participants.frame:
        problems.append(
            f"{participants.where}: missing column '{c.participant}' (the participant id linking the monthly "
            f"status table){did_you_mean(c.participant, participants.frame.columns)}"
        )
    else:
        orphan = long[c.participant].notna() & ~ids.isin(read_ids)
        if orphan.any():
            names = ", ".join(sorted(set(ids[orphan]))[:5])
            problems.append(
                f"{table.where}: participant(s) {names} do not appear in the {participants.where} "
                f"({_where(long, orphan, wide)}); every participant needs a row there"
            )
    clean = pd.DataFrame(
        {"participant": ids[usable & known].to_numpy(), "month": month[usable & known].astype(int).to_numpy()}
    )
    clean["status"] = status[usable & known].astype(str).to_numpy()
    clean = clean.sort_values(["participant", "month"], kind="stable").reset_index(drop=True)
    unfollowed = sorted(known_ids - set(clean["participant"]))
    return clean, problems, unfollowed


def _gaps(long: pd.DataFrame, ids: pd.Series, month: pd.Series, table: Table, c: PanelColumns, wide: bool) -> list[str]:
    """Participants whose months do not run without gaps from the first month."""
    status_missing = long[c.status].isna() if wide else pd.Series(False, index=long.index)
    frame = pd.DataFrame({"p": ids, "m": month.astype(int), "missing": status_missing}).drop_duplicates(["p", "m"])
    observed = frame[~frame["missing"]]
    stats = observed.groupby("p")["m"].agg(["count", "max"])
    expected = stats["max"] - c.first_month + 1
    gappy = stats.index[stats["count"] != expected]
    if not len(gappy):
        return []
    first = gappy[0]
    have = set(observed.loc[observed["p"] == first, "m"])
    missing = [m for m in range(c.first_month, int(stats.loc[first, "max"]) + 1) if m not in have]
    mask = ids.isin(set(gappy))
    return [
        f"{table.where}: months must run without gaps from month {c.first_month} to the last month followed; "
        f"{len(gappy)} participant(s) have gaps, e.g. {first} lacks month(s) {', '.join(map(str, missing[:5]))} "
        f"({_where(long, mask & (ids == first), wide)}); fill the missing months or end follow-up before the gap"
    ]


def _calendar(
    long: pd.DataFrame, ids: pd.Series, month: pd.Series, table: Table, c: PanelColumns, wide: bool
) -> list[str]:
    """Calendar months (YYYY-MM) that do not advance one month per month since start."""
    if c.calendar is None or c.calendar not in long.columns:
        return []
    parsed = pd.to_datetime(long[c.calendar].astype(str), format="%Y-%m", errors="coerce")
    bad = long[c.calendar].notna() & parsed.isna()
    problems = []
    if bad.any():
        problems.append(
            f"{table.where}: column '{c.calendar}' must be a calendar month written YYYY-MM; found "
            f"{long.loc[bad, c.calendar].iloc[0]!r} at {_where(long, bad, wide)}"
        )
    good = parsed.notna()
    if good.any():
        months = parsed[good].dt.year * 12 + parsed[good].dt.month - month[good].astype(int)
        entries = months.groupby(ids[good]).nunique()
        drifting = entries.index[entries > 1]
        if len(drifting):
            mask = ids.isin(set(drifting)) & good
            problems.append(
                f"{table.where}: column '{c.calendar}' does not advance one calendar month per month since start "
                f"for {len(drifting)} participant(s), e.g. {drifting[0]} "
                f"({_where(long, mask & (ids == drifting[0]), wide)}); each participant's rows need one entry month"
            )
    return problems


def entry_months(long: pd.DataFrame, columns: PanelColumns) -> pd.Series | None:
    """Calendar month of each participant's first month (when the table has a calendar column)."""
    if columns.calendar is None or columns.calendar not in long.columns:
        return None
    parsed = pd.to_datetime(long[columns.calendar].astype(str), format="%Y-%m", errors="coerce")
    first = long.assign(_parsed=parsed).sort_values(columns.month).groupby(long[columns.participant].astype(str))
    return first["_parsed"].first()


@dataclass(frozen=True)
class FirstEvents:
    """Each participant's first target month, or the last month followed.

    Attributes
    ----------
    participant : ndarray of str
    exit_month : ndarray of int
        Month of the first target status, else the last month followed (both capped at the horizon).
    target : ndarray of int
        Index of the target reached at ``exit_month`` (0-based), or -1 when censored.
    """

    participant: np.ndarray
    exit_month: np.ndarray
    target: np.ndarray


def first_events(clean: pd.DataFrame, targets: Mapping[str, Sequence[str]], horizon: int) -> FirstEvents:
    """First month in any target state per participant (months after ``horizon`` are ignored)."""
    code = {status: k for k, statuses in enumerate(targets.values()) for status in statuses}
    frame = clean[clean["month"] <= horizon]
    which = frame["status"].map(code).fillna(-1).astype(int).to_numpy()
    frame = frame.assign(_target=which)
    hits = frame[frame["_target"] >= 0].groupby("participant", sort=False).first()
    last = frame.groupby("participant", sort=True)["month"].max()
    participants = last.index.to_numpy()
    exit_month = last.to_numpy().astype(int)
    target = np.full(len(participants), -1)
    position = pd.Index(participants).get_indexer(hits.index)
    exit_month[position] = hits["month"].to_numpy()
    target[position] = hits["_target"].to_numpy()
    return FirstEvents(participant=participants.astype(str), exit_month=exit_month, target=target)


def read_panel(
    table: Table,
    layout: str,
    columns: PanelColumns,
    statuses: Sequence[str],
    participants: Table,
    as_read: set[str] | None = None,
) -> tuple[pd.DataFrame, list[str], list[str], pd.Series | None]:
    """Read either layout and check it; return the clean long frame, problems, unfollowed ids and entry months."""
    wide = layout == "wide"
    long, problems = wide_to_long(table, columns) if wide else long_rows(table, columns)
    if problems and long.empty:
        return pd.DataFrame(columns=["participant", "month", "status"]), problems, [], None
    clean, found, unfollowed = check_panel(long, table, columns, statuses, participants, wide, as_read)
    return clean, problems + found, unfollowed, entry_months(long, columns)


__all__ = ["FirstEvents", "PanelColumns", "check_panel", "first_events", "read_panel"]
