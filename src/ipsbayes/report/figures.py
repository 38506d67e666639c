"""Report figures: the family's own, then the ones every run shares, saved under stable names.

A model family hands the report its figures (see :mod:`ipsbayes.present`); this
module adds the shared ones (predictive checks, priors against posteriors,
sensitivity, chain mixing) and saves each as ``figures/<name>.png|svg`` so
documents can embed them. Figures are drawn inside a local rc context holding
the figure profile (``[report.figures]``: width, font size, DPI, SVG text as
text): nothing here changes matplotlib's global state. Each figure is saved at
exactly the profile's width, so its fonts are their stated size on paper.
"""

from __future__ import annotations

import functools
import textwrap
import warnings
from collections.abc import Iterable, Iterator

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, fixed
from ipsbayes.present.answers import vocabulary_word
from ipsbayes.present.cells import pooled_steps, suppress_counts_of_a_known_total
from ipsbayes.present.common import units_counted
from ipsbayes.present.style import figure_of
from ipsbayes.present.text import percent
from ipsbayes.report.envelope import cached_envelope
from ipsbayes.report.figures_sensitivity import (
    compared_estimands,
    power_scaling_plot,
    prior_posterior,
    sensitivity_forest,
)
from ipsbayes.report.layout import fit_to_profile

#: probability of the simultaneous envelope in rank plots (stated in the figure)
RANK_ENVELOPE = 0.99


def ppc_calibration(ctx: ReportContext) -> tuple[Figure, str]:
    """PAVA calibration of posterior predictive probabilities for a binary outcome (ArviZ)."""
    datatree, style = ctx.datatree, ctx.style
    name = observed_outcome(datatree)[0]
    checked, n_draws, thinned = pava_draws(datatree, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_ppc_pava(checked, var_names=[name], ci_prob=style.prob, backend="matplotlib")
    fig = figure_of(pc)
    fig.set_size_inches(style.width, style.width * 0.55)  # laid out at this size by iter_figures
    shown = publishable_pava(fig, checked, name, ctx.min_cell)
    band = style.t(f"{style.prob:.0%} consistency band", f"{percent(style.prob, 'nb')} konsistensbånd")
    for ax in fig.axes:
        ax.set_title("")
        ax.set_xlabel(style.t("Predicted probability", "Predikert sannsynlighet"))
        ax.set_ylabel(style.t("Observed rate (PAVA)", "Observert andel (PAVA)"))
        ax.plot([], [], color="C0", lw=1.5, label=style.t("observed (calibrated)", "observert (kalibrert)"))
        ax.fill_between([], [], [], color="C0", alpha=0.3, label=band)
        ax.plot([], [], color="0.35", ls="--", label=style.t("perfect calibration", "perfekt kalibrering"))
        ax.legend(loc="upper left")
    caption = ctx.text(
        f"Calibration of predicted probabilities (PAVA-calibrated conditional event probabilities); "
        f"the band is a {style.prob:.0%} consistency interval under the model. A line inside the band "
        "means predicted and observed rates agree."
        + (
            f" Predicted probabilities and band from {n_draws} evenly spaced posterior predictive draws."
            if thinned
            else ""
        ),
        f"Kalibrering av predikerte sannsynligheter (PAVA); båndet er et {percent(style.prob, 'nb')} "
        "konsistensintervall under modellen. En linje innenfor båndet betyr at predikerte og observerte andeler "
        "stemmer."
        + (
            f" Predikerte sannsynligheter og bånd fra {n_draws} jevnt fordelte prediktive trekninger."
            if thinned
            else ""
        ),
    )
    if shown != "all":
        least = units_counted(ctx, ctx.min_cell)
        caption += ctx.text(
            f" Every step of the observed line rests on at least {least} (report.min_cell): smaller PAVA blocks "
            "are pooled with a neighbour."
            if shown == "pooled"
            else f" The observed line is not shown: it rests on fewer than {least} (report.min_cell).",
            f" Hvert trinn i den observerte linjen bygger på minst {least} (report.min_cell): mindre PAVA-blokker "
            "er slått sammen med en nabo."
            if shown == "pooled"
            else f" Den observerte linjen vises ikke: den bygger på færre enn {least} (report.min_cell).",
        )
    return fig, caption


def publishable_pava(fig: Figure, tree: xr.DataTree, name: str, min_cell: int) -> str:
    """Redraw the observed PAVA line of ``fig`` so that no step rests on fewer than ``min_cell`` rows.

    ArviZ draws the isotonic fit of the observed outcome; each of its steps is the observed rate
    of the rows it spans (:func:`~ipsbayes.present.cells.pooled_steps`). Returns "all" (nothing
    changed), "pooled" or "hidden" (the line was removed).
    """
    from scipy.optimize import isotonic_regression

    predicted = tree["posterior_predictive"][name]
    mean = predicted.mean([d for d in predicted.dims if d in ("chain", "draw")]).values.ravel()
    observed = np.asarray(tree["observed_data"][name].values, dtype=float).ravel()
    steps = isotonic_regression(observed[np.argsort(mean)], increasing=True).x  # as arviz_stats fits it
    fit, pooled = pooled_steps(steps, min_cell)
    if not pooled:
        return "all"
    lines = [line for ax in fig.axes for line in ax.get_lines() if np.shape(line.get_ydata()) == steps.shape]
    matched = [line for line in lines if np.allclose(np.asarray(line.get_ydata(), dtype=float), steps)]
    if fit is None or not matched:  # not found as drawn: no line of that length may stay
        for line in matched or lines:
            line.remove()
        return "hidden"
    for line in matched:
        line.set_ydata(fit)
    return "pooled"


#: predictive cells (draws x rows) the PAVA figure reads at most; it fits one isotonic regression per draw
PAVA_CELLS = 4_000_000
#: but never fewer draws than this (the band's 2.5% and 97.5% quantiles need a few hundred)
PAVA_MIN_DRAWS = 500
#: and never more: at 1,500 rows the band from 1,000 of 4,000 draws differs from all draws' by 0.3
#: percentage points on average (0.7 at the 95th percentile of rows), at a quarter of the fits
PAVA_MAX_DRAWS = 1000


def pava_draws(datatree: xr.DataTree, name: str) -> tuple[xr.DataTree, int, bool]:
    """Observed data and predictive draws for the PAVA figure, evenly thinned when they are many.

    ArviZ fits an isotonic regression to every predictive draw (4,000 draws x 15,000 rows took
    9 s); the figure's band needs a few hundred draws, not all. Returns the tree, its number of
    draws and whether it was thinned.
    """
    predicted = datatree["posterior_predictive"].to_dataset()[[name]]
    chains, draws = predicted.sizes["chain"], predicted.sizes["draw"]
    rows = max(int(np.prod([n for d, n in predicted[name].sizes.items() if d not in ("chain", "draw")])), 1)
    keep = min(PAVA_MAX_DRAWS, max(PAVA_MIN_DRAWS, PAVA_CELLS // rows))
    step = max(1, chains * draws // keep)  # rounded down: at least `keep` draws
    if step > 1:
        predicted = predicted.isel(draw=slice(None, None, step))
    tree = xr.DataTree.from_dict(
        {"posterior_predictive": predicted, "observed_data": datatree["observed_data"].to_dataset()[[name]]}
    )
    thinned = step > 1 or int(predicted.attrs.get("thinning", 1)) > 1  # or the run kept only some (large data)
    return tree, int(predicted.sizes["chain"] * predicted.sizes["draw"]), thinned


def ppc_counts(ctx: ReportContext) -> tuple[Figure, str]:
    """Observed frequency of each outcome value against the posterior predictive (median and interval).

    Values are category names for a categorical outcome (e.g. none / work / apprenticeship /
    education) and counts otherwise (months employed). Observed frequencies below
    ``report.min_cell`` (but above zero) are not drawn.
    """
    datatree, style = ctx.datatree, ctx.style
    name, _ = observed_outcome(datatree)
    observed = np.asarray(datatree["observed_data"][name].values).ravel().astype(int)
    predicted = np.asarray(datatree["posterior_predictive"][name].values)
    predicted = predicted.reshape(-1, observed.size).astype(int)
    levels = np.arange(min(observed.min(), predicted.min()), max(observed.max(), predicted.max()) + 1)
    offset = levels[0]
    counts = np.stack([np.bincount(row - offset, minlength=levels.size) for row in predicted])
    lower, upper = _bounds(counts, style)
    mid = np.median(counts, axis=0)
    seen = np.bincount(observed - offset, minlength=levels.size).astype(float)
    shown, secondary = suppress_counts_of_a_known_total(seen, ctx.min_cell)  # the run's size is published
    names = _level_names(ctx, levels)
    fig, ax = style.subplots(max(2.6, style.width * 0.45))
    x = np.arange(levels.size)
    ax.bar(x, mid, color="#9ecae1", label=style.t("predicted: median", "predikert: median"))
    ax.errorbar(x, mid, yerr=[mid - lower, upper - mid], fmt="none", ecolor="#08519c", lw=1.2, label=style.short)
    ax.plot(x, shown, "o", color="black", ms=4, label=style.t("observed", "observert"))
    hidden = np.isnan(shown) & (seen > 0) & ~secondary
    if hidden.any():
        # suppressed cells are drawn as a range (1 to min_cell - 1), never as a dot at zero
        low, high = 1, max(ctx.min_cell - 1, 1)
        ax.errorbar(
            x[hidden],
            np.full(int(hidden.sum()), (low + high) / 2),
            yerr=(high - low) / 2,
            fmt="s",
            mfc="white",
            color="0.45",
            ms=4,
            capsize=2,
            lw=1,
            label=style.t(f"observed: {low}–{high}, not shown", f"observert: {low}–{high}, vises ikke"),
        )
    ax.set_xticks(x, names)
    if names != [str(v) for v in levels]:
        ax.set_xlabel(ctx.label(name, style.t("Outcome", "Utfall")))
    else:
        ax.set_xlabel(ctx.label(name, style.t("Value", "Verdi")))
    units = counted_units(ctx)
    ax.set_ylabel(units.capitalize())
    ax.legend(loc="best")
    suppressed = int(hidden.sum())
    note = (
        ctx.text(
            f" Observed frequencies below {ctx.min_cell} {units} are not shown exactly ({suppressed} values, "
            f"drawn as open squares spanning 1 to {ctx.min_cell - 1}).",
            f" Observerte antall under {ctx.min_cell} {units} vises ikke nøyaktig ({suppressed} verdier, "
            f"tegnet som åpne kvadrater fra 1 til {ctx.min_cell - 1}).",
        )
        if suppressed
        else ""
    ) + (
        ctx.text(
            f" {int(secondary.sum())} further value(s) are not drawn either, so that the hidden ones cannot be "
            "worked out from the total.",
            f" {int(secondary.sum())} verdi(er) til er heller ikke tegnet, så de skjulte ikke kan regnes ut fra "
            "totalen.",
        )
        if secondary.any()
        else ""
    )
    caption = (
        ctx.text(
            f"Posterior predictive check: observed number of {units} with each value (points) against the "
            f"model's prediction (bars: median; lines: {style.text}).",
            f"Prediktiv kontroll: observert antall {units} med hver verdi (punkter) mot modellens prediksjon "
            f"(søyler: median; linjer: {style.text}).",
        )
        + note
    )
    return fig, caption


def counted_units(ctx: ReportContext) -> str:
    """What one observation of the outcome is, in the study's words (plural): participants, animals, rows.

    Rows that carry a number of trials (binomial counts) are rows, not units; otherwise the
    vocabulary's ``units`` (or ``[report.labels]``) names them, and IPS runs keep "participants".
    """
    tree = ctx.datatree
    if "constant_data" in tree.children and "trials" in tree["constant_data"].to_dataset():
        return ctx.text("rows", "rader")
    return vocabulary_word(ctx, "units", "participants", "deltakere")


def _bounds(draws: np.ndarray, style) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds over the first axis of ``draws`` (ETI or HDI, as the report states)."""
    values = xr.DataArray(draws[np.newaxis], dims=["chain", "draw", "value"])
    return style.bounds(values.astype(float))


def _level_names(ctx: ReportContext, levels: np.ndarray) -> list[str]:
    """Category names of a categorical outcome's codes (from the estimands' ``category`` coordinate)."""
    for var in ctx.estimands.data_vars.values():
        if "category" in var.dims:
            categories = [str(c) for c in var["category"].values]
            if levels.min() >= 0 and levels.max() < len(categories):
                return [ctx.label(categories[int(v)]) for v in levels]
    return [str(int(v)) for v in levels]


def hyperparameters(datatree: xr.DataTree, limit: int = 6) -> list[str]:
    """Posterior variables with at most four elements (intercepts, SDs, slopes), not the standardised z's."""
    posterior = datatree["posterior"]
    small = [n for n, v in posterior.data_vars.items() if v.size // (v.sizes["chain"] * v.sizes["draw"]) <= 4]
    return [n for n in small if not n.startswith("z_") and "_prior_" not in n][:limit]


def rank_panels(ctx: ReportContext, limit: int = 9) -> list[tuple[str, np.ndarray]]:
    """(readable label, draws as chain x draw) of each scalar parameter and each element of small vectors."""
    from ipsbayes.diagnostics_text import parameter_label

    posterior = ctx.datatree["posterior"].to_dataset()
    panels = []
    for name in hyperparameters(ctx.datatree):
        var = posterior[name]
        extra = [d for d in var.dims if d not in ("chain", "draw")]
        label = ctx.labels.get(name) or parameter_label(name, ctx.language, ctx.vocabulary)  # "SD of school effects"
        if not extra:
            panels.append((label, var.values))
            continue
        stacked = var.stack(__element__=extra)
        for i in range(stacked.sizes["__element__"]):
            element = ", ".join(ctx.label(str(stacked[d].values[i])) for d in extra)
            panels.append((f"{label}: {element}", stacked.isel(__element__=i).values))
    return panels[:limit]


def rank_plot(ctx: ReportContext) -> tuple[Figure, str]:
    """Rank ECDF difference per chain of the scalar parameters, with a simultaneous envelope (mixing check).

    Draws are thinned to about their effective sample size before the envelope is computed
    (as ArviZ does for its envelope method), since the envelope assumes independent draws.
    """
    from scipy.stats import rankdata

    style = ctx.style
    panels = rank_panels(ctx)
    rows, cols = int(np.ceil(len(panels) / 3)), min(3, len(panels))
    fig, axes = style.subplots(1.45 * rows + 0.9, rows, cols, squeeze=False, sharex=True, sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, draws) in zip(axes.ravel(), panels, strict=False):
        draws = _thinned(draws)
        chains, n = draws.shape
        ranks = rankdata(draws.ravel()).reshape(draws.shape) / draws.size
        x, lower, upper = rank_envelope(n, RANK_ENVELOPE)  # one chain's band
        ax.fill_between(x, lower - x, upper - x, color="0.85", step="post", lw=0)
        for c in range(chains):
            ecdf = np.searchsorted(np.sort(ranks[c]), x, side="right") / n
            ax.step(x, ecdf - x, where="post", color=colours[c % len(colours)], lw=1.0)
        ax.axhline(0, color="0.4", lw=0.6)
        ax.set_title(textwrap.fill(label, style.chars(cols)), fontsize=style.small_font)
        ax.set_xticks([0, 0.5, 1])
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    fig.supxlabel(style.t("Fractional rank", "Relativ rang"))
    fig.supylabel(style.t("ECDF difference", "ECDF-differanse"))
    handles = [
        Patch(
            color="0.85",
            label=style.t(
                f"{RANK_ENVELOPE:.0%} simultaneous envelope", f"{percent(RANK_ENVELOPE, 'nb')} simultant bånd"
            ),
        )
    ]
    handles += [
        Line2D([], [], color=colours[c % len(colours)], lw=1.0, label=style.t(f"chain {c + 1}", f"kjede {c + 1}"))
        for c in range(panels[0][1].shape[0] if panels else 0)
    ]
    fig.legend(handles=handles, loc="outside upper center", ncols=min(5, len(handles)))
    caption = ctx.text(
        f"Rank ECDF difference per chain for the scalar parameters: lines inside the grey "
        f"{RANK_ENVELOPE:.0%} simultaneous envelope mean the chains mix well; a line outside it marks a parameter "
        "whose chains disagree.",
        "Rang-ECDF-differanse per kjede for de skalare parameterne: linjer innenfor det grå "
        f"{percent(RANK_ENVELOPE, 'nb')} simultane båndet betyr at kjedene blander godt; en linje utenfor markerer "
        "en parameter der kjedene er uenige.",
    )
    return fig, caption


@functools.lru_cache(maxsize=64)
def rank_envelope(n: int, prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points, lower and upper bound of the simultaneous ECDF envelope for one chain of ``n`` draws.

    ArviZ's simulated envelope (1,000 simulations, its own fixed seed; computed by
    :func:`~ipsbayes.report.envelope.simultaneous_envelope`, the same numbers faster) depends only on
    ``n`` and ``prob``: panels with the same number of draws share one computation (the arrays are
    read-only), and later runs read it from the cache folder (:func:`~ipsbayes.report.envelope.cached_envelope`).
    """
    x, lower, upper = cached_envelope(n, prob)
    for values in (x, lower, upper):
        values.flags.writeable = False
    return x, lower, upper


def _thinned(draws: np.ndarray) -> np.ndarray:
    """Draws (chain x draw) thinned to about their bulk effective sample size."""
    ess = float(az.ess(draws, method="bulk")) if draws.shape[1] > 4 else draws.size
    step = max(1, int(np.ceil(draws.size / max(ess, 1.0))))
    return draws[:, ::step]


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
        fixed("Posterior predictive check of the outcome values", "Prediktiv kontroll av utfallsverdiene"),
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


def figure_specs(presentation: Presentation, shared: bool = True) -> list[FigureSpec]:
    """The family's figures, then the shared ones (a family figure replaces a shared one of the same name).

    ``shared=False`` gives the presentation's own figures only (reports that are not model runs).
    """
    chosen: dict[str, FigureSpec] = {}
    for spec in (*presentation.figures, *(SHARED_FIGURES if shared else ())):
        chosen.setdefault(spec.name, spec)
    return list(chosen.values())


def iter_figures(
    ctx: ReportContext, presentation: Presentation, shared: bool = True, specs: Iterable[FigureSpec] | None = None
) -> Iterator[tuple[FigureSpec, Figure, str]]:
    """Draw every applicable figure (or those of ``specs``) at the profile's size; yield (spec, figure, caption).

    Drawing happens inside a local rc context (the profile's fonts, constrained layout,
    SVG text as text, a non-interactive backend); the caller closes each figure.
    """
    with matplotlib.rc_context(ctx.style.rc()), plt.ioff():
        for spec in figure_specs(presentation, shared) if specs is None else specs:
            if spec.applies(ctx):
                opened = set(plt.get_fignums())
                try:
                    fig, caption = spec.draw(ctx)
                except (ValueError, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
                    for number in set(plt.get_fignums()) - opened:  # the half-drawn figure
                        plt.close(number)
                    fig, caption = not_drawn(ctx, exc)
                fit_to_profile(fig, ctx.style, height=fig.get_size_inches()[1])
                yield spec, fig, caption


def not_drawn(ctx: ReportContext, error: Exception) -> tuple[Figure, str]:
    """A figure that says it could not be drawn, and why: a degenerate posterior (a prior at 1e300) ends no run.

    The figure keeps its place and file name, so a document that embeds it shows the reason.
    """
    reason = f"{type(error).__name__}: {' '.join(str(error).split())[:120]}"
    fig, ax = ctx.style.subplots(1.2)
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        ctx.text("Not drawn: these draws cannot be plotted", "Ikke tegnet: disse trekkene kan ikke plottes"),
        ha="center",
        va="center",
    )
    caption = ctx.text(
        f"This figure could not be drawn from this posterior ({reason}); its numbers are in the tables, and the "
        "diagnostics say what is wrong with the fit.",
        f"Denne figuren kunne ikke tegnes fra denne posterioren ({reason}); tallene står i tabellene, og "
        "diagnostikken sier hva som er galt med tilpasningen.",
    )
    return fig, caption
