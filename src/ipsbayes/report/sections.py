"""Report sections: the family's own, then the ones every run shares.

A model family hands the report its sections (see :mod:`ipsbayes.present`);
this module adds the shared ones (sensitivity to priors and assumptions) and
turns each section's Markdown into HTML.
"""

from __future__ import annotations

import json

import markdown
import numpy as np

from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.text import format_number
from ipsbayes.report.tables import power_scaling_table, sensitivity_table


def sensitivity_section(ctx: ReportContext) -> str:
    """Estimates under other prior sets and model variants (with each refit's gate), and power-scaling sensitivity."""
    datatree, style = ctx.datatree, ctx.style
    parts = []
    if "sensitivity" in datatree.children:
        table = sensitivity_table(datatree["sensitivity"].to_dataset(), style.kind, style.prob)
        gates = json.loads(datatree["sensitivity"].attrs.get("gates", "{}"))
        rows = [
            "| Analysis | Estimand | Median | Interval | P(> null) | Diagnostics |",
            "| --- | --- | ---: | --- | ---: | --- |",
        ]
        for row in table.to_dict("records"):
            unit = row["unit"]
            p_null = "-" if np.isnan(row["p_above_null"]) else f"{row['p_above_null']:.2f}"
            gate = gates.get(row["analysis"], {}).get("status", "-")
            rows.append(
                f"| {row['analysis']} | {row['label']} ({unit}) | {format_number(row['median'], unit)} | "
                f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)} | {p_null} | {gate} |"
            )
        parts.append(
            f"Each row refits the same data (same sampler settings) under another prior set or model "
            f"assumption; intervals are {style.text}. Priors are listed in `priors/`; the main analysis's "
            "priors are tabled under *Model*."
        )
        parts.append("\n".join(rows))
    if "power_scaling" in datatree.children:
        power = power_scaling_table(datatree["power_scaling"].to_dataset())
        rows = ["| Estimand | Prior sensitivity | Likelihood sensitivity | Diagnosis |", "| --- | ---: | ---: | --- |"]
        for row in power.to_dict("records"):
            rows.append(f"| {row['estimand']} | {row['prior']:.3f} | {row['likelihood']:.3f} | {row['diagnosis']} |")
        parts.append(
            "**Power-scaling sensitivity** (Kallioinen et al. 2023; ArviZ `psense_summary`): how far the posterior "
            "moves when the prior or the likelihood is raised to a power near 1, without refitting. Values of 0.05 or "
            "more flag sensitivity; a prior-sensitive estimand with a weak likelihood means the data alone cannot "
            "pin it down, and sensitivity to both suggests prior-data conflict."
        )
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


#: sections every run gets when it has what they need
SHARED_SECTIONS: tuple[Section, ...] = (
    Section(
        "sensitivity",
        fixed("Sensitivity to priors and assumptions", "Følsomhet for priorfordelinger og antakelser"),
        sensitivity_section,
        lambda ctx: "sensitivity" in ctx.datatree.children or "power_scaling" in ctx.datatree.children,
    ),
)


def build_sections(ctx: ReportContext, presentation: Presentation) -> list[dict]:
    """Key, title, Markdown and HTML of every applicable section: the family's first, then the shared ones."""
    out = []
    for section in (*presentation.sections, *SHARED_SECTIONS):
        if section.applies(ctx):
            text = section.build(ctx)
            out.append(
                {
                    "key": section.key,
                    "title": section.title(ctx),
                    "text": text,
                    "html": markdown.markdown(text, extensions=["tables"]),
                }
            )
    return out
