"""Drawing a report's figures into files, on one process or two.

Where :func:`ipsbayes.forked.available`, a forked child on the second core draws figures beside
the run: each process takes the next figure from a shared queue, slowest first, so both finish
together. The files are those one process draws (``tests/test_figures.py``); figures a stuck child
took are drawn by the run.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from ipsbayes import forked
from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext
from ipsbayes.report.figure_files import FigureWriter, freeze_layout
from ipsbayes.report.figures import figure_specs, iter_figures

#: figures that take longest to draw (seconds at 15,000 rows): drawn first, so two processes finish together
SLOW_FIGURES = {"ppc_calibration": 0.35, "power_scaling": 0.35, "rank_plot": 0.2, "prior_posterior": 0.15}


def draw_figures(
    ctx: ReportContext, presentation: Presentation, folder: Path, formats: list[str], shared: bool = True
) -> dict[str, dict]:
    """Draw every applicable figure; save ``<name>.<fmt>`` in ``folder``; return name -> title, paths, caption.

    Files are exactly the profile's width (no tight cropping), PNGs at its DPI, SVGs with real text.
    Where :func:`ipsbayes.forked.available`, a forked child on another core draws figures too: each
    process takes the next figure from a shared queue, slowest first. The files are those one
    process draws (``tests/test_figures.py``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(ctx.style.rc()), plt.ioff():
        specs = [spec for spec in figure_specs(presentation, shared) if spec.applies(ctx)]
    slowest_first = sorted(specs, key=lambda spec: -SLOW_FIGURES.get(spec.name, 0.0))
    with _Queue(len(specs)) as queue:
        take = functools.partial(_save_figures, ctx, presentation, folder, formats, slowest_first, queue)
        with forked.in_child(take, fork=len(specs) > 1 and forked.available()) as child:
            out = take()
    out.update(child.result or {})
    if missing := [spec for spec in slowest_first if spec.name not in out]:  # a stuck child's, redone here
        with _Queue(len(missing)) as queue:
            out.update(_save_figures(ctx, presentation, folder, formats, missing, queue))
    return {spec.name: out[spec.name] for spec in specs}  # in the report's order


class _Queue:
    """Indexes 0..n-1 in a pipe; each process reads the next one (a one-byte read is atomic) until none is left."""

    def __init__(self, n: int) -> None:
        if n > 255:
            raise ValueError(f"{n} figures: at most 255")
        self._read, write = os.pipe()
        os.write(write, bytes(range(n)))
        os.close(write)  # the end of the queue reads as b""

    def __enter__(self) -> _Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._read)

    def next(self) -> int | None:
        taken = os.read(self._read, 1)
        return taken[0] if taken else None


def _save_figures(
    ctx: ReportContext,
    presentation: Presentation,
    folder: Path,
    formats: list[str],
    specs: list[FigureSpec],
    queue: _Queue,
) -> dict[str, dict]:
    """Draw the ``specs`` this process takes from ``queue``; save each: name -> title, paths, caption."""
    out = {}
    taken = iter(lambda: queue.next(), None)
    with matplotlib.rc_context(ctx.style.rc()), FigureWriter(ctx.style.dpi) as writer:
        for spec, fig, caption in iter_figures(ctx, presentation, specs=(specs[i] for i in taken)):
            freeze_layout(fig)
            paths = {}
            for fmt in formats:
                paths[fmt] = folder / f"{spec.name}.{fmt}"
                writer.save(fig, paths[fmt], fmt)
            plt.close(fig)
            out[spec.name] = {"title": spec.title(ctx), "paths": paths, "caption": caption}
    return out


__all__ = ["SLOW_FIGURES", "draw_figures"]
