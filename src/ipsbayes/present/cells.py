"""Small-cell protection: observed numbers based on too few participants are never published.

In Norwegian register research an observed count or rate based on fewer than
``report.min_cell`` participants (default 5) must not appear in any output.
These helpers replace such values with NaN; figures then leave them out and
tables and CSV files leave the cell empty. Model-based estimates (posterior
medians and intervals) are not observed cells and stay.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def small(counts: Any, min_cell: int) -> np.ndarray:
    """True where a value rests on fewer than ``min_cell`` participants (a cell that must not be published)."""
    counts = np.asarray(counts, dtype=float)
    return ~(counts >= min_cell)


def suppress(values: Any, counts: Any, min_cell: int) -> np.ndarray:
    """``values`` (observed rates, shares or counts) with NaN wherever ``counts`` is below ``min_cell``.

    Parameters
    ----------
    values : array-like
        Observed values, one per cell (e.g. a service's observed outcome rate).
    counts : array-like
        Participants each value is based on (same shape, or broadcastable).
    min_cell : int
        Smallest number of participants a published value may rest on.
    """
    values = np.array(values, dtype=float)
    return np.where(small(np.broadcast_to(counts, values.shape), min_cell), np.nan, values)


def suppress_counts(counts: Any, min_cell: int) -> np.ndarray:
    """Observed counts with NaN where 0 < count < ``min_cell`` (zero cells identify nobody and stay)."""
    counts = np.array(counts, dtype=float)
    return np.where((counts > 0) & (counts < min_cell), np.nan, counts)


__all__ = ["small", "suppress", "suppress_counts"]
