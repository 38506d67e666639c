"""Small-cell protection: observed counts and rates based on too few participants are never published.

Norwegian register research does not publish a count or rate computed from fewer
than a handful of people (``report.min_cell``, 5 by default): "0 of 3 employed"
identifies people. Every text, table, figure and CSV that shows an *observed*
count or rate goes through :func:`suppress` (numbers) or :func:`cell_text`
(words); model-based estimates (partially pooled rates, effects) are not
observed cells and stay.

The rule is on the denominator: a rate is suppressed when the number of
participants it is based on is below ``min_cell``; a count of participants is
suppressed when it is itself below ``min_cell`` (zero stays: it identifies nobody).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ipsbayes.present.text import choose, localise


def too_small(counts: Any, min_cell: int) -> np.ndarray:
    """Boolean mask: True where a cell rests on at least one but fewer than ``min_cell`` participants.

    Parameters
    ----------
    counts : array-like
        Participants behind each value (NaN counts are treated as unknown and suppressed).
    min_cell : int
        Smallest number of participants that may be published.
    """
    n = np.asarray(counts, dtype=float)
    return np.isnan(n) | ((n > 0) & (n < min_cell))


def suppress(values: Any, counts: Any, min_cell: int) -> Any:
    """``values`` with every cell based on fewer than ``min_cell`` participants replaced by NaN.

    Works on numpy arrays, pandas Series/DataFrames and xarray DataArrays (the same
    type comes back; numpy input gives a float array). ``counts`` must broadcast
    against ``values`` (e.g. participants per service against rates per service).

    Parameters
    ----------
    values : array-like
        Observed counts or rates.
    counts : array-like
        Participants each value is based on.
    min_cell : int
        Smallest number of participants that may be published (``report.min_cell``).

    Examples
    --------
    >>> suppress([0.0, 50.0, 20.0], [3, 10, 40], 5)
    array([nan, 50., 20.])
    """
    mask = too_small(counts, min_cell)
    if hasattr(values, "where") and hasattr(values, "dims"):  # xarray
        import xarray as xr

        keep = xr.DataArray(~mask, dims=values.dims[: mask.ndim], coords=None) if mask.ndim else not bool(mask)
        return values.where(keep)
    if hasattr(values, "mask") and hasattr(values, "index"):  # pandas
        shaped = mask.reshape(-1, *([1] * (values.ndim - 1))) if values.ndim > 1 and mask.ndim == 1 else mask
        return values.mask(np.broadcast_to(shaped, values.shape))
    out = np.asarray(values, dtype=float).copy()
    out[np.broadcast_to(mask.reshape(mask.shape + (1,) * (out.ndim - mask.ndim)), out.shape)] = np.nan
    return out


def suppressed_text(min_cell: int, language: str = "en") -> str:
    """What a suppressed cell shows instead of its number.

    "A cell under 5", not "n < 5": the small cell may be a count inside the number (4 employed
    among 60 who received IPS), not the number of participants itself.
    """
    return choose(language, f"suppressed (a cell under {min_cell})", f"skjult (en celle under {min_cell})")


def cell_text(text: str, count: float, min_cell: int, language: str = "en") -> str:
    """``text`` (an observed count or rate already formatted) unless it rests on too few participants."""
    return suppressed_text(min_cell, language) if bool(too_small(count, min_cell)) else text


def count_text(count: int, min_cell: int, language: str = "en") -> str:
    """A count of participants for a sentence: ``37``, or ``fewer than 5`` when it is a small cell (0 is shown)."""
    if bool(too_small(count, min_cell)):
        return choose(language, f"fewer than {min_cell}", f"færre enn {min_cell}")
    return localise(f"{int(count):,}", language)


def suppression_note(n_suppressed: int, min_cell: int, language: str = "en") -> str:
    """One sentence saying how many observed cells were suppressed and why (empty when none)."""
    if n_suppressed <= 0:
        return ""
    return choose(
        language,
        f"Observed values based on fewer than {min_cell} participants are not shown ({n_suppressed} "
        f"suppressed; report.min_cell = {min_cell}); model-based estimates are shown for all.",
        f"Observerte verdier basert på færre enn {min_cell} deltakere vises ikke ({n_suppressed} skjult; "
        f"report.min_cell = {min_cell}); modellbaserte estimater vises for alle.",
    )


#: a count of withheld values -> the English and Norwegian words of their reason (:meth:`ObservedShares.reasons`)
Words = Callable[[int], tuple[str, str]]


@dataclass(frozen=True)
class ObservedShares:
    """Observed per-service shares as they may be published, and why each withheld one is withheld.

    Made by :func:`publishable_shares`, the one place that decides which observed share is shown:
    figures draw ``values`` and texts and captions count from the masks, so a caption can never name
    a different number (or reason) than the figure hides.

    Attributes
    ----------
    values : ndarray
        The shares, NaN where withheld (and where a service has no participants: nothing observed).
    few_units : ndarray of bool
        Services with 1 to ``min_cell - 1`` participants.
    few_outcomes : ndarray of bool
        Services with enough participants whose share rests on 1 to ``min_cell - 1`` participants with the
        outcome, or as few without it (96% of 27 is 1 person without the outcome).
    unknown : ndarray of bool
        Services whose counts behind the share were not kept (run folders from before they were).
    """

    values: np.ndarray
    few_units: np.ndarray
    few_outcomes: np.ndarray
    unknown: np.ndarray

    @property
    def shown(self) -> np.ndarray:
        """True where the observed share is published."""
        return np.isfinite(self.values)

    @property
    def hidden(self) -> int:
        """How many services' observed shares are withheld as small cells (services without participants aside)."""
        return int(self.few_units.sum() + self.few_outcomes.sum() + self.unknown.sum())

    def reasons(self, few: Words, outcomes: Words, unknown: Words) -> tuple[list[str], list[str]]:
        """Why values are withheld, each reason that occurs with its count, in English and Norwegian.

        ``few``, ``outcomes`` and ``unknown`` turn the count of each mask (too few units; too few with
        or without the outcome; counts not kept) into that reason's words, e.g. ``3 -> ("3 rows with
        fewer than 5 trials", "3 rader med færre enn 5 forsøk")``. Every report's small-cell note
        counts its reasons here, so the counts are those of the masks that withheld the values.
        """
        en: list[str] = []
        nb: list[str] = []
        for mask, words in ((self.few_units, few), (self.few_outcomes, outcomes), (self.unknown, unknown)):
            if count := int(mask.sum()):
                english, norwegian = words(count)
                en.append(english)
                nb.append(norwegian)
        return en, nb


def publishable_shares(raw: Any, n: Any, events: Any, min_cell: int) -> ObservedShares:
    """Observed shares (%) of services with every small cell withheld: the rule for all observed service shares.

    A share is withheld when the service has 1 to ``min_cell - 1`` participants, or when the number with
    the outcome (``events``) or the number without it (``n - events``) is 1 to ``min_cell - 1``: a share
    of a few people identifies them. Zero stays (0 of 30 identifies nobody by name, as in
    :func:`~ipsbayes.present.cells.too_small`). ``events`` None (counts not kept) withholds every share.
    """
    raw = np.asarray(raw, dtype=float)
    n = np.asarray(n, dtype=float)
    counted = n > 0
    few_units = counted & too_small(n, min_cell)
    if events is None:
        events = np.full(n.shape, np.nan)
    events = np.asarray(events, dtype=float)
    known = np.isfinite(events)
    unknown = counted & ~few_units & ~known
    having = np.where(known, events, 0.0)
    small = too_small(having, min_cell) | too_small(n - having, min_cell)
    few_outcomes = counted & ~few_units & known & small
    withheld = ~counted | few_units | few_outcomes | unknown | ~np.isfinite(raw)
    return ObservedShares(np.where(withheld, np.nan, raw), few_units, few_outcomes, unknown)


__all__ = [
    "ObservedShares",
    "cell_text",
    "count_text",
    "publishable_shares",
    "suppress",
    "suppress_counts_of_a_known_total",
    "suppressed_text",
    "suppression_note",
    "too_small",
]


def small(counts: Any, min_cell: int) -> np.ndarray:
    """True where a rate rests on fewer than ``min_cell`` participants, zero included (undefined or identifying)."""
    counts = np.asarray(counts, dtype=float)
    return ~(counts >= min_cell)


def suppress_counts(counts: Any, min_cell: int) -> np.ndarray:
    """Observed counts with NaN where 0 < count < ``min_cell`` (zero cells identify nobody and stay)."""
    counts = np.array(counts, dtype=float)
    return np.where((counts > 0) & (counts < min_cell), np.nan, counts)


def suppress_counts_of_a_known_total(counts: Any, min_cell: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`suppress_counts` for counts whose total is published: small cells hidden so the total cannot reveal them.

    Hiding a small cell is not enough when the total is known (the report gives the number of
    participants): the total minus the shown cells is the hidden one. The next-smallest shown
    non-zero cells are hidden too, until the hidden cells hold at least ``min_cell`` together.

    Returns
    -------
    (shown, secondary)
        The counts with NaN where hidden, and a mask of the cells hidden only to protect the others.
    """
    counts = np.array(counts, dtype=float)
    shown = suppress_counts(counts, min_cell)
    secondary = np.zeros(counts.shape, dtype=bool)
    hidden = np.isnan(shown)
    while hidden.any() and counts[hidden].sum() < min_cell:
        candidates = np.flatnonzero(~hidden & (counts > 0))
        if not candidates.size:
            break
        smallest = candidates[np.argmin(counts[candidates])]
        shown[smallest], secondary[smallest], hidden[smallest] = np.nan, True, True
    return shown, secondary


def pooled_steps(steps: np.ndarray, min_cell: int) -> tuple[np.ndarray | None, bool]:
    """An isotonic (PAVA) fit of observed 0/1 outcomes whose every step rests on at least ``min_cell`` rows.

    Each step of a PAVA fit is the observed rate of the rows it spans; a step of fewer than
    ``min_cell`` rows is pooled with the neighbouring step closer in value (their joint observed
    rate), until none is left. Pooling adjacent steps of a non-decreasing fit keeps it non-decreasing.

    Parameters
    ----------
    steps : ndarray
        The fit at each row, rows sorted by prediction (``cep`` of ``arviz_stats``' isotonic fit).
    min_cell : int
        Smallest number of rows a published rate may rest on.

    Returns
    -------
    fit : ndarray or None
        The pooled fit (None when all rows together are fewer than ``min_cell``: nothing may be shown).
    pooled : bool
        Whether any step was pooled.
    """
    values = np.asarray(steps, dtype=float)
    if values.size < min_cell:
        return None, values.size > 0
    edges = np.flatnonzero(np.diff(values) != 0) + 1
    sizes = np.diff(np.concatenate([[0], edges, [values.size]])).tolist()
    rates = [float(values[start]) for start in np.concatenate([[0], edges]).astype(int)]
    pooled = False
    while len(sizes) > 1 and min(sizes) < min_cell:
        i = int(np.argmin(sizes))
        if i == 0:
            j = 1
        elif i == len(sizes) - 1:
            j = i - 1
        else:
            j = i - 1 if abs(rates[i] - rates[i - 1]) <= abs(rates[i + 1] - rates[i]) else i + 1
        a, b = sorted((i, j))
        total = sizes[a] + sizes[b]
        rates[a] = (rates[a] * sizes[a] + rates[b] * sizes[b]) / total
        sizes[a] = total
        del sizes[b], rates[b]
        pooled = True
    return np.repeat(rates, sizes), pooled
