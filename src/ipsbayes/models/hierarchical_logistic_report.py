"""How the hierarchical logistic family presents itself: answer, sections and figures.

Registered by :class:`ipsbayes.models.hierarchical_logistic.HierarchicalLogistic`; the report
layer renders what this module hands it. Every comparative word (higher, lower, pulled
towards zero, narrower) is chosen from the posterior; see :mod:`ipsbayes.present.phrases`.
"""

from __future__ import annotations

import re

import numpy as np
from matplotlib.figure import Figure

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section
from ipsbayes.present.answers import (
    analysis_name,
    prior_dependence_line,
    probability_sentence,
    sensitivity_effects,
    vocabulary_word,
)
from ipsbayes.present.common import (
    effects_forest,
    effects_section,
    service_caterpillar,
    service_rate_shares,
    services_section,
    withheld_shares_note,
)
from ipsbayes.present.effect_answers import effect_answers
from ipsbayes.present.phrases import Effect, amount, effect_decimals, estimate
from ipsbayes.present.style import median
from ipsbayes.present.text import escape_md, format_number
from ipsbayes.scales import BANDS_NB

BAND_COLOURS = ["#f4e4e4", "#fbf3dc", "#e3f1e3", "#d2e9f7"]


_CONTRAST_LABEL = re.compile(
    r"at (?P<scale>.+?) = (?P<high>[-\d.]+) \((?P<band_high>[^)]*)\) minus at (?P<low>[-\d.]+) \((?P<band_low>[^)]*)\)"
)


def _levels(ctx: ReportContext) -> tuple[str, str, str]:
    """Scale name and the two contrast scores with their bands, e.g. ("IPS-25", "100 (good)", "74 (fair)").

    Read from the estimand's attrs; runs written before those attrs existed are read from its label.
    """
    attrs = dict(ctx.estimands["fidelity_contrast"].attrs)
    if "high" not in attrs:
        match = _CONTRAST_LABEL.search(str(attrs.get("label", "")))
        attrs |= match.groupdict() if match else {}
    scale = str(attrs.get("scale", ctx.text("fidelity", "trofasthet")))

    def level(value: object, band: object) -> str:
        number = f"{float(value):g}" if value is not None else "?"
        if not band:
            return number
        name = str(band)
        shown = ctx.label(name) if name in ctx.labels else ctx.text(name, BANDS_NB.get(name, name))
        return f"{number} ({shown})"

    return scale, level(attrs.get("high"), attrs.get("band_high")), level(attrs.get("low"), attrs.get("band_low"))


def fidelity_sentence(ctx: ReportContext, contrast: Effect) -> str:
    """Direction and size of the fidelity contrast, words chosen by the posterior."""
    scale, high, low = _levels(ctx)
    size_en, size_nb = estimate(contrast, ctx.style, "en"), estimate(contrast, ctx.style, "nb")
    kind = contrast.direction(ctx.style.prob)
    if kind == "unclear":
        return ctx.text(
            f"The data cannot tell whether services at {scale} {high} have a higher or lower expected rate than "
            f"services at {low}: the estimated difference is {size_en}.",
            f"Dataene kan ikke avgjøre om tjenester med {scale} {high} har høyere eller lavere forventet andel enn "
            f"tjenester med {low}: den anslåtte forskjellen er {size_nb}.",
        )
    higher = kind in ("up", "probably_up")
    hedge = kind in ("probably_up", "probably_down")
    word_en, word_nb = ("higher", "høyere") if higher else ("lower", "lavere")
    diff_en = amount(abs(contrast.median), contrast.unit, "en")
    diff_nb = amount(abs(contrast.median), contrast.unit, "nb")
    if hedge:
        return ctx.text(
            f"Services at {scale} {high} probably have a {word_en} expected rate than services at {low}: by "
            f"{diff_en} ({size_en}), an interval that still includes no difference.",
            f"Tjenester med {scale} {high} har trolig {word_nb} forventet andel enn tjenester med {low}: "
            f"{diff_nb} ({size_nb}), et intervall som fortsatt omfatter ingen forskjell.",
        )
    return ctx.text(
        f"Services at {scale} {high} are expected to have a rate {diff_en} {word_en} than services at {low} "
        f"(difference {size_en}).",
        f"Tjenester med {scale} {high} forventes å ha en andel som er {diff_nb} {word_nb} enn tjenester med {low} "
        f"(forskjell {size_nb}).",
    )


def _fidelity_probability(ctx: ReportContext, contrast: Effect) -> str:
    return probability_sentence(
        ctx,
        contrast,
        ctx.thresholds.get("fidelity_contrast"),
        ("higher fidelity goes with a {verb} rate", "høyere trofasthet henger sammen med {verb} andel"),
        ("higher|rise", "høyere|økning"),  # two nouns: a rise and a fall beyond the threshold are not one thing
        ("lower|fall", "lavere|nedgang"),
    )


def answer(ctx: ReportContext) -> list[str]:
    """The outcome rate and how services differ; fidelity and outcomes; the largest characteristic; robustness."""
    lines: list[str] = []
    outcome = vocabulary_word(ctx, "outcome", "the outcome", "utfallet")
    if ctx.has("outcome_rate"):
        rate = ctx.effect("outcome_rate")
        text = ctx.text(
            f"An expected {estimate(rate, ctx.style, 'en')} of participants reach {outcome}.",
            f"Anslagsvis {estimate(rate, ctx.style, 'nb')} av deltakerne oppnår {outcome}.",
        )
        if ctx.has("service_rate") and ctx.has("median_odds_ratio"):
            rates = median(ctx.estimands["service_rate"])
            mor = ctx.effect("median_odds_ratio")
            text += " " + ctx.text(
                f"After partial pooling, services' expected rates range from {amount(rates.min(), '%', 'en')} to "
                f"{amount(rates.max(), '%', 'en')}; the median odds ratio between two random services is "
                f"{estimate(mor, ctx.style, 'en')}.",
                "Etter delvis sammenslåing varierer tjenestenes forventede andeler fra "
                f"{amount(rates.min(), '%', 'nb')} til {amount(rates.max(), '%', 'nb')}; median oddsratio mellom to "
                f"tilfeldige tjenester er {estimate(mor, ctx.style, 'nb')}.",
            )
        lines.append(text)
    if ctx.has("fidelity_contrast"):
        contrast = ctx.effect("fidelity_contrast")
        lines.append(
            fidelity_sentence(ctx, contrast)
            + " "
            + _fidelity_probability(ctx, contrast)
            + " "
            + ctx.text(
                "This is an association across services, not a randomised comparison.",
                "Dette er en sammenheng mellom tjenester, ikke en randomisert sammenligning.",
            )
        )
    lines += effect_answers(ctx, ("characteristics", "kjennetegnene"), ("expected rate", "forventet andel"))
    robust = prior_dependence_line(
        ctx,
        "fidelity_contrast",
        ("the fidelity difference", "trofasthetsforskjellen"),
        related=("fidelity_slope", "fidelity_odds_ratio"),  # the same effect on the log-odds and odds scales
    )
    if robust:
        lines.append(robust)
    return lines


def fidelity_section(ctx: ReportContext) -> str:
    """What fidelity means for participants' outcomes, words from the numbers."""
    contrast = ctx.effect("fidelity_contrast")
    odds = ctx.effect("fidelity_odds_ratio")
    attrs = ctx.estimands["fidelity_contrast"].attrs
    scale, per = escape_md(attrs.get("scale", "")), float(attrs.get("per", 10.0))
    per_text = ctx.text(f"per {per:g} {scale} points", f"per {per:g} {scale}-poeng")
    lines = [
        f"**{escape_md(fidelity_sentence(ctx, contrast))}**",
        escape_md(_fidelity_probability(ctx, contrast))
        + " "
        + ctx.text(
            f"As an odds ratio {per_text}: {estimate(odds, ctx.style, 'en')}.",
            f"Som oddsratio {per_text}: {estimate(odds, ctx.style, 'nb')}.",
        ),
    ]
    if ctx.has("review_error_sd"):
        measured = ctx.text(
            "Here true fidelity is latent and the reviews measure it with error, so that uncertainty is in the "
            "interval (see *Fidelity measured with error*).",
            "Her er sann trofasthet latent og vurderingene måler den med feil, så den usikkerheten ligger i "
            "intervallet (se *Modelltrofasthet målt med feil*).",
        )
    else:
        measured = ctx.text(
            "The score is used as measured. If it is measured with error, a slope estimated this way is biased "
            "towards zero and its interval is too narrow (regression dilution); `model.fidelity.measurement_error "
            "= true` with review data corrects both.",
            "Skåren brukes slik den er målt. Er den målt med feil, blir et stigningstall estimert slik skjevt mot "
            "null og intervallet for smalt (regresjonsfortynning); `model.fidelity.measurement_error = true` med "
            "vurderingsdata retter begge deler.",
        )
    lines.append(
        ctx.text(
            "This is an association across services, not a randomised comparison of fidelity levels: services with "
            f"higher fidelity may differ in other ways. {measured}",
            "Dette er en sammenheng mellom tjenester, ikke en randomisert sammenligning av trofasthetsnivåer: "
            f"tjenester med høyere trofasthet kan skille seg ut på andre måter. {measured}",
        )
    )
    return "\n\n".join(lines)


def measurement_section(ctx: ReportContext) -> str:
    """Fidelity measured with error: the latent-fidelity slope beside the plug-in and aggregated slopes."""
    error, reliability = ctx.effect("review_error_sd"), ctx.effect("fidelity_reliability")
    spread = ctx.effect("fidelity_sd")
    slope = ctx.effect("fidelity_slope")
    slope_unit = escape_md(ctx.estimands["fidelity_slope"].attrs.get("unit", ""))
    lines = [
        ctx.text(
            f"Reviews scatter around each service's true score with an SD of {estimate(error, ctx.style, 'en')}, "
            f"against a spread of true scores across services of {amount(spread.median, 'points', 'en')}, so a "
            f"single review's reliability is {estimate(reliability, ctx.style, 'en')}.",
            f"Vurderingene spres rundt hver tjenestes sanne skåre med en SD på {estimate(error, ctx.style, 'nb')}, "
            f"mot en spredning i sanne skårer mellom tjenester på {amount(spread.median, 'points', 'nb')}, så "
            f"reliabiliteten til én vurdering er {estimate(reliability, ctx.style, 'nb')}.",
        ),
        ctx.text(
            f"With true fidelity latent, the slope is {estimate(slope, ctx.style, 'en')} ({slope_unit}).",
            f"Med sann trofasthet som latent variabel er stigningstallet {estimate(slope, ctx.style, 'nb')} "
            f"({slope_unit}).",
        ),
    ]
    effects = sensitivity_effects(ctx, "fidelity_slope")
    if len(effects) > 1:
        rows = [
            ctx.text(
                f"| Analysis | Fidelity slope ({slope_unit}) | Interval | P(slope > 0) |",
                f"| Analyse | Stigningstall ({slope_unit}) | Intervall | P(stigningstall > 0) |",
            ),
            "| --- | ---: | --- | ---: |",
        ]
        for name, effect in effects.items():
            # the median and both bounds with one rounding (-0.33 and -0.429 to -0.209 read unevenly)
            low, mid, high = (
                format_number(v, effect.unit, ctx.language, effect_decimals(effect))
                for v in (effect.lower, effect.median, effect.upper)
            )
            rows.append(
                f"| {escape_md(analysis_name(name, ctx.labels, ctx.language))} | {mid} | "
                f"{low} {ctx.text('to', 'til')} {high} | {ctx.probability(effect.p_up)} |"
            )
        lines.append("\n".join(rows))
        lines.append(_compare_slopes(ctx, effects))
    return "\n\n".join(lines)


def _compare_slopes(ctx: ReportContext, effects: dict[str, Effect]) -> str:
    """The plug-in and aggregated slopes against the latent one: towards or away from zero, narrower or wider."""
    names = list(effects)
    main = effects[names[0]]
    parts = [
        ctx.text(
            "**How they differ.** The plug-in analysis treats each service's mean review score as exact; scores "
            "measured with error spread services out along the fidelity axis, which in theory pulls a plug-in slope "
            "towards zero (regression dilution) and makes its interval too narrow. In these data:",
            "**Hvordan de skiller seg.** Analysen med innsatt skåre behandler hver tjenestes gjennomsnittlige "
            "vurdering som eksakt; skårer med målefeil sprer tjenestene utover trofasthetsaksen, noe som i teorien "
            "trekker stigningstallet mot null (regresjonsfortynning) og gjør intervallet for smalt. I disse dataene:",
        )
    ]
    for name in names[1:]:
        parts.append(_slope_difference(ctx, analysis_name(name, ctx.labels, ctx.language), effects[name], main))
    if any("aggregat" in name for name in names):
        parts.append(
            ctx.text(
                "An aggregated analysis uses only service outcome counts, as in the quality reports; without "
                "participant characteristics it estimates the service-level association rather than the slope for "
                "similar participants.",
                "En aggregert analyse bruker bare tjenestenes utfallstall, som i kvalitetsrapportene; uten "
                "deltakerkjennetegn anslår den sammenhengen på tjenestenivå snarere enn stigningstallet for like "
                "deltakere.",
            )
        )
    return " ".join(parts)


def _slope_difference(ctx: ReportContext, name: str, other: Effect, main: Effect) -> str:
    """One clause: how another analysis's slope compares with the main (latent) one, all words computed."""
    label = escape_md(name)
    pair = f"{ctx.number(other.median)} {ctx.text('against', 'mot')} {ctx.number(main.median)}"
    if other.median != 0 and main.median != 0 and np.sign(other.median) != np.sign(main.median):
        en, nb = f"the slope has the opposite sign ({pair})", f"har stigningstallet motsatt fortegn ({pair})"
    else:
        ratio = abs(other.median) / abs(main.median) if main.median else float("nan")
        if not np.isfinite(ratio) or abs(ratio - 1) <= 0.05:
            en, nb = f"the slope is about the same ({pair})", f"er stigningstallet omtrent det samme ({pair})"
        elif ratio < 1:
            share = f"{100 * (1 - ratio):.0f}"
            en = f"the slope is {share}% closer to zero ({pair})"
            nb = f"er stigningstallet {share} % nærmere null ({pair})"
        else:
            share = f"{100 * (ratio - 1):.0f}"
            en = f"the slope is {share}% further from zero ({pair})"
            nb = f"er stigningstallet {share} % lenger fra null ({pair})"
    main_width, width = main.upper - main.lower, other.upper - other.lower
    change = width / main_width if main_width > 0 else float("nan")
    if np.isfinite(change) and abs(change - 1) > 0.05:
        share = f"{abs(100 * (1 - change)):.0f}"
        en += f" and its interval is {share}% {'narrower' if change < 1 else 'wider'}"
        nb += f", og intervallet er {share} % {'smalere' if change < 1 else 'bredere'}"
    return ctx.text(f"Under {label}, {en}.", f"Med {label} {nb}.")  # each clause is a sentence of its own


def fidelity_curve(ctx: ReportContext) -> tuple[Figure, str]:
    """Expected outcome rate across the fidelity scale with a credible band and scale bands.

    Services' observed rates are drawn only where :func:`~ipsbayes.present.common.service_rate_shares`
    publishes them (no cell under ``report.min_cell``: participants, with the outcome, without it).
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
    shares = service_rate_shares(ctx) if "service_raw_rate" in estimands and "service_n" in estimands else None
    if "service_fidelity" in estimands and shares is not None:
        n = estimands["service_n"].values
        ax.scatter(
            estimands["service_fidelity"].values,
            shares.values,
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
    if "service_fidelity" in estimands and shares is not None and shares.hidden:
        caption += " " + withheld_shares_note(ctx, shares)
    return fig, caption


def _bands(attrs: dict) -> list[tuple[str, float]]:
    import ast

    try:
        bands = ast.literal_eval(attrs.get("bands", "{}"))
    except (ValueError, SyntaxError):
        return []
    return sorted(bands.items(), key=lambda kv: kv[1])


PRESENTATION = Presentation(
    answer=answer,
    sections=(
        Section(
            "fidelity",
            lambda ctx: ctx.text("Fidelity and outcomes", "Modelltrofasthet og resultater"),
            fidelity_section,
            lambda ctx: ctx.has("fidelity_contrast"),
        ),
        Section(
            "measurement",
            lambda ctx: ctx.text("Fidelity measured with error", "Modelltrofasthet målt med feil"),
            measurement_section,
            lambda ctx: ctx.has("review_error_sd"),
        ),
        Section(
            "effects",
            lambda ctx: ctx.text("Participant and service characteristics", "Kjennetegn ved deltakere og tjenester"),
            effects_section,
            lambda ctx: ctx.has("ame"),
        ),
        Section(
            "services",
            lambda ctx: ctx.text("Differences between services", "Forskjeller mellom tjenester"),
            services_section,
            lambda ctx: ctx.has("service_rate") and ctx.has("service_raw_rate"),
        ),
    ),
    figures=(
        FigureSpec(
            "service_caterpillar",
            lambda ctx: ctx.text(
                "Services: observed and partially pooled outcome rates",
                "Tjenester: observerte og delvis sammenslåtte andeler",
            ),
            service_caterpillar,
            lambda ctx: ctx.has("service_rate") and ctx.has("service_raw_rate"),
        ),
        FigureSpec(
            "fidelity_curve",
            lambda ctx: ctx.text("Outcome rate across the fidelity scale", "Andel med utfall langs trofasthetsskalaen"),
            fidelity_curve,
            lambda ctx: ctx.has("fidelity_curve"),
        ),
        FigureSpec(
            "effects_forest",
            lambda ctx: ctx.text("Average marginal effects", "Gjennomsnittlige marginale effekter"),
            effects_forest,
            lambda ctx: ctx.has("ame"),
        ),
    ),
)

__all__ = ["PRESENTATION", "answer", "fidelity_sentence"]
