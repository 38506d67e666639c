"""Prior-data conflict in CACE reports: where the observed ITT falls under the prior, and the robust weights.

Part of the CACE family's presentation (:mod:`ipsbayes.models.cace_report`), built from the
run's ``prior_data_conflict`` group (:mod:`ipsbayes.conflict`, written by the runner for runs
with an assignment). Every verdict is chosen from the numbers, in English and Norwegian:
whether the tail probability signals conflict, tension or none, and whether the data moved
each robust mixture prior towards its vague component or away from it. When the run's
power-scaling diagnosis (the report's verdict) and this check disagree, one sentence says
what each of them looks at, so the report does not contradict itself (:func:`reconcile`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ipsbayes.diagnostics_text import parameter_label
from ipsbayes.models.cace_small import units_word
from ipsbayes.present import ReportContext
from ipsbayes.present.cells import too_small
from ipsbayes.present.context import vocabulary_of
from ipsbayes.present.phrases import amount, signed
from ipsbayes.present.text import localise
from ipsbayes.report.verdict import join_names, prior_problems, short_name
from ipsbayes.textutil import escape_md

#: two-sided tail probability below which the data conflict with the prior, and below which there is tension
CONFLICT, TENSION = 0.05, 0.10
#: change in the robust component's weight (prior to posterior) below which the data "hardly changed it"
WEIGHT_CHANGE = 0.02


def has_conflict_check(ctx: ReportContext) -> bool:
    """True when the run carries a prior-data conflict check."""
    return "prior_data_conflict" in ctx.datatree.children


def conflict_group(ctx: ReportContext) -> xr.Dataset:
    """The run's ``prior_data_conflict`` group."""
    return ctx.datatree["prior_data_conflict"].to_dataset()


def tail_p(value: float, language: str) -> str:
    """A tail probability for a sentence: three decimals, ``< 0.001`` below that."""
    return localise("< 0.001" if value < 0.001 else f"{value:.3f}", language)


def level(p: float) -> str:
    """``"conflict"``, ``"tension"`` or ``"none"`` for a two-sided tail probability."""
    return "conflict" if p < CONFLICT else "tension" if p < TENSION else "none"


def verdict(ctx: ReportContext, p: float) -> str:
    """What a tail probability says about data and prior, in the report's language."""
    return {
        "conflict": ctx.text(
            "the data conflict with the prior; the prior is pulling the estimate, so read the analyses under other "
            "priors (sensitivity section) before this one.",
            "dataene strider mot prioren; prioren trekker anslaget, så les analysene med andre priorer "
            "(avsnittet om følsomhet) før denne.",
        ),
        "tension": ctx.text(
            "some tension between data and prior; compare with the analyses under other priors.",
            "noe spenning mellom data og prior; sammenlign med analysene med andre priorer.",
        ),
        "none": ctx.text(
            "no sign of conflict: the data are the kind the prior expects.",
            "ingen tegn til konflikt: dataene er av den typen prioren venter.",
        ),
    }[level(p)]


def robust_verdict(ctx: ReportContext, prior: float, posterior: float) -> str:
    """Which way the data moved a robust mixture prior's vague component."""
    change = posterior - prior
    if change > WEIGHT_CHANGE:
        return ctx.text(
            "the data moved weight towards the vague component, so they partly overrule the historical evidence.",
            "dataene flyttet vekt mot den vage komponenten, så de overstyrer delvis den historiske kunnskapen.",
        )
    if change < -WEIGHT_CHANGE:
        return ctx.text(
            "the data favour the informative (historical) components.",
            "dataene støtter de informative (historiske) komponentene.",
        )
    return ctx.text("the data hardly changed it.", "dataene endret den knapt.")


def conflict_line(ctx: ReportContext) -> str | None:
    """One answer-block sentence when the data conflict with (or are in tension with) the prior, else None."""
    if not has_conflict_check(ctx):
        return None
    group = conflict_group(ctx)
    p = float(group["p_two_sided"])
    if level(p) == "none":
        return None
    prior_set = group.attrs.get("prior_set", "?")
    if level(p) == "conflict":
        return ctx.text(
            f"The trial's data conflict with the prior set {prior_set} (prior-predictive p = {tail_p(p, 'en')}): "
            "read the analyses under other priors before this one.",
            f"Dataene i studien strider mot priorsettet {prior_set} (prior-prediktiv p = {tail_p(p, 'nb')}): "
            "les analysene med andre priorer før denne.",
        )
    return ctx.text(
        f"There is some tension between the trial's data and the prior set {prior_set} (prior-predictive "
        f"p = {tail_p(p, 'en')}).",
        f"Det er noe spenning mellom dataene i studien og priorsettet {prior_set} (prior-prediktiv "
        f"p = {tail_p(p, 'nb')}).",
    )


def reconcile(ctx: ReportContext, p: float) -> str | None:
    """One sentence when power-scaling (the verdict) and this prior-predictive check disagree, else None.

    The check asks whether the observed ITT is a value the whole prior (vague robust component
    included) predicts for this trial; power-scaling asks whether an estimand's posterior moves
    when the prior is made stronger or weaker. An informative prior that pulls the estimate
    away from where the data alone would put it can be flagged by power-scaling although the
    data are unsurprising under the prior; data that are surprising under the prior can leave
    the posterior insensitive to it when they dominate it or a vague component absorbs them.
    """
    problems = prior_problems(ctx.datatree)
    flagged = [short_name(n, ctx.datatree, ctx.labels, ctx.language) for n, d in problems.items() if "conflict" in d]
    if flagged and level(p) == "none":
        names = escape_md(join_names(flagged, ctx.language))  # the study's labels, escaped once: this is Markdown
        return ctx.text(
            f"The verdict above reports potential prior-data conflict for {names} from power-scaling, while this "
            "check finds none. They look at different things: this check asks whether the observed ITT is a value "
            "the whole prior predicts for this trial (it is), power-scaling asks whether the posterior of "
            f"{names} moves when the prior is made stronger or weaker (it does). Together: the data are plausible "
            "under the prior, but prior and data pull the estimate in different directions, so the prior still "
            "shifts it; compare the analyses under other prior sets.",
            f"Konklusjonen øverst melder mulig konflikt mellom prior og data for {names} fra power-scaling, mens "
            "denne sjekken ikke finner noen. De ser på ulike ting: denne sjekken spør om den observerte "
            "ITT-forskjellen er en verdi hele prioren forutsier for denne studien (det er den), power-scaling spør "
            f"om posterioren for {names} flytter seg når prioren gjøres sterkere eller svakere (det gjør den). "
            "Sammen: dataene er rimelige under prioren, men prior og data trekker anslaget i ulike retninger, så "
            "prioren flytter det likevel; sammenlign med analysene med andre priorsett.",
        )
    if "power_scaling" in ctx.datatree.children and not flagged and level(p) != "none":
        return ctx.text(
            "Power-scaling (the verdict above) finds no prior-data conflict although this check does. They look at "
            "different things: this check asks whether the observed ITT is a value the whole prior predicts for "
            "this trial (it is not), power-scaling asks whether the posterior moves when the prior is made stronger "
            "or weaker (it hardly does). Together: the data are unusual under the prior, but they (or a robust "
            "mixture's vague component) dominate the posterior, so the estimate depends little on the prior.",
            "Power-scaling (konklusjonen øverst) finner ingen konflikt mellom prior og data, selv om denne "
            "sjekken gjør det. De ser på ulike ting: denne sjekken spør om den observerte ITT-forskjellen er en "
            "verdi hele prioren forutsier for denne studien (det er den ikke), power-scaling spør om posterioren "
            "flytter seg når prioren gjøres sterkere eller svakere (det gjør den knapt). Sammen: dataene er "
            "uvanlige under prioren, men de (eller den vage komponenten i en robust blanding) dominerer "
            "posterioren, så anslaget avhenger lite av prioren.",
        )
    return None


def _small_arm(ctx: ReportContext) -> bool:
    """True when an arm's observed rate is a small cell: the observed ITT (their difference) is then withheld too."""
    arms = ("observed_rate_treatment_arm", "observed_rate_control_arm")
    return any(
        bool(too_small(ctx.estimands[name].attrs.get("participants", np.nan), ctx.min_cell))
        for name in arms
        if ctx.has(name)
    )


def conflict_section(ctx: ReportContext) -> str:
    """Where the observed ITT falls under the prior, and the posterior weight of each robust component."""
    group = conflict_group(ctx)
    replicated = np.asarray(group["itt_prior_predictive"].values, dtype=float)
    observed, p = float(group["itt_observed"]), float(group["p_two_sided"])
    unit = str(group.attrs.get("unit", "pp"))
    prior_set = escape_md(group.attrs.get("prior_set", "?"))
    low, high = np.quantile(replicated, [0.025, 0.975])
    below = float(group["p_lower"])
    lang = ctx.language
    draws = localise(f"{replicated.size:,}", lang)
    small = _small_arm(ctx)
    if small:
        first = ctx.text(
            f"The observed ITT difference is not shown: an arm's rate rests on fewer than {ctx.min_cell} "
            f"{units_word(ctx)}, the arm itself or those in it with or without the outcome "
            f"(report.min_cell = {ctx.min_cell}). Compared with the differences the prior set {prior_set} "
            f"predicts for this trial ({draws} draws with the observed arm sizes, covariates and uptake), the "
            f"two-sided tail probability is **p = {tail_p(p, 'en')}**: {verdict(ctx, p)}",
            f"Den observerte ITT-forskjellen vises ikke: andelen i en arm bygger på færre enn {ctx.min_cell} "
            f"{units_word(ctx)}, armen selv eller de i den med eller uten utfallet "
            f"(report.min_cell = {ctx.min_cell}). Sammenlignet med forskjellene priorsettet {prior_set} forutsier "
            f"for denne studien ({draws} trekk med observerte gruppestørrelser, kovariater og deltakelse) er den "
            f"tosidige halesannsynligheten **p = {tail_p(p, 'nb')}**: {verdict(ctx, p)}",
        )
    else:
        first = ctx.text(
            f"The observed ITT difference, **{signed(observed, unit, 'en')}**, is larger than "
            f"{amount(100 * below, '%', 'en')} of the differences the prior set {prior_set} predicts for this trial "
            f"(middle 95% of the prior predictive distribution: {signed(low, unit, 'en')} to "
            f"{signed(high, unit, 'en')}; {draws} draws with the observed arm sizes, covariates and uptake). "
            f"Two-sided tail probability **p = {tail_p(p, 'en')}**: {verdict(ctx, p)}",
            f"Den observerte ITT-forskjellen, **{signed(observed, unit, 'nb')}**, er større enn "
            f"{amount(100 * below, '%', 'nb')} av forskjellene priorsettet {prior_set} forutsier for denne studien "
            f"(midterste 95 % av den prior-prediktive fordelingen: {signed(low, unit, 'nb')} til "
            f"{signed(high, unit, 'nb')}; {draws} trekk med observerte gruppestørrelser, kovariater og "
            f"deltakelse). Tosidig halesannsynlighet **p = {tail_p(p, 'nb')}**: {verdict(ctx, p)}",
        )
    lines = [first]
    if "p_two_sided_informative" in group and not small:
        p_hist, below_hist = float(group["p_two_sided_informative"]), float(group["p_lower_informative"])
        lines.append(
            ctx.text(
                "Under the historical (informative) components of the robust prior alone, the observed ITT is larger "
                f"than {amount(100 * below_hist, '%', 'en')} of the predicted differences, **p = "
                f"{tail_p(p_hist, 'en')}**: {verdict(ctx, p_hist)}",
                "Med bare de historiske (informative) komponentene av den robuste prioren er den observerte "
                f"ITT-forskjellen større enn {amount(100 * below_hist, '%', 'nb')} av de forutsagte forskjellene, "
                f"**p = {tail_p(p_hist, 'nb')}**: {verdict(ctx, p_hist)}",
            )
        )
    if "robust_posterior_weight" in group:
        for name in group["parameter"].values:
            prior_w = float(group["robust_prior_weight"].sel(parameter=name))
            post_w = float(group["robust_posterior_weight"].sel(parameter=name))
            # the parameter as the diagnostics name it, in the report's language ([report.labels] wins)
            words = vocabulary_of(ctx.estimands)
            label = escape_md(ctx.labels.get(str(name)) or parameter_label(str(name), ctx.language, words))
            before, after = localise(f"{prior_w:.2f}", lang), localise(f"{post_w:.2f}", lang)
            lines.append(
                ctx.text(
                    f"Robust mixture prior for {label}: the vague component's weight went from {before} in the prior "
                    f"to **{after}** in the posterior: {robust_verdict(ctx, prior_w, post_w)}",
                    f"Robust blandingsprior for {label}: vekten på den vage komponenten gikk fra {before} i prioren "
                    f"til **{after}** i posterioren: {robust_verdict(ctx, prior_w, post_w)}",
                )
            )
    agreement = reconcile(ctx, p)
    if agreement:
        lines.append(agreement)
    lines.append(
        ctx.text(
            "Method: prior-predictive check of the difference in mean outcome by assigned arm (Box 1980), two-sided "
            "mid-p; posterior weight of the robust component averaged over posterior draws (Schmidli et al. 2014).",
            "Metode: prior-prediktiv sjekk av forskjellen i gjennomsnittlig utfall mellom tildelte armer (Box 1980), "
            "tosidig mid-p; posterior vekt på den robuste komponenten som gjennomsnitt over posteriortrekk "
            "(Schmidli mfl. 2014).",
        )
    )
    return "\n\n".join(lines)


__all__ = [
    "CONFLICT",
    "TENSION",
    "conflict_line",
    "conflict_section",
    "has_conflict_check",
    "level",
    "reconcile",
    "verdict",
]
