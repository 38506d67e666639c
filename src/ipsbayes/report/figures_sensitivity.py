"""Figures about priors: prior vs posterior of the estimands, estimates across refits, power-scaling.

Each works with one, two or many compared estimands: panels are laid out in a
grid of at most three columns (one row per estimand for power-scaling). A vector
estimand (a share per outcome, an effect per predictor, an incidence per month) is
compared element by element (:mod:`ipsbayes.compared`); when there are more compared
scalars than a figure has room for, it shows the most telling ones and its caption says
how many it left out.
"""

from __future__ import annotations

import json
import textwrap
import warnings
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.compared import compared_names, coordinate_text, draws_of, flatten, resolve
from ipsbayes.present import ReportContext
from ipsbayes.present.answers import analysis_name
from ipsbayes.present.style import pointrange
from ipsbayes.present.text import label_of, localise
from ipsbayes.present.text import unit_of as text_unit_of
from ipsbayes.textutil import beside

#: power-scaling exponents shown (ArviZ's defaults), with the unscaled posterior between them
ALPHAS = (0.8, 1.25)
#: draws an ECDF curve passes through at most (evenly spaced in rank, the first and last included): the drawn
#: steps then stay within 1/511 of the full ECDF's height, under a pixel (``tests/test_fast_paths.py``), and
#: the power-scaling figure, 24 curves of 4,000 draws, draws and saves in 0.68 s instead of 0.78
ECDF_POINTS = 512
ALPHA_COLOURS = {0.8: "#1f77b4", 1.0: "black", 1.25: "#ff7f0e"}
#: at most this many panels in the prior-posterior figure, the sensitivity forest and the power-scaling figure
MAX_PRIOR_POSTERIOR, MAX_FOREST, MAX_POWER_ROWS = 6, 9, 6


def compared_estimands(ctx: ReportContext) -> list[str]:
    """Scalars shown in sensitivity figures: those refitted, else those power-scaled, else the headline ones.

    Vector estimands are compared element by element (``focus_ame[age: +1 SD (4.39)]``).
    """
    datatree = ctx.datatree
    if "sensitivity" in datatree.children:
        return [str(n) for n in datatree["sensitivity"].to_dataset().data_vars]
    if "power_scaling" in datatree.children:
        return power_scaled_names(ctx)
    return compared_names(ctx.estimands)


def power_scaled_names(ctx: ReportContext) -> list[str]:
    """The scalars the run power-scaled, without the rows that summarise a vector estimand's elements."""
    power = ctx.datatree["power_scaling"]
    summaries = set(json.loads(str(power.attrs.get("elements", "{}")) or "{}"))
    names = [str(n) for n in power["estimand"].values] if "estimand" in power.coords else []
    return [n for n in names if n not in summaries and resolve(ctx.estimands, n) is not None]


def title_of(ctx: ReportContext, name: str, width: int) -> str:
    """An estimand's readable label (for an element, its estimand's and the element's), wrapped to ``width``."""
    found = resolve(ctx.estimands, name)
    if found is None:
        label = ctx.label(name)
    else:
        estimand, selection = found
        label = label_of(ctx.estimands[estimand].attrs, ctx.language, ctx.label(estimand))
        if selection:
            label = f"{label}: {', '.join(ctx.label(coordinate_text(v)) for v in selection.values())}"
    return textwrap.fill(str(label), width)


def unit_of(ctx: ReportContext, name: str) -> str:
    """An estimand's unit as an axis label ('percentage points', '%', ...)."""
    found = resolve(ctx.estimands, name)
    attrs = ctx.estimands[found[0]].attrs if found is not None else {}
    unit = str(attrs.get("unit", ""))
    words = {"pp": ctx.text("percentage points", "prosentpoeng"), "%": "%"}
    return words.get(unit) or (ctx.labels.get(unit) or text_unit_of(attrs, ctx.language) if unit else "")


def _analysis_label(ctx: ReportContext, analysis: str) -> str:
    """A row of the sensitivity figures: "Main analysis (weakly informative)", "Priorsettet skeptisk"."""
    name = analysis_name(analysis, ctx.labels, ctx.language).removeprefix("the ")
    return name[:1].upper() + name[1:]


def most_telling(names: list[str], limit: int, score: Callable[[str], float]) -> list[str]:
    """At most ``limit`` of ``names``: those of highest ``score``, in their own order (all when they fit)."""
    if len(names) <= limit:
        return list(names)
    scores = {n: score(n) for n in names}
    chosen = set(sorted(names, key=lambda n: -np.nan_to_num(scores[n], nan=-np.inf))[:limit])
    return [n for n in names if n in chosen]


def left_out(ctx: ReportContext, shown: int, total: int, which: tuple[str, str]) -> str:
    """The caption's sentence on compared estimates a figure leaves out (empty when it shows them all)."""
    if shown >= total:
        return ""
    return " " + ctx.text(
        f"It shows {shown} of the {total} compared estimates: {which[0]}.",
        f"Figuren viser {shown} av de {total} sammenlignede størrelsene: {which[1]}.",
    )


def _ratio(a: float, b: float) -> float:
    """``a / b``; NaN when ``b`` is zero or not finite (such a score ranks last)."""
    return a / b if np.isfinite(b) and b > 0 else np.nan


def _width(values: xr.DataArray | np.ndarray) -> float:
    draws = np.asarray(values, dtype=float).ravel()
    draws = draws[np.isfinite(draws)]
    return float(np.subtract(*np.quantile(draws, [0.95, 0.05]))) if draws.size else np.nan


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return int(np.ceil(n / cols)), cols


def prior_posterior(ctx: ReportContext) -> tuple[Figure, str]:
    """Prior (from prior draws through the same estimand code) against posterior, per estimand."""
    estimands, datatree, style = ctx.estimands, ctx.datatree, ctx.style
    prior = datatree["prior_estimands"].to_dataset()
    candidates = [n for n in compared_estimands(ctx) if draws_of(prior, n) is not None]

    def prior_dependence(name: str) -> float:  # posterior width over prior width: 1 when the data add nothing
        return _ratio(_width(draws_of(estimands, name)), _width(draws_of(prior, name)))

    names = most_telling(candidates, MAX_PRIOR_POSTERIOR, prior_dependence)
    rows, cols = _grid(len(names))
    fig, axes = style.subplots(2.1 * rows + 0.6, rows, cols, squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        posterior = draws_of(estimands, name)
        post = posterior.values.ravel()
        pri = draws_of(prior, name).values.ravel()
        pri = pri[np.isfinite(pri)]
        low, high = np.quantile(np.r_[post, pri], [0.005, 0.995])
        bins = np.linspace(low, high, 40)
        # one filled outline per histogram (Axes.stairs), not 40 bar patches each as Axes.hist draws them
        ax.stairs(np.histogram(pri, bins=bins, density=True)[0], bins, fill=True, color="#bbbbbb")
        ax.stairs(np.histogram(post, bins=bins, density=True)[0], bins, fill=True, color="#1f77b4", alpha=0.7)
        lower, upper = style.bounds(posterior)
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
    ) + left_out(
        ctx,
        len(names),
        len(candidates),
        (
            "those whose posterior is widest against their prior (the most prior-dependent)",
            "de med bredest posterior sammenlignet med prioren (de som avhenger mest av prioren)",
        ),
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
    every = [str(n) for n in sensitivity.data_vars]

    def movement(name: str) -> float:  # spread of the medians between analyses against the main interval's width
        medians = sensitivity[name].median(["chain", "draw"]).values
        return _ratio(float(np.ptp(medians)), _width(sensitivity[name].isel(analysis=0)))

    names = most_telling(every, MAX_FOREST, movement)
    analyses = [_analysis_label(ctx, str(a)) for a in sensitivity["analysis"].values]
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
    ) + left_out(
        ctx,
        len(names),
        len(every),
        ("those that move most between the analyses", "de som flytter seg mest mellom analysene"),
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
            "posterior": flatten(ctx.estimands, names),
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
    power = datatree["power_scaling"].to_dataset()
    every = power_scaled_names(ctx)

    def sensitivity(name: str) -> float:  # the prior's, then (a little) the likelihood's
        row = power.sel(estimand=name)
        return float(row["prior"]) + 1e-3 * float(row["likelihood"])

    names = most_telling(every, MAX_POWER_ROWS, sensitivity)
    data = power_scaled(ctx, names)
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
                ax.step(*ecdf_steps(draws), where="post", color=colour, lw=1.1)
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
        f"medians with {style.text}. Panel titles give the power-scaling sensitivity: 0.05 or more flags it, and a "
        "prior-sensitive estimand whose likelihood value is below 0.05 has a weak likelihood. Curves that spread "
        "apart mark sensitivity.",
        "Posterior for hver størrelse når prioren (venstre) eller likelihooden (høyre) opphøyes i "
        f"{localise(str(ALPHAS[0]), 'nb')} eller {localise(str(ALPHAS[1]), 'nb')} (vektet, uten ny tilpasning): "
        "kumulative fordelinger og under dem "
        f"medianer med {style.text}. Paneltitlene gir følsomheten: 0,05 eller mer markerer den, og er et estimand "
        "følsomt for prioren mens likelihood-verdien er under 0,05, er likelihooden svak.",
    ) + left_out(
        ctx,
        len(names),
        len(every),
        ("the most sensitive to the prior", "de mest følsomme for prioren"),
    )
    return fig, caption


def ecdf_steps(sorted_draws: np.ndarray, points: int = ECDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """The ECDF of sorted draws as ``ax.step(x, y, where="post")`` points, through at most ``points`` draws.

    The kept draws are evenly spaced in rank, the first and last included, each at its exact ECDF
    value ``rank / n``; between two of them the drawn step stays below the full ECDF by less than
    ``1 / (points - 1)`` of its height.
    """
    n = sorted_draws.size
    keep = np.arange(n) if n <= points else np.unique(np.linspace(0, n - 1, points).round().astype(int))
    return sorted_draws[keep], (keep + 1) / n


def _sensitivity_value(power: xr.Dataset, name: str, group: str) -> str:
    try:
        return beside(float(power[group].sel(estimand=name)), 3, (float(power.attrs.get("threshold", 0.05)),))
    except (KeyError, ValueError):
        return "-"
