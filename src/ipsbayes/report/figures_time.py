"""Figures of the time-to-event family: cumulative incidence curves, services at one month, fidelity over time.

Each function takes the estimands (and the DataTree) and returns a matplotlib
Figure and a caption that states the interval's kind and probability; they are
registered with :func:`ipsbayes.report.figures.register_figure` under stable names.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ipsbayes.report.figures import register_figure
from ipsbayes.report.style import Style, median, pointrange

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def incidence_curves(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Cumulative incidence by month of the first transition (any target) and of each target, with intervals."""
    curves = estimands["incidence_curve"]
    any_curve = estimands["incidence_curve_any"]
    months = any_curve["month"].values
    observed = estimands["observed_incidence_curve"]
    targets = list(curves["target"].values)
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    series = [("any target", any_curve, observed.sum("target"), "black")]
    if len(targets) > 1:
        series += [
            (str(t), curves.sel(target=t), observed.sel(target=t), COLOURS[i % len(COLOURS)])
            for i, t in enumerate(targets)
        ]
    for name, values, seen, colour in series:
        lower, upper = style.bounds(values)
        ax.fill_between(months, lower, upper, step=None, color=colour, alpha=0.15, lw=0)
        ax.plot(months, median(values), color=colour, lw=2, label=name)
        ax.step(months, seen.values, where="post", color=colour, lw=0.9, ls="--")
    ax.set_xlabel("Months since start")
    ax.set_ylabel("Cumulative incidence (%)")
    ax.set_xlim(months.min() - 0.5, months.max() + 0.5)
    ax.set_ylim(0, None)
    ax.set_title("Share who have had a first transition, by month")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    caption = (
        f"Expected share of participants whose first transition (into any target, and into each target with the "
        f"others competing) has happened by the end of each month: posterior median (line) and {style.text} "
        "(band). Dashed steps: the observed Aalen-Johansen estimate, which counts each participant for the months "
        "they were followed."
    )
    return fig, caption


def service_incidence(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Caterpillar of the per-service share with a first transition by the service month."""
    rate = estimands["service_incidence_any"]
    raw, n = estimands["service_observed_incidence_any"].values, estimands["service_n"].values
    month = rate.attrs.get("month", "")
    mid = median(rate)
    order = np.argsort(mid)
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(7.5, max(4.0, 0.2 * len(order) + 1.5)))
    pointrange(ax, rate, y, style, "#1f77b4", order=order, lw=1.6, ms=4, label=f"expected: median and {style.text}")
    ax.scatter(
        raw[order],
        y,
        s=8 + 60 * n[order] / n.max(),
        facecolors="none",
        edgecolors="#d62728",
        label="observed (Kaplan-Meier; size: participants)",
    )
    column = estimands["incidence_curve_any"].sel(month=month) if month != "" else None
    if column is not None:
        ax.axvline(float(column.median()), color="black", ls="--", lw=0.8, label="all services")
    services = rate["service"].values[order]
    ax.set_yticks(y, [f"{s} (n={int(k)})" for s, k in zip(services, n[order], strict=True)], fontsize=7)
    ax.set_xlabel(f"Share with a first transition by month {month} (%)")
    ax.set_xlim(-2, 102)
    ax.set_title(f"Services: first transition by month {month}")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    caption = (
        f"Expected share of each service's participants with a first transition by month {month} (dots, with "
        f"{style.text}; partially pooled) beside the observed Kaplan-Meier share (open circles, sized by "
        "participants). Small services are pulled towards the overall share."
    )
    return fig, caption


def fidelity_over_time(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Cumulative incidence with every service at two fidelity scores, and their difference, by month."""
    at = estimands["incidence_at_fidelity_any"]
    difference = estimands["fidelity_contrast_curve_any"]
    attrs = estimands["fidelity_incidence_contrast_any"].attrs
    months = at["month"].values
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 6.0), sharex=True, height_ratios=[3, 2])
    for colour, score in zip(("#d62728", "#1f77b4"), at["fidelity_score"].values, strict=True):
        values = at.sel(fidelity_score=score)
        lower, upper = style.bounds(values)
        top.fill_between(months, lower, upper, color=colour, alpha=0.18, lw=0)
        top.plot(months, median(values), color=colour, lw=2, label=f"{attrs.get('scale', 'fidelity')} = {score:g}")
    top.set_ylabel("Cumulative incidence (%)")
    top.set_ylim(0, None)
    top.legend(fontsize=8, loc="upper left")
    top.set_title("Fidelity and time to a first transition")
    lower, upper = style.bounds(difference)
    bottom.fill_between(months, lower, upper, color="#555555", alpha=0.25, lw=0)
    bottom.plot(months, median(difference), color="black", lw=2)
    bottom.axhline(0.0, color="black", lw=0.8, ls="--")
    bottom.set_ylabel("Difference (pp)")
    bottom.set_xlabel("Months since start")
    fig.tight_layout()
    caption = (
        f"Top: expected share with a first transition by month with every service at {attrs.get('scale', '')} = "
        f"{attrs.get('low', 0):g} and = {attrs.get('high', 0):g}, everything else as observed. Bottom: their "
        f"difference in percentage points. Lines: posterior medians; bands: {style.text}. An association across "
        "services, not a randomised comparison."
    )
    return fig, caption


def hazard_by_month(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Population hazard: share of those still without a target who reach one in each month."""
    hazard = estimands["hazard_curve_any"]
    months = hazard["month"].values
    lower, upper = style.bounds(hazard)
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.fill_between(months, lower, upper, color="#1f77b4", alpha=0.25, lw=0)
    ax.plot(months, median(hazard), color="#1f77b4", lw=2, marker="o", ms=3)
    ax.set_xlabel("Months since start")
    ax.set_ylabel("% per month")
    ax.set_ylim(0, None)
    ax.set_title("Monthly chance of a first transition among those still without one")
    fig.tight_layout()
    caption = (
        "Share of participants still without a target who reach one in the month, averaged over the study's "
        f"participants (posterior median and {style.text})."
    )
    return fig, caption


register_figure("incidence_curves", lambda e, d: "incidence_curve_any" in e, incidence_curves)
register_figure("hazard_by_month", lambda e, d: "hazard_curve_any" in e, hazard_by_month)
register_figure("service_incidence", lambda e, d: "service_incidence_any" in e, service_incidence)
register_figure("fidelity_over_time", lambda e, d: "fidelity_contrast_curve_any" in e, fidelity_over_time)
