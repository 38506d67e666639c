"""Shared figure settings: the interval every figure states, and small drawing helpers.

No import-time side effects: nothing here selects a matplotlib backend or
changes global rcParams (the report layer draws inside its own rc context).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.present.text import choose, interval_name, percent

#: no text in a figure is smaller than this at the profile's width (points)
MIN_FONT_PT = 8.0
CM_PER_INCH = 2.54


#: names from the data and config are drawn as written: "$x_{1$" in a group name is no mathtext
#: (an unbalanced one stopped a run after sampling); a log axis then needs :func:`plain_log_ticks`
NO_MATHTEXT = {"text.parse_math": False}


def plain_log_ticks(axis: Any) -> None:
    r"""Tick labels of a log-scaled ``axis`` as plain numbers (0.5, 1, 10), which need no mathtext.

    matplotlib labels decades ``$\mathdefault{10^{0}}$``; with mathtext off (:data:`NO_MATHTEXT`)
    that string would be printed as it is. Which ticks get a label is matplotlib's own choice.
    """
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))  # as matplotlib labels minor ticks


@dataclass(frozen=True)
class Style:
    """Interval settings every figure states, the report's language and the figure profile.

    Attributes
    ----------
    kind, prob : str, float
        Interval kind ("eti" or "hdi") and probability.
    language : {"en", "nb"}
        Report language.
    width_cm, font_size, dpi : float, float, int
        Figure profile (``[report.figures]``): every figure is ``width_cm`` wide, labels are
        ``font_size`` points, nothing is smaller than :data:`MIN_FONT_PT`; PNGs at ``dpi``.
    """

    kind: str
    prob: float
    language: str = "en"
    width_cm: float = 16.0
    font_size: float = 9.0
    dpi: int = 300
    #: the study's own ids and labels that look like decimals: kept as written in Norwegian figures
    verbatim: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """e.g. '90% equal-tailed interval (ETI)'."""
        return interval_name(self.kind, self.prob, self.language)

    @property
    def short(self) -> str:
        """e.g. '90% ETI' ('90 % ETI' in Norwegian): the interval as a figure legend or axis label states it."""
        return f"{percent(self.prob, self.language)} {self.kind.upper()}"

    @property
    def median_and_interval(self) -> str:
        """Legend entry of a point and its interval, e.g. 'median and 90% ETI'."""
        return choose(self.language, f"median and {self.short}", f"median og {self.short}")

    def t(self, en: str, nb: str) -> str:
        """The figure text of the report's language."""
        return choose(self.language, en, nb)

    @property
    def width(self) -> float:
        """Figure width in inches."""
        return self.width_cm / CM_PER_INCH

    @property
    def small_font(self) -> float:
        """Tick labels and legends: one point below the base size, never below :data:`MIN_FONT_PT`."""
        return max(MIN_FONT_PT, self.font_size - 1)

    def chars(self, columns: int = 1, size: float | None = None) -> int:
        """About how many characters of text at ``size`` points fit across one of ``columns`` panels."""
        points = self.width * 72.0 / columns - 12.0
        return max(12, int(points / (0.58 * (size or self.small_font))))

    def rc(self) -> dict[str, Any]:
        """Matplotlib settings of the profile (applied in a local rc context, never globally)."""
        return {
            "font.size": self.font_size,
            "axes.titlesize": self.font_size + 1,
            "axes.labelsize": self.font_size,
            "xtick.labelsize": self.small_font,
            "ytick.labelsize": self.small_font,
            "legend.fontsize": self.small_font,
            "legend.title_fontsize": self.font_size,
            "figure.titlesize": self.font_size + 1,
            "figure.labelsize": self.font_size,
            "figure.constrained_layout.use": True,
            "svg.fonttype": "none",  # real text in SVG: editable, searchable, never outlined
            "svg.hashsalt": "ipsbayes",  # stable SVG ids: same run, same file
            **NO_MATHTEXT,
            "savefig.dpi": self.dpi,
        }

    def subplots(self, height: float, nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
        """A figure of the profile's width and ``height`` inches with constrained layout."""
        import matplotlib.pyplot as plt

        kwargs.setdefault("layout", "constrained")
        return plt.subplots(nrows, ncols, figsize=(self.width, height), **kwargs)

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
