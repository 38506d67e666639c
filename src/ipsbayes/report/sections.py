"""Plain-language report sections, chosen by the estimands a run has.

Each section answers one question in words and numbers (probabilities and
percentage points first, log-odds second). Sections are picked by the
estimands present, like figures, so a new model family that produces the same
estimand names gets the same sections.
"""

from __future__ import annotations

from collections.abc import Callable

import markdown
import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.report.sections_causal import cace_section, sensitivity_section
from ipsbayes.report.style import Style
from ipsbayes.report.tables import format_number

SectionBuilder = Callable[[xr.Dataset, xr.DataTree, pd.DataFrame, Style], str]


def _row(summary: pd.DataFrame, name: str, element: str = "") -> dict:
    rows = summary[(summary["estimand"] == name) & (summary["element"] == element)]
    return rows.iloc[0].to_dict()


def _interval(row: dict, style: Style) -> str:
    unit = row["unit"]
    bounds = f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)}"
    return f"{bounds} ({style.prob:.0%} {style.kind.upper()})"


def fidelity_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """What fidelity means for participants' outcomes."""
    contrast = _row(summary, "fidelity_contrast")
    odds = _row(summary, "fidelity_odds_ratio")
    slope = _row(summary, "fidelity_slope")
    lines = [
        f"{contrast['label']}: **{format_number(contrast['median'], 'pp')} percentage points** "
        f"({_interval(contrast, style)}).",
        f"The probability that higher fidelity goes with better outcomes (slope > 0) is "
        f"**{slope['p_above_null']:.2f}**; the odds ratio is {format_number(odds['median'], 'OR')} per step "
        f"({_interval(odds, style)}).",
    ]
    if contrast.get("threshold") is not None and not np.isnan(contrast["p_above_threshold"]):
        lines.append(
            f"The probability that the difference exceeds {contrast['threshold']:g} percentage points is "
            f"**{contrast['p_above_threshold']:.2f}**."
        )
    lines.append(
        "This is an association across services, not a randomised comparison of fidelity levels: services "
        "with higher fidelity may differ in other ways. Fidelity measured with error pulls the slope towards "
        "zero; the measurement-error model (IPS ung question 3) propagates that uncertainty."
    )
    return "\n\n".join(lines)


def services_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """How much services differ once chance variation is accounted for."""
    rates = estimands["service_rate"].median(["chain", "draw"]).values
    raw = estimands["service_raw_rate"].values
    n = estimands["service_n"].values
    text = [
        f"Observed service rates range from {raw.min():.0f}% to {raw.max():.0f}% (services with "
        f"{int(n.min())} to {int(n.max())} participants). After partial pooling, predicted rates range from "
        f"{rates.min():.0f}% to {rates.max():.0f}%: much of the spread in small services is chance."
    ]
    if "sd_service" in estimands:
        sd = _row(summary, "sd_service")
        text.append(
            f"The SD of service effects is {format_number(sd['median'], '')} on the log-odds scale "
            f"({_interval(sd, style)})."
        )
    if "median_odds_ratio" in estimands:
        mor = _row(summary, "median_odds_ratio")
        text.append(
            f"Median odds ratio {format_number(mor['median'], '')}: moving a participant to a random other "
            "service changes the odds of the outcome by this factor or more half of the time."
        )
    return " ".join(text)


#: (title, applies to (estimands, datatree), builder)
SECTIONS: list[tuple[str, Callable[[xr.Dataset, xr.DataTree], bool], SectionBuilder]] = [
    ("Effect of IPS: CACE, ITT and per-protocol", lambda e, d: "cace" in e, cace_section),
    ("Fidelity and outcomes", lambda e, d: "fidelity_contrast" in e, fidelity_section),
    ("Differences between services", lambda e, d: "service_rate" in e and "service_raw_rate" in e, services_section),
    (
        "Sensitivity to priors and assumptions",
        lambda e, d: "sensitivity" in d.children or "power_scaling" in d.children,
        sensitivity_section,
    ),
]


def register_section(title: str, applies: Callable[[xr.Dataset, xr.DataTree], bool], builder: SectionBuilder) -> None:
    """Add a section (used by model-specific report modules)."""
    SECTIONS.append((title, applies, builder))


def build_sections(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> list[dict]:
    """Title, Markdown text and HTML of every applicable section."""
    out = []
    for title, applies, builder in SECTIONS:
        if applies(estimands, datatree):
            text = builder(estimands, datatree, summary, style)
            out.append({"title": title, "text": text, "html": markdown.markdown(text, extensions=["tables"])})
    return out
