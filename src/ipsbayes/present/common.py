"""Sections and figures shared by several model families (service differences, ranked marginal effects)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.present.answers import threshold_amount
from ipsbayes.present.cells import ObservedShares, publishable_shares
from ipsbayes.present.context import ReportContext
from ipsbayes.present.phrases import Effect, amount, estimate, spoken_unit, term_of_contrast
from ipsbayes.present.style import Style, median, pointrange
from ipsbayes.present.text import escape_md, unit_of


def service_rate_shares(ctx: ReportContext) -> ObservedShares:
    """The observed service rates (``service_raw_rate``, %) as they may be published, by :func:`publishable_shares`.

    The number of participants with the outcome is the rate times the participants (trials) of the service.
    """
    estimands = ctx.estimands
    raw = np.asarray(estimands["service_raw_rate"].values, dtype=float)
    n = np.asarray(estimands["service_n"].values, dtype=float)
    return publishable_shares(raw, n, np.rint(raw / 100.0 * n), ctx.min_cell)


def withheld_shares_note(
    ctx: ReportContext,
    shares: ObservedShares,
    nouns: tuple[str, str, str, str, str] = ("rate", "rates", "andeler", "andelen", "andelene"),
    having: tuple[str, str] = ("with the outcome", "med utfallet"),
    lacking: tuple[str, str] = ("without it", "uten"),
) -> str:
    """One sentence: how many services' observed shares are withheld, and why, each reason with its count.

    ``""`` when none are. ``nouns`` are the English singular and plural, the Norwegian plural, and the
    Norwegian definite singular and plural of what is withheld; ``having`` and ``lacking`` (English,
    Norwegian) say who is counted ("with the outcome", "without it"). Plain text, e.g. "Observed rates
    resting on small cells are not shown (13 services; report.min_cell = 5): 2 services with fewer than
    5 participants and 11 services whose rates rest on fewer than 5 participants with the outcome or
    fewer than 5 without it."
    """
    if not shares.hidden:
        return ""
    units = units_counted(ctx, ctx.min_cell)
    low = ctx.min_cell
    en, nb = shares.reasons(
        lambda k: (
            f"{services_counted(ctx, k)} with fewer than {units}",
            f"{services_counted(ctx, k)} med færre enn {units}",
        ),
        lambda k: (
            f"{services_counted(ctx, k)} whose {nouns[0] if k == 1 else nouns[1]} {'rests' if k == 1 else 'rest'} "
            f"on fewer than {units} {having[0]} or fewer than {low} {lacking[0]}",
            f"{services_counted(ctx, k)} der {nouns[3] if k == 1 else nouns[4]} bygger på færre enn "
            f"{units} {having[1]} eller færre enn {low} {lacking[1]}",
        ),
        lambda k: (
            f"{services_counted(ctx, k)} whose counts were not kept in this run folder",
            f"{services_counted(ctx, k)} der antallene ikke ble lagret i denne kjøringsmappen",
        ),
    )
    lead = (
        f"Observed {nouns[1]} resting on small cells are not shown",
        f"Observerte {nouns[2]} som bygger på små celler, vises ikke",
    )
    return reasons_sentence(ctx, lead, en, nb, services_counted(ctx, shares.hidden))


def reasons_sentence(ctx: ReportContext, lead: tuple[str, str], en: list[str], nb: list[str], total: str) -> str:
    """A withheld-values sentence: the lead, then its one reason or the total and every reason with its count.

    ``<lead> (<reason>; report.min_cell = 5).``, or with several reasons ``<lead> (<total>; ...): a, b and c.``

    ``lead`` in English and Norwegian; ``en`` and ``nb`` the reasons, each with its count; ``total`` the
    count of everything withheld (used when there are several reasons).
    """
    limit = f"report.min_cell = {ctx.min_cell}"
    if len(en) == 1:
        return ctx.text(f"{lead[0]} ({en[0]}; {limit}).", f"{lead[1]} ({nb[0]}; {limit}).")
    return ctx.text(
        f"{lead[0]} ({total}; {limit}): {', '.join(en[:-1])} and {en[-1]}.",
        f"{lead[1]} ({total}; {limit}): {', '.join(nb[:-1])} og {nb[-1]}.",
    )


def services_section(ctx: ReportContext) -> str:
    """How much services differ once chance variation is accounted for; small cells of observed rates withheld.

    An observed rate is published only when its service has at least ``report.min_cell`` participants
    and at least as many with the outcome and without it, or none (:func:`service_rate_shares`); the
    model-based rates of every service are.
    """
    estimands = ctx.estimands
    rates = median(estimands["service_rate"])
    shares = service_rate_shares(ctx)
    raw = shares.values
    n = np.asarray(estimands["service_n"].values, dtype=float)
    shown = shares.shown
    service = escape_md(ctx.label("service", ctx.text("service", "tjeneste")))
    text = []
    if shown.any():
        raw_low, raw_high = raw[shown].min(), raw[shown].max()
        raw_span, pooled_span = raw_high - raw_low, rates[shown].max() - rates[shown].min()
        text.append(
            ctx.text(
                f"Among the {int(shown.sum())} services whose observed rate rests on no cell under {ctx.min_cell} "
                "(participants, those with the outcome and those without it), observed rates range from "
                f"{amount(raw_low, '%', 'en')} to {amount(raw_high, '%', 'en')} "
                f"(services of {int(n[shown].min())} to {int(n[shown].max())} participants); after partial pooling "
                "their expected rates range from "
                f"{amount(rates[shown].min(), '%', 'en')} to {amount(rates[shown].max(), '%', 'en')}.",
                f"Blant de {int(shown.sum())} tjenestene der den observerte andelen ikke bygger på noen celle under "
                f"{ctx.min_cell} (deltakere, de med utfallet og de uten), varierer de observerte andelene fra "
                f"{amount(raw_low, '%', 'nb')} til {amount(raw_high, '%', 'nb')} "
                f"(tjenester med {int(n[shown].min())} til {int(n[shown].max())} deltakere); etter delvis "
                f"sammenslåing varierer de forventede andelene fra {amount(rates[shown].min(), '%', 'nb')} til "
                f"{amount(rates[shown].max(), '%', 'nb')}.",
            )
        )
        text.append(_pooling_sentence(ctx, raw_span, pooled_span))
    if shares.hidden:
        text.append(
            escape_md(withheld_shares_note(ctx, shares))
            + ctx.text(
                " Model-based rates are shown for every service.", " Modellbaserte andeler vises for alle tjenester."
            )
        )
    if "sd_service" in estimands:
        sd = ctx.effect("sd_service")
        text.append(
            ctx.text(
                f"The SD of {service} effects is {estimate(sd, ctx.style, 'en')} on the log-odds scale.",
                f"SD for {service}effektene er {estimate(sd, ctx.style, 'nb')} på log-odds-skalaen.",
            )
        )
    if "median_odds_ratio" in estimands:
        mor = ctx.effect("median_odds_ratio")
        text.append(
            ctx.text(
                f"Median odds ratio {estimate(mor, ctx.style, 'en')}: moving a participant to a random other service "
                "changes the odds of the outcome by this factor or more half of the time.",
                f"Median oddsratio {estimate(mor, ctx.style, 'nb')}: flyttes en deltaker til en tilfeldig annen "
                "tjeneste, endres oddsen for utfallet med denne faktoren eller mer halvparten av gangene.",
            )
        )
    return " ".join(text)


def services_counted(ctx: ReportContext, n: int) -> str:
    """``n`` services in the study's words, singular for one ("1 service", "2 tjenester", "3 schools"); plain text."""
    return ctx.counted(n, "service", ("service", "tjeneste"), ("services", "tjenester"))


def units_counted(ctx: ReportContext, n: int) -> str:
    """``n`` participants in the study's words ("10 participants", "1 deltaker", "6 elever"); plain text."""
    return ctx.counted(n, "unit", ("participant", "deltaker"), ("participants", "deltakere"), plural_key="units")


def withheld_months_note(ctx: ReportContext, raw: Any, shown: Any) -> str:
    """A sentence when observed shares of some months were withheld as small cells ("" when none were).

    ``raw`` and ``shown`` are the observed values (months on the first axis) before and after
    :func:`~ipsbayes.present.cells.suppress`; a month counts once however many of its values were
    withheld. "1 month" / "2 months", "1 måned" / "2 måneder", and the study's word for participants.
    """
    raw, shown = np.asarray(raw, dtype=float), np.asarray(shown, dtype=float)
    hidden = (np.isfinite(raw) & ~np.isfinite(shown)).reshape(raw.shape[0], -1).any(axis=1)
    withheld = int(hidden.sum())
    if not withheld:
        return ""
    months = ctx.counted(withheld, "month", ("month", "måned"), ("months", "måneder"))
    units = units_counted(ctx, ctx.min_cell)
    return ctx.text(
        f" Observed shares of {months} are not shown: they rest on fewer than {units} "
        f"(report.min_cell = {ctx.min_cell}).",
        f" Observerte andeler for {months} vises ikke: de bygger på færre enn {units} "
        f"(report.min_cell = {ctx.min_cell}).",
    )


def _pooling_sentence(ctx: ReportContext, raw_span: float, pooled_span: float) -> str:
    """What partial pooling did to the spread between services, chosen from the two spans."""
    if raw_span <= 0:
        return ""
    ratio = pooled_span / raw_span
    if ratio < 0.9:
        return ctx.text(
            f"Partial pooling narrows the spread by {100 * (1 - ratio):.0f}%: that part of the observed differences "
            "is what chance alone produces in services of these sizes.",
            f"Delvis sammenslåing gjør spredningen {100 * (1 - ratio):.0f} % smalere: den delen av de observerte "
            "forskjellene er det tilfeldigheter alene gir i tjenester av denne størrelsen.",
        )
    if ratio > 1.1:
        return ctx.text(
            f"The expected rates spread {100 * (ratio - 1):.0f}% more than the observed ones: participant "
            "characteristics differ between services.",
            f"De forventede andelene sprer seg {100 * (ratio - 1):.0f} % mer enn de observerte: deltakerne er ulike "
            "fra tjeneste til tjeneste.",
        )
    return ctx.text(
        "Partial pooling hardly changes the spread: the services are large enough for their own data to dominate.",
        "Delvis sammenslåing endrer knapt spredningen: tjenestene er store nok til at egne data dominerer.",
    )


def effect_rows(
    ctx: ReportContext,
    name: str = "ame",
    where: dict[str, Any] | None = None,
    conditional: Callable[[ReportContext, str], Effect | None] | None = None,
) -> list[dict[str, Any]]:
    """Average marginal effects ranked by size, never by signed median, each with its conditional effect.

    With a threshold for ``name`` in ``report.thresholds`` the rank is by the probability the table
    shows: a change beyond the threshold in the direction of the median (``P(effect > threshold)`` for
    a rise, ``P(effect < -threshold)`` for a fall), ties by absolute median; otherwise by absolute
    median. Ranking by a number the reader cannot see (e.g. the two tails added) would print rows out
    of the order of their own probabilities.

    Returns
    -------
    list of dict
        ``contrast`` (raw label), ``label`` (readable), ``effect`` (:class:`Effect`), ``conditional``
        (odds ratio :class:`Effect` or None), ``p_relevant`` (or None).
    """
    if not ctx.has(name):
        return []
    values = ctx.estimands[name]
    if where:
        values = values.sel(where)
    conditional = conditional or odds_ratio_of
    threshold = ctx.thresholds.get(name)
    rows = []
    for contrast in values["contrast"].values:
        draws = values.sel(contrast=contrast)
        effect = Effect.from_draws(
            draws.values, ctx.style, spoken_unit({"unit": "pp", **values.attrs}, ctx.language), 0.0
        )
        rows.append(
            {
                "contrast": str(contrast),
                "label": ctx.label(str(contrast)),
                "effect": effect,
                "conditional": conditional(ctx, str(contrast)),
                "p_relevant": effect.p_beyond(threshold) if threshold is not None else None,
            }
        )
    rows.sort(key=lambda r: (-(r["p_relevant"] or 0.0), -abs(r["effect"].median)))
    return rows


def odds_ratio_of(ctx: ReportContext, contrast: str) -> Effect | None:
    """The conditional odds ratio (per SD, or vs the reference level) behind an AME contrast, when the run has it."""
    if not ctx.has("odds_ratio"):
        return None
    term = term_of_contrast(contrast)
    values = ctx.estimands["odds_ratio"]
    if term not in [str(t) for t in values["term"].values]:
        return None
    return Effect.from_draws(values.sel(term=term).values, ctx.style, "OR", 1.0)


def effects_table(ctx: ReportContext, rows: list[dict[str, Any]], name: str = "ame") -> str:
    """Markdown table of ranked effects: marginal (pp) beside conditional (odds ratio).

    Probabilities are given in the direction of each median, so a clear fall is never printed as "P(> 5) = 0.00".
    """
    threshold = ctx.thresholds.get(name)
    size = threshold_amount(threshold, "pp", ctx.language) if threshold is not None else ""
    header = ctx.text(
        "| Rank | Characteristic | Marginal effect, pp (interval) | P(direction) |"
        + (f" P(change > {size}) |" if threshold is not None else "")
        + " Odds ratio, conditional (interval) |",
        "| Rang | Kjennetegn | Marginal effekt, prosentpoeng (intervall) | P(retning) |"
        + (f" P(endring > {size}) |" if threshold is not None else "")
        + " Oddsratio, betinget (intervall) |",
    )
    lines = [header, "| ---: | --- | --- | ---: |" + (" ---: |" if threshold is not None else "") + " --- |"]
    for rank, row in enumerate(rows, start=1):
        effect, odds = row["effect"], row["conditional"]
        up = effect.sign >= 0
        way = ctx.text("rise" if up else "fall", "økning" if up else "nedgang")
        cells = [
            str(rank),
            escape_md(row["label"]),
            estimate(effect, ctx.style, ctx.language, signed_value=True),
            f"{ctx.probability(effect.p_direction)} ({way})",
        ]
        if threshold is not None:
            cells.append(f"{ctx.probability(effect.p_beyond(threshold))} ({way})")
        cells.append(estimate(odds, ctx.style, ctx.language) if odds is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ranking_rule(ctx: ReportContext, threshold: float | None, unit: str = "pp") -> str:
    """How :func:`effect_rows` ranked its rows, in words: by size, or by the probability of passing ``threshold``.

    The probability is of a change beyond the threshold in the direction of each row's median (the
    column the tables print), not of one in either direction: the words must name the number ranked.
    """
    if threshold is None:
        return ctx.text("ranked by size (absolute median)", "rangert etter størrelse (absolutt median)")
    return ctx.text(
        f"ranked by the probability of a change larger than {threshold_amount(threshold, unit, 'en')} in the "
        "direction of its median",
        f"rangert etter sannsynligheten for en endring større enn {threshold_amount(threshold, unit, 'nb')} i "
        "medianens retning",
    )


def effects_section(ctx: ReportContext) -> str:
    """Participant and service characteristics: ranked marginal effects beside conditional odds ratios."""
    rows = effect_rows(ctx)
    threshold = ctx.thresholds.get("ame")
    rule = ranking_rule(ctx, threshold)
    intro = ctx.text(
        f"Average marginal effects on the expected rate (percentage points, {ctx.style.text}), {rule}. Each changes "
        "one characteristic for every participant and keeps the rest as observed (numeric characteristics: +1 SD "
        "where standardised, else +1 unit, as each row says; categories: against the reference level). "
        "P(direction) is the probability of a change in the direction of the median. The odds ratio is the "
        "conditional effect in the model (per SD or unit, or against the reference), the same for every "
        "participant; the marginal effect depends on who the participants are. Service-level characteristics are "
        "associations across services, not randomised comparisons.",
        f"Gjennomsnittlige marginale effekter på forventet andel (prosentpoeng, {ctx.style.text}), {rule}. Hver "
        "endrer ett kjennetegn for alle deltakerne og holder resten som observert (numeriske kjennetegn: +1 SD "
        "der de er standardisert, ellers +1 enhet, slik hver rad sier; kategorier: mot referansenivået). "
        "P(retning) er sannsynligheten for en endring i medianens retning. Oddsratioen er den betingede effekten i "
        "modellen (per SD eller enhet, eller mot referansen), lik for alle deltakere; den marginale effekten "
        "avhenger av hvem deltakerne er. Kjennetegn ved tjenestene er sammenhenger mellom tjenester, ikke "
        "randomiserte sammenligninger.",
    )
    return "\n\n".join([intro, effects_table(ctx, rows)])


def service_caterpillar(ctx: ReportContext) -> tuple[Figure, str]:
    """Predicted (partially pooled) outcome rate per service beside the observed rate.

    An observed rate is drawn only where :func:`service_rate_shares` publishes it (no cell under
    ``report.min_cell``: participants, those with the outcome, those without it); services with fewer
    participants show their size as "n<min_cell". Every predicted rate stays, and the caption counts the
    withheld rates by reason from the same shares.
    """
    estimands, style = ctx.estimands, ctx.style
    rate = estimands["service_rate"]
    n = estimands["service_n"].values
    shares = service_rate_shares(ctx)
    raw = shares.values
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
    note = (" " + withheld_shares_note(ctx, shares)) if shares.hidden else ""
    towards = _share_pulled_in(mid, raw, overall)
    moved = (
        ctx.text(
            f" Partial pooling moves {towards} of the services shown with an observed rate towards the overall rate.",
            f" Delvis sammenslåing flytter {towards} av tjenestene med observert andel mot den samlede andelen.",
        )
        if towards != "-"  # no observed rate shown (all below report.min_cell): nothing to compare
        else ""
    )
    caption = (
        ctx.text(
            f"Predicted outcome rate per service (dots, with {style.text}) beside the observed rate (open circles, "
            "sized by participants; grey lines show how far partial pooling moves each service).",
            f"Forventet andel per tjeneste (prikker, med {style.text}) ved siden av observert andel (åpne sirkler, "
            "etter antall deltakere; grå linjer viser hvor langt delvis sammenslåing flytter hver tjeneste).",
        )
        + moved
        + note
    )
    return fig, caption


def size_label(n: float, min_cell: int) -> str:
    """``n=35``, or ``n<5`` for a cell too small to publish."""
    return f"n<{min_cell}" if n < min_cell else f"n={int(n)}"


def _share_pulled_in(pooled: np.ndarray, raw: np.ndarray, overall: float) -> str:
    """``31/43``: services whose pooled rate is closer to the overall rate than their (published) observed rate."""
    shown = np.isfinite(raw)
    if not np.isfinite(overall) or not shown.any():
        return "-"
    closer = np.abs(pooled[shown] - overall) < np.abs(raw[shown] - overall)
    return f"{int(closer.sum())}/{int(shown.sum())}"


def effects_forest(ctx: ReportContext) -> tuple[Figure, str]:
    """Average marginal effects (percentage points) with 50% and configured intervals, largest first.

    Effects on several outcomes (a second dimension, e.g. ``category``) get one panel per outcome.
    """
    estimands, style = ctx.estimands, ctx.style
    effects = estimands["ame"]
    extra = [d for d in effects.dims if d not in ("chain", "draw")]
    rows, panels = extra[0], (extra[1] if len(extra) > 1 else None)
    keys = [str(k) for k in effects[panels].values] if panels else [None]
    labels = [ctx.label(str(v)) for v in effects[rows].values]  # as the text writes them ("yes vs no")
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
    unit = effects.attrs.get("unit", "pp")
    shown_en, shown_nb = ("percentage points", "prosentpoeng") if unit == "pp" else (unit, unit_of(effects.attrs, "nb"))
    fig.supxlabel(style.t(f"Average marginal effect ({shown_en})", f"Gjennomsnittlig marginal effekt ({shown_nb})"))
    handles = [
        Line2D([], [], color="#1f77b4", lw=3.2, label=style.t("50% interval", "50 % intervall")),
        Line2D([], [], color="#1f77b4", lw=1.0, marker="o", ms=4.5, label=style.median_and_interval),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    caption = ctx.text(
        f"Average marginal effects in {shown_en}, largest first: thick line 50%, thin line {style.text}; "
        "dot: posterior median. Numeric predictors: +1 SD where standardised, else +1 unit (each label says which); "
        "categories: vs the reference level.",
        f"Gjennomsnittlige marginale effekter i {shown_nb}, største først: tykk strek 50 %, tynn strek "
        f"{style.text}; punkt: posterior median. Numeriske variabler: +1 SD der de er standardisert, ellers +1 enhet "
        "(hver etikett sier hvilken); kategorier: mot referansenivået.",
    )
    return fig, caption
