"""How the competing-outcomes family presents itself: shares per outcome and the drivers of the focus outcome."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.answers import prior_dependence_line, threshold_amount
from ipsbayes.present.cells import ObservedShares, publishable_shares, suppress_counts_of_a_known_total
from ipsbayes.present.common import (
    effect_rows,
    effects_forest,
    effects_table,
    ranking_rule,
    withheld_shares_note,
)
from ipsbayes.present.phrases import Effect, amount, estimate, sd_of_contrast, term_of_contrast
from ipsbayes.present.style import median, pointrange
from ipsbayes.present.text import escape_md


def focus_of(ctx: ReportContext) -> str:
    """The focus outcome's readable label (``model.focus``, e.g. education)."""
    raw = str(ctx.estimands["focus_ame"].attrs.get("focus", "")) if ctx.has("focus_ame") else ""
    return ctx.label(raw) if raw else ctx.text("the focus outcome", "fokusutfallet")


def _focus_equation(ctx: ReportContext) -> str | None:
    """The equation of the focus outcome against the reference outcome, when the focus has one."""
    if not ctx.has("log_odds_per_unit") or not ctx.has("focus_ame"):
        return None
    focus = str(ctx.estimands["focus_ame"].attrs.get("focus", ""))
    equations = [str(e) for e in ctx.estimands["log_odds_per_unit"]["equation"].values]
    return next((e for e in equations if e.startswith(f"{focus}_vs_")), None)


def conditional_odds(ctx: ReportContext, contrast: str) -> Effect | None:
    """Odds ratio of the focus outcome against the reference among those reaching an outcome (per SD or level)."""
    equation = _focus_equation(ctx)
    if equation is None:
        return None
    term = term_of_contrast(contrast)
    values = ctx.estimands["log_odds_per_unit"].sel(equation=equation)
    if term not in [str(t) for t in values["term"].values]:
        return None
    sd = sd_of_contrast(contrast) or 1.0
    return Effect.from_draws(np.exp(values.sel(term=term).values * sd), ctx.style, "OR", 1.0)


def shares_line(ctx: ReportContext) -> str:
    """Expected share reaching each outcome, with intervals, categories in the config's order."""
    values = ctx.estimands["category_share"]
    parts = []
    for category in values["category"].values:
        effect = ctx.effect("category_share", category=category)
        parts.append(f"{ctx.label(str(category))} {estimate(effect, ctx.style, ctx.language)}")
    last = ctx.text(" and ", " og ")
    listed = ", ".join(parts[:-1]) + last + parts[-1] if len(parts) > 1 else parts[0]
    return ctx.text(
        f"Expected shares of participants by outcome: {listed}.", f"Forventet andel deltakere etter utfall: {listed}."
    )


def drivers_line(ctx: ReportContext, rows: list[dict]) -> str:
    """The two characteristics most strongly associated with the focus outcome, with direction and probability."""
    focus = focus_of(ctx)
    threshold = ctx.thresholds.get("focus_ame")
    items = []
    for row in rows[:2]:
        effect = row["effect"]
        text = f"{row['label']} ({estimate(effect, ctx.style, ctx.language, signed_value=True)}"
        if threshold is not None:
            way = ctx.text("rise" if effect.sign >= 0 else "fall", "økning" if effect.sign >= 0 else "nedgang")
            size = threshold_amount(threshold, "pp", ctx.language)
            text += ctx.text(
                f"; probability of a {way} of more than {size}: {ctx.probability(effect.p_beyond(threshold))}",
                f"; sannsynlighet for en {way} på mer enn {size}: {ctx.probability(effect.p_beyond(threshold))}",
            )
        items.append(text + ")")
    listed = ctx.text(" and ", " og ").join(items)
    return ctx.text(
        f"The characteristics most strongly associated with reaching {focus} are {listed}; these are associations, "
        "not randomised comparisons.",
        f"Kjennetegnene som henger sterkest sammen med å oppnå {focus}, er {listed}; dette er sammenhenger, ikke "
        "randomiserte sammenligninger.",
    )


def answer(ctx: ReportContext) -> list[str]:
    """Shares per outcome; the strongest drivers of the focus outcome; robustness when refits exist."""
    lines = []
    if ctx.has("category_share"):
        lines.append(shares_line(ctx))
    rows = effect_rows(ctx, "focus_ame", conditional=conditional_odds)
    if rows:
        lines.append(drivers_line(ctx, rows))
        robust = prior_dependence_line(ctx, "focus_ame", ("the effect", "effekten"))
        if robust:
            lines.append(robust)
    return lines


def shares_section(ctx: ReportContext) -> str:
    """Answer question 1: to what degree do participants reach each outcome (model-based shares only)."""
    estimands = ctx.estimands
    rows = [
        ctx.text(
            "| Outcome | Expected share (interval) | Range over services (medians, partially pooled) |",
            "| Utfall | Forventet andel (intervall) | Spenn mellom tjenester (medianer, delvis sammenslått) |",
        ),
        "| --- | --- | --- |",
    ]
    shares = estimands["service_share"].median(["chain", "draw"])
    to = ctx.text("to", "til")
    for category in estimands["category_share"]["category"].values:
        effect = ctx.effect("category_share", category=category)
        per_service = shares.sel(category=category).values
        rows.append(
            f"| {escape_md(ctx.label(str(category)))} | {estimate(effect, ctx.style, ctx.language)} | "
            f"{amount(per_service.min(), '%', ctx.language)} {to} {amount(per_service.max(), '%', ctx.language)} |"
        )
    text = [
        ctx.text(
            f"Expected shares over the study's participants, with {ctx.style.text}; per service, partially pooled "
            "(model-based, so no small-cell suppression is needed).",
            f"Forventede andeler over studiens deltakere, med {ctx.style.text}; per tjeneste delvis sammenslått "
            "(modellbasert, så små celler trenger ikke skjules).",
        ),
        "\n".join(rows),
    ]
    if ctx.has("service_correlation"):
        text.append(correlation_text(ctx))
    return "\n\n".join(text)


def correlation_text(ctx: ReportContext) -> str:
    """Correlation of service effects between equations, each with its direction in words."""
    parts = []
    for pair in ctx.estimands["service_correlation"]["pair"].values:
        effect = ctx.effect("service_correlation", pair=pair)
        kind = effect.direction(ctx.style.prob)
        word = {
            "up": ("positive", "positiv"),
            "probably_up": ("probably positive", "trolig positiv"),
            "down": ("negative", "negativ"),
            "probably_down": ("probably negative", "trolig negativ"),
            "unclear": ("sign unclear", "usikkert fortegn"),
        }[kind]
        names = " ~ ".join(ctx.label(part.strip()) for part in str(pair).split("~"))
        parts.append(f"{escape_md(names)}: {estimate(effect, ctx.style, ctx.language)}, {ctx.text(*word)}")
    return ctx.text(
        "Correlation of service effects between equations (positive: services that do well on one also tend to do "
        "well on the other): " + "; ".join(parts) + ".",
        "Korrelasjon mellom tjenesteeffektene i ligningene (positiv: tjenester som gjør det godt på den ene, gjør "
        "det gjerne godt på den andre også): " + "; ".join(parts) + ".",
    )


def drivers_section(ctx: ReportContext) -> str:
    """Answer question 2: what contributes to transitions to the focus outcome, ranked by size."""
    focus = escape_md(focus_of(ctx))
    rows = effect_rows(ctx, "focus_ame", conditional=conditional_odds)
    threshold = ctx.thresholds.get("focus_ame")
    rule = ranking_rule(ctx, threshold)
    equation = _focus_equation(ctx)
    reference = escape_md(ctx.label(equation.split("_vs_")[1])) if equation else ""
    conditional = (
        ctx.text(
            f"The odds ratio is the conditional effect on {focus} against {reference} among those who reach an "
            "outcome (per SD of a standardised numeric predictor, per unit of one that is not, or against the "
            "reference level).",
            f"Oddsratioen er den betingede effekten på {focus} mot {reference} blant dem som oppnår et utfall (per SD "
            "for en standardisert numerisk variabel, per enhet for en som ikke er det, eller mot referansenivået).",
        )
        if equation
        else ""
    )
    intro = ctx.text(
        f"Average marginal effects on the probability of reaching {focus} (percentage points, {ctx.style.text}), "
        f"{rule}. Each changes one characteristic for every participant and keeps the rest as observed; "
        "P(direction) is the probability of a change in the direction of the median. Service-level characteristics "
        f"are associations across services, not randomised comparisons. {conditional}",
        f"Gjennomsnittlige marginale effekter på sannsynligheten for å oppnå {focus} (prosentpoeng, "
        f"{ctx.style.text}), {rule}. Hver endrer ett kjennetegn for alle deltakerne og holder resten som observert; "
        "P(retning) er sannsynligheten for en endring i medianens retning. Kjennetegn ved tjenestene er "
        f"sammenhenger mellom tjenester, ikke randomiserte sammenligninger. {conditional}",
    )
    return "\n\n".join([intro.strip(), effects_table(ctx, rows, "focus_ame")])


def category_shares(ctx: ReportContext) -> tuple[np.ndarray, ObservedShares]:
    """Observed shares per service and outcome as they may be published, and per service why any is withheld.

    The rule of :func:`~ipsbayes.present.common.publishable_shares`, per cell: a share is withheld when its
    service has 1 to ``report.min_cell - 1`` participants, or when the participants in that outcome, or
    those in the others, number 1 to ``report.min_cell - 1`` (4% of 50 is 2 people). A service's shares
    add up to 100%, so one withheld share could be read off the others: while the withheld shares of a
    service rest on 1 to ``report.min_cell - 1`` participants together, its smallest shown share is
    withheld too (:func:`~ipsbayes.present.cells.suppress_counts_of_a_known_total`; a withheld total of
    at least ``report.min_cell`` gives no one away).

    Returns the shares (service x category, %, NaN where withheld) and an
    :class:`~ipsbayes.present.common.ObservedShares` with one entry per service (its values NaN where any
    of the service's shares is withheld) for :func:`~ipsbayes.present.common.withheld_shares_note`.
    """
    estimands = ctx.estimands
    observed = np.asarray(estimands["service_observed_share"].transpose("service", "category").values, dtype=float)
    n = np.broadcast_to(np.asarray(estimands["service_n"].values, dtype=float)[:, None], observed.shape)
    counts = np.rint(observed / 100.0 * n)
    cells = publishable_shares(observed, n, counts, ctx.min_cell)
    values = cells.values.copy()
    counted = n[:, 0] > 0
    for s in np.flatnonzero(counted & ~cells.few_units[:, 0] & ~cells.unknown.any(axis=1)):
        # the service's counts add up to its (published) size: the shared rule for counts of a known total
        # (it withholds what publishable_shares does, and the smallest shown shares that would give those away)
        hidden, _ = suppress_counts_of_a_known_total(counts[s], ctx.min_cell)
        values[s, np.isnan(hidden)] = np.nan
    few_units = cells.few_units[:, 0]
    withheld = counted[:, None] & ~np.isfinite(values)
    unknown = cells.unknown.any(axis=1) & ~few_units
    few_outcomes = withheld.any(axis=1) & ~few_units & ~unknown
    per_service = np.where(withheld.any(axis=1) | ~counted, np.nan, 0.0)
    return values, ObservedShares(per_service, few_units, few_outcomes, unknown)


def outcome_shares(ctx: ReportContext) -> tuple[Figure, str]:
    """Per outcome: each service's partially pooled share beside its observed share, services in one order.

    Observed shares are drawn only where :func:`category_shares` publishes them (no cell under
    ``report.min_cell``: participants, those in the outcome, those in the others, nor one that the
    others would give away); the caption counts the services with withheld shares, by reason, from the
    same shares.
    """
    estimands, style = ctx.estimands, ctx.style
    shares = estimands["service_share"]
    categories = [str(c) for c in shares["category"].values]
    n = estimands["service_n"].values
    published, withheld = category_shares(ctx)
    column = {str(c): i for i, c in enumerate(estimands["service_observed_share"]["category"].values)}
    services = [str(s) for s in shares["service"].values]
    y = np.arange(len(services))[::-1]
    fig, axes = style.subplots(0.15 * len(services) + 1.5, 1, len(categories), sharey=True, squeeze=False)
    for ax, category in zip(axes[0], categories, strict=True):
        values = shares.sel(category=category)
        pointrange(ax, values, y, style, "#1f77b4", lw=1.2, ms=3)
        seen = published[:, column[category]]
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
    caption = ctx.text(
        f"Per service and outcome: partially pooled share (dot, {style.text}) and observed share (open "
        "circle, sized by participants); dashed line: overall expected share.",
        f"Per tjeneste og utfall: delvis sammenslått andel (punkt, {style.text}) og observert andel (åpen sirkel, "
        "størrelse etter antall deltakere); stiplet linje: forventet andel totalt.",
    )
    if withheld.hidden:
        caption += " " + withheld_shares_note(
            ctx,
            withheld,
            ("share", "shares", "andeler", "andelen", "andelene"),
            ("in an outcome", "i et utfall"),
            ("in the others", "i de andre"),
        )
    if withheld.few_outcomes.any():
        caption += ctx.text(
            " A shown share that would give a withheld one away (the shares add up to 100%) is withheld with it.",
            " En andel som ville avsløre en skjult andel (andelene summerer til 100 %), skjules også.",
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
    labels = [ctx.label(str(c)) for c in effects["contrast"].values]
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
        f"largest first, with {style.text}. Numeric predictors: +1 SD where standardised, else +1 unit (each "
        "label says which); categories and service indicators: vs the reference.",
        f"Gjennomsnittlig marginal effekt av hver egenskap på sannsynligheten for {focus} etter 12 måneder, "
        f"største først, med {style.text}. Numeriske variabler: +1 SD der de er standardisert, ellers +1 enhet "
        "(hver etikett sier hvilken); kategorier: mot referansen.",
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
    answer=answer,
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
            lambda ctx: ctx.text(
                f"What drives transitions to {focus_of(ctx)}", f"Hva driver overganger til {focus_of(ctx)}"
            ),
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
