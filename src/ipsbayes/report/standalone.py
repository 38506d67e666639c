"""Reports of commands that are not model runs (``ipsbayes map-prior``, ``ipsbayes design``).

They are rendered the way run reports are (:mod:`ipsbayes.report.render`): the command hands a
:class:`~ipsbayes.present.Presentation` (answer, sections, figures built from a
:class:`~ipsbayes.present.ReportContext`), figures are drawn at the figure profile and saved
under stable names by :func:`ipsbayes.report.drawing.draw_figures`, and the Jinja templates
``standalone.html.j2`` / ``standalone.md.j2`` go through the same escaping environments: every
value escaped, section Markdown neutralised and sanitised, figures embedded as data URIs in
``report.html`` and referenced by path in ``report.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from ipsbayes.present import Presentation, ReportContext, Style
from ipsbayes.report.drawing import draw_figures
from ipsbayes.report.render import (
    embedded_figures,
    html_environment,
    markdown_environment,
    reproducibility_rows,
    safe_html,
)
from ipsbayes.textutil import neutralize_markdown

LANGUAGES = ("en", "nb")


def check_language(language: str) -> str:
    """Return ``language`` if supported, else raise ValueError naming the valid ones."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}; valid: {', '.join(LANGUAGES)}")
    return language


def standalone_context(
    language: str = "en",
    *,
    interval_prob: float = 0.95,
    interval_kind: str = "eti",
    datatree: xr.DataTree | None = None,
    labels: dict[str, str] | None = None,
    min_cell: int = 5,
) -> ReportContext:
    """A report context without estimands: the language, interval and figure profile of a standalone report."""
    return ReportContext(
        estimands=xr.Dataset(),
        datatree=datatree if datatree is not None else xr.DataTree(),
        summary=pd.DataFrame(columns=["estimand", "element"]),
        style=Style(interval_kind, interval_prob, check_language(language)),
        labels=labels or {},
        min_cell=min_cell,
    )


def write_standalone(
    folder: Path,
    ctx: ReportContext,
    title: str,
    presentation: Presentation,
    *,
    subtitle: str = "",
    formats: tuple[str, ...] = ("png", "svg"),
    details: dict[str, Any] | None = None,
    verdict: dict[str, Any] | None = None,
) -> dict[str, dict]:
    """Write ``figures/``, ``report.md`` and ``report.html`` of a standalone report into ``folder``.

    Parameters
    ----------
    folder : Path
        The (staging) output folder.
    ctx : ReportContext
        Language, interval and figure profile (see :func:`standalone_context`).
    title, subtitle : str
        Plain text (escaped by the templates).
    presentation : Presentation
        Answer lines, sections and figures; only sections and figures whose ``applies`` is true are written.
    formats : tuple of str
        Figure formats.
    details : dict, optional
        A "Reproducibility" table (plain keys and values, escaped).
    verdict : dict, optional
        The verdict block at the top (``status``, ``headline``, ``reasons``; plain text, escaped), as in
        run reports (:func:`ipsbayes.report.verdict.command_verdict`).

    Returns
    -------
    dict
        Figure name -> {"title", "paths", "caption"}.
    """
    figures = draw_figures(ctx, presentation, folder / "figures", list(formats), shared=False)
    sections = []
    for section in presentation.sections:
        if not section.applies(ctx):
            continue
        text = section.build(ctx)
        sections.append(
            {
                "key": section.key,
                "title": section.title(ctx),
                "text": neutralize_markdown(text),
                "html": safe_html(text),
            }
        )
    md_format = "png" if "png" in formats else formats[0]
    figure_context = embedded_figures(figures, md_format)
    context = {
        "title": title,
        "subtitle": subtitle,
        "lang": ctx.language,
        "date": datetime.now(UTC).date().isoformat(),
        "answer": presentation.answer(ctx) if presentation.answer is not None else [],
        "sections": sections,
        "figures": figure_context,
        "details": {str(k): str(v) for k, v in reproducibility_rows(details or {}, ctx.language).items()},
        "verdict": verdict,
    }
    (folder / "report.md").write_text(markdown_environment().get_template("standalone.md.j2").render(**context))
    (folder / "report.html").write_text(html_environment().get_template("standalone.html.j2").render(**context))
    return figures


__all__ = ["LANGUAGES", "check_language", "standalone_context", "write_standalone"]
