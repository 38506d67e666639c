"""How the CACE family presents itself: the effect on compliers beside ITT and per-protocol, and the strata."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.style import Style, pointrange
from ipsbayes.present.text import format_number

STRATA = (
    ("never_taker_rate", "Never-takers", "#999999"),
    ("complier_rate_usual", "Compliers, usual follow-up", "#ff7f0e"),
    ("complier_rate_ips", "Compliers, IPS", "#1f77b4"),
    ("control_rate", "Everyone assigned usual follow-up", "#d62728"),
    ("treatment_rate", "Everyone assigned IPS", "#2ca02c"),
)


def _row(summary: pd.DataFrame, name: str) -> dict:
    return summary[summary["estimand"] == name].iloc[0].to_dict()


def _value(row: dict, style: Style) -> str:
    unit = row["unit"]
    shown = {"pp": " percentage points", "%": "%"}.get(unit, f" {unit}")
    return (
        f"{format_number(row['median'], unit)}{shown} ({style.prob:.0%} {style.kind.upper()} "
        f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)})"
    )


def cace_section(ctx: ReportContext) -> str:
    """The effect of IPS on compliers, beside ITT and the naive per-protocol contrast, and why they differ."""
    estimands, summary, style = ctx.estimands, ctx.summary, ctx.style
    cace, itt, pp = _row(summary, "cace"), _row(summary, "itt"), _row(summary, "per_protocol")
    share, bias = _row(summary, "complier_share"), _row(summary, "per_protocol_bias")
    usual, never = _row(summary, "complier_rate_usual"), _row(summary, "never_taker_rate")
    unit = cace["unit"]
    lines = [
        f"**Effect of receiving IPS for those who would take it up (CACE): {_value(cace, style)}.** "
        f"The probability that IPS helps compliers (CACE > 0) is **{cace['p_above_null']:.2f}**.",
    ]
    if cace.get("threshold") is not None and not np.isnan(cace["p_above_threshold"]):
        lines.append(
            f"The probability that the effect exceeds {cace['threshold']:g} {unit} is "
            f"**{cace['p_above_threshold']:.2f}**."
        )
    ratio = _row(summary, "cace_ratio")
    lines.append(f"As a ratio (compliers with IPS / compliers without): {_value(ratio, style)}.")
    lines.append(
        f"An estimated {format_number(share['median'], '%')}% of participants are compliers "
        f"({format_number(share['lower'], '%')}-{format_number(share['upper'], '%')}%)."
    )
    observed = {
        name: float(estimands[name])
        for name in ("observed_itt", "observed_per_protocol", "observed_wald_cace")
        if name in estimands
    }
    table = [
        "| Contrast | What it compares | Posterior median (interval) | Observed (raw data) |",
        "| --- | --- | --- | --- |",
        f"| CACE | compliers with IPS vs compliers without | {_value(cace, style)} | "
        f"{format_number(observed.get('observed_wald_cace', np.nan), unit)} (Wald/IV) |",
        f"| ITT | everyone offered IPS vs everyone not | {_value(itt, style)} | "
        f"{format_number(observed.get('observed_itt', np.nan), unit)} |",
        f"| Per-protocol (naive) | received IPS vs all controls | {_value(pp, style)} | "
        f"{format_number(observed.get('observed_per_protocol', np.nan), unit)} |",
    ]
    lines.append("\n".join(table))
    lines.append(
        "**Why per-protocol differs from the CACE.** Those who received IPS are compliers, but the control arm mixes "
        "compliers and never-takers, because randomisation hid who would have taken IPS up. Never-takers (here often "
        f"participants with little Norwegian) are expected at {_value(never, style)}, against "
        f"{_value(usual, style)} for compliers without IPS. Comparing IPS receivers with all controls therefore "
        f"mixes the effect of IPS with who takes it up: the per-protocol contrast exceeds the CACE by "
        f"{_value(bias, style)}. **The ITT** is diluted instead: it averages the effect over never-takers, who get "
        "no IPS, so it is roughly the CACE times the complier share."
    )
    return "\n\n".join(lines)


def strata_labels(ctx: ReportContext) -> list[str]:
    """Row labels of the strata figure in the report's language, with the study's words for the arms."""
    ips, usual = ctx.label("treatment", "IPS"), ctx.label("control", ctx.text("usual follow-up", "vanlig oppfølging"))
    return [
        ctx.text("Never-takers", "Aldri-takere"),
        ctx.text(f"Compliers, {usual}", f"Etterlevere, {usual}"),
        ctx.text(f"Compliers, {ips}", f"Etterlevere, {ips}"),
        ctx.text(f"Everyone assigned {usual}", f"Alle tildelt {usual}"),
        ctx.text(f"Everyone assigned {ips}", f"Alle tildelt {ips}"),
    ]


def strata_rates(ctx: ReportContext) -> tuple[Figure, str]:
    """Expected outcome by principal stratum and arm: why per-protocol differs from the CACE."""
    estimands, style = ctx.estimands, ctx.style
    fig, ax = style.subplots(3.0)
    y = np.arange(len(STRATA))[::-1]
    for yi, (name, _label, colour) in zip(y, STRATA, strict=True):
        pointrange(ax, estimands[name], np.array([yi]), style, colour, lw=2.5)
    ax.plot([], [], "o-", color="0.3", lw=2.5, label=style.median_and_interval)
    for name, label, marker in (
        ("observed_rate_control_arm", style.t("observed: control arm", "observert: kontrollarm"), "x"),
        ("observed_rate_received", style.t("observed: received IPS", "observert: fikk IPS"), "+"),
    ):
        if name in estimands:
            target = 1 if "control" in name else 2
            ax.plot(float(estimands[name]), y[target], marker, color="black", ms=9, ls="none", label=label)
    ax.set_yticks(y, strata_labels(ctx))
    unit = estimands["complier_rate_ips"].attrs.get("unit", "")
    shown = {"%": "%", "months": ctx.text("months", "måneder")}.get(unit, unit)
    ax.set_xlabel(style.t(f"Expected outcome ({shown})", f"Forventet utfall ({shown})"))
    fig.legend(loc="outside lower center", ncols=3)
    caption = ctx.text(
        f"Posterior medians and {style.text}. The CACE compares the two complier rows. The per-protocol "
        "contrast compares compliers under IPS with everyone under usual follow-up, a group that includes "
        "never-takers, so it mixes the effect with who takes IPS up. Crosses: the observed rates those "
        "contrasts use.",
        f"Posterior medianer og {style.text}. CACE sammenligner de to etterlever-radene. Per protokoll "
        "sammenligner etterlevere med IPS med alle i vanlig oppfølging, en gruppe som også rommer aldri-takere, "
        "og blander derfor effekten med hvem som tar imot IPS. Kryss: de observerte andelene disse bruker.",
    )
    return fig, caption


PRESENTATION = Presentation(
    sections=(
        Section(
            "cace",
            fixed("Effect of IPS: CACE, ITT and per-protocol", "Effekt av IPS: CACE, ITT og per protokoll"),
            cace_section,
            lambda ctx: ctx.has("cace"),
        ),
    ),
    figures=(
        FigureSpec(
            "strata_rates",
            fixed("Outcome by principal stratum and arm", "Utfall etter stratum og arm"),
            strata_rates,
            lambda ctx: ctx.has("complier_rate_ips"),
        ),
    ),
)
