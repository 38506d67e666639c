"""How the competing-outcomes family presents itself: shares per outcome and the drivers of the focus outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.cells import suppress
from ipsbayes.present.common import effects_forest
from ipsbayes.present.style import contrast_label, median, pointrange
from ipsbayes.present.text import format_number


def _rows(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    return summary[summary["estimand"] == name]


def shares_section(ctx: ReportContext) -> str:
    """Answer question 1: to what degree do participants reach work, an apprenticeship or education."""
    estimands, summary, style = ctx.estimands, ctx.summary, ctx.style
    rows = [
        "| Outcome at 12 months | Expected share | Interval | Range over services (medians) |",
        "| --- | ---: | --- | --- |",
    ]
    shares = estimands["service_share"].median(["chain", "draw"])
    for row in _rows(summary, "category_share").to_dict("records"):
        per_service = shares.sel(category=row["element"]).values
        rows.append(
            f"| {row['element']} | {row['median']:.1f}% | {row['lower']:.1f} to {row['upper']:.1f} | "
            f"{per_service.min():.0f}%-{per_service.max():.0f}% |"
        )
    text = [
        f"Expected shares over the study's participants, with {style.text}; per service, partially pooled.",
        "\n".join(rows),
    ]
    correlations = _rows(summary, "service_correlation")
    if len(correlations):
        parts = [
            f"{r['element']}: {format_number(r['median'], '')} ({format_number(r['lower'], '')} to "
            f"{format_number(r['upper'], '')}, P(> 0) = {r['p_above_null']:.2f})"
            for r in correlations.to_dict("records")
        ]
        text.append("Correlation of service effects between equations: " + "; ".join(parts) + ".")
    return "\n\n".join(text)


def drivers_section(ctx: ReportContext) -> str:
    """Answer question 2: what contributes to transitions to the focus outcome (education)."""
    estimands, summary, style = ctx.estimands, ctx.summary, ctx.style
    focus = estimands["focus_ame"].attrs.get("focus", "the focus outcome")
    effects = _rows(summary, "focus_ame").sort_values("median", ascending=False)
    rows = [
        "| Rank | Characteristic | Effect on P(" + focus + "), pp | Interval | P(> 0) | P(> threshold) |",
        "| ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for rank, row in enumerate(effects.to_dict("records"), start=1):
        threshold = (
            "-" if np.isnan(row["p_above_threshold"]) else f"{row['p_above_threshold']:.2f} (> {row['threshold']:g})"
        )
        rows.append(
            f"| {rank} | {row['element']} | {row['median']:.1f} | {row['lower']:.1f} to {row['upper']:.1f} "
            f"| {row['p_above_null']:.2f} | {threshold} |"
        )
    return "\n\n".join(
        [
            f"Average marginal effects on the probability of reaching {focus} within 12 months (percentage points, "
            f"{style.text}), ranked. Each effect changes one characteristic for every participant and keeps the rest "
            "as observed; service-level characteristics (collaboration with the education sector, fidelity) are "
            "associations across services, not randomised comparisons.",
            "\n".join(rows),
        ]
    )


def outcome_shares(ctx: ReportContext) -> tuple[Figure, str]:
    """Per outcome: each service's partially pooled share beside its observed share, services in one order.

    Observed shares of services with fewer than ``report.min_cell`` participants are not drawn.
    """
    estimands, style = ctx.estimands, ctx.style
    shares = estimands["service_share"]
    categories = [str(c) for c in shares["category"].values]
    observed, n = estimands["service_observed_share"], estimands["service_n"].values
    services = [str(s) for s in shares["service"].values]
    y = np.arange(len(services))[::-1]
    fig, axes = style.subplots(0.15 * len(services) + 1.5, 1, len(categories), sharey=True, squeeze=False)
    for ax, category in zip(axes[0], categories, strict=True):
        values = shares.sel(category=category)
        pointrange(ax, values, y, style, "#1f77b4", lw=1.2, ms=3)
        seen = suppress(observed.sel(category=category).values, n, ctx.min_cell)
        ax.scatter(seen, y, s=6 + 40 * n / n.max(), facecolors="none", edgecolors="#d62728")
        overall = float(estimands["category_share"].sel(category=category).median())
        ax.axvline(overall, color="black", ls="--", lw=0.8)
        ax.set_title(
            f"{ctx.label(category)}\n({style.t('overall', 'totalt')} {ctx.number(overall, '%')}%)",
            fontsize=style.small_font,
        )
        ax.set_xlabel("%")
        ax.xaxis.set_major_locator(_few_ticks())
    axes[0][0].set_yticks(y, services)
    axes[0][0].set_ylim(-1, len(services))
    handles = [
        Line2D([], [], color="#1f77b4", lw=1.2, marker="o", ms=3, label=style.median_and_interval),
        Line2D([], [], color="#d62728", ls="none", marker="o", mfc="none", label=style.t("observed", "observert")),
        Line2D([], [], color="black", ls="--", lw=0.8, label=style.t("overall", "totalt")),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3)
    hidden = int(np.sum(n < ctx.min_cell))
    caption = ctx.text(
        f"Per service and outcome: partially pooled share (dot, {style.text}) and observed share (open "
        "circle, sized by participants); dashed line: overall expected share.",
        f"Per tjeneste og utfall: delvis sammenslått andel (punkt, {style.text}) og observert andel (åpen sirkel, "
        "størrelse etter antall deltakere); stiplet linje: forventet andel totalt.",
    )
    if hidden:
        caption += ctx.text(
            f" Observed shares of {hidden} services with fewer than {ctx.min_cell} participants are not shown.",
            f" Observerte andeler for {hidden} tjenester med færre enn {ctx.min_cell} deltakere vises ikke.",
        )
    return fig, caption


def _few_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=3)


def focus_drivers(ctx: ReportContext) -> tuple[Figure, str]:
    """Average marginal effects on the focus outcome (e.g. education), largest first, with intervals."""
    estimands, style = ctx.estimands, ctx.style
    effects = estimands["focus_ame"]
    order = np.argsort(np.abs(median(effects)))  # largest at the top
    labels = [contrast_label(ctx, str(c)) for c in effects["contrast"].values]
    fig, ax = style.subplots(0.3 * len(labels) + 1.3)
    y = np.arange(len(order))
    pointrange(ax, effects, y, style, "#2ca02c", order=order, label=style.median_and_interval)
    ax.axvline(0, color="black", ls="--", lw=0.8)
    ax.set_yticks(y, [labels[i] for i in order])
    focus = ctx.label(str(effects.attrs.get("focus", style.t("the focus outcome", "fokusutfallet"))))
    ax.set_xlabel(
        style.t(
            f"Change in the probability of {focus} (percentage points)",
            f"Endring i sannsynligheten for {focus} (prosentpoeng)",
        )
    )
    fig.legend(loc="outside lower center")
    caption = ctx.text(
        f"Average marginal effect of each characteristic on the probability of {focus} at 12 months, "
        f"largest first, with {style.text}. Numeric predictors: +1 SD; categories and service "
        "indicators: vs the reference.",
        f"Gjennomsnittlig marginal effekt av hver egenskap på sannsynligheten for {focus} etter 12 måneder, "
        f"største først, med {style.text}. Numeriske variabler: +1 SD; kategorier: mot referansen.",
    )
    return fig, caption


def service_correlations(ctx: ReportContext) -> tuple[Figure, str]:
    """Correlations of service effects between equations."""
    estimands, style = ctx.estimands, ctx.style
    corr = estimands["service_correlation"]
    labels = [" ~ ".join(ctx.label(part) for part in str(p).split(" ~ ")) for p in corr["pair"].values]
    fig, ax = style.subplots(0.32 * len(labels) + 1.3)
    y = np.arange(len(labels))[::-1]
    pointrange(ax, corr, y, style, "#9467bd", label=style.median_and_interval)
    ax.axvline(0, color="black", ls="--", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_yticks(y, labels)
    ax.set_xlabel(style.t("Correlation of service effects", "Korrelasjon mellom tjenesteeffekter"))
    fig.legend(loc="outside lower center")
    caption = ctx.text(
        f"Posterior median and {style.text} of the correlation between services' effects on reaching any "
        "outcome and on each outcome vs the reference: positive means services that do well on one also "
        "tend to do well on the other.",
        f"Posterior median og {style.text} for korrelasjonen mellom tjenestenes effekter på å nå et utfall og "
        "på hvert utfall mot referansen: positiv betyr at tjenester som gjør det godt på det ene, også ofte gjør "
        "det godt på det andre.",
    )
    return fig, caption


PRESENTATION = Presentation(
    sections=(
        Section(
            "shares",
            fixed(
                "Who reaches work, an apprenticeship or education", "Hvem kommer i arbeid, læreplass eller utdanning"
            ),
            shares_section,
            lambda ctx: ctx.has("category_share"),
        ),
        Section(
            "drivers",
            fixed("What drives transitions to education", "Hva driver overganger til utdanning"),
            drivers_section,
            lambda ctx: ctx.has("focus_ame"),
        ),
    ),
    figures=(
        FigureSpec(
            "outcome_shares",
            fixed("Share reaching each outcome, by service", "Andel som når hvert utfall, etter tjeneste"),
            outcome_shares,
            lambda ctx: ctx.has("service_share"),
        ),
        FigureSpec(
            "focus_drivers",
            fixed("Drivers of the focus outcome", "Hva driver fokusutfallet"),
            focus_drivers,
            lambda ctx: ctx.has("focus_ame"),
        ),
        FigureSpec(
            "service_correlations",
            fixed(
                "Correlation of service effects between outcomes", "Korrelasjon mellom tjenesteeffekter på ulike utfall"
            ),
            service_correlations,
            lambda ctx: ctx.has("service_correlation"),
        ),
        FigureSpec(
            "effects_forest",
            fixed("Average marginal effects", "Gjennomsnittlige marginale effekter"),
            effects_forest,
            lambda ctx: ctx.has("ame"),
        ),
    ),
)
