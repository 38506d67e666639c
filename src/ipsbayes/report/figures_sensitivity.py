"""Figures about priors: prior vs posterior of the estimands, and estimates across refits."""

from __future__ import annotations

import textwrap
import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ipsbayes.present import ReportContext
from ipsbayes.present.style import figure_of, pointrange


def compared_estimands(ctx: ReportContext) -> list[str]:
    """Scalar estimands shown in sensitivity figures: those refitted, else the scalar headline ones."""
    estimands, datatree = ctx.estimands, ctx.datatree
    if "sensitivity" in datatree.children:
        return list(datatree["sensitivity"].to_dataset().data_vars)
    return [n for n, v in estimands.data_vars.items() if set(v.dims) == {"chain", "draw"} and v.attrs.get("headline")]


def prior_posterior(ctx: ReportContext) -> tuple[Figure, str]:
    """Prior (from prior draws through the same estimand code) against posterior, per estimand."""
    estimands, datatree = ctx.estimands, ctx.datatree
    prior = datatree["prior_estimands"].to_dataset()
    names = [n for n in compared_estimands(ctx) if n in prior][:6]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        post = estimands[name].values.ravel()
        pri = prior[name].values.ravel()
        pri = pri[np.isfinite(pri)]
        low, high = np.quantile(np.r_[post, pri], [0.005, 0.995])
        bins = np.linspace(low, high, 50)
        ax.hist(pri, bins=bins, density=True, color="#bbbbbb", label="prior")
        ax.hist(post, bins=bins, density=True, color="#1f77b4", alpha=0.7, label="posterior")
        ax.set_title(textwrap.fill(estimands[name].attrs.get("label", name), 34), fontsize=7)
        ax.set_xlabel(estimands[name].attrs.get("unit", ""), fontsize=8)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7)
    fig.suptitle("What the priors alone imply, and what the data add", fontsize=10)
    fig.tight_layout()
    caption = (
        "Prior (grey: the estimands computed from draws of the priors alone, a prior predictive check on the "
        "users' scale) and posterior (blue). A posterior much narrower than the prior means the data dominate; "
        "one that looks like the prior means the prior drives the answer."
    )
    return fig, caption


def sensitivity_forest(ctx: ReportContext) -> tuple[Figure, str]:
    """Each compared estimand under the main fit, other prior sets and model variants."""
    datatree, style = ctx.datatree, ctx.style
    sensitivity = datatree["sensitivity"].to_dataset()
    names = list(sensitivity.data_vars)
    analyses = [str(a) for a in sensitivity["analysis"].values]
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.4 * len(names), 0.5 * len(analyses) + 1.6), squeeze=False, sharey=True
    )
    y = np.arange(len(analyses))[::-1]
    for ax, name in zip(axes[0], names, strict=True):
        values = sensitivity[name]
        pointrange(ax, values, y, style, "#1f77b4")
        null = values.attrs.get("null")
        if null is not None:
            ax.axvline(float(null), color="black", ls="--", lw=0.8)
        ax.set_title(textwrap.fill(values.attrs.get("label", name), 34), fontsize=7)
        ax.set_xlabel(values.attrs.get("unit", ""), fontsize=8)
    axes[0][0].set_yticks(y, [a[:45] for a in analyses], fontsize=8)
    fig.suptitle("Sensitivity to priors and model assumptions", fontsize=10)
    fig.tight_layout()
    caption = (
        f"Posterior median and {style.text} of each estimand under the main analysis, the other prior sets and "
        "the model variants (same data and sampler settings). Estimates that move a lot between rows depend "
        "on the prior or assumption more than on the data."
    )
    return fig, caption


def power_scaling_plot(ctx: ReportContext) -> tuple[Figure, str]:
    """Power-scaling sensitivity of the compared estimands to prior and likelihood (ArviZ)."""
    estimands, datatree = ctx.estimands, ctx.datatree
    log_prior = datatree["log_prior"].to_dataset()
    scaled = str(datatree["power_scaling"].attrs.get("prior_names", ""))
    if scaled:  # the same priors the sensitivity table power-scaled
        log_prior = log_prior[[n for n in scaled.split(",") if n in log_prior]]
    tree = xr.DataTree.from_dict(
        {
            "posterior": estimands[list(datatree["power_scaling"]["estimand"].values)],
            "log_prior": log_prior,
            "log_likelihood": datatree["log_likelihood"].to_dataset(),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_psense_dist(tree, kind="ecdf", backend="matplotlib")
    fig = figure_of(pc)
    caption = (
        "Posterior of each estimand when the prior (top) or the likelihood (bottom) is raised to powers "
        "0.8-1.25 (importance-weighted, no refit). Curves that spread apart mark sensitivity."
    )
    return fig, caption
