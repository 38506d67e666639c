"""Figures for the complier average causal effect: outcome by principal stratum and arm."""

from __future__ import annotations

import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ipsbayes.report.style import Style, figure_of, pointrange

STRATA = (
    ("never_taker_rate", "Never-takers", "#999999"),
    ("complier_rate_usual", "Compliers, usual follow-up", "#ff7f0e"),
    ("complier_rate_ips", "Compliers, IPS", "#1f77b4"),
    ("control_rate", "Everyone assigned usual follow-up", "#d62728"),
    ("treatment_rate", "Everyone assigned IPS", "#2ca02c"),
)


def strata_rates(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Expected outcome by principal stratum and arm: why per-protocol differs from the CACE."""
    fig, ax = plt.subplots(figsize=(8.5, 3.4))
    y = np.arange(len(STRATA))[::-1]
    for yi, (name, _label, colour) in zip(y, STRATA, strict=True):
        pointrange(ax, estimands[name], np.array([yi]), style, colour, lw=2.5)
    for name, label, marker in (
        ("observed_rate_control_arm", "observed: usual follow-up arm", "x"),
        ("observed_rate_received", "observed: received IPS", "+"),
    ):
        if name in estimands:
            target = 1 if "control" in name else 2
            ax.plot(float(estimands[name]), y[target], marker, color="black", ms=9, label=label)
    ax.set_yticks(y, [label for _, label, _ in STRATA], fontsize=8)
    unit = estimands["complier_rate_ips"].attrs.get("unit", "")
    ax.set_xlabel(f"Expected outcome ({unit})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Outcome by principal stratum and arm")
    fig.tight_layout()
    caption = (
        f"Posterior medians and {style.text}. The CACE compares the two complier rows. The per-protocol "
        "contrast compares compliers under IPS with everyone under usual follow-up, a group that includes "
        "never-takers: when never-takers do worse, per-protocol overstates the effect. Crosses: the observed "
        "rates those contrasts use."
    )
    return fig, caption


def ppc_counts(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Rootogram of a count outcome (e.g. months employed) against posterior predictive draws (ArviZ)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_ppc_rootogram(datatree, ci_prob=style.prob, backend="matplotlib")  # the CACE model observes one
    fig = figure_of(pc)
    caption = (
        f"Posterior predictive rootogram: observed counts of each value (points) against the model's "
        f"predictions with {style.prob:.0%} intervals, on a square-root scale."
    )
    return fig, caption
