"""How the hierarchical logistic family presents itself: answer, sections and figures.

Registered by :class:`ipsbayes.models.hierarchical_logistic.HierarchicalLogistic`; the report
layer renders what this module hands it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.cells import suppress
from ipsbayes.present.common import effects_forest, service_caterpillar, services_section
from ipsbayes.present.style import Style, median
from ipsbayes.present.text import format_number

BAND_COLOURS = ["#f4e4e4", "#fbf3dc", "#e3f1e3", "#d2e9f7"]


def _row(summary: pd.DataFrame, name: str, element: str = "") -> dict:
    rows = summary[(summary["estimand"] == name) & (summary["element"] == element)]
    return rows.iloc[0].to_dict()


def _interval(row: dict, style: Style) -> str:
    unit = row["unit"]
    bounds = f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)}"
    return f"{bounds} ({style.prob:.0%} {style.kind.upper()})"


def fidelity_section(ctx: ReportContext) -> str:
    """What fidelity means for participants' outcomes."""
    estimands, summary, style = ctx.estimands, ctx.summary, ctx.style
    contrast = _row(summary, "fidelity_contrast")
    odds = _row(summary, "fidelity_odds_ratio")
    slope = _row(summary, "fidelity_slope")
    lines = [
        f"{contrast['label']}: **{format_number(contrast['median'], 'pp')} percentage points** "
        f"({_interval(contrast, style)}).",
        f"The probability that higher fidelity goes with better outcomes (slope > 0) is "
        f"**{slope['p_above_null']:.2f}**; the odds ratio is {format_number(odds['median'], 'OR')} per step "
        f"({_interval(odds, style)}).",
    ]
    if contrast.get("threshold") is not None and not np.isnan(contrast["p_above_threshold"]):
        lines.append(
            f"The probability that the difference exceeds {contrast['threshold']:g} percentage points is "
            f"**{contrast['p_above_threshold']:.2f}**."
        )
    measured = (
        "Here true fidelity is latent and the reviews measure it with error, so that uncertainty is in the interval."
        if "review_error_sd" in estimands
        else "The score is treated as exact; fidelity measured with error pulls the slope towards zero, which the "
        "measurement-error model (models/ipsung_fidelity.toml) corrects."
    )
    lines.append(
        "This is an association across services, not a randomised comparison of fidelity levels: services "
        f"with higher fidelity may differ in other ways. {measured}"
    )
    return "\n\n".join(lines)


def measurement_section(ctx: ReportContext) -> str:
    """Fidelity measured with error: the latent-fidelity slope beside the plug-in and aggregated slopes."""
    datatree, summary, style = ctx.datatree, ctx.summary, ctx.style
    error, reliability = _row(summary, "review_error_sd"), _row(summary, "fidelity_reliability")
    spread = _row(summary, "fidelity_sd")
    slope = _row(summary, "fidelity_slope")
    lines = [
        f"Reviews scatter around each service's true score with an SD of **{format_number(error['median'], '')} "
        f"points** ({_interval(error, style)}), against a spread of true scores across services of "
        f"{format_number(spread['median'], '')} points, so a single review's reliability is "
        f"**{format_number(reliability['median'], '')}** ({_interval(reliability, style)}).",
        f"With true fidelity latent, the slope is {format_number(slope['median'], '')} {slope['unit']} "
        f"({_interval(slope, style)}).",
    ]
    if "sensitivity" in datatree.children and "fidelity_slope" in datatree["sensitivity"].data_vars:
        values = datatree["sensitivity"]["fidelity_slope"]
        rows = ["| Analysis | Fidelity slope (median) | Interval | P(slope > 0) |", "| --- | ---: | --- | ---: |"]
        for analysis in values["analysis"].values:
            draws = values.sel(analysis=analysis)
            low, high = style.bounds(draws)
            rows.append(
                f"| {analysis} | {float(draws.median()):.3f} | {float(low):.3f} to {float(high):.3f} | "
                f"{float((draws > 0).mean()):.2f} |"
            )
        lines.append("\n".join(rows))
        lines.append(
            "**How they differ.** The plug-in analysis treats each service's mean review score as exact. Scores "
            "measured with error spread services out along the fidelity axis more than their true differences, so "
            "the plug-in slope is pulled towards zero (regression dilution, by roughly the reliability of the mean "
            "score) and its interval is too narrow, because it ignores that uncertainty. The latent model corrects "
            "both: its slope refers to true fidelity and its interval carries the measurement uncertainty. The "
            "aggregated analysis uses only service outcome counts, as in the quality reports; without participant "
            "characteristics it estimates the service-level association rather than the slope for similar "
            "participants."
        )
    return "\n\n".join(lines)


def fidelity_curve(ctx: ReportContext) -> tuple[Figure, str]:
    """Expected outcome rate across the fidelity scale with a credible band and scale bands.

    Services' observed rates are drawn only for services with at least ``report.min_cell`` participants.
    """
    estimands, style = ctx.estimands, ctx.style
    curve = estimands["fidelity_curve"]
    grid = curve["fidelity_score"].values
    lower, upper = style.bounds(curve)
    attrs = estimands["service_fidelity"].attrs if "service_fidelity" in estimands else {}
    fig, ax = style.subplots(style.width * 0.62)
    bands = _bands(attrs)
    edges = [grid.min()] + [b for _, b in bands if grid.min() < b < grid.max()] + [grid.max()]
    for i in range(len(edges) - 1):
        ax.axvspan(edges[i], edges[i + 1], color=BAND_COLOURS[i % len(BAND_COLOURS)], zorder=0)
    for name, bound in bands:
        if grid.min() < bound < grid.max():
            ax.text(bound + 0.5, 0.98, ctx.label(name), transform=ax.get_xaxis_transform(), va="top")
    ax.fill_between(grid, lower, upper, color="#1f77b4", alpha=0.3, label=style.short)
    ax.plot(grid, median(curve), color="#1f77b4", lw=2, label=style.t("posterior median", "posterior median"))
    if "service_fidelity" in estimands and "service_raw_rate" in estimands:
        n = estimands["service_n"].values
        ax.scatter(
            estimands["service_fidelity"].values,
            suppress(estimands["service_raw_rate"].values, n, ctx.min_cell),
            s=8 + 60 * n / n.max(),
            facecolors="none",
            edgecolors="#555555",
            label=style.t("services (observed)", "tjenester (observert)"),
        )
    scale = curve.attrs.get("label", "").split(" by ")[-1].replace(" score", "") or style.t("scale", "skala")
    ax.set_xlabel(style.t(f"Fidelity ({scale} score)", f"Modelltrofasthet ({scale}-skår)"))
    ax.set_ylabel(style.t("Expected outcome rate (%)", "Forventet andel med utfallet (%)"))
    fig.legend(loc="outside lower center", ncols=3)
    caption = ctx.text(
        f"Expected outcome rate over the fidelity scale (line: posterior median; band: {style.text}); "
        "shaded backgrounds mark the scale's bands; circles are services' observed rates, sized by participants.",
        f"Forventet andel over trofasthetsskalaen (linje: posterior median; bånd: {style.text}); bakgrunnsfargene "
        "markerer skalaens nivåer; sirkler er tjenestenes observerte andeler, størrelse etter antall deltakere.",
    )
    if "service_n" in estimands and int(np.sum(estimands["service_n"].values < ctx.min_cell)):
        caption += ctx.text(
            f" Services with fewer than {ctx.min_cell} participants are not drawn.",
            f" Tjenester med færre enn {ctx.min_cell} deltakere er ikke tegnet.",
        )
    return fig, caption


def _bands(attrs: dict) -> list[tuple[str, float]]:
    import ast

    try:
        bands = ast.literal_eval(attrs.get("bands", "{}"))
    except (ValueError, SyntaxError):
        return []
    return sorted(bands.items(), key=lambda kv: kv[1])


PRESENTATION = Presentation(
    sections=(
        Section(
            "fidelity",
            fixed("Fidelity and outcomes", "Modelltrofasthet og resultater"),
            fidelity_section,
            lambda ctx: ctx.has("fidelity_contrast"),
        ),
        Section(
            "measurement",
            fixed("Fidelity measured with error", "Modelltrofasthet målt med feil"),
            measurement_section,
            lambda ctx: ctx.has("review_error_sd"),
        ),
        Section(
            "services",
            fixed("Differences between services", "Forskjeller mellom tjenester"),
            services_section,
            lambda ctx: ctx.has("service_rate") and ctx.has("service_raw_rate"),
        ),
    ),
    figures=(
        FigureSpec(
            "service_caterpillar",
            fixed(
                "Services: observed and partially pooled outcome rates",
                "Tjenester: observerte og delvis sammenslåtte andeler",
            ),
            service_caterpillar,
            lambda ctx: ctx.has("service_rate") and ctx.has("service_raw_rate"),
        ),
        FigureSpec(
            "fidelity_curve",
            fixed("Outcome rate across the fidelity scale", "Andel med utfall langs trofasthetsskalaen"),
            fidelity_curve,
            lambda ctx: ctx.has("fidelity_curve"),
        ),
        FigureSpec(
            "effects_forest",
            fixed("Average marginal effects", "Gjennomsnittlige marginale effekter"),
            effects_forest,
            lambda ctx: ctx.has("ame"),
        ),
    ),
)
