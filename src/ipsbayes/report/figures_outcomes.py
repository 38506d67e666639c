"""Figures for competing outcomes: shares per outcome and service, drivers of the focus outcome."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ipsbayes.report.style import Style, median, pointrange


def outcome_shares(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Per outcome: overall share, and each service's partially pooled share beside its observed share."""
    shares = estimands["service_share"]
    categories = [str(c) for c in shares["category"].values]
    observed, n = estimands["service_observed_share"], estimands["service_n"].values
    fig, axes = plt.subplots(
        1, len(categories), figsize=(3.2 * len(categories), 0.16 * shares.sizes["service"] + 2), sharey=False
    )
    for ax, category in zip(np.atleast_1d(axes), categories, strict=True):
        values = shares.sel(category=category)
        order = np.argsort(median(values))
        y = np.arange(len(order))
        pointrange(ax, values, y, style, "#1f77b4", order=order, lw=1.2, ms=3)
        ax.scatter(
            observed.sel(category=category).values[order],
            y,
            s=6 + 40 * n[order] / n.max(),
            facecolors="none",
            edgecolors="#d62728",
        )
        overall = float(estimands["category_share"].sel(category=category).median())
        ax.axvline(overall, color="black", ls="--", lw=0.8)
        ax.set_yticks(y, [str(s) for s in shares["service"].values[order]], fontsize=5)
        ax.set_title(f"{category} (overall {overall:.0f}%)", fontsize=9)
        ax.set_xlabel("%")
    fig.suptitle("Share reaching each outcome by service", fontsize=10)
    fig.tight_layout()
    caption = (
        f"Per service and outcome: partially pooled share (dot, {style.text}) and observed share (open "
        "circle, sized by participants); dashed line: overall expected share. Services are sorted separately "
        "in each panel."
    )
    return fig, caption


def focus_drivers(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Average marginal effects on the focus outcome (e.g. education), ranked, with intervals."""
    effects = estimands["focus_ame"]
    order = np.argsort(median(effects))
    labels = [str(c) for c in effects["contrast"].values]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.2))
    y = np.arange(len(order))
    pointrange(ax, effects, y, style, "#2ca02c", order=order)
    ax.axvline(0, color="black", ls="--", lw=0.8)
    ax.set_yticks(y, [labels[i] for i in order], fontsize=8)
    focus = effects.attrs.get("focus", "the focus outcome")
    ax.set_xlabel(f"Change in the probability of {focus} (percentage points)")
    ax.set_title(f"What drives transitions to {focus}")
    fig.tight_layout()
    caption = (
        f"Average marginal effect of each characteristic on the probability of {focus} at 12 months, "
        f"ranked by posterior median, with {style.text}. Numeric predictors: +1 SD; categories and service "
        "indicators: vs the reference."
    )
    return fig, caption


def service_correlations(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Correlations of service effects between equations."""
    corr = estimands["service_correlation"]
    labels = [str(p) for p in corr["pair"].values]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(labels) + 1.2))
    y = np.arange(len(labels))[::-1]
    pointrange(ax, corr, y, style, "#9467bd")
    ax.axvline(0, color="black", ls="--", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("Correlation of service effects")
    fig.tight_layout()
    caption = (
        f"Posterior median and {style.text} of the correlation between services' effects on reaching any "
        "outcome and on each outcome vs the reference: positive means services that do well on one also "
        "tend to do well on the other."
    )
    return fig, caption
