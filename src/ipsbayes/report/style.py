"""Shared figure settings: the interval every figure states, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "ipsbayes"  # stable SVG ids: same run, same file

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ipsbayes.report.tables import interval_name  # noqa: E402


@dataclass(frozen=True)
class Style:
    """Interval settings every figure states in its caption."""

    kind: str
    prob: float

    @property
    def text(self) -> str:
        """e.g. '90% equal-tailed interval (ETI)'."""
        return interval_name(self.kind, self.prob)

    def bounds(self, values: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper interval bounds over chain and draw."""
        func = az.hdi if self.kind == "hdi" else az.eti
        ci = func(values, prob=self.prob, dim=["chain", "draw"])
        return ci.sel(ci_bound="lower").values, ci.sel(ci_bound="upper").values


def _median(values: xr.DataArray) -> np.ndarray:
    return values.median(["chain", "draw"]).values


def median(values: xr.DataArray) -> np.ndarray:
    """Posterior median over chain and draw."""
    return values.median(["chain", "draw"]).values


def figure_of(plot_collection: az.PlotCollection) -> Figure:
    """The matplotlib Figure behind an ArviZ PlotCollection."""
    return plot_collection.viz["figure"].item()
