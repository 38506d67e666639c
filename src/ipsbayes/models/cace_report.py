"""How the CACE family presents itself: the answer, the effect on compliers beside ITT and per-protocol, the strata.

Every comparative word is chosen from the posterior: whether IPS raised or lowered
the outcome, whether never-takers do better or worse than compliers without IPS,
whether per-protocol over- or understates the CACE, which covariate predicts
taking IPS up, and how far the prior pulls the estimate from the raw Wald estimate.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ipsbayes.models.cace_compliance import compliance_sentence
from ipsbayes.models.cace_conflict import conflict_line, conflict_section, has_conflict_check
from ipsbayes.models.cace_small import prior_effect, small_sample_section, units_of, units_word
from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section
from ipsbayes.present.answers import prior_dependence_line, probability_sentence, vocabulary_word
from ipsbayes.present.cells import cell_text, too_small
from ipsbayes.present.phrases import Effect, amount, estimate
from ipsbayes.present.prior_weight import pull_sentence
from ipsbayes.present.style import pointrange
from ipsbayes.present.text import escape_md

#: strata rows of the figure (labels come from :func:`strata_labels`, in the study's words)
STRATA = (
    ("never_taker_rate", "#999999"),
    ("complier_rate_control", "#ff7f0e"),
    ("complier_rate_treated", "#1f77b4"),
    ("control_rate", "#d62728"),
    ("treatment_rate", "#2ca02c"),
)


def words(ctx: ReportContext) -> dict[str, str]:
    """The study's words: treatment, control and outcome (``[report.labels]`` or the family's vocabulary)."""
    return {
        "treatment": vocabulary_word(ctx, "treatment", "the treatment", "behandlingen"),
        "control": vocabulary_word(ctx, "control", "the control condition", "kontrollbetingelsen"),
        "outcome": vocabulary_word(ctx, "outcome", "the outcome", "utfallet"),
    }


def effect_sentence(ctx: ReportContext, cace: Effect) -> str:
    """Direction and size of the CACE, with the words chosen by the posterior probability of each direction.

    A plain sentence (the answer block is escaped when rendered; the CACE section escapes it once).
    """
    w = words(ctx)
    treatment, outcome = w["treatment"], w["outcome"]
    units = units_of(ctx)  # in the report's language: only that language's sentence is used
    who_en = f"For {units} who would take up {treatment} when offered (compliers)"
    who_nb = f"For {units} som ville tatt imot {treatment} om de fikk tilbudet (compliers)"
    kind = cace.direction(ctx.style.prob)
    size = cace.as_decrease() if kind in ("down", "probably_down") else cace  # "lowered by 12.7 pp", not "by -12.7"
    size_en, size_nb = estimate(size, ctx.style, "en"), estimate(size, ctx.style, "nb")
    if kind in ("up", "down"):
        verb_en, verb_nb = ("raised", "økte") if kind == "up" else ("lowered", "reduserte")
        return ctx.text(
            f"{who_en}, receiving {treatment} {verb_en} {outcome} by an estimated {size_en}.",
            f"{who_nb}, {verb_nb} det å motta {treatment} {outcome} med anslagsvis {size_nb}.",
        )
    if kind in ("probably_up", "probably_down"):
        verb_en, verb_nb = ("raised", "økte") if kind == "probably_up" else ("lowered", "reduserte")
        return ctx.text(
            f"{who_en}, receiving {treatment} probably {verb_en} {outcome}: by an estimated {size_en}, an interval "
            "that still includes no effect.",
            f"{who_nb}, {verb_nb} det å motta {treatment} trolig {outcome}: med anslagsvis {size_nb}, et intervall "
            "som fortsatt omfatter ingen effekt.",
        )
    return ctx.text(
        f"{who_en}, the data cannot tell whether receiving {treatment} raised or lowered {outcome}: the estimate is "
        f"{size_en}.",
        f"{who_nb}, kan dataene ikke avgjøre om det å motta {treatment} økte eller reduserte {outcome}: anslaget er "
        f"{size_nb}.",
    )


def raw_sentence(ctx: ReportContext, cace: Effect) -> str | None:
    """The raw Wald estimate beside the posterior, and where the posterior lies between it and the prior."""
    if not ctx.has("observed_wald_cace"):
        return None
    if too_small(ctx.estimands["observed_wald_cace"].attrs.get("participants", ctx.min_cell), ctx.min_cell):
        return None  # a raw estimate resting on a small cell is not published (the table says so)
    raw = float(ctx.estimands["observed_wald_cace"])
    prior = prior_effect(ctx, "cace")
    name = ("the raw Wald estimate", "det rå Wald-anslaget")
    if prior is None:
        return ctx.text(
            "The raw Wald estimate (observed ITT divided by the share of those offered it who received it) is "
            f"{amount(raw, cace.unit, 'en')}.",
            "Det rå Wald-anslaget (observert ITT delt på andelen av de tilbudte som mottok det) er "
            f"{amount(raw, cace.unit, 'nb')}.",
        )
    return pull_sentence(ctx, cace.median, raw, prior, cace.unit, name)


def answer(ctx: ReportContext) -> list[str]:
    """Two to four sentences on the effect for compliers, then the robustness line across refits."""
    if not ctx.has("cace"):
        return []
    cace = ctx.effect("cace")
    w = words(ctx)
    lines = [effect_sentence(ctx, cace)]
    lines.append(
        probability_sentence(
            ctx,
            cace,
            ctx.thresholds.get("cace"),
            (
                f"receiving {w['treatment']} {{verb}} {w['outcome']} for compliers",  # singular whatever the words
                f"{w['treatment']} {{verb}} {w['outcome']} for compliers",
            ),
            ("raises|rise", "øker|økning"),
            ("lowers|fall", "reduserer|nedgang"),
        )
    )
    raw = raw_sentence(ctx, cace)
    if raw:
        lines.append(raw)
    robust = prior_dependence_line(ctx, "cace", ("the CACE", "CACE"))
    if robust:
        lines.append(robust)
    conflict = conflict_line(ctx)
    if conflict:
        lines.append(conflict)
    return lines


def cace_section(ctx: ReportContext) -> str:
    """The CACE beside ITT and the naive per-protocol contrast, and why they differ, all computed."""
    w = words(ctx)
    treatment, control = escape_md(w["treatment"]), escape_md(w["control"])
    cace, itt, pp = ctx.effect("cace"), ctx.effect("itt"), ctx.effect("per_protocol")
    share = ctx.effect("complier_share")
    lines = [f"**{escape_md(effect_sentence(ctx, cace))}**"]
    ratio = ctx.effect("cace_ratio")
    units = units_word(ctx)  # the study's word, escaped once: this section is Markdown
    share_en = f"An estimated {estimate(share, ctx.style, 'en')} of {units} are compliers."
    share_nb = f"Anslagsvis {estimate(share, ctx.style, 'nb')} av alle {units} i studien er compliers."
    attrs = ctx.estimands.attrs
    # a continuous outcome, or a count out of trials (months in work out of 12): a ratio of means, not of how often
    if attrs.get("outcome_link", "logit") == "identity" or attrs.get("outcome_family") in ("binomial", "beta_binomial"):
        lines.append(
            ctx.text(
                f"As a ratio, the mean outcome of compliers with {treatment} is {estimate(ratio, ctx.style, 'en')} "
                f"times that of compliers without. {share_en}",
                f"Som forholdstall er gjennomsnittlig utfall for compliers med {treatment} "
                f"{estimate(ratio, ctx.style, 'nb')} ganger det for compliers uten. {share_nb}",
            )
        )
    else:
        lines.append(
            ctx.text(
                f"As a ratio, compliers with {treatment} reach the outcome {estimate(ratio, ctx.style, 'en')} times "
                f"as often as compliers without. {share_en}",
                f"Som forholdstall når compliers med {treatment} utfallet {estimate(ratio, ctx.style, 'nb')} ganger "
                f"så ofte som compliers uten. {share_nb}",
            )
        )
    lines.append(contrast_table(ctx, cace, itt, pp))
    lines.append(why_per_protocol_differs(ctx, cace, pp))
    lines.append(why_itt_is_diluted(ctx, cace, itt, share))
    who = compliance_sentence(ctx)
    if who:
        lines.append(who)
    lines.append(
        ctx.text(
            f"*{control.capitalize()}* is the control arm; compliers and never-takers are principal strata, not "
            "observed groups: in the control arm they are told apart only through the model.",
            f"*{control.capitalize()}* er kontrollarmen; compliers og never-takers er prinsipale strata, ikke "
            "observerte grupper: i kontrollarmen skilles de bare gjennom modellen.",
        )
    )
    return "\n\n".join(lines)


def strata_labels(ctx: ReportContext) -> list[str]:
    """Row labels of the strata figure in the report's language, with the study's words for the arms."""
    w = words(ctx)
    ips, usual = w["treatment"], w["control"]
    return [
        "Never-takers",  # the Norwegian text calls the strata by these names too
        f"Compliers, {usual}",
        f"Compliers, {ips}",
        ctx.text(f"Everyone assigned {usual}", f"Alle tildelt {usual}"),
        ctx.text(f"Everyone assigned {ips}", f"Alle tildelt {ips}"),
    ]


def contrast_table(ctx: ReportContext, cace: Effect, itt: Effect, pp: Effect) -> str:
    """CACE, ITT and per-protocol: what each compares, the posterior and the raw data, units on every number."""
    w = words(ctx)
    treatment = escape_md(w["treatment"])
    rows = [
        ctx.text(
            "| Contrast | What it compares | Posterior median (interval) | Raw data |",
            "| Kontrast | Hva den sammenligner | Posteriormedian (intervall) | Rådata |",
        ),
        "| --- | --- | --- | --- |",
    ]
    specs = (
        (
            "CACE",
            cace,
            "observed_wald_cace",
            ("compliers with vs without {t}", "compliers med mot uten {t}"),
            " (Wald)",
        ),
        ("ITT", itt, "observed_itt", ("everyone offered {t} vs everyone not", "alle tilbudt {t} mot alle andre"), ""),
        (
            ctx.text("Per-protocol (naive)", "Per protokoll (naiv)"),
            pp,
            "observed_per_protocol",
            ("received {t} vs all controls", "mottok {t} mot alle i kontrollarmen"),
            "",
        ),
    )
    for name, effect, observed, compares, suffix in specs:
        raw = "-"
        if ctx.has(observed):
            value = ctx.estimands[observed]
            raw = cell_text(
                amount(float(value), effect.unit, ctx.language) + suffix,
                value.attrs.get("participants", ctx.min_cell),
                ctx.min_cell,
                ctx.language,
            )
        compared = ctx.text(*compares).format(t=treatment)
        rows.append(f"| {name} | {compared} | {estimate(effect, ctx.style, ctx.language)} | {raw} |")
    return "\n".join(rows)


def why_per_protocol_differs(ctx: ReportContext, cace: Effect, pp: Effect) -> str:
    """Never-takers against compliers without IPS, and the resulting sign of the per-protocol bias (both computed)."""
    w = words(ctx)
    treatment = escape_md(w["treatment"])
    never, usual = ctx.effect("never_taker_rate"), ctx.effect("complier_rate_control")
    gap = Effect.from_draws(
        ctx.draws("never_taker_rate") - ctx.draws("complier_rate_control"), ctx.style, cace.unit, 0.0
    )
    bias = ctx.effect("per_protocol_bias")
    rates = ctx.text(
        f"{amount(never.median, never.unit, 'en')} against {amount(usual.median, usual.unit, 'en')}",
        f"{amount(never.median, never.unit, 'nb')} mot {amount(usual.median, usual.unit, 'nb')}",
    )
    gap_text = estimate(gap, ctx.style, ctx.language, signed_value=True)
    p_gap = ctx.probability(gap.p_direction)
    kind = gap.direction(ctx.style.prob)
    if kind == "unclear":
        strata = ctx.text(
            f"The data cannot tell whether never-takers' outcome is higher or lower than compliers' would be without "
            f"{treatment} ({rates}; difference {gap_text}).",
            f"Dataene kan ikke avgjøre om never-takers har høyere eller lavere utfall enn compliers ville hatt uten "
            f"{treatment} ({rates}; forskjell {gap_text}).",
        )
    else:
        higher = gap.sign > 0  # higher or lower, not better or worse: a lower outcome may be the better one
        hedge_en = "" if kind in ("up", "down") else "probably "
        hedge_nb = "" if kind in ("up", "down") else "trolig "
        strata = ctx.text(
            f"Never-takers' outcome is {hedge_en}{'higher' if higher else 'lower'} than compliers' would be without "
            f"{treatment} ({rates}; difference {gap_text}; probability {p_gap}).",
            f"Never-takers har {hedge_nb}{'høyere' if higher else 'lavere'} utfall enn compliers ville hatt uten "
            f"{treatment} ({rates}; forskjell {gap_text}; sannsynlighet {p_gap}).",
        )
    bias_text = estimate(bias, ctx.style, ctx.language)
    bias_kind = bias.direction(ctx.style.prob)
    if bias_kind == "unclear":
        consequence = ctx.text(
            f"So whether the per-protocol contrast ({amount(pp.median, pp.unit, 'en')}) lies above or below the "
            f"CACE ({amount(cace.median, cace.unit, 'en')}) is uncertain: per-protocol minus CACE is {bias_text}.",
            f"Om per protokoll-kontrasten ({amount(pp.median, pp.unit, 'nb')}) ligger over eller under CACE "
            f"({amount(cace.median, cace.unit, 'nb')}) er derfor usikkert: per protokoll minus CACE er {bias_text}.",
        )
    else:
        above = bias.sign > 0  # above or below, not over- or understates: for a negative CACE "above" is smaller
        hedge_en = "" if bias_kind in ("up", "down") else "probably "
        hedge_nb = "" if bias_kind in ("up", "down") else "trolig "
        consequence = ctx.text(
            f"Because the control arm mixes both strata, the per-protocol contrast "
            f"({amount(pp.median, pp.unit, 'en')}) {hedge_en}lies {'above' if above else 'below'} the CACE "
            f"({amount(cace.median, cace.unit, 'en')}): per-protocol minus CACE is {bias_text}.",
            f"Fordi kontrollarmen blander begge strata, ligger per protokoll-kontrasten "
            f"({amount(pp.median, pp.unit, 'nb')}) {hedge_nb}{'over' if above else 'under'} CACE "
            f"({amount(cace.median, cace.unit, 'nb')}): per protokoll minus CACE er {bias_text}.",
        )
    head = ctx.text("**Why per-protocol differs from the CACE.**", "**Hvorfor per protokoll avviker fra CACE.**")
    intro = ctx.text(
        f"Those who received {treatment} are compliers, but the control arm mixes compliers and never-takers, "
        f"because randomisation hid who would have taken {treatment} up.",
        f"De som mottok {treatment} er compliers, men kontrollarmen blander compliers og never-takers, fordi "
        f"randomiseringen skjulte hvem som ville tatt imot {treatment}.",
    )
    return f"{head} {intro} {strata} {consequence}"


def why_itt_is_diluted(ctx: ReportContext, cace: Effect, itt: Effect, share: Effect) -> str:
    """The ITT against CACE x complier share, with the comparison word chosen from the numbers."""
    product = cace.median * share.median / 100
    # "about" when within 10% of each other, or when the report prints the two as the same number
    close = abs(itt.median - product) <= 0.1 * max(abs(itt.median), abs(product), 1e-9) or amount(
        itt.median, cace.unit, "en"
    ) == amount(product, cace.unit, "en")
    relation = (
        ctx.text("about", "omtrent")
        if close
        else ctx.text("larger than", "større enn")
        if abs(itt.median) > abs(product)
        else ctx.text("smaller than", "mindre enn")
    )
    smaller = abs(itt.median) < abs(cace.median)
    return ctx.text(
        f"**The ITT** ({amount(itt.median, itt.unit, 'en')}) is {'' if smaller else 'not '}closer to zero than "
        f"the CACE: it averages the effect over never-takers, who are offered it but do not take it up, so it is "
        f"{relation} "
        f"the CACE times the complier share ({amount(cace.median, cace.unit, 'en')} x "
        f"{amount(share.median, '%', 'en')} = {amount(product, cace.unit, 'en')}).",
        f"**ITT** ({amount(itt.median, itt.unit, 'nb')}) ligger {'' if smaller else 'ikke '}nærmere null enn "
        "CACE: den fordeler effekten også på never-takers, som får tilbudet, men ikke tar det imot, så den er "
        f"{relation} CACE "
        f"ganger andelen compliers ({amount(cace.median, cace.unit, 'nb')} x {amount(share.median, '%', 'nb')} = "
        f"{amount(product, cace.unit, 'nb')}).",
    )


def strata_rates(ctx: ReportContext) -> tuple[Figure, str]:
    """Expected outcome by principal stratum and arm: why per-protocol differs from the CACE."""
    estimands, style = ctx.estimands, ctx.style
    fig, ax = style.subplots(3.0)
    y = np.arange(len(STRATA))[::-1]
    w = words(ctx)
    ips, usual = w["treatment"], w["control"]
    for yi, (name, colour) in zip(y, STRATA, strict=True):
        pointrange(ax, estimands[name], np.array([yi]), style, colour, lw=2.5)
    ax.plot([], [], "o-", color="0.3", lw=2.5, label=style.median_and_interval)
    hidden = []
    for name, label, marker in (
        ("observed_rate_control_arm", style.t("observed: control arm", "observert: kontrollarm"), "x"),
        ("observed_rate_received", style.t(f"observed: received {ips}", f"observert: fikk {ips}"), "+"),
    ):
        if name not in estimands:
            continue
        if bool(too_small(estimands[name].attrs.get("participants", np.nan), ctx.min_cell)):
            hidden.append(name)
            continue
        target = 1 if "control" in name else 2
        ax.plot(float(estimands[name]), y[target], marker, color="black", ms=9, ls="none", label=label)
    ax.set_yticks(y, strata_labels(ctx))
    unit = estimands["complier_rate_treated"].attrs.get("unit", "")
    shown = {"%": "%", "months": ctx.text("months", "måneder")}.get(unit, unit)
    ax.set_xlabel(style.t(f"Expected outcome ({shown})", f"Forventet utfall ({shown})"))
    fig.legend(loc="outside lower center", ncols=3)
    caption = ctx.text(
        f"Posterior medians and {style.text}. The CACE compares the two complier rows. The per-protocol contrast "
        f"compares compliers under {ips} with everyone under {usual}, a group that includes never-takers: it lies "
        f"above the CACE when never-takers' outcome is lower than compliers' without {ips}, and below it when it is "
        "higher. Crosses: the observed rates those contrasts use.",
        f"Posteriormedianer og {style.text}. CACE sammenligner de to radene for compliers. Per protokoll "
        f"sammenligner compliers med {ips} med alle i {usual}, en gruppe som også rommer never-takers: den ligger "
        f"over CACE når never-takers har lavere utfall enn compliers uten {ips}, og under når de har høyere. "
        "Kryss: de observerte andelene disse kontrastene bruker.",
    )
    if hidden:
        units = units_of(ctx)  # plain text: captions are escaped where they are rendered
        for name in hidden:
            if name == "observed_rate_control_arm":
                caption += ctx.text(
                    f" The observed rate of the {usual} arm is not shown: it rests on fewer than {ctx.min_cell} "
                    f"{units} (report.min_cell = {ctx.min_cell}).",
                    f" Den observerte andelen for kontrollarmen vises ikke: den bygger på færre enn {ctx.min_cell} "
                    f"{units} (report.min_cell = {ctx.min_cell}).",
                )
            else:  # beside the arm's rate, the received rate also gives away those who did not receive it
                caption += ctx.text(
                    f" The observed rate of those who received {ips} is not shown: it, or what it leaves for those "
                    f"assigned to {ips} who did not receive it, rests on fewer than {ctx.min_cell} {units} "
                    f"(report.min_cell = {ctx.min_cell}).",
                    f" Den observerte andelen for de som fikk {ips} vises ikke: den, eller det den etterlater for "
                    f"dem som ble tildelt {ips} uten å få det, bygger på færre enn {ctx.min_cell} {units} "
                    f"(report.min_cell = {ctx.min_cell}).",
                )
    return fig, caption


def _effect_title(ctx: ReportContext) -> str:
    treatment = words(ctx)["treatment"]
    return ctx.text(
        f"Effect of {treatment}: CACE, ITT and per-protocol", f"Effekt av {treatment}: CACE, ITT og per protokoll"
    )


PRESENTATION = Presentation(
    answer=answer,
    sections=(
        Section("cace", _effect_title, cace_section, lambda ctx: ctx.has("cace")),
        Section(
            "small_sample",
            lambda ctx: ctx.text(
                "Why the estimate differs from the raw data", "Hvorfor anslaget avviker fra rådataene"
            ),
            small_sample_section,
            lambda ctx: ctx.has("cace") and ctx.has("observed_wald_cace"),
        ),
        Section(
            "prior_data_conflict",
            lambda ctx: ctx.text("Prior-data conflict", "Konflikt mellom prior og data"),
            conflict_section,
            has_conflict_check,
        ),
    ),
    figures=(
        FigureSpec(
            "strata_rates",
            lambda ctx: ctx.text("Outcome by principal stratum and arm", "Utfall etter stratum og arm"),
            strata_rates,
            lambda ctx: ctx.has("complier_rate_treated"),
        ),
    ),
)

__all__ = ["PRESENTATION", "answer", "cace_section", "effect_sentence"]
