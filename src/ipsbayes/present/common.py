"""Sections and figures shared by several model families (service differences, marginal effects)."""

from __future__ import annotations

import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ipsbayes.present.context import ReportContext
from ipsbayes.present.style import Style, figure_of, median, pointrange
from ipsbayes.present.text import format_number


def _row(summary: pd.DataFrame, name: str, element: str = "") -> dict:
    rows = summary[(summary["estimand"] == name) & (summary["element"] == element)]
    return rows.iloc[0].to_dict()


def _interval(row: dict, style: Style) -> str:
    unit = row["unit"]
    bounds = f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)}"
    return f"{bounds} ({style.prob:.0%} {style.kind.upper()})"


def services_section(ctx: ReportContext) -> str:
    """How much services differ once chance variation is accounted for."""
    estimands, summary, style = ctx.estimands, ctx.summary, ctx.style
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


def service_caterpillar(ctx: ReportContext) -> tuple[Figure, str]:
    """Predicted (partially pooled) outcome rate per service beside the observed rate."""
    estimands, style = ctx.estimands, ctx.style
    rate = estimands["service_rate"]
    raw, n = estimands["service_raw_rate"].values, estimands["service_n"].values
    mid = median(rate)
    order = np.argsort(mid)
    services = rate["service"].values[order]
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(7.5, max(4.0, 0.2 * len(order) + 1.5)))
    pointrange(ax, rate, y, style, "#1f77b4", order=order, lw=1.6, ms=4, label=f"predicted: median and {style.text}")
    for yi, r, m in zip(y, raw[order], mid[order], strict=True):
        ax.plot([r, m], [yi, yi], color="#999999", lw=0.6, zorder=0)
    ax.scatter(
        raw[order],
        y,
        s=8 + 60 * n[order] / n.max(),
        facecolors="none",
        edgecolors="#d62728",
        label="observed rate (size: participants)",
    )
    overall = float(estimands["outcome_rate"].median()) if "outcome_rate" in estimands else np.nan
    ax.axvline(overall, color="black", ls="--", lw=0.8, label="overall expected rate")
    ax.set_yticks(y, [f"{s} (n={int(k)})" for s, k in zip(services, n[order], strict=True)], fontsize=7)
    ax.set_xlabel("Outcome rate (%)")
    ax.set_xlim(-2, 102)
    ax.set_title("Outcome rate by service: observed vs partially pooled")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    caption = (
        f"Predicted outcome rate per service (dots, with {style.text}) beside the observed rate (open circles, "
        "sized by participants; grey lines show how far partial pooling moves each service). Small services "
        "are pulled towards the overall rate."
    )
    return fig, caption


def effects_forest(ctx: ReportContext) -> tuple[Figure, str]:
    """Average marginal effects (percentage points) with 50% and configured intervals."""
    estimands, style = ctx.estimands, ctx.style
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_forest(
            estimands,
            var_names=["ame"],
            combined=True,
            ci_kind=style.kind,
            ci_probs=[0.5, style.prob],
            backend="matplotlib",
        )
    fig = figure_of(pc)
    axes = fig.axes
    axes[-1].axvline(0.0, color="black", lw=0.8, ls="--")
    axes[-1].set_xlabel("Average marginal effect on the outcome rate (percentage points)")
    fig.suptitle("Effects of participant and service characteristics")
    caption = (
        f"Average marginal effects in percentage points: thick line 50%, thin line {style.text}; "
        "dot: posterior median. Numeric predictors: +1 SD; categories: vs the reference level."
    )
    return fig, caption
