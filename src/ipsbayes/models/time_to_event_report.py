"""How the time-to-event family presents itself: answer, sections and figures.

Registered by :class:`ipsbayes.models.time_to_event.TimeToEvent`; the report layer renders
what this module hands it. The research question is how soon participants reach a target
(a first job, apprenticeship or education): the answer gives the cumulative incidence by the
reporting months with its interval, the median month, how much the priors matter for it,
and what fidelity goes with. Every comparative word is chosen from the posterior
(:mod:`ipsbayes.present.phrases`); observed shares resting on a small cell (fewer than
``report.min_cell`` participants, first transitions or participants without one) are never published.
"""

from __future__ import annotations

import numpy as np

from ipsbayes.compared import element_key
from ipsbayes.models.time_to_event_figures import (
    fidelity_over_time,
    hazard_by_month,
    incidence_curves,
    outcome_of,
    publishable_observed,
    service_incidence,
    service_shares,
    service_title,
    service_withheld_note,
    target_label,
)
from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section
from ipsbayes.present.answers import probability_sentence, robustness_line
from ipsbayes.present.common import withheld_months_note
from ipsbayes.present.phrases import Effect, amount, estimate, interval_text
from ipsbayes.present.prior_weight import flagged_prior_sensitivity, prior_weight_words
from ipsbayes.present.style import median
from ipsbayes.present.text import equals_probability, escape_md, percent

#: months the answer reports when the config asks for them (else every reporting month)
ANSWER_MONTHS = (12, 24)


def month_of(horizon: object) -> int:
    """``"12 months"`` -> 12."""
    return int(str(horizon).split()[0])


def answer_horizons(ctx: ReportContext) -> list[str]:
    """The reporting months the answer states: 12 and 24 where the config has them, else all of them."""
    horizons = [str(h) for h in ctx.estimands["incidence_any"]["horizon"].values]
    chosen = [h for h in horizons if month_of(h) in ANSWER_MONTHS]
    return chosen or horizons


def prior_effect(ctx: ReportContext, name: str, **where: object) -> Effect | None:
    """What the priors alone imply for estimand ``name`` (the ``prior_estimands`` group), or None."""
    if "prior_estimands" not in ctx.datatree.children or name not in ctx.datatree["prior_estimands"].data_vars:
        return None
    values = ctx.datatree["prior_estimands"][name]
    values = values.sel(where) if where else values
    return Effect.from_draws(values.values, ctx.style, values.attrs.get("unit", ""), values.attrs.get("null", 0.0))


def observed_by(ctx: ReportContext, month: int) -> float | None:
    """Observed (Aalen-Johansen) share with a first transition by ``month``, all targets together.

    None when it cannot be published: the month is not observed, or the share rests on fewer than
    ``report.min_cell`` participants (the cohort, or the first transitions so far).
    """
    observed = publishable_observed(ctx).sum("target", min_count=1)
    months = [int(m) for m in observed["month"].values]
    if month not in months or not np.isfinite(float(observed.sel(month=month))):
        return None
    return float(observed.sel(month=month))


def incidence_sentence(ctx: ReportContext) -> str:
    """'By month 12, an expected 41.3% (90% ETI ...) of participants have had a first job ...; by month 24, ...'."""
    outcome = outcome_of(ctx)
    horizons = answer_horizons(ctx)
    effects = [(month_of(h), ctx.effect("incidence_any", horizon=h)) for h in horizons]
    (month, first), rest = effects[0], effects[1:]
    rest_en = "".join(f"; by month {m}, an expected {estimate(e, ctx.style, 'en')}" for m, e in rest)
    rest_nb = "".join(f"; innen måned {m} anslagsvis {estimate(e, ctx.style, 'nb')}" for m, e in rest)
    return ctx.text(
        f"By month {month}, an expected {estimate(first, ctx.style, 'en')} of participants have had a "
        f"{outcome}{rest_en}.",
        f"Innen måned {month} har anslagsvis {estimate(first, ctx.style, 'nb')} av deltakerne hatt {outcome}{rest_nb}.",
    )


def median_sentence(ctx: ReportContext) -> str:
    """Median month of the first transition among those who have one by the last month."""
    effect = ctx.effect("median_time_any")
    last = int(ctx.estimands["incidence_curve_any"]["month"].values[-1])
    value = ctx.number(effect.median, "months")
    interval = interval_text(effect, ctx.style, ctx.language)
    return ctx.text(
        f"Among those who have one by month {last}, half have it by month {value} ({interval}; months since start).",
        f"Blant dem som har en overgang innen måned {last}, har halvparten den innen måned {value} ({interval}; "
        "måneder siden start).",
    )


def prior_sentence(ctx: ReportContext) -> str | None:
    """How much the priors matter for the share by the last answered month, computed from the interval widths.

    The priors alone imply an interval for the share (the ``prior_estimands`` group); the posterior's
    interval is compared with it, and the posterior median with the observed Aalen-Johansen share
    (the data alone, no model).
    """
    horizon = answer_horizons(ctx)[-1]
    month = month_of(horizon)
    post = ctx.effect("incidence_any", horizon=horizon)
    prior = prior_effect(ctx, "incidence_any", horizon=horizon)
    seen = observed_by(ctx, month)
    observed = (
        ctx.text(
            f" The observed share (Aalen-Johansen, the data without the model) is {amount(seen, '%', 'en')}, "
            f"{amount(abs(post.median - seen), 'pp', 'en')} {'below' if seen < post.median else 'above'} the "
            "model's median.",
            f" Den observerte andelen (Aalen-Johansen, dataene uten modellen) er {amount(seen, '%', 'nb')}, "
            f"{amount(abs(post.median - seen), 'pp', 'nb')} {'under' if seen < post.median else 'over'} modellens "
            "median.",
        )
        if seen is not None
        else ""
    )
    if prior is None:
        return (
            ctx.text(
                "How much the priors matter was not computed for this run (no prior draws).",
                "Hvor mye priorene betyr, er ikke beregnet for denne kjøringen (ingen trekk fra priorene).",
            )
            + observed
        )
    weight_en, weight_nb = prior_weight(ctx, post, prior, "%", element_key("incidence_any", {"horizon": horizon}))
    return (
        ctx.text(
            f"The priors alone allow a share by month {month} anywhere from {weight_en}",
            f"Priorene alene tillater en andel innen måned {month} fra {weight_nb}",
        )
        + observed
    )


def prior_weight(ctx: ReportContext, post: Effect, prior: Effect, unit: str, compared: str = "") -> tuple[str, str]:
    """``"<prior interval> (<kind>); the posterior interval is N% as wide, so <verdict>."`` in English and Norwegian.

    The verdict and the data's share of the information follow the ratio of the interval widths, read
    as every report reads it (:func:`ipsbayes.present.prior_weight.prior_weight_words`); where
    power-scaling flags ``compared`` (the estimand element's compared name, ``incidence_any[12]``) as
    sensitive to the priors, the verdict says the priors still move it, whatever the widths.
    """
    prior_width, width = prior.upper - prior.lower, post.upper - post.lower
    ratio = width / prior_width if prior_width > 0 else float("nan")
    share_en, share_nb = f"{100 * ratio:.0f}%", f"{100 * ratio:.0f} %"
    kind = f"{percent(ctx.style.prob, ctx.language)} {ctx.style.kind.upper()}"
    span_en = f"{amount(prior.lower, unit, 'en')} to {amount(prior.upper, unit, 'en')}"
    span_nb = f"{amount(prior.lower, unit, 'nb')} til {amount(prior.upper, unit, 'nb')}"
    flagged = flagged_prior_sensitivity(ctx, compared) if compared else None
    verdict_en, verdict_nb = prior_weight_words(ratio, flagged)  # the reading every report gives a ratio of widths
    return (
        f"{span_en} ({kind}); the posterior interval is {share_en} as wide, {verdict_en}.",
        f"{span_nb} ({kind}); posteriorintervallet er {share_nb} så bredt, {verdict_nb}.",
    )


def fidelity_prior_sentence(ctx: ReportContext, horizon: str) -> str:
    """How much the priors matter for the fidelity contrast by ``horizon`` (as :func:`prior_sentence` for the share)."""
    name = "fidelity_incidence_contrast_any"
    prior = prior_effect(ctx, name, horizon=horizon)
    if prior is None:
        return ""
    post = ctx.effect(name, horizon=horizon)
    weight_en, weight_nb = prior_weight(ctx, post, prior, "pp", element_key(name, {"horizon": horizon}))
    month = month_of(horizon)
    return ctx.text(
        f"For this difference by month {month} the priors alone allow {weight_en}",
        f"For denne forskjellen innen måned {month} tillater priorene alene {weight_nb}",
    )


def _withheld(ctx: ReportContext) -> str:
    """Months whose observed shares were withheld as small cells, counted in words ("1 måned", "2 måneder")."""
    raw, shown = ctx.estimands["observed_incidence_curve"], publishable_observed(ctx)
    return withheld_months_note(ctx, raw.transpose("month", ...).values, shown.transpose("month", ...).values)


def fidelity_sentence(ctx: ReportContext, horizon: str) -> str:
    """Direction and size of the fidelity contrast by ``horizon``, words chosen by the posterior."""
    attrs = ctx.estimands["fidelity_incidence_contrast_any"].attrs
    scale, low, high = str(attrs.get("scale", "")), float(attrs.get("low", 0)), float(attrs.get("high", 0))
    effect = ctx.effect("fidelity_incidence_contrast_any", horizon=horizon)
    month, outcome = month_of(horizon), outcome_of(ctx)
    kind = effect.direction(ctx.style.prob)
    size_en, size_nb = estimate(effect, ctx.style, "en"), estimate(effect, ctx.style, "nb")
    if kind == "unclear":
        return ctx.text(
            f"The data cannot tell whether the share with a {outcome} by month {month} is higher or lower with every "
            f"service at {scale} {high:g} than at {low:g}: the difference is {size_en}.",
            f"Dataene kan ikke avgjøre om andelen med {outcome} innen måned {month} er høyere eller lavere når alle "
            f"tjenester har {scale} {high:g} enn {low:g}: forskjellen er {size_nb}.",
        )
    up = kind in ("up", "probably_up")
    hedge_en = "probably " if kind in ("probably_up", "probably_down") else ""
    hedge_nb = "trolig " if kind in ("probably_up", "probably_down") else ""
    word_en, word_nb = ("higher", "høyere") if up else ("lower", "lavere")
    if not up:  # "lower: 24.8 pp", the size of the fall: the verb carries the direction
        size = effect.as_decrease()
        size_en, size_nb = estimate(size, ctx.style, "en"), estimate(size, ctx.style, "nb")
    return ctx.text(
        f"With every service at {scale} {high:g} rather than {low:g}, the share with a {outcome} by month {month} is "
        f"{hedge_en}{word_en} by {size_en}.",
        f"Med alle tjenester på {scale} {high:g} i stedet for {low:g} er andelen med {outcome} innen måned {month} "
        f"{hedge_nb}{word_nb} med {size_nb}.",
    )


def fidelity_probability(ctx: ReportContext, horizon: str) -> str:
    """Probability of the contrast's direction, and of one beyond the configured threshold."""
    return probability_sentence(
        ctx,
        ctx.effect("fidelity_incidence_contrast_any", horizon=horizon),
        ctx.thresholds.get("fidelity_incidence_contrast_any"),
        ("higher fidelity goes with a {verb} share", "høyere trofasthet henger sammen med {verb} andel"),
        ("higher|rise", "høyere|økning"),  # two nouns: a rise and a fall beyond the threshold are not one thing
        ("lower|fall", "lavere|nedgang"),
    )


def service_horizon(ctx: ReportContext) -> str:
    """The reporting month of the per-service comparison where it is one of the horizons, else the last."""
    horizons = [str(h) for h in ctx.estimands["fidelity_incidence_contrast_any"]["horizon"].values]
    month = ctx.estimands["service_incidence_any"].attrs.get("month") if ctx.has("service_incidence_any") else None
    chosen = [h for h in horizons if month is not None and month_of(h) == int(month)]
    return chosen[0] if chosen else horizons[-1]


ASSOCIATION = (
    "This is an association across services, not a randomised comparison of fidelity levels.",
    "Dette er en sammenheng mellom tjenester, ikke en randomisert sammenligning av trofasthetsnivåer.",
)


def answer(ctx: ReportContext) -> list[str]:
    """Cumulative incidence by month 12/24 with intervals; the median month; the priors' weight; fidelity."""
    if not ctx.has("incidence_any"):
        return []
    lines = [incidence_sentence(ctx)]
    if ctx.has("median_time_any"):
        lines[0] += " " + median_sentence(ctx)
    lines.append(prior_sentence(ctx) or "")
    if ctx.has("fidelity_incidence_contrast_any"):
        horizon = service_horizon(ctx)
        lines.append(
            f"{fidelity_sentence(ctx, horizon)} {fidelity_probability(ctx, horizon)} {ctx.text(*ASSOCIATION)}"
            + (f" {weight}" if (weight := fidelity_prior_sentence(ctx, horizon)) else "")
        )
    # the priors' weight is said for the share and the fidelity contrast; refits, when the run has them, add their
    # range
    robust = robustness_line(ctx, "median_time_any", ("the median month", "medianmåneden"))
    if robust:
        lines.append(robust)
    return [line for line in lines if line]


def incidence_section(ctx: ReportContext) -> str:
    """How soon participants reach a target: share by each reporting month, per target, median month."""
    outcome = escape_md(outcome_of(ctx))
    rows = [
        ctx.text(
            f"| By month | Share with a {outcome} | Observed (Aalen-Johansen) |",
            f"| Innen måned | Andel med {outcome} | Observert (Aalen-Johansen) |",
        ),
        "| ---: | --- | ---: |",
    ]
    for horizon in ctx.estimands["incidence_any"]["horizon"].values:
        effect = ctx.effect("incidence_any", horizon=horizon)
        seen = observed_by(ctx, month_of(horizon))
        rows.append(
            f"| {month_of(horizon)} | {estimate(effect, ctx.style, ctx.language)} | "
            f"{amount(seen, '%', ctx.language) if seen is not None else '-'} |"
        )
    lines = [
        ctx.text(
            f"Expected share of participants with a {outcome} by the end of each reporting month, averaged over "
            f"the study's participants ({ctx.style.text}); participants followed for fewer months count for the "
            "months they were followed. The observed column counts the same way without the model.",
            f"Forventet andel deltakere med {outcome} innen utgangen av hver rapporteringsmåned, som gjennomsnitt "
            f"over studiens deltakere ({ctx.style.text}); deltakere fulgt i færre måneder teller for månedene de ble "
            "fulgt. Den observerte kolonnen teller på samme måte uten modellen.",
        )
        + _withheld(ctx),
        "\n".join(rows),
    ]
    targets = [str(t) for t in ctx.estimands["incidence"]["target"].values] if ctx.has("incidence") else []
    if len(targets) > 1:
        horizon = str(ctx.estimands["incidence"]["horizon"].values[-1])
        parts = [
            f"{escape_md(target_label(ctx, t))} {estimate(effect, ctx.style, ctx.language)}"
            for t, effect in ((t, ctx.effect("incidence", target=t, horizon=horizon)) for t in targets)
        ]
        lines.append(
            ctx.text(
                f"First transition by month {month_of(horizon)}, by target (the others competing): {'; '.join(parts)}.",
                f"Første overgang innen måned {month_of(horizon)}, etter mål (de andre konkurrerer): "
                f"{'; '.join(parts)}.",
            )
        )
    if ctx.has("median_time_any"):
        lines.append(escape_md(median_sentence(ctx)))
    return "\n\n".join(lines)


def fidelity_section(ctx: ReportContext) -> str:
    """What fidelity goes with for how soon participants reach a target, at each reporting month."""
    lines = []
    for horizon in ctx.estimands["fidelity_incidence_contrast_any"]["horizon"].values:
        lines.append(escape_md(f"{fidelity_sentence(ctx, str(horizon))} {fidelity_probability(ctx, str(horizon))}"))
    if ctx.has("hazard_fidelity_odds_ratio"):
        attrs = ctx.estimands["fidelity_incidence_contrast_any"].attrs
        per, scale = float(attrs.get("per", 10)), escape_md(str(attrs.get("scale", "")))
        parts = []
        for target in ctx.estimands["hazard_fidelity_odds_ratio"]["target"].values:
            effect = ctx.effect("hazard_fidelity_odds_ratio", target=target)
            parts.append(
                f"{escape_md(target_label(ctx, target))} {estimate(effect, ctx.style, ctx.language)}, "
                f"P(> 1){equals_probability(effect.p_up, ctx.language)}"
            )
        lines.append(
            ctx.text(
                f"Hazard odds ratio per {per:g} {scale} points (odds of a first transition in a month among those "
                f"still at risk): {'; '.join(parts)}.",
                f"Oddsratio for overgang per {per:g} {scale}-poeng (odds for en første overgang i en måned blant dem "
                f"som fortsatt er i risiko): {'; '.join(parts)}.",
            )
        )
    lines.append(
        ctx.text(
            ASSOCIATION[0] + " Services with higher fidelity may differ in other ways, and the score is treated as "
            "measured without error.",
            ASSOCIATION[1] + " Tjenester med høyere trofasthet kan skille seg ut på andre måter, og skåren behandles "
            "som målt uten feil.",
        )
    )
    return "\n\n".join(lines)


def services_section(ctx: ReportContext) -> str:
    """How much services differ in the share reaching a target by the service month (small cells suppressed)."""
    pooled = median(ctx.estimands["service_incidence_any"])
    n = ctx.estimands["service_n"].values
    shares = service_shares(ctx)  # the figure draws these, and its caption counts them as this text does
    raw = shares.values
    month = ctx.estimands["service_incidence_any"].attrs.get("month", "")
    shown = shares.shown
    lang = ctx.language
    lines = []
    if shown.any():
        lines.append(
            ctx.text(
                f"Observed shares by month {month} range from {amount(np.nanmin(raw), '%', lang)} to "
                f"{amount(np.nanmax(raw), '%', lang)} across the {int(shown.sum())} services whose share rests on "
                f"no cell under {ctx.min_cell} (participants, first transitions and participants without one); "
                "partially pooled, the expected "
                f"shares of all {len(n)} services range from {amount(pooled.min(), '%', lang)} to "
                f"{amount(pooled.max(), '%', lang)}.",
                f"Observerte andeler innen måned {month} varierer fra {amount(np.nanmin(raw), '%', lang)} til "
                f"{amount(np.nanmax(raw), '%', lang)} mellom de {int(shown.sum())} tjenestene der andelen ikke "
                f"bygger på noen celle under {ctx.min_cell} (deltakere, første overganger og deltakere uten); "
                "delvis sammenslått "
                f"varierer forventet andel for alle {len(n)} tjenester fra {amount(pooled.min(), '%', lang)} til "
                f"{amount(pooled.max(), '%', lang)}.",
            )
        )
    else:
        lines.append(
            ctx.text(
                f"Partially pooled, the expected shares by month {month} of the {len(n)} services range from "
                f"{amount(pooled.min(), '%', lang)} to {amount(pooled.max(), '%', lang)}.",
                f"Delvis sammenslått varierer forventet andel innen måned {month} for de {len(n)} tjenestene fra "
                f"{amount(pooled.min(), '%', lang)} til {amount(pooled.max(), '%', lang)}.",
            )
        )
    if shares.hidden:
        lines.append(
            escape_md(service_withheld_note(ctx, shares))
            + ctx.text(
                " Model-based estimates are shown for all services.",
                " Modellbaserte estimater vises for alle tjenester.",
            )
        )
    if ctx.has("sd_service"):
        parts = [
            f"{escape_md(target_label(ctx, t))} {estimate(ctx.effect('sd_service', target=t), ctx.style, lang)}"
            for t in ctx.estimands["sd_service"]["target"].values
        ]
        lines.append(
            ctx.text(
                f"SD of service effects on the hazard (log-odds): {'; '.join(parts)}.",
                f"Standardavvik for tjenesteeffektene på overgangsraten (log-odds): {'; '.join(parts)}.",
            )
        )
    return "\n\n".join(lines)


def hazard_ratio_section(ctx: ReportContext) -> str:
    """Table of hazard odds ratios per target and predictor."""
    rows = [
        ctx.text(
            "| Target | Predictor | Hazard odds ratio | P(> 1) |", "| Mål | Forklaringsvariabel | Oddsratio | P(> 1) |"
        ),
        "| --- | --- | --- | ---: |",
    ]
    values = ctx.estimands["hazard_odds_ratio"]
    for target in values["target"].values:
        for term in values["term"].values:
            effect = ctx.effect("hazard_odds_ratio", target=target, term=term)
            rows.append(
                f"| {escape_md(target_label(ctx, target))} | {escape_md(ctx.label(str(term)))} | "
                f"{estimate(effect, ctx.style, ctx.language)} | {ctx.probability(effect.p_up)} |"
            )
    intro = ctx.text(
        f"Odds of a first transition in a month among those still at risk ({ctx.style.text}); numeric predictors per "
        "SD unless the model was fitted unstandardised, categories against their reference.",
        f"Odds for en første overgang i en måned blant dem som fortsatt er i risiko ({ctx.style.text}); numeriske "
        "variabler per standardavvik med mindre modellen er tilpasset uten standardisering, kategorier mot "
        "referansen.",
    )
    return intro + "\n\n" + "\n".join(rows)


# ------------------------------------------------------------------ figures
PRESENTATION = Presentation(
    answer=answer,
    sections=(
        Section(
            "incidence",
            lambda ctx: ctx.text("How soon participants reach a target", "Hvor raskt deltakerne når et mål"),
            incidence_section,
            lambda ctx: ctx.has("incidence_any"),
        ),
        Section(
            "fidelity_time",
            lambda ctx: ctx.text("Fidelity and time to a first transition", "Modelltrofasthet og tid til overgang"),
            fidelity_section,
            lambda ctx: ctx.has("fidelity_incidence_contrast_any"),
        ),
        Section(
            "services_time",
            lambda ctx: ctx.text("Differences between services over time", "Forskjeller mellom tjenester over tid"),
            services_section,
            lambda ctx: ctx.has("service_incidence_any"),
        ),
        Section(
            "hazard_odds_ratios",
            lambda ctx: ctx.text("Hazard odds ratios", "Oddsratioer for overgang"),
            hazard_ratio_section,
            lambda ctx: ctx.has("hazard_odds_ratio"),
        ),
    ),
    figures=(
        FigureSpec(
            "incidence_curves",
            lambda ctx: ctx.text("Share with a first transition, by month", "Andel med første overgang, etter måned"),
            incidence_curves,
            lambda ctx: ctx.has("incidence_curve_any"),
        ),
        FigureSpec(
            "hazard_by_month",
            lambda ctx: ctx.text(
                "Monthly chance of a first transition among those still without one",
                "Månedlig sjanse for første overgang blant dem som ennå ikke har hatt en",
            ),
            hazard_by_month,
            lambda ctx: ctx.has("hazard_curve_any"),
        ),
        FigureSpec(
            "service_incidence",
            service_title,
            service_incidence,
            lambda ctx: ctx.has("service_incidence_any"),
        ),
        FigureSpec(
            "fidelity_over_time",
            lambda ctx: ctx.text("Fidelity and time to a first transition", "Modelltrofasthet og tid til overgang"),
            fidelity_over_time,
            lambda ctx: ctx.has("fidelity_contrast_curve_any"),
        ),
    ),
)

__all__ = [
    "PRESENTATION",
    "answer",
    "fidelity_prior_sentence",
    "fidelity_sentence",
    "incidence_sentence",
    "prior_sentence",
]
