"""Sections and figures shared by several model families (service differences, marginal effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.present.cells import suppress
from ipsbayes.present.context import ReportContext
from ipsbayes.present.style import Style, contrast_label, median, pointrange
from ipsbayes.present.text import format_number


def _row(summary: pd.DataFrame, name: str, element: str = "") -> dict:
    rows = summary[(summary["estimand"] == name) & (summary["element"] == element)]
    return rows.iloc[0].to_dict()


def _interval(row: dict, style: Style) -> str:
    unit = row["unit"]
    bounds = f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)}"
    return f"{bounds} ({style.prob:.0%} {style.kind.upper()})"


def services_section(ctx: ReportContext) -> str:
    """How much services differ once chance variation is accounted for."""
    estimands, summary, style = ctx.estimands, ctx.summary, ctx.style
    rates = estimands["service_rate"].median(["chain", "draw"]).values
    raw = estimands["service_raw_rate"].values
    n = estimands["service_n"].values
    text = [
        f"Observed service rates range from {raw.min():.0f}% to {raw.max():.0f}% (services with "
        f"{int(n.min())} to {int(n.max())} participants). After partial pooling, predicted rates range from "
        f"{rates.min():.0f}% to {rates.max():.0f}%: much of the spread in small services is chance."
    ]
    if "sd_service" in estimands:
        sd = _row(summary, "sd_service")
        text.append(
            f"The SD of service effects is {format_number(sd['median'], '')} on the log-odds scale "
            f"({_interval(sd, style)})."
        )
    if "median_odds_ratio" in estimands:
        mor = _row(summary, "median_odds_ratio")
        text.append(
            f"Median odds ratio {format_number(mor['median'], '')}: moving a participant to a random other "
            "service changes the odds of the outcome by this factor or more half of the time."
        )
    return " ".join(text)


def service_caterpillar(ctx: ReportContext) -> tuple[Figure, str]:
    """Predicted (partially pooled) outcome rate per service beside the observed rate.

    Observed rates of services with fewer than ``report.min_cell`` participants are not drawn
    (and their size is shown as "n < min_cell"); their predicted rates stay.
    """
    estimands, style = ctx.estimands, ctx.style
    rate = estimands["service_rate"]
    n = estimands["service_n"].values
    raw = suppress(estimands["service_raw_rate"].values, n, ctx.min_cell)
    mid = median(rate)
    order = np.argsort(mid)
    services = rate["service"].values[order]
    y = np.arange(len(order))
    fig, ax = style.subplots(max(3.0, 0.16 * len(order) + 1.4))
    predicted = style.t("predicted", "predikert")
    pointrange(
        ax, rate, y, style, "#1f77b4", order=order, lw=1.6, ms=4, label=f"{predicted}: {style.median_and_interval}"
    )
    for yi, r, m in zip(y, raw[order], mid[order], strict=True):
        if np.isfinite(r):
            ax.plot([r, m], [yi, yi], color="#999999", lw=0.6, zorder=0)
    ax.scatter(
        raw[order],
        y,
        s=8 + 60 * n[order] / n.max(),
        facecolors="none",
        edgecolors="#d62728",
        label=style.t("observed rate (size: participants)", "observert andel (størrelse: deltakere)"),
    )
    overall = float(estimands["outcome_rate"].median()) if "outcome_rate" in estimands else np.nan
    ax.axvline(
        overall, color="black", ls="--", lw=0.8, label=style.t("overall expected rate", "forventet andel totalt")
    )
    ax.set_yticks(y, [f"{s} ({size_label(k, ctx.min_cell)})" for s, k in zip(services, n[order], strict=True)])
    ax.set_xlabel(style.t("Outcome rate (%)", "Andel med utfallet (%)"))
    ax.set_ylabel(ctx.label("service", style.t("Service", "Tjeneste")))
    ax.set_xlim(-2, 102)
    ax.legend(loc="lower right")
    hidden = int(np.sum(n < ctx.min_cell))
    note = (
        ctx.text(
            f" Observed rates of {hidden} services with fewer than {ctx.min_cell} participants are not shown.",
            f" Observerte andeler for {hidden} tjenester med færre enn {ctx.min_cell} deltakere vises ikke.",
        )
        if hidden
        else ""
    )
    caption = (
        ctx.text(
            f"Predicted outcome rate per service (dots, with {style.text}) beside the observed rate (open circles, "
            "sized by participants; grey lines show how far partial pooling moves each service). Small services "
            "are pulled towards the overall rate.",
            f"Predikert andel per tjeneste (punkter, med {style.text}) ved siden av observert andel (åpne sirkler, "
            "størrelse etter antall deltakere; grå linjer viser hvor langt delvis sammenslåing flytter hver tjeneste). "
            "Små tjenester trekkes mot totalandelen.",
        )
        + note
    )
    return fig, caption


def size_label(n: float, min_cell: int) -> str:
    """``n=35``, or ``n<5`` for a cell too small to publish."""
    return f"n<{min_cell}" if n < min_cell else f"n={int(n)}"


def effects_forest(ctx: ReportContext) -> tuple[Figure, str]:
    """Average marginal effects (percentage points) with 50% and configured intervals, largest first.

    Effects on several outcomes (a second dimension, e.g. ``category``) get one panel per outcome.
    """
    estimands, style = ctx.estimands, ctx.style
    effects = estimands["ame"]
    extra = [d for d in effects.dims if d not in ("chain", "draw")]
    rows, panels = extra[0], (extra[1] if len(extra) > 1 else None)
    keys = [str(k) for k in effects[panels].values] if panels else [None]
    labels = [contrast_label(ctx, str(v)) for v in effects[rows].values]
    size = np.abs(effects.median(["chain", "draw"])).values
    order = np.argsort(size.max(axis=1) if size.ndim > 1 else size)  # largest effect at the top
    y = np.arange(len(order))
    cols = 1 if len(keys) == 1 else 2
    nrows = int(np.ceil(len(keys) / cols))
    fig, axes = style.subplots(
        (0.26 * len(order) + 0.9) * nrows + 0.5, nrows, cols, squeeze=False, sharey=True, sharex=True
    )
    inner = Style(style.kind, 0.5, style.language)
    for ax, key in zip(axes.ravel(), keys, strict=False):
        values = effects.sel({panels: key}) if panels else effects
        pointrange(ax, values, y, inner, "#1f77b4", order=order, lw=3.2, ms=0)
        pointrange(ax, values, y, style, "#1f77b4", order=order, lw=1.0, ms=4.5)
        ax.axvline(0.0, color="black", lw=0.8, ls="--")
        if key is not None:
            ax.set_title(ctx.label(key), fontsize=style.small_font)
    for ax in axes.ravel()[len(keys) :]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_yticks(y, [labels[i] for i in order])
    fig.supxlabel(
        style.t("Average marginal effect (percentage points)", "Gjennomsnittlig marginal effekt (prosentpoeng)")
    )
    handles = [
        Line2D([], [], color="#1f77b4", lw=3.2, label=style.t("50% interval", "50 % intervall")),
        Line2D([], [], color="#1f77b4", lw=1.0, marker="o", ms=4.5, label=style.median_and_interval),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    caption = ctx.text(
        f"Average marginal effects in percentage points, largest first: thick line 50%, thin line {style.text}; "
        "dot: posterior median. Numeric predictors: +1 SD; categories: vs the reference level.",
        f"Gjennomsnittlige marginale effekter i prosentpoeng, største først: tykk strek 50 %, tynn strek "
        f"{style.text}; punkt: posterior median. Numeriske variabler: +1 SD; kategorier: mot referansenivået.",
    )
    return fig, caption
