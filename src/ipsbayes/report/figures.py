"""Report figures: the family's own, then the ones every run shares, saved under stable names.

A model family hands the report its figures (see :mod:`ipsbayes.present`); this
module adds the shared ones (predictive checks, priors against posteriors,
sensitivity, chain mixing) and saves each as ``figures/<name>.png|svg`` so
documents can embed them. Figures are drawn inside a local rc context with a
non-interactive backend: nothing here changes matplotlib's global state.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, fixed
from ipsbayes.present.style import figure_of
from ipsbayes.report.figures_sensitivity import (
    compared_estimands,
    power_scaling_plot,
    prior_posterior,
    sensitivity_forest,
)

#: rc settings for every report figure (stable SVG ids: same run, same file)
RC = {"svg.hashsalt": "ipsbayes"}


def ppc_calibration(ctx: ReportContext) -> tuple[Figure, str]:
    """PAVA calibration of posterior predictive probabilities for a binary outcome (ArviZ)."""
    datatree, style = ctx.datatree, ctx.style
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


def ppc_counts(ctx: ReportContext) -> tuple[Figure, str]:
    """Rootogram of a count outcome (e.g. months employed) against posterior predictive draws (ArviZ)."""
    datatree, style = ctx.datatree, ctx.style
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_ppc_rootogram(datatree, ci_prob=style.prob, backend="matplotlib")  # the CACE model observes one
    fig = figure_of(pc)
    caption = (
        f"Posterior predictive rootogram: observed counts of each value (points) against the model's "
        f"predictions with {style.prob:.0%} intervals, on a square-root scale."
    )
    return fig, caption


def hyperparameters(datatree: xr.DataTree, limit: int = 6) -> list[str]:
    """Posterior variables with at most four elements (intercepts, SDs, slopes), not the standardised z's."""
    posterior = datatree["posterior"]
    small = [n for n, v in posterior.data_vars.items() if v.size // (v.sizes["chain"] * v.sizes["draw"]) <= 4]
    return [n for n in small if not n.startswith("z_") and "_prior_" not in n][:limit]


def rank_plot(ctx: ReportContext) -> tuple[Figure, str]:
    """Rank ECDF plots of the hyperparameters (mixing check)."""
    datatree = ctx.datatree
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


#: figures every run gets when it has what they need
SHARED_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "ppc_calibration",
        fixed("Posterior predictive calibration", "Prediktiv kalibrering"),
        ppc_calibration,
        lambda ctx: observed_outcome(ctx.datatree)[1] == "binary",
    ),
    FigureSpec(
        "ppc_counts",
        fixed("Posterior predictive check of the counts", "Prediktiv kontroll av tellingene"),
        ppc_counts,
        lambda ctx: observed_outcome(ctx.datatree)[1] == "count",
    ),
    FigureSpec(
        "prior_posterior",
        fixed("Prior and posterior of the key estimands", "Prior og posterior for de viktigste størrelsene"),
        prior_posterior,
        lambda ctx: "prior_estimands" in ctx.datatree.children and bool(compared_estimands(ctx)),
    ),
    FigureSpec(
        "sensitivity_forest",
        fixed("Sensitivity to priors and model assumptions", "Følsomhet for priorer og modellantakelser"),
        sensitivity_forest,
        lambda ctx: "sensitivity" in ctx.datatree.children,
    ),
    FigureSpec(
        "power_scaling",
        fixed("Power-scaling sensitivity", "Følsomhet ved potensskalering"),
        power_scaling_plot,
        lambda ctx: "power_scaling" in ctx.datatree.children,
    ),
    FigureSpec(
        "rank_plot",
        fixed("Chain mixing (rank plots)", "Miksing av kjeder (rangplott)"),
        rank_plot,
        lambda ctx: "posterior" in ctx.datatree.children and bool(hyperparameters(ctx.datatree)),
    ),
)


def draw_figures(ctx: ReportContext, presentation: Presentation, folder: Path, formats: list[str]) -> dict[str, dict]:
    """Draw every applicable figure; save ``<name>.<fmt>`` in ``folder``; return name -> title, paths, caption.

    A family figure with the same name as a shared one replaces it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, FigureSpec] = {}
    for spec in (*presentation.figures, *SHARED_FIGURES):
        chosen.setdefault(spec.name, spec)
    out = {}
    with matplotlib.rc_context(RC), plt.ioff():
        for name, spec in chosen.items():
            if not spec.applies(ctx):
                continue
            fig, caption = spec.draw(ctx)
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
            out[name] = {"title": spec.title(ctx), "paths": paths, "caption": caption}
    return out
