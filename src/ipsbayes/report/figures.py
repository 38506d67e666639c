"""Report figures: ArviZ plots where ArviZ has them, small matplotlib plots where it does not.

Each figure function takes the estimands (and the DataTree) and returns a
matplotlib Figure; :data:`FIGURES` says which figures a run gets, decided by
the estimands present, so every model family gets the figures that fit it.
Names are stable (``figures/<name>.png|svg``) so documents can embed them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "ipsbayes"  # stable SVG ids: same run, same file

import arviz as az  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ipsbayes.report.figures_cace import ppc_counts, strata_rates  # noqa: E402
from ipsbayes.report.figures_outcomes import focus_drivers, outcome_shares, service_correlations  # noqa: E402
from ipsbayes.report.figures_sensitivity import (  # noqa: E402
    compared_estimands,
    power_scaling_plot,
    prior_posterior,
    sensitivity_forest,
)
from ipsbayes.report.style import Style, figure_of, median, pointrange  # noqa: E402

BAND_COLOURS = ["#f4e4e4", "#fbf3dc", "#e3f1e3", "#d2e9f7"]


def service_caterpillar(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Predicted (partially pooled) outcome rate per service beside the observed rate."""
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


def fidelity_curve(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Expected outcome rate across the fidelity scale with a credible band and scale bands."""
    curve = estimands["fidelity_curve"]
    grid = curve["fidelity_score"].values
    lower, upper = style.bounds(curve)
    attrs = estimands["service_fidelity"].attrs if "service_fidelity" in estimands else {}
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    bands = _bands(attrs)
    edges = [grid.min()] + [b for _, b in bands if grid.min() < b < grid.max()] + [grid.max()]
    for i in range(len(edges) - 1):
        ax.axvspan(edges[i], edges[i + 1], color=BAND_COLOURS[i % len(BAND_COLOURS)], zorder=0)
    for name, bound in bands:
        if grid.min() < bound < grid.max():
            ax.text(bound + 0.5, 0.98, name, transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    ax.fill_between(grid, lower, upper, color="#1f77b4", alpha=0.3, label=style.text)
    ax.plot(grid, median(curve), color="#1f77b4", lw=2, label="posterior median")
    if "service_fidelity" in estimands and "service_raw_rate" in estimands:
        n = estimands["service_n"].values
        ax.scatter(
            estimands["service_fidelity"].values,
            estimands["service_raw_rate"].values,
            s=8 + 60 * n / n.max(),
            facecolors="none",
            edgecolors="#555555",
            label="services (observed)",
        )
    ax.set_xlabel(f"Fidelity score ({curve.attrs.get('label', '').split(' by ')[-1] or 'scale'})")
    ax.set_ylabel("Expected outcome rate (%)")
    ax.set_title("Outcome rate by fidelity")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, 0.92))
    fig.tight_layout()
    caption = (
        f"Expected outcome rate over the fidelity scale (line: posterior median; band: {style.text}); "
        "shaded backgrounds mark the scale's bands; circles are services' observed rates, sized by participants."
    )
    return fig, caption


def _bands(attrs: dict) -> list[tuple[str, float]]:
    import ast

    try:
        bands = ast.literal_eval(attrs.get("bands", "{}"))
    except (ValueError, SyntaxError):
        return []
    return sorted(bands.items(), key=lambda kv: kv[1])


def effects_forest(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Average marginal effects (percentage points) with 50% and configured intervals."""
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


def ppc_calibration(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """PAVA calibration of posterior predictive probabilities for a binary outcome (ArviZ)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_ppc_pava(
            datatree, var_names=[observed_outcome(datatree)[0]], ci_prob=style.prob, backend="matplotlib"
        )
    fig = figure_of(pc)
    for ax in fig.axes:
        ax.set_xlabel("Predicted probability")
        ax.set_ylabel("Conditional event probability (PAVA)")
    fig.suptitle("Posterior predictive calibration")
    caption = (
        f"Calibration of predicted probabilities (PAVA-calibrated conditional event probabilities); "
        f"the band is a {style.prob:.0%} consistency interval under the model. A line inside the band "
        "means predicted and observed rates agree."
    )
    return fig, caption


def hyperparameters(datatree: xr.DataTree, limit: int = 6) -> list[str]:
    """Posterior variables with at most four elements (intercepts, SDs, slopes), not the standardised z's."""
    posterior = datatree["posterior"]
    small = [n for n, v in posterior.data_vars.items() if v.size // (v.sizes["chain"] * v.sizes["draw"]) <= 4]
    return [n for n in small if not n.startswith("z_") and "_prior_" not in n][:limit]


def rank_plot(estimands: xr.Dataset, datatree: xr.DataTree, style: Style) -> tuple[Figure, str]:
    """Rank ECDF plots of the hyperparameters (mixing check)."""
    names = hyperparameters(datatree)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_rank(datatree, var_names=names, backend="matplotlib")
    fig = figure_of(pc)
    caption = (
        "Rank ECDF difference plots per chain for the scalar parameters: lines inside the envelope mean "
        "the chains mix well."
    )
    return fig, caption


def observed_outcome(datatree: xr.DataTree) -> tuple[str | None, str]:
    """The observed outcome with predictive draws and its kind ('binary', 'count' or 'other').

    Models may observe more than the outcome (fidelity reviews); integer-valued
    variables are the outcome candidates, the first one is taken.
    """
    if "posterior_predictive" not in datatree.children or "observed_data" not in datatree.children:
        return None, "other"
    observed = datatree["observed_data"].to_dataset()
    predicted = datatree["posterior_predictive"].to_dataset()
    for name, var in observed.data_vars.items():
        values = var.values
        if name in predicted and np.issubdtype(values.dtype, np.integer):
            return name, "binary" if set(np.unique(values)) <= {0, 1} else "count"
    return None, "other"


#: name -> (applies to this run?, draw function)
FIGURES: dict[str, tuple[Callable[[xr.Dataset, xr.DataTree], bool], Callable]] = {
    "service_caterpillar": (lambda e, d: "service_rate" in e and "service_raw_rate" in e, service_caterpillar),
    "fidelity_curve": (lambda e, d: "fidelity_curve" in e, fidelity_curve),
    "effects_forest": (lambda e, d: "ame" in e, effects_forest),
    "strata_rates": (lambda e, d: "complier_rate_ips" in e, strata_rates),
    "outcome_shares": (lambda e, d: "service_share" in e, outcome_shares),
    "focus_drivers": (lambda e, d: "focus_ame" in e, focus_drivers),
    "service_correlations": (lambda e, d: "service_correlation" in e, service_correlations),
    "ppc_calibration": (lambda e, d: observed_outcome(d)[1] == "binary", ppc_calibration),
    "ppc_counts": (lambda e, d: observed_outcome(d)[1] == "count", ppc_counts),
    "prior_posterior": (
        lambda e, d: "prior_estimands" in d.children and bool(compared_estimands(e, d)),
        prior_posterior,
    ),
    "sensitivity_forest": (lambda e, d: "sensitivity" in d.children, sensitivity_forest),
    "power_scaling": (lambda e, d: "power_scaling" in d.children, power_scaling_plot),
    "rank_plot": (lambda e, d: "posterior" in d.children and bool(hyperparameters(d)), rank_plot),
}


def register_figure(name: str, applies: Callable[[xr.Dataset, xr.DataTree], bool], draw: Callable) -> None:
    """Add a figure (used by model-specific report sections)."""
    FIGURES[name] = (applies, draw)


def draw_figures(
    estimands: xr.Dataset, datatree: xr.DataTree, style: Style, folder: Path, formats: list[str]
) -> dict[str, dict]:
    """Draw every applicable figure; save ``<name>.<fmt>`` in ``folder``; return name -> paths and caption."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (applies, draw) in FIGURES.items():
        if not applies(estimands, datatree):
            continue
        fig, caption = draw(estimands, datatree, style)
        paths = {}
        for fmt in formats:
            path = folder / f"{name}.{fmt}"
            fig.savefig(
                path,
                dpi=150 if fmt == "png" else None,
                bbox_inches="tight",
                metadata={"Software": None} if fmt == "png" else {"Date": None},
            )
            paths[fmt] = path
        plt.close(fig)
        out[name] = {"paths": paths, "caption": caption}
    return out
