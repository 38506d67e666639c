"""Figures about priors: prior vs posterior of the estimands, estimates across refits, power-scaling.

Each works with one, two or many compared estimands: panels are laid out in a
grid of at most three columns (one row per estimand for power-scaling).
"""

from __future__ import annotations

import textwrap
import warnings

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.present import ReportContext
from ipsbayes.present.style import pointrange
from ipsbayes.present.text import label_of, localise

#: power-scaling exponents shown (ArviZ's defaults), with the unscaled posterior between them
ALPHAS = (0.8, 1.25)
ALPHA_COLOURS = {0.8: "#1f77b4", 1.0: "black", 1.25: "#ff7f0e"}


def compared_estimands(ctx: ReportContext) -> list[str]:
    """Scalar estimands shown in sensitivity figures: those refitted, else the scalar headline ones."""
    estimands, datatree = ctx.estimands, ctx.datatree
    if "sensitivity" in datatree.children:
        return list(datatree["sensitivity"].to_dataset().data_vars)
    return [n for n, v in estimands.data_vars.items() if set(v.dims) == {"chain", "draw"} and v.attrs.get("headline")]


def title_of(ctx: ReportContext, name: str, width: int) -> str:
    """An estimand's readable label, wrapped to ``width`` characters."""
    var = ctx.estimands[name] if name in ctx.estimands else None
    label = label_of(var.attrs, ctx.language, ctx.label(name)) if var is not None else ctx.label(name)
    return textwrap.fill(str(label), width)


def unit_of(ctx: ReportContext, name: str) -> str:
    """An estimand's unit as an axis label ('percentage points', '%', ...)."""
    unit = ctx.estimands[name].attrs.get("unit", "") if name in ctx.estimands else ""
    words = {"pp": ctx.text("percentage points", "prosentpoeng"), "%": "%"}
    return words.get(unit, ctx.label(unit) if unit else "")


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return int(np.ceil(n / cols)), cols


def prior_posterior(ctx: ReportContext) -> tuple[Figure, str]:
    """Prior (from prior draws through the same estimand code) against posterior, per estimand."""
    estimands, datatree, style = ctx.estimands, ctx.datatree, ctx.style
    prior = datatree["prior_estimands"].to_dataset()
    names = [n for n in compared_estimands(ctx) if n in prior][:6]
    rows, cols = _grid(len(names))
    fig, axes = style.subplots(2.1 * rows + 0.6, rows, cols, squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        post = estimands[name].values.ravel()
        pri = prior[name].values.ravel()
        pri = pri[np.isfinite(pri)]
        low, high = np.quantile(np.r_[post, pri], [0.005, 0.995])
        bins = np.linspace(low, high, 40)
        ax.hist(pri, bins=bins, density=True, color="#bbbbbb")
        ax.hist(post, bins=bins, density=True, color="#1f77b4", alpha=0.7)
        lower, upper = style.bounds(estimands[name])
        top = ax.get_ylim()[1]
        ax.hlines(top * 1.04, float(lower), float(upper), color="#08306b", lw=2.5)
        ax.plot(float(np.median(post)), top * 1.04, "o", color="#08306b", ms=4)
        ax.set_ylim(0, top * 1.12)
        ax.set_title(title_of(ctx, name, style.chars(cols)), fontsize=style.small_font)
        ax.set_xlabel(unit_of(ctx, name))
        ax.set_yticks([])
        ax.xaxis.set_major_locator(_few_ticks())
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    handles = [
        _patch("#bbbbbb", style.t("prior", "prior")),
        _patch("#1f77b4", style.t("posterior", "posterior")),
        Line2D([], [], color="#08306b", lw=2.5, marker="o", ms=4, label=style.median_and_interval),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3)
    caption = ctx.text(
        "Prior (grey: the estimands computed from draws of the priors alone, a prior predictive check on the "
        f"users' scale) and posterior (blue; dark bar: posterior median and {style.text}). A posterior much "
        "narrower than the prior means the data dominate; one that looks like the prior means the prior drives "
        "the answer.",
        "Prior (grått: størrelsene regnet ut fra trekk fra priorfordelingene alene) og posterior (blått; mørk "
        f"strek: posterior median og {style.text}). En posterior mye smalere enn prioren betyr at dataene "
        "dominerer; en som ligner prioren betyr at prioren styrer svaret.",
    )
    return fig, caption


def _patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def _few_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4)


def sensitivity_forest(ctx: ReportContext) -> tuple[Figure, str]:
    """Each compared estimand under the main fit, other prior sets and model variants."""
    datatree, style = ctx.datatree, ctx.style
    sensitivity = datatree["sensitivity"].to_dataset()
    names = list(sensitivity.data_vars)
    analyses = [ctx.label(str(a)) for a in sensitivity["analysis"].values]
    rows, cols = _grid(len(names))
    fig, axes = style.subplots((0.36 * len(analyses) + 1.1) * rows + 0.5, rows, cols, squeeze=False, sharey=True)
    y = np.arange(len(analyses))[::-1]
    for ax, name in zip(axes.ravel(), names, strict=False):
        values = sensitivity[name]
        pointrange(ax, values, y, style, "#1f77b4", label=style.median_and_interval)
        null = values.attrs.get("null")
        if null is not None:
            ax.axvline(float(null), color="black", ls="--", lw=0.8)
        ax.set_title(title_of(ctx, name, style.chars(cols + 1)), fontsize=style.small_font)
        ax.set_xlabel(unit_of(ctx, name))
        ax.xaxis.set_major_locator(_few_ticks())
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_yticks(y, [textwrap.fill(a, 26) for a in analyses])
    fig.legend(
        handles=[Line2D([], [], color="#1f77b4", lw=2, marker="o", ms=5, label=style.median_and_interval)],
        loc="outside lower center",
    )
    caption = ctx.text(
        f"Posterior median and {style.text} of each estimand under the main analysis, the other prior sets and "
        "the model variants (same data and sampler settings). Estimates that move a lot between rows depend "
        "on the prior or assumption more than on the data.",
        f"Posterior median og {style.text} for hver størrelse i hovedanalysen, med de andre priorsettene og "
        "modellvariantene (samme data og samplerinnstillinger). Estimater som flytter seg mye mellom radene "
        "avhenger mer av prioren eller antakelsen enn av dataene.",
    )
    return fig, caption


def power_scaled(ctx: ReportContext, names: list[str]) -> dict[str, xr.Dataset]:
    """Importance-resampled posteriors of ``names`` with the prior or the likelihood raised to 0.8, 1, 1.25.

    Uses ArviZ's ``power_scale_dataset`` (no refit); always returns Datasets, also for one estimand
    (ArviZ returns a bare DataArray then, which its own plot cannot index).
    """
    from arviz_stats.psense import power_scale_dataset

    from ipsbayes.sensitivity import log_likelihood_total

    datatree = ctx.datatree
    log_prior = datatree["log_prior"].to_dataset()
    scaled = str(datatree["power_scaling"].attrs.get("prior_names", ""))
    if scaled:  # the same priors the sensitivity table power-scaled
        log_prior = log_prior[[n for n in scaled.split(",") if n in log_prior]]
    tree = xr.DataTree.from_dict(
        {
            "posterior": ctx.estimands[names],
            "log_prior": log_prior,
            "log_likelihood": log_likelihood_total(datatree),
        }
    )
    out = {}
    for group in ("prior", "likelihood"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = power_scale_dataset(tree, group, ALPHAS, ["chain", "draw"], None, None)
        if isinstance(data, xr.DataArray):
            data = data.to_dataset(name=names[0])
        out[group] = data
    return out


def power_scaling_plot(ctx: ReportContext) -> tuple[Figure, str]:
    """Power-scaling sensitivity of the compared estimands to prior and likelihood: ECDFs and intervals."""
    datatree, style = ctx.datatree, ctx.style
    names = [str(n) for n in datatree["power_scaling"]["estimand"].values if str(n) in ctx.estimands]
    data = power_scaled(ctx, names)
    power = datatree["power_scaling"].to_dataset()
    fig = plt.figure(figsize=(style.width, 1.9 * len(names) + 0.7), layout="constrained")
    rows = fig.subfigures(len(names), 1, squeeze=False)[:, 0]
    column = {
        "prior": style.t("prior scaled", "prior skalert"),
        "likelihood": style.t("likelihood scaled", "likelihood skalert"),
    }
    for subfig, name in zip(rows, names, strict=True):
        subfig.suptitle(title_of(ctx, name, style.chars(1, style.font_size)), fontsize=style.font_size)
        axes = subfig.subplots(1, 2, sharex=True, sharey=True)
        for ax, group in zip(axes, ("prior", "likelihood"), strict=True):
            values = data[group][name]
            for k, alpha in enumerate((ALPHAS[0], 1.0, ALPHAS[1])):
                draws = np.sort(np.asarray(values.sel(alpha=alpha).values, dtype=float).ravel())
                colour = ALPHA_COLOURS[alpha]
                ax.step(draws, np.arange(1, draws.size + 1) / draws.size, where="post", color=colour, lw=1.1)
                lower, upper = style.bounds(xr.DataArray(draws[np.newaxis, :], dims=["chain", "draw"]))
                level = -0.12 - 0.12 * k
                ax.hlines(level, float(lower), float(upper), color=colour, lw=1.6)
                ax.plot(float(np.median(draws)), level, "o", color=colour, ms=3.5)
            value = _sensitivity_value(power, name, group)
            ax.set_title(f"{column[group]}: {value}", fontsize=style.small_font)
            ax.set_ylim(-0.5, 1.05)
            ax.set_yticks([0, 0.5, 1])
            ax.set_xlabel(unit_of(ctx, name))
            ax.xaxis.set_major_locator(_few_ticks())
        axes[0].set_ylabel("ECDF")
    handles = [
        Line2D([], [], color=ALPHA_COLOURS[a], lw=1.5, label=label)
        for a, label in (
            (ALPHAS[0], style.t(f"power {ALPHAS[0]}", f"potens {ALPHAS[0]}")),
            (1.0, style.t("posterior (power 1)", "posterior (potens 1)")),
            (ALPHAS[1], style.t(f"power {ALPHAS[1]}", f"potens {ALPHAS[1]}")),
        )
    ]
    handles.append(Line2D([], [], color="grey", lw=1.6, marker="o", ms=3.5, label=style.median_and_interval))
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    caption = ctx.text(
        "Posterior of each estimand when the prior (left) or the likelihood (right) is raised to the power "
        f"{ALPHAS[0]} or {ALPHAS[1]} (importance-weighted, no refit): cumulative distributions and, below them, "
        f"medians with {style.text}. Panel titles give the power-scaling sensitivity (0.05 or more flags it). "
        "Curves that spread apart mark sensitivity.",
        "Posterior for hver størrelse når prioren (venstre) eller likelihooden (høyre) opphøyes i "
        f"{localise(str(ALPHAS[0]), 'nb')} eller {localise(str(ALPHAS[1]), 'nb')} (vektet, uten ny tilpasning): "
        "kumulative fordelinger og under dem "
        f"medianer med {style.text}. Paneltitlene gir følsomheten (0,05 eller mer markerer den).",
    )
    return fig, caption


def _sensitivity_value(power: xr.Dataset, name: str, group: str) -> str:
    try:
        return f"{float(power[group].sel(estimand=name)):.3f}"
    except (KeyError, ValueError):
        return "-"
