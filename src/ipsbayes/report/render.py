"""Render ``report.html`` (self-contained) and ``report.md`` (figures by path) from a run's contents.

The renderer takes only what a run folder holds (DataTree with an ``estimands``
group, diagnostics, report settings, priors table, provenance), so
``ipsbayes report RUN_DIR`` re-renders without refitting or rebuilding a model.

Nothing from the data or the config is ever rendered as code. In ``report.html``
Jinja autoescaping is on, and the only values marked safe are the HTML made from
section and model Markdown, which first passes :func:`~ipsbayes.textutil.neutralize_markdown`
and then an allowlist sanitiser (nh3: a few formatting tags, no scripts, no event
handlers, no images, links to http(s) only). In ``report.md`` every value is escaped
with :func:`~ipsbayes.textutil.escape_md` (the Markdown counterpart of autoescaping),
except section and model Markdown, which is neutralised.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nh3
import numpy as np
import pandas as pd
import xarray as xr
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from ipsbayes.diagnostics import Diagnostics
from ipsbayes.diagnostics_text import status_word, table_rows
from ipsbayes.present import Presentation, ReportContext, Style
from ipsbayes.present.context import verbatim_words, vocabulary_of
from ipsbayes.present.notes import translate_note
from ipsbayes.present.phrases import readable
from ipsbayes.present.text import format_number, format_probability, interval_name, localise, shared_decimals
from ipsbayes.report.drawing import draw_figures
from ipsbayes.report.html import collapse_tables, markdown_to_html
from ipsbayes.report.sections import build_sections
from ipsbayes.report.tables import (
    columns_table,
    csv_nb,
    csv_text,
    csv_with_header,
    labelled,
    norwegian,
    power_scaling_table,
    sensitivity_table,
    sentence,
    summarise,
    write_xlsx,
)
from ipsbayes.report.verdict import verdict
from ipsbayes.textutil import MarkdownText, code_span, control_pictures, escape_md, neutralize_markdown

#: what HTML made from section and model Markdown may contain (no scripts, images, forms or event handlers)
ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "sup", "sub",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "h3", "h4", "h5", "h6", "a", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"style", "align"}, "td": {"style", "align"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


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
    figure_width_cm: float = 16.0
    figure_font_size: float = 9.0
    figure_dpi: int = 300
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
    write_tables(folder, datatree, summary, settings)
    presentation = presentation_of(estimands)
    figures = draw_figures(ctx, presentation, folder / "figures", settings.formats)
    sections = build_sections(ctx, presentation)
    answer = presentation.answer(ctx) if presentation.answer is not None else []
    context = _context(estimands, diagnostics, settings, summary, figures, sections)
    context["answer"] = answer
    context["verdict"] = verdict(
        diagnostics.status,
        diagnostics.findings_in(settings.language, {**vocabulary_of(estimands), **settings.labels}),
        datatree,
        settings.language,
        settings.labels,
    )
    if settings.language != "en" and f"model_description_{settings.language}" in estimands.attrs:
        context["model_text"] = neutralize_markdown(str(estimands.attrs[f"model_description_{settings.language}"]))
        context["model_html"] = safe_html(context["model_text"])
    context["notes"] = [translate_note(note, settings.language) for note in context["notes"]]
    (folder / "report.md").write_text(markdown_environment().get_template("report.md.j2").render(**context))
    (folder / "report.html").write_text(html_environment().get_template("report.html.j2").render(**context))
    return {"summary": summary, "figures": figures}


#: the reproducibility table's items and fixed values in Norwegian
_REPRODUCIBILITY_NB = {
    "config": "konfigurasjon",
    "data rows": "datarader",
    "seed": "frø",
    "sampler": "sampler",
    "prior set file": "fil med priorsett",
    "run folder": "kjøringsmappe",
    "data sha256": "data sha256",
    "re-rendered": "tegnet på nytt",
    "(expanded in config.toml)": "(skrevet ut i config.toml)",
    "(in memory)": "(i minnet)",
    "yes (figures and report redrawn from posterior.nc)": "ja (figurer og rapport tegnet på nytt fra posterior.nc)",
    "evidence table": "kunnskapstabell",
    "where": "hvor",
    "seconds": "sekunder",
    "simulated analyses": "simulerte analyser",
    "in-process": "i samme prosess",
}


def reproducibility_rows(items: dict[str, Any], language: str = "en") -> dict[str, Any]:
    """The reproducibility table in the report's language: item names and fixed values translated, numbers localised."""
    if language != "nb":
        return dict(items)
    out = {}
    for key, value in items.items():
        shown = _REPRODUCIBILITY_NB.get(value, value) if isinstance(value, str) else value
        count = isinstance(shown, int | float) and not isinstance(shown, bool) and key != "seed"  # a seed as written
        out[_REPRODUCIBILITY_NB.get(key, key)] = localise(f"{shown:,}", language) if count else shown
    return out


def _visible_output(value: Any) -> Any:
    """A value as a report prints it: control characters as their pictures (:func:`control_pictures`)."""
    if isinstance(value, Markup):
        return Markup(control_pictures(str(value)))  # replacing a control character adds no markup
    return control_pictures(value) if isinstance(value, str) else value


def html_environment() -> Environment:
    """Jinja environment for ``*.html.j2`` templates: every value HTML-escaped unless marked safe."""
    env = Environment(
        loader=PackageLoader("ipsbayes.report", "templates"),
        autoescape=True,
        finalize=_visible_output,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["collapse_tables"] = collapse_tables
    env.filters["yaml"] = yaml_string
    return env


def _escape_md_output(value: Any) -> Any:
    if isinstance(value, MarkdownText):  # escaped (or neutralised) already
        return MarkdownText(control_pictures(value))
    return value if value is None else escape_md(_visible_output(value))


def markdown_environment() -> Environment:
    """Jinja environment for ``*.md.j2`` templates: every value Markdown-escaped unless it is MarkdownText."""
    env = Environment(
        loader=PackageLoader("ipsbayes.report", "templates"),
        autoescape=False,
        finalize=_escape_md_output,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["code"] = code_span
    env.filters["collapse_tables"] = collapse_tables
    env.filters["yaml"] = yaml_string
    return env


def safe_html(markdown_text: str) -> Markup:
    """HTML from Markdown written by code around user values: neutralised, rendered, then sanitised.

    Parameters
    ----------
    markdown_text : str
        Section or model Markdown.

    Returns
    -------
    Markup
        HTML with only :data:`ALLOWED_TAGS` and :data:`ALLOWED_ATTRIBUTES`, links to
        :data:`ALLOWED_URL_SCHEMES` only; safe to insert into an autoescaped template.
    """
    return sanitize_html(markdown_to_html(neutralize_markdown(markdown_text)))


def sanitize_html(html: str, *, images: bool = False) -> Markup:
    """Keep only allowlisted tags and attributes of ``html`` (no scripts, event handlers or javascript: URLs).

    Parameters
    ----------
    html : str
        HTML rendered from Markdown.
    images : bool
        Also keep ``<img src alt>`` with relative sources (figures the caller wrote, to be embedded afterwards).
    """
    tags = ALLOWED_TAGS | ({"img", "h1", "h2"} if images else set())
    attributes = {**ALLOWED_ATTRIBUTES, **({"img": {"src", "alt"}} if images else {})}
    cleaned = nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        url_schemes=ALLOWED_URL_SCHEMES,
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
    )
    return Markup(cleaned)  # sanitised by nh3 with the allowlists above


def report_context(datatree: xr.DataTree, settings: ReportSettings) -> ReportContext:
    """What every section, figure and answer of this run is drawn from (estimands, summary, style, labels)."""
    estimands = datatree["estimands"].to_dataset()
    verbatim = verbatim_words(estimands, settings.labels)
    style = Style(
        settings.interval_kind,
        settings.interval_prob,
        settings.language,
        width_cm=settings.figure_width_cm,
        font_size=settings.figure_font_size,
        dpi=settings.figure_dpi,
        verbatim=verbatim,
    )
    summary = summarise(estimands, settings.interval_kind, settings.interval_prob, settings.thresholds)
    return ReportContext(
        estimands=estimands,
        datatree=datatree,
        summary=summary,
        style=style,
        labels={**{word: word for word in verbatim}, **settings.labels},  # ids like "2.1" are shown as written
        thresholds=settings.thresholds,
        min_cell=settings.min_cell,
        calibration=settings.calibration,
    )


def presentation_of(estimands: xr.Dataset) -> Presentation:
    """The presentation registered by the family that produced ``estimands`` (empty for unknown kinds)."""
    from ipsbayes.models import REGISTRY

    family = REGISTRY.get(str(estimands.attrs.get("model_kind", "")))
    return family.presentation() if family is not None else Presentation()


def write_tables(folder: Path, datatree: xr.DataTree, summary: pd.DataFrame, settings: ReportSettings) -> None:
    """Every table as files that open correctly anywhere.

    ``summary.csv`` (comma, decimal point: code and English-locale spreadsheets),
    ``summary_nb.csv`` (semicolon, decimal comma, Norwegian headers, UTF-8 with BOM: Excel in a
    Norwegian locale), ``summary_columns.csv`` (what each column means, in both languages) and
    ``summary.xlsx`` (every table as a sheet, headers in both languages); the sensitivity refits and
    power-scaling sensitivity also as ``tables/<name>.csv`` and ``tables/<name>_nb.csv``. No file starts
    with comment lines: the interval kind and probability are in the ``interval`` column. These tables
    hold model-based estimates only; observed cells (counts, raw rates) are never written to them.
    """
    (folder / "summary.csv").write_text(csv_with_header(summary, settings.interval_kind, settings.interval_prob))
    estimands = datatree["estimands"].to_dataset() if "estimands" in datatree.children else xr.Dataset()
    labels_nb = settings.labels if settings.language == "nb" else None  # [report.labels] are in the report's language
    summary_nb = labelled(summary, estimands, "nb", labels_nb)
    (folder / "summary_nb.csv").write_bytes(csv_nb(summary_nb))
    (folder / "summary_columns.csv").write_text(csv_text(columns_table(summary)))
    tables: dict[str, pd.DataFrame] = {}
    if "sensitivity" in datatree.children:
        tables["sensitivity"] = sensitivity_table(
            datatree["sensitivity"].to_dataset(), settings.interval_kind, settings.interval_prob, settings.thresholds
        )
    if "power_scaling" in datatree.children:
        tables["power_scaling"] = power_scaling_table(datatree["power_scaling"].to_dataset())
    if tables:
        (folder / "tables").mkdir(exist_ok=True)
        for name, table in tables.items():
            (folder / "tables" / f"{name}.csv").write_text(csv_text(table))
            (folder / "tables" / f"{name}_nb.csv").write_bytes(csv_nb(labelled(table, estimands, "nb", labels_nb)))
    columns = pd.concat([columns_table(t) for t in (summary, *tables.values())]).drop_duplicates("column")
    write_xlsx(
        folder / "summary.xlsx",
        {"summary": summary, "sammendrag": norwegian(summary_nb)}
        | {name: table for name, table in tables.items()}
        | {"columns": columns},
    )


def yaml_string(value: Any) -> MarkdownText:
    """A YAML single-quoted scalar for front matter.

    Pandoc and Quarto read front-matter strings as Markdown, so the value is Markdown-escaped first;
    single quotes keep those escapes as they are (no second layer of backslashes), and ``'`` is doubled.
    """
    return MarkdownText("'" + str(escape_md(value)).replace("'", "''") + "'")


def _p_threshold(row: dict[str, Any], language: str = "en") -> str:
    """P(> threshold) as the config states it ("0.91 (> 5)"), never 0.00/1.00.

    For a median below the null the same distance on that side follows ("< 0.01 (> 5); 0.88 (< -5)"):
    the probability asked for is always shown, and beside it the one in the direction of the estimate.
    """
    beyond = row.get("p_beyond_threshold", np.nan)
    if row.get("threshold") is None or beyond is None or np.isnan(beyond):
        return "-"
    threshold = localise(f"{row['threshold']:g}", language)
    stated = f"{format_probability(row['p_above_threshold'], language=language)} (> {threshold})"
    if row.get("threshold_direction") != "below":
        return stated
    null = row.get("null") or 0.0
    bound = localise(f"{null - abs(row['threshold'] - null):g}", language)
    return f"{stated}; {format_probability(beyond, language=language)} (< {bound})"


def _context(
    estimands: xr.Dataset,
    diagnostics: Diagnostics,
    settings: ReportSettings,
    summary: pd.DataFrame,
    figures: dict[str, dict],
    sections: list[dict],
) -> dict[str, Any]:
    words = {
        **{w: w for w in verbatim_words(estimands, settings.labels)},
        **vocabulary_of(estimands),
        **settings.labels,
    }

    def element_of(row: dict[str, Any]) -> str:
        return readable(row["element"], words, settings.language) if row["element"] else ""

    summary = labelled(summary, estimands, settings.language)
    headline = summary[summary["headline"]]
    key_results = [
        sentence({**row, "element": element_of(row)}, settings.interval_prob, settings.interval_kind, settings.language)
        for row in headline.to_dict("records")
    ]
    rows = []
    language = settings.language
    for row in summary.to_dict("records"):
        unit = row["unit"]
        decimals = shared_decimals([row["median"], row["lower"], row["upper"]], unit)  # "1.003 | 1.001 | 1.005"
        rows.append(
            {
                "label": row["label"],
                "element": element_of(row),
                "unit": unit,
                "median": format_number(row["median"], unit, language, decimals),
                "lower": format_number(row["lower"], unit, language, decimals),
                "upper": format_number(row["upper"], unit, language, decimals),
                "p_null": "-"
                if np.isnan(row["p_above_null"])
                else format_probability(row["p_above_null"], language=language),
                "p_threshold": _p_threshold(row, language),
            }
        )
    figure_context = embedded_figures(figures, md_format_of(settings))
    model_text = neutralize_markdown(str(estimands.attrs.get("model_description", "")))
    notes = json.loads(estimands.attrs.get("notes", "[]"))
    sections = [
        {**section, "text": neutralize_markdown(section["text"]), "html": safe_html(section["text"])}
        for section in sections
    ]
    md_format = md_format_of(settings)
    return {
        "title": settings.title,
        "subtitle": settings.subtitle,
        "lang": settings.language,
        "date": datetime.now(UTC).date().isoformat(),
        "gate": {
            "status": diagnostics.status,
            "status_word": status_word(diagnostics.status, settings.language),
            "messages": diagnostics.messages,
            "rows": table_rows(diagnostics.checks, settings.language),
        },
        "interval_text": interval_name(settings.interval_kind, settings.interval_prob, settings.language),
        "key_results": key_results,
        "sections": sections,
        "figures": figure_context,
        "md_format": md_format,
        "summary_rows": rows,
        "model_text": model_text,
        "model_html": safe_html(model_text),
        "notes": notes,
        "prior_set": settings.prior_set,
        "priors": settings.priors,
        "reproducibility": settings.reproducibility,
    }


def embedded_figures(figures: dict[str, dict], md_format: str) -> dict[str, dict[str, Any]]:
    """Template entries for drawn figures: title, caption, a data URI for report.html and the report.md path.

    The PNG is embedded when there is one, else the SVG; ``md_format`` names the file report.md links.
    """
    out = {}
    for name, info in figures.items():
        fmt = "png" if "png" in info["paths"] else "svg"
        mime = "image/png" if fmt == "png" else "image/svg+xml"
        encoded = base64.b64encode(info["paths"][fmt].read_bytes()).decode()
        out[name] = {
            "title": info["title"],
            "caption": info["caption"],
            "img_src": f"data:{mime};base64,{encoded}",
            # a stable name chosen by ipsbayes, never data: written as it is (escaping would break the path)
            "md_path": MarkdownText(f"figures/{name}.{md_format}"),
        }
    return out


def md_format_of(settings: ReportSettings) -> str:
    """Figure format report.md links to (png when written, else the first format)."""
    return "png" if "png" in settings.formats else settings.formats[0]
