"""The time-to-event family's report figures: incidence curves, monthly hazard, services, fidelity over time.

Part of the family's presentation (:data:`ipsbayes.models.time_to_event_report.PRESENTATION`),
which uses the target and outcome labels defined here in its text too. Observed shares resting on a small cell
(fewer than ``report.min_cell`` participants, first transitions or participants without one) are never drawn.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.models.time_to_event_data import TARGETS_NB
from ipsbayes.present import ReportContext
from ipsbayes.present.answers import vocabulary_word
from ipsbayes.present.cells import ObservedShares, publishable_shares, too_small
from ipsbayes.present.common import (
    size_label,
    withheld_months_note,
    withheld_shares_note,
)
from ipsbayes.present.style import median, pointrange

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def target_label(ctx: ReportContext, target: object) -> str:
    """A target's name for readers: ``[report.labels]``, then the study's vocabulary, then a humanised key.

    In a Norwegian report the usual target names (:data:`TARGETS_NB`) are written in Norwegian.
    """
    key = str(target)
    plain = key.replace("_", " ")
    return ctx.label(key, ctx.text(plain, TARGETS_NB.get(key.lower(), plain)))


def outcome_of(ctx: ReportContext) -> str:
    """What participants reach, in the study's words (``[report.labels] outcome`` or ``model.outcome_label``)."""
    own = str(ctx.estimands["incidence_any"].attrs.get("outcome_label", "")) if ctx.has("incidence_any") else ""
    return vocabulary_word(ctx, "outcome", own or "a target", own or "et mål")


def _band_legend(ctx: ReportContext, extra: list[Line2D]) -> list[Line2D]:
    style = ctx.style
    return [
        Line2D([], [], color="#555555", lw=2, label=style.t("posterior median", "posterior median")),
        Line2D([], [], color="#555555", lw=6, alpha=0.25, label=style.short),
        *extra,
    ]


def publishable_observed(ctx: ReportContext) -> xr.DataArray:
    """The observed curves (target x month) with every point resting on a small cell set to NaN.

    A point is withheld when the cohort is smaller than ``report.min_cell``, or when the first
    transitions so far, for any target or for all targets together, number at least one but fewer
    than ``report.min_cell`` (a share of a few people identifies them). Every target's point of such a
    month is withheld, so the small one cannot be recovered as the total minus the others.
    """
    observed = ctx.estimands["observed_incidence_curve"]
    if too_small(observed.attrs.get("participants", np.nan), ctx.min_cell):
        return observed.where(False)
    if "observed_events_curve" not in ctx.estimands:  # run folders from before the event counts were kept
        return observed.where(False)
    events = ctx.estimands["observed_events_curve"]
    small = xr.apply_ufunc(too_small, events, ctx.min_cell) | xr.apply_ufunc(
        too_small, events.sum("target"), ctx.min_cell
    )
    return observed.where(~small.any("target"))


def service_shares(ctx: ReportContext) -> ObservedShares:
    """Per-service observed shares as they may be published, with why each withheld one is withheld.

    The rule of :func:`~ipsbayes.present.common.publishable_shares`, as for :func:`publishable_observed`:
    a service's share is withheld when the service has fewer than ``report.min_cell`` participants, or
    when the first transitions it rests on, or the participants without one, number at least one but
    fewer than ``report.min_cell`` (80% of a service of five is four people). Run folders from before
    the counts were kept show none. The figure draws these values and the caption and text count them.
    """
    estimands = ctx.estimands
    events = estimands["service_observed_events_any"].values if "service_observed_events_any" in estimands else None
    return publishable_shares(
        estimands["service_observed_incidence_any"].values, estimands["service_n"].values, events, ctx.min_cell
    )


def publishable_service_observed(ctx: ReportContext) -> np.ndarray:
    """Per-service observed shares with every small cell withheld (NaN), by :func:`service_shares`."""
    return service_shares(ctx).values


def service_withheld_note(ctx: ReportContext, shares: ObservedShares) -> str:
    """How many services' observed shares are withheld and why, each reason with its count ("" when none)."""
    month = ctx.estimands["service_incidence_any"].attrs.get("month", "") if ctx.has("service_incidence_any") else ""
    by = (f" by month {month}", f" innen måned {month}") if month != "" else ("", "")
    return withheld_shares_note(
        ctx,
        shares,
        ("share", "shares", "andeler", "andelen", "andelene"),
        (f"with a first transition{by[0]}", f"med første overgang{by[1]}"),
        ("without one", "uten"),
    )


def incidence_curves(ctx: ReportContext) -> tuple[Figure, str]:
    """Cumulative incidence by month (any target and each target) with intervals and the observed steps."""
    estimands, style = ctx.estimands, ctx.style
    any_curve, curves = estimands["incidence_curve_any"], estimands["incidence_curve"]
    observed = publishable_observed(ctx)  # small cells withheld (NaN: no step drawn there)
    months = any_curve["month"].values
    targets = [str(t) for t in curves["target"].values]
    series = [
        (style.t("any target", "et hvilket som helst mål"), any_curve, observed.sum("target", min_count=1), "black")
    ]
    if len(targets) > 1:
        series += [
            (target_label(ctx, t), curves.sel(target=t), observed.sel(target=t), COLOURS[i % len(COLOURS)])
            for i, t in enumerate(targets)
        ]
    fig, ax = style.subplots(style.width * 0.6)
    handles = []
    for name, values, seen, colour in series:
        lower, upper = style.bounds(values)
        ax.fill_between(months, lower, upper, color=colour, alpha=0.15, lw=0)
        ax.plot(months, median(values), color=colour, lw=2)
        ax.step(months, seen.values, where="post", color=colour, lw=0.9, ls="--")
        handles.append(Line2D([], [], color=colour, lw=2, label=name))
    observed_handle = Line2D([], [], color="#555555", lw=0.9, ls="--", label=style.t("observed", "observert"))
    ax.set_xlabel(style.t("Months since start", "Måneder siden start"))
    ax.set_ylabel(style.t("Cumulative incidence (%)", "Kumulativ insidens (%)"))
    ax.set_xlim(months.min() - 0.5, months.max() + 0.5)
    ax.set_ylim(0, None)
    fig.legend(handles=handles + _band_legend(ctx, [observed_handle]), loc="outside lower center", ncols=3)
    outcome = outcome_of(ctx)
    caption = ctx.text(
        f"Expected share of participants with a {outcome} by the end of each month (any target, and each "
        f"target with the others competing): posterior median (line) and {style.text} (band). Dashed steps: the "
        "observed Aalen-Johansen estimate, which counts each participant for the months they were followed.",
        f"Forventet andel deltakere med {outcome} innen utgangen av hver måned (et hvilket som helst mål, og hvert "
        f"mål med de andre som konkurrerende): posterior median (linje) og {style.text} (bånd). Stiplede trinn: "
        "observert Aalen-Johansen-anslag, som teller hver deltaker for månedene de ble fulgt.",
    )
    return fig, caption + withheld_note(ctx, observed)


def withheld_note(ctx: ReportContext, shown: xr.DataArray) -> str:
    """A sentence when some observed shares were withheld as small cells ("" when none were)."""
    raw = ctx.estimands["observed_incidence_curve"]
    return withheld_months_note(ctx, raw.transpose("month", ...).values, shown.transpose("month", ...).values)


def hazard_by_month(ctx: ReportContext) -> tuple[Figure, str]:
    """Population hazard: share of those still without a target who reach one in each month."""
    style = ctx.style
    hazard = ctx.estimands["hazard_curve_any"]
    months = hazard["month"].values
    lower, upper = style.bounds(hazard)
    fig, ax = style.subplots(style.width * 0.42)
    ax.fill_between(months, lower, upper, color="#1f77b4", alpha=0.25, lw=0, label=style.short)
    ax.plot(months, median(hazard), color="#1f77b4", lw=2, marker="o", ms=3, label=style.t("median", "median"))
    ax.set_xlabel(style.t("Months since start", "Måneder siden start"))
    ax.set_ylabel(style.t("% per month", "% per måned"))
    ax.set_ylim(0, None)
    fig.legend(loc="outside lower center", ncols=2)
    caption = ctx.text(
        "Share of participants still without a target who reach one in the month, averaged over the study's "
        f"participants (posterior median and {style.text}).",
        "Andel av deltakerne som ennå ikke har nådd et mål, som når et i måneden, som gjennomsnitt over studiens "
        f"deltakere (posterior median og {style.text}).",
    )
    return fig, caption


def service_incidence(ctx: ReportContext) -> tuple[Figure, str]:
    """Per-service share with a first transition by the service month; small services' observed shares hidden."""
    estimands, style = ctx.estimands, ctx.style
    rate = estimands["service_incidence_any"]
    n = estimands["service_n"].values
    shares = service_shares(ctx)  # what is drawn and what the caption counts come from the same shares
    raw = shares.values
    month = rate.attrs.get("month", "")
    mid = median(rate)
    order = np.argsort(mid)
    y = np.arange(len(order))
    fig, ax = style.subplots(max(3.0, 0.16 * len(order) + 1.6))
    pointrange(
        ax, rate, y, style, "#1f77b4", order=order, lw=1.6, ms=4,
        label=f"{style.t('expected', 'forventet')}: {style.median_and_interval}",
    )  # fmt: skip
    ax.scatter(
        raw[order],
        y,
        s=8 + 60 * n[order] / n.max(),
        facecolors="none",
        edgecolors="#d62728",
        label=style.t("observed (size: participants)", "observert (størrelse: deltakere)"),
    )
    if month != "" and int(month) in [int(m) for m in estimands["incidence_curve_any"]["month"].values]:
        overall = float(estimands["incidence_curve_any"].sel(month=int(month)).median())
        ax.axvline(overall, color="black", ls="--", lw=0.8, label=style.t("all services", "alle tjenester"))
    services = rate["service"].values[order]
    ax.set_yticks(y, [f"{s} ({size_label(k, ctx.min_cell)})" for s, k in zip(services, n[order], strict=True)])
    ax.set_xlabel(style.t(f"Share by month {month} (%)", f"Andel innen måned {month} (%)"))
    ax.set_ylabel(ctx.label("service", style.t("Service", "Tjeneste")))
    ax.set_xlim(-2, 102)
    fig.legend(loc="outside lower center", ncols=2)
    caption = ctx.text(
        f"Expected share of each service's participants with a {outcome_of(ctx)} by month {month} (dots, "
        f"{style.text}; partially pooled) beside the observed Kaplan-Meier share (open circles, sized by "
        "participants).",
        f"Forventet andel av hver tjenestes deltakere med {outcome_of(ctx)} innen måned {month} (prikker, "
        f"{style.text}; delvis sammenslått) ved siden av observert Kaplan-Meier-andel (åpne sirkler, størrelse etter "
        "antall deltakere).",
    )
    if shares.hidden:
        caption += " " + service_withheld_note(ctx, shares)
    return fig, caption


def service_title(ctx: ReportContext) -> str:
    """Title of the per-service figure, naming its month in the report's language."""
    month = ctx.estimands["service_incidence_any"].attrs.get("month", "") if ctx.has("service_incidence_any") else ""
    if month == "":
        return ctx.text("Services: share with a first transition", "Tjenester: andel med første overgang")
    return ctx.text(
        f"Services: share with a first transition by month {month}",
        f"Tjenester: andel med første overgang innen måned {month}",
    )


def fidelity_over_time(ctx: ReportContext) -> tuple[Figure, str]:
    """Cumulative incidence with every service at two fidelity scores, and their difference, by month."""
    estimands, style = ctx.estimands, ctx.style
    at, difference = estimands["incidence_at_fidelity_any"], estimands["fidelity_contrast_curve_any"]
    attrs = estimands["fidelity_incidence_contrast_any"].attrs
    scale = str(attrs.get("scale", style.t("fidelity", "trofasthet")))
    months = at["month"].values
    fig, (top, bottom) = style.subplots(style.width * 0.75, 2, 1, sharex=True, height_ratios=[3, 2])
    handles = []
    for colour, score in zip(("#d62728", "#1f77b4"), at["fidelity_score"].values, strict=True):
        values = at.sel(fidelity_score=score)
        lower, upper = style.bounds(values)
        top.fill_between(months, lower, upper, color=colour, alpha=0.18, lw=0)
        top.plot(months, median(values), color=colour, lw=2)
        handles.append(Line2D([], [], color=colour, lw=2, label=f"{scale} = {float(score):g}"))
    top.set_ylabel(style.t("Cumulative incidence (%)", "Kumulativ insidens (%)"))
    top.set_ylim(0, None)
    lower, upper = style.bounds(difference)
    bottom.fill_between(months, lower, upper, color="#555555", alpha=0.25, lw=0)
    bottom.plot(months, median(difference), color="black", lw=2)
    bottom.axhline(0.0, color="black", lw=0.8, ls="--")
    bottom.set_ylabel(style.t("Difference (pp)", "Forskjell (prosentpoeng)"))
    bottom.set_xlabel(style.t("Months since start", "Måneder siden start"))
    fig.legend(handles=handles + _band_legend(ctx, []), loc="outside lower center", ncols=4)
    low, high = float(attrs.get("low", 0)), float(attrs.get("high", 0))
    caption = ctx.text(
        f"Top: expected share with a {outcome_of(ctx)} by month with every service at {scale} = {low:g} and "
        f"= {high:g}, everything else as observed. Bottom: their difference in percentage points. Lines: posterior "
        f"medians; bands: {style.text}. An association across services, not a randomised comparison.",
        f"Øverst: forventet andel med {outcome_of(ctx)} etter måned med alle tjenester på {scale} = {low:g} og "
        f"= {high:g}, alt annet som observert. Nederst: forskjellen i prosentpoeng. Linjer: posterior medianer; "
        f"bånd: {style.text}. En sammenheng mellom tjenester, ikke en randomisert sammenligning.",
    )
    return fig, caption


__all__ = [
    "fidelity_over_time",
    "hazard_by_month",
    "incidence_curves",
    "outcome_of",
    "publishable_service_observed",
    "service_incidence",
    "service_shares",
    "service_title",
    "service_withheld_note",
    "target_label",
]
