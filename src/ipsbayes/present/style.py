"""Shared figure settings: the interval every figure states, and small drawing helpers.

No import-time side effects: nothing here selects a matplotlib backend or
changes global rcParams (the report layer draws inside its own rc context).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.present.text import interval_name


@dataclass(frozen=True)
class Style:
    """Interval settings every figure states, and the report's language."""

    kind: str
    prob: float
    language: str = "en"

    @property
    def text(self) -> str:
        """e.g. '90% equal-tailed interval (ETI)'."""
        return interval_name(self.kind, self.prob, self.language)

    def bounds(self, values: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper interval bounds over chain and draw."""
        import arviz as az

        func = az.hdi if self.kind == "hdi" else az.eti
        ci = func(values, prob=self.prob, dim=["chain", "draw"])
        return ci.sel(ci_bound="lower").values, ci.sel(ci_bound="upper").values


def pointrange(
    ax: Any,
    values: xr.DataArray,
    y: np.ndarray,
    style: Style,
    colour: str,
    order: np.ndarray | None = None,
    lw: float = 2.0,
    ms: float = 5.0,
    label: str | None = None,
) -> None:
    """Draw posterior medians (dots) with ``style``'s intervals (lines) at heights ``y``.

    ``order`` reorders the elements (e.g. sorted by median) before drawing.
    """
    lower, upper = style.bounds(values)
    mid = median(values)
    if order is not None:
        lower, upper, mid = lower[order], upper[order], mid[order]
    ax.hlines(y, lower, upper, color=colour, lw=lw, label=label)
    ax.plot(mid, y, "o", color=colour, ms=ms)


def median(values: xr.DataArray) -> np.ndarray:
    """Posterior median over chain and draw."""
    return values.median(["chain", "draw"]).values


def figure_of(plot_collection: Any) -> Any:
    """The matplotlib Figure behind an ArviZ PlotCollection."""
    return plot_collection.viz["figure"].item()
