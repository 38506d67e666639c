"""Render ``report.html`` (self-contained) and ``report.md`` (figures by path) from a run's contents.

The renderer takes only what a run folder holds (DataTree with an ``estimands``
group, diagnostics, report settings, priors table, provenance), so
``ipsbayes report RUN_DIR`` re-renders without refitting or rebuilding a model.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
import numpy as np
import pandas as pd
import xarray as xr
from jinja2 import Environment, PackageLoader, select_autoescape

from ipsbayes.diagnostics import Diagnostics
from ipsbayes.present import Presentation, ReportContext, Style
from ipsbayes.present.notes import translate_note
from ipsbayes.present.text import format_number, format_probability, interval_name
from ipsbayes.report.figures import draw_figures
from ipsbayes.report.sections import build_sections
from ipsbayes.report.tables import (
    csv_with_header,
    power_scaling_table,
    sensitivity_table,
    sentence,
    summarise,
)
from ipsbayes.report.verdict import verdict


@dataclass
class ReportSettings:
    """Everything about presentation that is not in the DataTree."""

    title: str
    interval_kind: str = "eti"
    interval_prob: float = 0.9
    thresholds: dict[str, float] = field(default_factory=dict)
    formats: list[str] = field(default_factory=lambda: ["png", "svg"])
    prior_set: str = ""
    priors: list[dict[str, str]] = field(default_factory=list)
    reproducibility: dict[str, Any] = field(default_factory=dict)
    subtitle: str = ""
    language: str = "en"
    labels: dict[str, str] = field(default_factory=dict)
    min_cell: int = 5
    calibration: dict[str, Any] | None = None


def write_report(
    folder: Path, datatree: xr.DataTree, diagnostics: Diagnostics, settings: ReportSettings
) -> dict[str, Any]:
    """Write figures, ``summary.csv``, ``report.html`` and ``report.md`` into ``folder``.

    Returns
    -------
    dict
        ``summary`` (DataFrame) and ``figures`` (name -> {"paths", "caption"}).
    """
    ctx = report_context(datatree, settings)
    estimands, summary = ctx.estimands, ctx.summary
    (folder / "summary.csv").write_text(csv_with_header(summary, settings.interval_kind, settings.interval_prob))
    write_tables(folder / "tables", datatree, settings)
    presentation = presentation_of(estimands)
    figures = draw_figures(ctx, presentation, folder / "figures", settings.formats)
    sections = build_sections(ctx, presentation)
    answer = presentation.answer(ctx) if presentation.answer is not None else []
    context = _context(estimands, diagnostics, settings, summary, figures, sections)
    context["answer"] = answer
    context["verdict"] = verdict(
        diagnostics.status, diagnostics.messages_in(settings.language), datatree, settings.language, settings.labels
    )
    if settings.language != "en" and f"model_description_{settings.language}" in estimands.attrs:
        context["model_text"] = str(estimands.attrs[f"model_description_{settings.language}"])
        context["model_html"] = markdown.markdown(context["model_text"], extensions=["tables"])
    context["notes"] = [translate_note(note, settings.language) for note in context["notes"]]
    env = Environment(
        loader=PackageLoader("ipsbayes.report", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    (folder / "report.md").write_text(env.get_template("report.md.j2").render(**context))
    (folder / "report.html").write_text(env.get_template("report.html.j2").render(**context))
    return {"summary": summary, "figures": figures}


def report_context(datatree: xr.DataTree, settings: ReportSettings) -> ReportContext:
    """The context every section, figure and answer of a run is built from."""
    estimands = datatree["estimands"].to_dataset()
    return ReportContext(
        estimands=estimands,
        datatree=datatree,
        summary=summarise(estimands, settings.interval_kind, settings.interval_prob, settings.thresholds),
        style=Style(settings.interval_kind, settings.interval_prob, settings.language),
        labels=settings.labels,
        thresholds=settings.thresholds,
        min_cell=settings.min_cell,
        calibration=settings.calibration,
    )


def presentation_of(estimands: xr.Dataset) -> Presentation:
    """The presentation registered by the family that produced ``estimands`` (empty for unknown kinds)."""
    from ipsbayes.models import REGISTRY

    family = REGISTRY.get(str(estimands.attrs.get("model_kind", "")))
    return family.presentation() if family is not None else Presentation()


def write_tables(folder: Path, datatree: xr.DataTree, settings: ReportSettings) -> None:
    """Extra CSV tables: sensitivity refits and power-scaling sensitivity, when the run has them."""
    tables = {}
    if "sensitivity" in datatree.children:
        tables["sensitivity.csv"] = csv_with_header(
            sensitivity_table(
                datatree["sensitivity"].to_dataset(),
                settings.interval_kind,
                settings.interval_prob,
                settings.thresholds,
            ),
            settings.interval_kind,
            settings.interval_prob,
        )
    if "power_scaling" in datatree.children:
        power = power_scaling_table(datatree["power_scaling"].to_dataset())
        tables["power_scaling.csv"] = (
            "# power-scaling sensitivity (Kallioinen et al. 2023, arviz psense_summary); "
            ">= 0.05 flags sensitivity\n" + power.to_csv(index=False, lineterminator="\n")
        )
    if tables:
        folder.mkdir(exist_ok=True)
        for name, text in tables.items():
            (folder / name).write_text(text)


def _p_threshold(row: dict[str, Any]) -> str:
    """P of exceeding the threshold in the direction of the median ("0.91 (> 5)", "0.88 (< -5)"), never 0.00/1.00."""
    beyond = row.get("p_beyond_threshold", np.nan)
    if row.get("threshold") is None or beyond is None or np.isnan(beyond):
        return "-"
    below = row.get("threshold_direction") == "below"
    null = row.get("null") or 0.0
    bound = null - abs(row["threshold"] - null) if below else row["threshold"]
    return f"{format_probability(beyond)} ({'<' if below else '>'} {bound:g})"


def _context(
    estimands: xr.Dataset,
    diagnostics: Diagnostics,
    settings: ReportSettings,
    summary: pd.DataFrame,
    figures: dict[str, dict],
    sections: list[dict],
) -> dict[str, Any]:
    headline = summary[summary["headline"]]
    key_results = [
        sentence(row, settings.interval_prob, settings.interval_kind, settings.language)
        for row in headline.to_dict("records")
    ]
    rows = []
    for row in summary.to_dict("records"):
        unit = row["unit"]
        rows.append(
            {
                "label": row["label"],
                "element": row["element"],
                "unit": unit,
                "median": format_number(row["median"], unit),
                "lower": format_number(row["lower"], unit),
                "upper": format_number(row["upper"], unit),
                "p_null": "-" if np.isnan(row["p_above_null"]) else format_probability(row["p_above_null"]),
                "p_threshold": _p_threshold(row),
            }
        )
    figure_context = {}
    for name, info in figures.items():
        fmt = "png" if "png" in info["paths"] else "svg"
        mime = "image/png" if fmt == "png" else "image/svg+xml"
        encoded = base64.b64encode(info["paths"][fmt].read_bytes()).decode()
        figure_context[name] = {
            "title": info["title"],
            "caption": info["caption"],
            "img_src": f"data:{mime};base64,{encoded}",
        }
    model_text = str(estimands.attrs.get("model_description", ""))
    notes = json.loads(estimands.attrs.get("notes", "[]"))
    md_format = "png" if "png" in settings.formats else settings.formats[0]
    return {
        "title": settings.title,
        "subtitle": settings.subtitle,
        "gate": {"status": diagnostics.status, "messages": diagnostics.messages, "checks": diagnostics.checks},
        "interval_text": interval_name(settings.interval_kind, settings.interval_prob),
        "key_results": key_results,
        "sections": sections,
        "figures": figure_context,
        "md_format": md_format,
        "summary_rows": rows,
        "model_text": model_text,
        "model_html": markdown.markdown(model_text, extensions=["tables"]),
        "notes": notes,
        "prior_set": settings.prior_set,
        "priors": settings.priors,
        "reproducibility": settings.reproducibility,
    }
