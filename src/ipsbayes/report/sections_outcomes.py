"""Report sections for IPS ung's competing outcomes (questions 1 and 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.report.style import Style
from ipsbayes.report.tables import format_number


def _rows(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    return summary[summary["estimand"] == name]


def shares_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """Answer question 1: to what degree do participants reach work, an apprenticeship or education."""
    rows = [
        "| Outcome at 12 months | Expected share | Interval | Range over services (medians) |",
        "| --- | ---: | --- | --- |",
    ]
    shares = estimands["service_share"].median(["chain", "draw"])
    for row in _rows(summary, "category_share").to_dict("records"):
        per_service = shares.sel(category=row["element"]).values
        rows.append(
            f"| {row['element']} | {row['median']:.1f}% | {row['lower']:.1f} to {row['upper']:.1f} | "
            f"{per_service.min():.0f}%-{per_service.max():.0f}% |"
        )
    text = [
        f"Expected shares over the study's participants, with {style.text}; per service, partially pooled.",
        "\n".join(rows),
    ]
    correlations = _rows(summary, "service_correlation")
    if len(correlations):
        parts = [
            f"{r['element']}: {format_number(r['median'], '')} ({format_number(r['lower'], '')} to "
            f"{format_number(r['upper'], '')}, P(> 0) = {r['p_above_null']:.2f})"
            for r in correlations.to_dict("records")
        ]
        text.append("Correlation of service effects between equations: " + "; ".join(parts) + ".")
    return "\n\n".join(text)


def drivers_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """Answer question 2: what contributes to transitions to the focus outcome (education)."""
    focus = estimands["focus_ame"].attrs.get("focus", "the focus outcome")
    effects = _rows(summary, "focus_ame").sort_values("median", ascending=False)
    rows = [
        "| Rank | Characteristic | Effect on P(" + focus + "), pp | Interval | P(> 0) | P(> threshold) |",
        "| ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for rank, row in enumerate(effects.to_dict("records"), start=1):
        threshold = (
            "-" if np.isnan(row["p_above_threshold"]) else f"{row['p_above_threshold']:.2f} (> {row['threshold']:g})"
        )
        rows.append(
            f"| {rank} | {row['element']} | {row['median']:.1f} | {row['lower']:.1f} to {row['upper']:.1f} "
            f"| {row['p_above_null']:.2f} | {threshold} |"
        )
    return "\n\n".join(
        [
            f"Average marginal effects on the probability of reaching {focus} within 12 months (percentage points, "
            f"{style.text}), ranked. Each effect changes one characteristic for every participant and keeps the rest "
            "as observed; service-level characteristics (collaboration with the education sector, fidelity) are "
            "associations across services, not randomised comparisons.",
            "\n".join(rows),
        ]
    )
