"""Self-contained reports of commands that are not model runs (``map-prior``, ``design``).

One Markdown text with figures by relative path (``report.md``), and the same text as
HTML with the figures embedded (``report.html``). Sentences come from the command's
numbers; this module only assembles and saves.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import markdown
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ipsbayes.report.validation_report import CSS

LANGUAGES = ("en", "nb")


@dataclass(frozen=True)
class SavedFigure:
    """A figure written as PNG and SVG, with its caption."""

    name: str
    title: str
    caption: str
    png: Path


def check_language(language: str) -> str:
    """Return ``language`` if supported, else raise ValueError naming the valid ones."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}; valid: {', '.join(LANGUAGES)}")
    return language


def save_figure(fig: Figure, folder: Path, name: str, title: str, caption: str) -> SavedFigure:
    """Write ``figures/<name>.png`` and ``.svg`` and close the figure."""
    target = folder / "figures"
    target.mkdir(exist_ok=True)
    png = target / f"{name}.png"
    fig.savefig(png, dpi=130, bbox_inches="tight")
    fig.savefig(target / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return SavedFigure(name, title, caption, png)


def write_standalone(
    folder: Path, title: str, sections: list[tuple[str, str]], figures: list[SavedFigure], language: str = "en"
) -> None:
    """Write ``report.md`` and ``report.html`` from titled Markdown sections and saved figures."""
    md = [f"# {title}", ""]
    for heading, text in sections:
        md += [f"## {heading}", "", text, ""]
    for fig in figures:
        md += [f"### {fig.title}", "", f"![{fig.title}](figures/{fig.png.name})", "", fig.caption, ""]
    (folder / "report.md").write_text("\n".join(md))
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, text in sections:
        body += [f"<h2>{html.escape(heading)}</h2>", markdown.markdown(text, extensions=["tables"])]
    for fig in figures:
        encoded = base64.b64encode(fig.png.read_bytes()).decode()
        body += [
            f"<h3>{html.escape(fig.title)}</h3>",
            f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(fig.title)}">',
            markdown.markdown(fig.caption),
        ]
    page = (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    (folder / "report.html").write_text(page)
