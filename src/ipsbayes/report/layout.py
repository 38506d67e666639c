"""Figures at their printed size: fit a figure to the profile, and find text that collides.

Every report figure is drawn at the profile's width (``[report.figures] width_cm``)
and saved at exactly that width, so the font sizes set in points are the sizes
on paper. :func:`fit_to_profile` brings figures made by libraries (ArviZ) to the
profile; :func:`layout_problems` measures a rendered figure: text smaller than
the minimum, text outside the canvas, and any two text elements that overlap.
"""

from __future__ import annotations

import textwrap
from itertools import combinations
from typing import Any

from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import Formatter

from ipsbayes.present.style import MIN_FONT_PT, Style
from ipsbayes.textutil import decimal_commas

#: overlaps smaller than this (points, in both directions) are anti-aliasing, not collisions
TOLERANCE_PT = 0.75


def fit_to_profile(fig: Figure, style: Style, height: float | None = None) -> Figure:
    """Resize ``fig`` to the profile's width, raise every font to the minimum and lay it out again.

    Parameters
    ----------
    fig : Figure
        A figure, e.g. from an ArviZ plot.
    style : Style
        The figure profile.
    height : float, optional
        New height in inches (default: keep the aspect ratio).
    """
    width, old_height = fig.get_size_inches()
    fig.set_size_inches(style.width, height if height is not None else old_height * style.width / width)
    if style.language == "nb":
        use_decimal_commas(fig, style.verbatim)
    for text in fig.findobj(Text):
        if text.get_fontsize() < style.small_font:
            text.set_fontsize(style.small_font)
    if fig.get_layout_engine() is None or type(fig.get_layout_engine()).__name__ != "ConstrainedLayoutEngine":
        fig.set_layout_engine("constrained")
    if wrap_axis_labels(fig):
        lay_out(fig)  # the wrapped labels are taller: lay out again
    return fig


class DecimalComma(Formatter):
    """Tick labels of another formatter with decimal commas (``0.5`` -> ``0,5``), for Norwegian figures."""

    def __init__(self, inner: Formatter, keep: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.keep = keep

    def set_axis(self, axis: Any) -> None:
        self.axis = axis
        self.inner.set_axis(axis)

    def set_locs(self, locs: Any) -> None:
        self.inner.set_locs(locs)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return decimal_commas(self.inner(x, pos), self.keep)

    def format_ticks(self, values: Any) -> list[str]:
        return [decimal_commas(label, self.keep) for label in self.inner.format_ticks(values)]

    def get_offset(self) -> str:
        return decimal_commas(self.inner.get_offset(), self.keep)

    def format_data_short(self, value: float) -> str:
        return decimal_commas(self.inner.format_data_short(value), self.keep)


def use_decimal_commas(fig: Figure, keep: tuple[str, ...] = ()) -> None:
    """Write every number of ``fig`` with a decimal comma: tick labels, titles, legends, annotations.

    Tick labels are made by the axes' formatters when the figure is drawn, so each formatter is
    wrapped in :class:`DecimalComma`; every other text is rewritten once.
    """
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for get, put in (
                (axis.get_major_formatter, axis.set_major_formatter),
                (axis.get_minor_formatter, axis.set_minor_formatter),
            ):
                if not isinstance(get(), DecimalComma):
                    put(DecimalComma(get(), keep))
    for text in fig.findobj(Text):
        shown = text.get_text()
        if isinstance(shown, str) and (changed := decimal_commas(shown, keep)) != shown:
            text.set_text(changed)


def lay_out(fig: Figure) -> None:
    """Run the figure's layout engine, as ``Figure.draw`` does first, without drawing the artists.

    ``draw_without_rendering`` lays the figure out and then walks every artist; the walk
    changes no position, and it cost as much as the layout itself (about 0.08 s per report
    figure). With no layout engine, or no axes, there is nothing to lay out.
    """
    engine = fig.get_layout_engine()
    if engine is None or not fig.axes:
        return
    try:
        engine.execute(fig)
    except ValueError:  # what Figure.draw does too: a layout that cannot be made keeps the positions
        pass


def wrap_axis_labels(fig: Figure) -> bool:
    """Wrap x-axis labels longer than their axes is wide (long tick labels on the left leave little room).

    Lays the figure out first (no pixels are drawn); returns whether any label was wrapped.
    """
    lay_out(fig)
    width = fig.get_size_inches()[0] * 72.0
    wrapped = False
    for ax in fig.axes:
        label = ax.xaxis.label
        text = label.get_text()
        if not text or "\n" in text:
            continue
        chars = int(ax.get_position().width * width / (0.58 * label.get_fontsize()))
        if len(text) > chars:
            label.set_text(textwrap.fill(text, max(12, chars)))
            wrapped = True
    return wrapped


def visible_texts(fig: Figure) -> list[Text]:
    """Every text element that is drawn: titles, axis labels, drawn tick labels, legends, annotations."""
    texts: list[Text] = [*fig.texts]
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        if getattr(fig, name, None) is not None:
            texts.append(getattr(fig, name))
    for legend in fig.legends:
        texts += [legend.get_title(), *legend.get_texts()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                texts += [axis.label, axis.get_offset_text()]
                for tick in axis._update_ticks():  # only ticks inside the view limits are drawn
                    texts += [tick.label1, tick.label2]
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            texts += [legend.get_title(), *legend.get_texts()]
    unique = {id(t): t for t in texts if t is not None and t.get_visible() and t.get_text().strip()}
    return list(unique.values())


def layout_problems(fig: Figure, min_pt: float = MIN_FONT_PT) -> list[str]:
    """What is wrong with a figure at its saved size: small fonts, text off the canvas, overlapping text.

    The figure is drawn first, so positions are those of the saved file (saved at the
    figure's own size, without tight cropping).

    Returns
    -------
    list of str
        One line per problem, naming the text; empty when the figure is fine.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    points = fig.dpi / 72.0
    tolerance = TOLERANCE_PT * points
    width, height = fig.bbox.width, fig.bbox.height
    problems = []
    boxes = []
    for text in visible_texts(fig):
        label = repr(text.get_text()[:40])
        if text.get_fontsize() < min_pt - 1e-6:
            problems.append(f"font {text.get_fontsize():.1f} pt < {min_pt:g} pt: {label}")
        box = text.get_window_extent(renderer)
        if box.width <= 0 or box.height <= 0:
            continue
        if box.x0 < -tolerance or box.y0 < -tolerance or box.x1 > width + tolerance or box.y1 > height + tolerance:
            problems.append(f"outside the figure: {label}")
        boxes.append((text, box))
    for (first, a), (second, b) in combinations(boxes, 2):
        overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
        if overlap_x > tolerance and overlap_y > tolerance:
            problems.append(f"overlap: {first.get_text()[:40]!r} and {second.get_text()[:40]!r}")
    return problems


def all_text(fig: Figure) -> str:
    """Every drawn text of the figure, joined (e.g. to check it states its interval)."""
    fig.canvas.draw()
    return "\n".join(t.get_text() for t in visible_texts(fig))


__all__ = ["all_text", "fit_to_profile", "lay_out", "layout_problems", "visible_texts"]
