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
from ipsbayes.report.sections_map import conflict_section
from ipsbayes.report.sections_outcomes import drivers_section, shares_section
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
    measured = (
        "Here true fidelity is latent and the reviews measure it with error, so that uncertainty is in the interval."
        if "review_error_sd" in estimands
        else "The score is treated as exact; fidelity measured with error pulls the slope towards zero, which the "
        "measurement-error model (models/ipsung_fidelity.toml) corrects."
    )
    lines.append(
        "This is an association across services, not a randomised comparison of fidelity levels: services "
        f"with higher fidelity may differ in other ways. {measured}"
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


def measurement_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """Fidelity measured with error: the latent-fidelity slope beside the plug-in and aggregated slopes."""
    error, reliability = _row(summary, "review_error_sd"), _row(summary, "fidelity_reliability")
    spread = _row(summary, "fidelity_sd")
    slope = _row(summary, "fidelity_slope")
    lines = [
        f"Reviews scatter around each service's true score with an SD of **{format_number(error['median'], '')} "
        f"points** ({_interval(error, style)}), against a spread of true scores across services of "
        f"{format_number(spread['median'], '')} points, so a single review's reliability is "
        f"**{format_number(reliability['median'], '')}** ({_interval(reliability, style)}).",
        f"With true fidelity latent, the slope is {format_number(slope['median'], '')} {slope['unit']} "
        f"({_interval(slope, style)}).",
    ]
    if "sensitivity" in datatree.children and "fidelity_slope" in datatree["sensitivity"].data_vars:
        values = datatree["sensitivity"]["fidelity_slope"]
        rows = ["| Analysis | Fidelity slope (median) | Interval | P(slope > 0) |", "| --- | ---: | --- | ---: |"]
        for analysis in values["analysis"].values:
            draws = values.sel(analysis=analysis)
            low, high = style.bounds(draws)
            rows.append(
                f"| {analysis} | {float(draws.median()):.3f} | {float(low):.3f} to {float(high):.3f} | "
                f"{float((draws > 0).mean()):.2f} |"
            )
        lines.append("\n".join(rows))
        lines.append(
            "**How they differ.** The plug-in analysis treats each service's mean review score as exact. Scores "
            "measured with error spread services out along the fidelity axis more than their true differences, so "
            "the plug-in slope is pulled towards zero (regression dilution, by roughly the reliability of the mean "
            "score) and its interval is too narrow, because it ignores that uncertainty. The latent model corrects "
            "both: its slope refers to true fidelity and its interval carries the measurement uncertainty. The "
            "aggregated analysis uses only service outcome counts, as in the quality reports; without participant "
            "characteristics it estimates the service-level association rather than the slope for similar "
            "participants."
        )
    return "\n\n".join(lines)


#: (title, applies to (estimands, datatree), builder)
SECTIONS: list[tuple[str, Callable[[xr.Dataset, xr.DataTree], bool], SectionBuilder]] = [
    ("Effect of IPS: CACE, ITT and per-protocol", lambda e, d: "cace" in e, cace_section),
    ("Prior-data conflict", lambda e, d: "prior_data_conflict" in d.children, conflict_section),
    ("Who reaches work, an apprenticeship or education", lambda e, d: "category_share" in e, shares_section),
    ("What drives transitions to education", lambda e, d: "focus_ame" in e, drivers_section),
    ("Fidelity and outcomes", lambda e, d: "fidelity_contrast" in e, fidelity_section),
    ("Fidelity measured with error", lambda e, d: "review_error_sd" in e, measurement_section),
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
