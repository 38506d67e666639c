"""Predictive-check figures that outcome families own (continuous outcomes; shares of trials).

Binary outcomes are covered by the report's shared calibration figure; these two add
what it cannot show: the distribution of a continuous outcome, and each aggregated
row's observed share against its predictive interval.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ipsbayes.present import Figure, ReportContext, fixed
from ipsbayes.present.answers import vocabulary_word
from ipsbayes.present.cells import ObservedShares, publishable_shares
from ipsbayes.present.text import percent


def _response(ctx: ReportContext) -> str | None:
    """The outcome's name in the run's observed data (the family stores it with the estimands)."""
    tree = ctx.datatree
    if "posterior_predictive" not in tree.children or "observed_data" not in tree.children:
        return None
    name = ctx.estimands.attrs.get("response")
    observed = tree["observed_data"].to_dataset()
    return name if name in observed and name in tree["posterior_predictive"].to_dataset() else None


def density(ctx: ReportContext) -> tuple[Any, str]:
    """Posterior predictive densities of the outcome against its observed distribution (ArviZ)."""
    import arviz as az

    from ipsbayes.present.style import figure_of

    name = _response(ctx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = az.plot_ppc_dist(ctx.datatree, var_names=[name], num_samples=50, backend="matplotlib")
    fig = figure_of(pc)
    # the outcome in the study's words (outcome_label, outcome_label_nb), unless a label names the column
    label = ctx.label(name) if name in ctx.labels else vocabulary_word(ctx, "outcome", name, name)
    for ax in fig.axes:
        ax.set_xlabel(label)
        ax.set_title("")  # ArviZ titles the panel with the column's name; the axis and caption say what it is
    caption = ctx.text(
        f"Distribution of {label}: observed (dark line) against 50 data sets drawn from the posterior "
        "predictive distribution (light lines). Systematic gaps (skew, heavy tails, several modes) show "
        "where the likelihood does not fit.",
        f"Fordelingen av {label}: observert (mørk linje) mot 50 datasett trukket fra den prediktive "
        "posteriorfordelingen (lyse linjer). Systematiske avvik (skjevhet, tunge haler, flere topper) viser "
        "hvor likelihooden ikke passer.",
    )
    return fig, caption


def withheld_rows_note(ctx: ReportContext, shares: ObservedShares) -> str:
    """How many rows' observed shares are not drawn and why, each reason with its count ("" when none).

    Counted from the masks of ``shares`` (:func:`proportions` draws its values), so the caption names
    what the figure withholds.
    """
    if not shares.hidden:
        return ""
    low = ctx.min_cell

    def rows(k: int) -> tuple[str, str]:  # English and Norwegian
        return (f"{k} row" if k == 1 else f"{k} rows", f"{k} rad" if k == 1 else f"{k} rader")

    en, nb = shares.reasons(
        lambda k: (f"{rows(k)[0]} with fewer than {low} trials", f"{rows(k)[1]} med færre enn {low} forsøk"),
        lambda k: (
            f"{rows(k)[0]} resting on fewer than {low} trials with the outcome or fewer than {low} without it",
            f"{rows(k)[1]} som bygger på færre enn {low} forsøk med utfallet eller færre enn {low} uten",
        ),
        lambda k: (f"{rows(k)[0]} whose counts are not known", f"{rows(k)[1]} der antallene ikke er kjent"),
    )
    limit = f"report.min_cell = {low}"
    if len(en) == 1:
        return ctx.text(
            f" Observed shares of {en[0]} are not drawn ({limit}).",
            f" Observerte andeler for {nb[0]} er ikke tegnet ({limit}).",
        )
    total = ctx.text(*rows(shares.hidden))
    return ctx.text(
        f" Observed shares of {total} are not drawn ({limit}): {', '.join(en[:-1])} and {en[-1]}.",
        f" Observerte andeler for {total} er ikke tegnet ({limit}): {', '.join(nb[:-1])} og {nb[-1]}.",
    )


def proportions(ctx: ReportContext) -> tuple[Any, str]:
    """Observed share of trials per row against its posterior predictive interval.

    A row's observed share is drawn only when its trials, those with the outcome and those without it
    each number zero or at least ``report.min_cell`` (the rule of
    :func:`~ipsbayes.present.common.publishable_shares`: 3 of 20 is three cows); the caption counts the
    rows withheld, by reason, from the same shares.
    """
    name = _response(ctx)
    tree, style = ctx.datatree, ctx.style
    observed = tree["observed_data"][name].values.astype(float)
    constant = tree["constant_data"].to_dataset() if "constant_data" in tree.children else {}
    trials = np.asarray(constant["trials"].values, float) if "trials" in constant else np.ones_like(observed)
    trials = trials if trials.shape == observed.shape else np.ones_like(observed)
    draws = tree["posterior_predictive"][name].values.reshape(-1, observed.size) / trials
    low, high = np.quantile(draws, [(1 - style.prob) / 2, (1 + style.prob) / 2], axis=0)
    order = np.argsort(np.median(draws, axis=0))
    x = np.arange(observed.size)
    # the profile's constrained layout (no tight_layout: matplotlib warns when the engine is swapped)
    fig, ax = style.subplots(3.6)
    ax.vlines(
        x,
        100 * low[order],
        100 * high[order],
        color="#1f77b4",
        lw=2,
        label=style.t("predicted", "predikert") + f": {style.short}",
    )
    inside = (observed / trials >= low) & (observed / trials <= high)
    # a row's observed share rests on its trials (cows, participants) and on those with and without the outcome
    shares = publishable_shares(100 * observed / np.where(trials > 0, trials, 1.0), trials, observed, ctx.min_cell)
    ax.plot(x, shares.values[order], "o", color="black", ms=3, label=style.t("observed", "observert"))
    ax.set_xlabel(ctx.text("rows, ordered by predicted share", "rader, sortert etter predikert andel"))
    ax.set_ylabel("%")
    ax.legend(fontsize=8)
    share = percent(float(inside.mean()), ctx.language)
    caption = ctx.text(
        f"Observed share of trials in each row (dots) and its {style.text} under the model (lines); "
        f"{share} of rows fall inside. Many rows outside suggest overdispersion (consider the beta-binomial family).",
        f"Observert andel av forsøkene i hver rad (punkter) og dens {style.text} under modellen (linjer); "
        f"{share} av radene ligger innenfor. Mange rader utenfor tyder på overspredning (vurder beta-binomisk "
        "familie).",
    )
    caption += withheld_rows_note(ctx, shares)
    return fig, caption


DENSITY = Figure(
    "ppc_density",
    fixed("Posterior predictive check of the outcome", "Prediktiv kontroll av utfallet"),
    density,
    lambda ctx: _response(ctx) is not None,
)
PROPORTIONS = Figure(
    "ppc_proportions",
    fixed("Posterior predictive check of the shares", "Prediktiv kontroll av andelene"),
    proportions,
    lambda ctx: _response(ctx) is not None,
)
