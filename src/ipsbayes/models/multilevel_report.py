"""How the multilevel family presents itself: the answer, group differences and effects in the study's own words.

Every sentence is computed from the estimands and worded with the vocabulary the
config gives (``school``, ``herd``, ``pupils``...), in English or Norwegian; observed
group values resting on a small cell are never published (:func:`group_shares`: fewer than
``report.min_cell`` rows or trials in the group, or for rates as few with the outcome or without it). The
fidelity parts (a group-level score, possibly measured with error) are reused from
:mod:`ipsbayes.models.hierarchical_logistic_report` and apply only to runs that have
those estimands. The IPS configuration (``kind = "hierarchical_logistic"``) keeps its own
presentation.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ipsbayes.families import FAMILIES
from ipsbayes.models import hierarchical_logistic_report as ips
from ipsbayes.models.base import nb_plural
from ipsbayes.present import Figure, Presentation, ReportContext, Section
from ipsbayes.present.answers import prior_dependence_line, vocabulary_word
from ipsbayes.present.cells import ObservedShares, publishable_shares
from ipsbayes.present.common import effect_rows, effects_forest, reasons_sentence
from ipsbayes.present.effect_answers import effect_answers
from ipsbayes.present.phrases import amounts, estimate, spoken_unit, unit_word
from ipsbayes.present.style import median, pointrange
from ipsbayes.present.text import escape_md, label_of, unit_of
from ipsbayes.textutil import regular_plural

#: groups drawn per factor in the caterpillar figure (the largest, by size)
MAX_DRAWN = 60
#: nouns of the outcome level estimands (``outcome_rate`` for logit families, ``outcome_mean`` otherwise)
NOUNS = ("rate", "mean")


def _factors(ctx: ReportContext) -> list[tuple[str, str]]:
    """(dim, noun) of every grouping factor with partially pooled and observed group means."""
    out = []
    for name in ctx.estimands.data_vars:
        for noun in NOUNS:
            suffix = f"_raw_{noun}"
            if name.endswith(suffix):
                dim = name[: -len(suffix)]
                if f"{dim}_{noun}" in ctx.estimands and f"{dim}_n" in ctx.estimands:
                    out.append((dim, noun))
    return out


def _word(ctx: ReportContext, dim: str) -> str:
    """The study's word for a group (plain text: sections escape it, answers and captions are escaped when rendered)."""
    return vocabulary_word(ctx, dim, dim.replace("_", " "), dim.replace("_", " "))


def _plural(ctx: ReportContext, dim: str) -> str:
    """The plural of a group word: ``<dim>_plural`` (``<dim>_plural_nb``) when the config gives it, else a regular one.

    Norwegian regular plurals add -r or -er ("skole" -> "skoler", "klasse" -> "klasser"); irregular words
    ("sykehus") need ``<dim>_plural_nb`` in the vocabulary.
    """
    if ctx.language == "nb":
        return nb_plural({**ctx.vocabulary, **ctx.labels}, dim, dim.replace("_", " "))
    word = _word(ctx, dim)
    if f"{dim}_plural" in ctx.vocabulary or f"{dim}_plural" in ctx.labels:
        return ctx.label(f"{dim}_plural")
    return regular_plural(word, "en")


def _range(ctx: ReportContext, attrs: Any, low: float, high: float) -> tuple[str, str]:
    """The ends of a range of an estimand's values, with the same decimals and its unit in the report's language."""
    shown = amounts([float(low), float(high)], spoken_unit(attrs, ctx.language), ctx.language)
    return shown[0], shown[1]


def _units(ctx: ReportContext) -> str:
    """The study's word for what it counts (plain text, like :func:`_word`)."""
    return vocabulary_word(ctx, "units", "observations", "observasjoner")


def _level(ctx: ReportContext) -> tuple[str, str] | None:
    """Name and noun of the overall outcome level (``outcome_rate`` or ``outcome_mean``)."""
    return next(((f"outcome_{n}", n) for n in NOUNS if ctx.has(f"outcome_{n}")), None)


def _noun(ctx: ReportContext, noun: str) -> str:
    return ctx.text("rate", "andel") if noun == "rate" else ctx.text("mean", "gjennomsnitt")


def answer(ctx: ReportContext) -> list[str]:
    """The expected outcome, how much the first grouping factor's groups differ, the largest effect, robustness.

    Plain sentences: the renderer escapes the answer block, so no word is escaped here.
    """
    lines: list[str] = []
    outcome = vocabulary_word(ctx, "outcome", "the outcome", "utfallet")
    level = _level(ctx)
    if level is not None:
        name, noun = level
        effect = ctx.effect(name)
        text = ctx.text(
            f"The expected {'rate' if noun == 'rate' else 'mean'} of {outcome} is {estimate(effect, ctx.style, 'en')}.",
            f"{'Forventet andel med' if noun == 'rate' else 'Forventet gjennomsnitt for'} {outcome} er "
            f"{estimate(effect, ctx.style, 'nb')}.",
        )
        factors = _factors(ctx)
        if factors:
            dim, group_noun = factors[0]
            # the level averages the study's own rows with each group's estimated effect: say what it is not
            groups, group = _plural(ctx, dim), _word(ctx, dim)
            text = text[:-1] + ctx.text(
                f", averaged over this study's {_units(ctx)} with each {group}'s own estimated effect; its interval "
                f"leaves out how far a new {group} would lie from it (the SD of {group} effects says that).",
                f", som gjennomsnitt over studiens {_units(ctx)} med den anslåtte effekten per {group}; intervallet "
                f"tar ikke med hvor langt nye {groups} ville ligge fra det (SD for {group}-effektene sier det).",
            )
            pooled = median(ctx.estimands[f"{dim}_{group_noun}"])
            low, high = _range(ctx, ctx.estimands[f"{dim}_{group_noun}"].attrs, pooled.min(), pooled.max())
            groups = _plural(ctx, dim)
            text += " " + ctx.text(
                f"After partial pooling, the {groups}' expected {_noun(ctx, group_noun)}s range from {low} to {high}.",
                f"Etter delvis sammenslåing varierer forventet {_noun(ctx, group_noun)} per {_word(ctx, dim)} fra "
                f"{low} til {high}.",
            )
            if ctx.has("median_odds_ratio"):
                mor = ctx.effect("median_odds_ratio")
                text += " " + ctx.text(
                    f"The median odds ratio between two random {groups} is {estimate(mor, ctx.style, 'en')}.",
                    f"Median oddsratio mellom to tilfeldige grupper ({groups}) er {estimate(mor, ctx.style, 'nb')}.",
                )
        lines.append(text)
    if ctx.has("fidelity_contrast"):
        contrast = ctx.effect("fidelity_contrast")
        lines.append(ips.fidelity_sentence(ctx, contrast) + " " + ips._fidelity_probability(ctx, contrast))
    named = vocabulary_word(ctx, "outcome", "", "")  # the study's outcome, in the report's language
    changed = (f"expected {named}", f"forventet {named}") if named else ("expected outcome", "forventet utfall")
    lines += effect_answers(ctx, ("predictors", "prediktorene"), changed)
    if level is not None:
        robust = prior_dependence_line(ctx, level[0], ("the expected outcome", "forventet utfall"))
        if robust:
            lines.append(robust)
    return lines


def group_shares(ctx: ReportContext, dim: str, noun: str) -> ObservedShares:
    """Observed values of the groups of ``dim`` as they may be published (the rule of ``publishable_shares``).

    Every observed group value the report shows (text and figure) comes from here, through
    :func:`~ipsbayes.present.common.publishable_shares`. A group with 1 to
    ``report.min_cell - 1`` rows (trials for binomial rows) is withheld. A rate (bernoulli, binomial,
    beta-binomial: ``noun == "rate"``) is also withheld when the number with the outcome, or without it,
    is 1 to ``report.min_cell - 1`` (6.7% of 30 is 2 people); the trials are its denominator. A mean of a
    continuous outcome counts no one with an outcome: only the group size rule applies to it.
    """
    estimands = ctx.estimands
    raw = np.asarray(estimands[f"{dim}_raw_{noun}"].values, dtype=float)
    n = np.asarray(estimands[f"{dim}_n"].values, dtype=float)
    events = np.rint(raw / 100.0 * n) if noun == "rate" else np.zeros_like(n)
    return publishable_shares(raw, n, events, ctx.min_cell)


def _withheld_note(
    ctx: ReportContext, shares: ObservedShares, groups: tuple[str, str], what: str, verb: tuple[str, str]
) -> str:
    """How many groups' observed values are withheld and why, each reason with its count ("" when none).

    The counts come from the masks of ``shares`` (:func:`group_shares`), so the words name what is withheld.
    ``groups`` is the singular and plural group word, ``what`` the noun (rate, mean), ``verb`` "shown" or
    "drawn" (English, Norwegian). Plain text.
    """
    if not shares.hidden:
        return ""
    low, units = ctx.min_cell, _units(ctx)

    def count(k: int) -> str:
        return f"{k} {groups[0] if k == 1 else groups[1]}"

    en, nb = shares.reasons(
        lambda k: (f"{count(k)} with fewer than {low} {units}", f"{count(k)} med færre enn {low} {units}"),
        lambda k: (
            f"{count(k)} whose {what}{'' if k == 1 else 's'} {'rests' if k == 1 else 'rest'} on fewer than {low} "
            f"{units} with the outcome or fewer than {low} without it",
            f"{count(k)} der observert {what} bygger på færre enn {low} {units} med utfallet eller færre enn "
            f"{low} uten",
        ),
        lambda k: (f"{count(k)} whose counts are not known", f"{count(k)} der antallene ikke er kjent"),
    )
    lead = (
        f"Observed {what}s resting on small cells are not {verb[0]}",
        f"Observert {what} som bygger på små celler, er ikke {verb[1]}",
    )
    return reasons_sentence(ctx, lead, en, nb, count(shares.hidden))


def groups_section(ctx: ReportContext) -> str:
    """How much the groups of each factor differ once chance variation is accounted for (small cells withheld).

    Observed values are published only where :func:`group_shares` publishes them, and the withheld ones
    are counted by reason from the same shares.
    """
    paragraphs = []
    units = escape_md(_units(ctx))
    for dim, noun in _factors(ctx):
        estimands = ctx.estimands
        pooled = median(estimands[f"{dim}_{noun}"])
        published = group_shares(ctx, dim, noun)
        raw = published.values
        n = np.asarray(estimands[f"{dim}_n"].values, dtype=float)
        attrs = estimands[f"{dim}_{noun}"].attrs
        expected = _range(ctx, attrs, pooled.min(), pooled.max())
        shown = published.shown
        groups, what = escape_md(_plural(ctx, dim)), _noun(ctx, noun)
        text = []
        if shown.any():
            observed = _range(ctx, attrs, raw[shown].min(), raw[shown].max())
            among = (
                ctx.text(
                    f"Among the {int(shown.sum())} {groups} whose observed {what} rests on no cell under "
                    f"{ctx.min_cell} ({units}, those with the outcome and those without it)",
                    f"Blant de {int(shown.sum())} gruppene ({groups}) der observert {what} ikke bygger på noen celle "
                    f"under {ctx.min_cell} ({units}, de med utfallet og de uten)",
                )
                if noun == "rate"
                else ctx.text(
                    f"Among the {int(shown.sum())} {groups} with at least {ctx.min_cell} {units}",
                    f"Blant de {int(shown.sum())} gruppene ({groups}) med minst {ctx.min_cell} {units}",
                )
            )
            text.append(
                among
                + ctx.text(
                    f", observed {what}s range from {observed[0]} to {observed[1]} "
                    f"({int(n[shown].min())} to {int(n[shown].max())} {units} each).",
                    f", varierer observert {what} fra {observed[0]} til {observed[1]} "
                    f"({int(n[shown].min())} til {int(n[shown].max())} {units} hver).",
                )
            )
        if published.hidden:
            words = (_word(ctx, dim), _plural(ctx, dim))
            text.append(escape_md(_withheld_note(ctx, published, words, what, ("shown", "vist"))))
        span_raw = raw[shown].max() - raw[shown].min() if shown.sum() > 1 else np.nan
        span_pooled = float(pooled.max() - pooled.min())
        text.append(
            ctx.text(
                f"After partial pooling, expected {what}s range from {expected[0]} to {expected[1]}",
                f"Etter delvis sammenslåing varierer forventet {what} fra {expected[0]} til {expected[1]}",
            )
            + (
                ctx.text(
                    ": narrower than the observed spread, because small groups are pulled towards the overall level.",
                    ": smalere enn den observerte spredningen, fordi små grupper trekkes mot det samlede nivået.",
                )
                if np.isfinite(span_raw) and span_pooled < span_raw
                else "."
            )
        )
        for name in estimands.data_vars:
            # an SD names its grouping dim (runs written before it did: by its name, sd_<dim> or sd_<dim>_<suffix>)
            group = estimands[name].attrs.get("group")
            own = group == dim if group is not None else name == f"sd_{dim}" or name.startswith(f"sd_{dim}_")
            if own and name.startswith("sd_") and set(estimands[name].dims) == {"chain", "draw"}:
                label = label_of(estimands[name].attrs, ctx.language, ctx.row(name)["label"])
                text.append(f"{escape_md(label)}: {estimate(ctx.effect(name), ctx.style, ctx.language)}.")
        paragraphs.append(f"**{escape_md(_word(ctx, dim).capitalize())}.** " + " ".join(text))
    return "\n\n".join(paragraphs)


def has_group_predictors(ctx: ReportContext) -> bool:
    """True when the model has group-level predictors (declared ``model.group_predictors`` or fidelity).

    Estimands written before this was stored keep the old, cautious sentence.
    """
    raw = ctx.estimands.attrs.get("group_predictors")
    return True if raw is None else bool(json.loads(raw))


def effects_section(ctx: ReportContext) -> str:
    """Average marginal effects of the predictors, ranked, in the outcome's unit."""
    rows = effect_rows(ctx)
    attrs = ctx.estimands["ame"].attrs
    unit = attrs.get("unit", "")
    units = escape_md(_units(ctx))
    # what "+1" is for the run's numeric predictors (runs written before the AME said so: both readings)
    shift = str(attrs.get("numeric_shift", "+1 SD where standardised, else +1 unit"))
    shift_nb = str(attrs.get("numeric_shift_nb", "+1 SD der de er standardisert, ellers +1 enhet"))
    intro = ctx.text(
        f"Average marginal effects on the expected outcome ({ctx.style.text}), largest first. Each changes one "
        f"predictor for all {units} and keeps the rest as observed (numeric predictors: {shift}; categories: "
        "against the reference level). P(direction) is the probability of a change in the direction of the median.",
        f"Gjennomsnittlige marginale effekter på forventet utfall ({ctx.style.text}), største først. Hver endrer én "
        f"prediktor for alle {units} og holder resten som observert (numeriske prediktorer: {shift_nb}; kategorier: "
        "mot referansenivået). P(retning) er sannsynligheten for en endring i medianens retning.",
    )
    if has_group_predictors(ctx):
        intro += ctx.text(
            " Group-level predictors are associations across groups, not randomised comparisons.",
            " Prediktorer på gruppenivå er sammenhenger mellom grupper, ikke randomiserte sammenligninger.",
        )
    odds = any(row["conditional"] is not None for row in rows)
    shown = {"pp": ctx.text("pp", "prosentpoeng")}.get(unit, escape_md(unit_word(unit, ctx.language) or unit))
    header = ctx.text(
        f"| Rank | Predictor | Marginal effect, {shown} (interval) | P(direction) |"
        + (" Odds ratio (interval) |" if odds else ""),
        f"| Rang | Prediktor | Marginal effekt, {shown} (intervall) | P(retning) |"
        + (" Oddsratio (intervall) |" if odds else ""),
    )
    lines = [header, "| ---: | --- | --- | ---: |" + (" --- |" if odds else "")]
    for rank, row in enumerate(rows, start=1):
        effect = row["effect"]
        cells = [
            str(rank),
            escape_md(row["label"]),
            estimate(effect, ctx.style, ctx.language, signed_value=True),
            ctx.probability(effect.p_direction),
        ]
        if odds:
            cells.append(estimate(row["conditional"], ctx.style, ctx.language) if row["conditional"] else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n\n".join([intro, "\n".join(lines)])


def groups_caterpillar(ctx: ReportContext) -> tuple[object, str]:
    """Predicted (partially pooled) mean per group beside the observed mean, one panel per factor."""
    factors = _factors(ctx)
    style = ctx.style
    heights = [min(len(ctx.estimands[f"{dim}_n"]), MAX_DRAWN) for dim, _ in factors]
    fig, axes = style.subplots(max(3.0, 0.11 * max(heights) + 1.2), 1, len(factors), squeeze=False)
    withheld = []
    for ax, (dim, noun) in zip(axes.ravel(), factors, strict=True):
        rate = ctx.estimands[f"{dim}_{noun}"]
        n = np.asarray(ctx.estimands[f"{dim}_n"].values, dtype=float)
        published = group_shares(ctx, dim, noun)  # drawn here, and counted by the caption
        raw = published.values
        withheld.append(published)
        keep = np.sort(np.argsort(-n, kind="stable")[:MAX_DRAWN])
        mid = median(rate)[keep]
        order = keep[np.argsort(mid)]
        y = np.arange(len(order))
        pointrange(ax, rate, y, style, "#1f77b4", order=order, lw=1.4, ms=3)
        ax.scatter(raw[order], y, s=10, facecolors="none", edgecolors="#d62728")
        labels = [str(v) for v in rate[dim].values[order]]
        ax.set_yticks(y, labels if len(order) <= 40 else [""] * len(order))
        shown_unit = unit_of(rate.attrs, ctx.language)
        ax.set_xlabel(f"{_noun(ctx, noun).capitalize()} ({shown_unit})")
        ax.set_title(_plural(ctx, dim).capitalize(), fontsize=style.small_font)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="#1f77b4", lw=1.4, marker="o", ms=3, label=style.t("predicted", "predikert")),
        Line2D([], [], color="#d62728", lw=0, marker="o", ms=3, mfc="none", label=style.t("observed", "observert")),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    caption = ctx.text(
        f"Predicted outcome per group (dots, {style.text}) beside the observed value (open circles). At most "
        f"{MAX_DRAWN} of the largest groups per panel.",
        f"Predikert utfall per gruppe (punkter, {style.text}) ved siden av observert verdi (åpne sirkler). Høyst "
        f"{MAX_DRAWN} av de største gruppene per panel.",
    )
    every = ObservedShares(
        *(np.concatenate([getattr(p, f) for p in withheld]) for f in ("values", "few_units", "few_outcomes", "unknown"))
    )
    if every.hidden:
        groups = ctx.text("group", "gruppe"), ctx.text("groups", "grupper")
        caption += " " + _withheld_note(ctx, every, groups, ctx.text("value", "verdi"), ("drawn", "tegnet"))
    return fig, caption


def _owned_by(names: tuple[str, ...], figure: Figure) -> object:
    def applies(ctx: ReportContext) -> bool:
        return ctx.estimands.attrs.get("outcome_family") in names and figure.applies(ctx)

    return applies


def _family_figures() -> tuple[Figure, ...]:
    """Each outcome family's own check figure, shown for runs of a family that owns it."""
    owners: dict[str, list[str]] = {}
    drawn: dict[str, Figure] = {}
    for name, family in FAMILIES.items():
        figure = family.figure
        if figure is not None:
            owners.setdefault(figure.name, []).append(name)
            drawn[figure.name] = figure
    return tuple(
        Figure(figure.name, figure.title, figure.draw, _owned_by(tuple(owners[key]), figure))
        for key, figure in drawn.items()
    )


def vocabulary_of(ctx: ReportContext) -> dict[str, str]:
    """The study's words (for tests and notebooks)."""
    return json.loads(ctx.estimands.attrs.get("vocabulary", "{}"))


_FIDELITY_SECTIONS = tuple(s for s in ips.PRESENTATION.sections if s.key in ("fidelity", "measurement"))
_FIDELITY_FIGURES = tuple(f for f in ips.PRESENTATION.figures if f.name == "fidelity_curve")

PRESENTATION = Presentation(
    answer=answer,
    sections=(
        *_FIDELITY_SECTIONS,
        Section(
            "effects",
            lambda ctx: ctx.text("Predictors", "Prediktorer"),
            effects_section,
            lambda ctx: ctx.has("ame") and bool(effect_rows(ctx)),
        ),
        Section(
            "groups",
            lambda ctx: ctx.text("Differences between groups", "Forskjeller mellom grupper"),
            groups_section,
            lambda ctx: bool(_factors(ctx)),
        ),
    ),
    figures=(
        *_FIDELITY_FIGURES,
        Figure(
            "effects_forest",
            lambda ctx: ctx.text("Average marginal effects", "Gjennomsnittlige marginale effekter"),
            effects_forest,
            lambda ctx: ctx.has("ame"),
        ),
        Figure(
            "group_caterpillar",
            lambda ctx: ctx.text(
                "Groups: observed and partially pooled values", "Grupper: observerte og delvis sammenslåtte verdier"
            ),
            groups_caterpillar,
            lambda ctx: bool(_factors(ctx)),
        ),
        *_family_figures(),
    ),
)

__all__ = ["PRESENTATION", "answer", "group_shares", "groups_section", "vocabulary_of"]
