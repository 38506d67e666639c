"""How much the priors weigh in an estimate: the reading of interval widths and where the median lies.

Every report reads a posterior interval's width against the priors' alone the same way
(:func:`prior_weight_words`), and says where the posterior median lies between the raw estimate and
the prior's centre without blaming the prior alone for the distance (:func:`pull_sentence`).
"""

from __future__ import annotations

import numpy as np

from ipsbayes.present.context import ReportContext
from ipsbayes.present.phrases import Effect, amount
from ipsbayes.present.text import percent, shared_decimals

#: posterior interval width / prior interval width: at or above PRIOR_MATTERS the estimate rests largely on the
#: priors (the data add under 44% of the information), below DATA_DECIDE the data decide it (over 94%)
PRIOR_MATTERS, DATA_DECIDE = 0.75, 0.25


def prior_weight_words(ratio: float, prior_sensitivity: float | None = None) -> tuple[str, str]:
    """What a posterior interval ``ratio`` times as wide as the priors' alone says, in English and Norwegian.

    One reading for every report (the CACE's small-sample section, the time-to-event answer): under a
    normal approximation precisions add, so the data carry ``1 - ratio**2`` of the posterior's
    information (a posterior half as wide as the prior: 75%). The verdict follows
    :data:`PRIOR_MATTERS` and :data:`DATA_DECIDE`, and the share is stated beside it.

    Widths say how much the data narrowed the prior, not whether the prior moved the estimate: with
    ``prior_sensitivity`` (power-scaling's score where it flags the estimate) the verdict says the
    priors still move it, whatever the widths.
    """
    if not np.isfinite(ratio) or ratio <= 0:
        return (
            "so the priors' weight cannot be read from the widths",
            "så priorenes vekt kan ikke leses av breddene",
        )
    share = max(0.0, 1.0 - ratio**2)
    data_en = f"by a normal approximation the data carry about {100 * share:.0f}% of the information"
    data_nb = f"etter en normaltilnærming står dataene for omtrent {100 * share:.0f} % av informasjonen"
    if prior_sensitivity is not None:
        score = f"{prior_sensitivity:.3f}"
        return (
            f"yet power-scaling finds the estimate sensitive to the priors (prior sensitivity {score}), so the "
            f"priors still move it ({data_en})",
            f"men power-scaling finner at anslaget påvirkes av priorene (følsomhet for prioren "
            f"{score.replace('.', ',')}), så priorene flytter det fortsatt ({data_nb})",
        )
    if ratio >= PRIOR_MATTERS:
        return (
            f"so the estimate still rests largely on the priors ({data_en})",
            f"så anslaget hviler fortsatt i stor grad på priorene ({data_nb})",
        )
    if ratio >= DATA_DECIDE:
        return f"so the priors still matter ({data_en})", f"så priorene betyr fortsatt noe ({data_nb})"
    return (
        f"so the data, not the priors, decide the estimate ({data_en})",
        f"så det er dataene, ikke priorene, som avgjør anslaget ({data_nb})",
    )


def pull_sentence(
    ctx: ReportContext, posterior: float, raw: float, prior_effect: Effect, unit: str, raw_name: tuple[str, str]
) -> str:
    """Where the posterior median lies between the raw (data-dominated) estimate and the prior's centre.

    Computed, never assumed: towards the prior's centre (and by what share of the
    distance), beyond the raw estimate, or on the other side of the prior's centre.
    A prior centre within 5% of the prior interval's width from zero is called zero.
    """
    width = prior_effect.upper - prior_effect.lower
    centre_is_zero = abs(prior_effect.median) <= 0.05 * width if np.isfinite(width) else False
    prior = 0.0 if centre_is_zero else prior_effect.median
    distance = raw - prior
    decimals = shared_decimals([posterior, raw, prior], unit)
    centre = (
        ctx.text("zero", "null")
        if centre_is_zero
        else ctx.text(
            f"the prior's centre ({amount(prior, unit, 'en', decimals)})",
            f"priorens sentrum ({amount(prior, unit, 'nb', decimals)})",
        )
    )
    # the sentence compares the posterior median, the raw estimate and the prior's centre: one rounding for them
    raw_text = f"{ctx.text(*raw_name)} ({amount(raw, unit, ctx.language, decimals)})"
    post_text = amount(posterior, unit, ctx.language, decimals)
    if abs(distance) < 1e-12 or not np.isfinite(distance):
        return ctx.text(
            f"The raw estimate {raw_text} coincides with the prior's centre; the posterior median is {post_text}.",
            f"Det rå anslaget {raw_text} faller sammen med priorens sentrum; posteriormedianen er {post_text}.",
        )
    share = (raw - posterior) / distance
    if 0.02 <= share <= 1.0:  # the model moved it towards the prior; the model is more than its prior
        refits = "sensitivity" in ctx.datatree.children
        part = ctx.text(
            "the refits under other prior sets show the prior's own part"
            if refits
            else "refits under other prior sets (`sensitivity.prior_sets`) would show the prior's own part",
            "analysene med andre priorsett viser priorens egen del"
            if refits
            else "analyser med andre priorsett (`sensitivity.prior_sets`) ville vist priorens egen del",
        )
        return ctx.text(
            f"The posterior median ({post_text}) lies between {raw_text} and {centre}, {100 * share:.0f}% of the way "
            f"from the raw estimate towards {centre}: the prior and the rest of the model (its covariates and "
            f"structure) together move it there; {part}.",
            f"Posteriormedianen ({post_text}) ligger mellom {raw_text} og {centre}, {100 * share:.0f} % av veien "
            f"fra det rå anslaget mot {centre}: prioren og resten av modellen (kovariatene og strukturen) flytter "
            f"den dit sammen; {part}.",
        )
    if -0.02 < share < 0.02:
        return ctx.text(
            f"The posterior median ({post_text}) is close to {raw_text}: the prior and the model hardly move it "
            "from the data's own estimate (how wide its interval is, and how much the prior sets move it, are "
            "separate questions).",
            f"Posteriormedianen ({post_text}) ligger nær {raw_text}: prioren og modellen flytter den knapt fra "
            "dataenes eget anslag (hvor bredt intervallet er, og hvor mye priorsettene flytter det, er egne "
            "spørsmål).",
        )
    if share < 0:
        return ctx.text(
            f"The posterior median ({post_text}) is further from {centre} than {raw_text}: the prior does not pull it "
            "in, so the difference comes from the rest of the model, not from the prior.",
            f"Posteriormedianen ({post_text}) ligger lenger fra {centre} enn {raw_text}: prioren trekker den ikke inn, "
            "så forskjellen kommer fra resten av modellen, ikke fra prioren.",
        )
    return ctx.text(
        f"The posterior median ({post_text}) lies on the other side of {centre} from {raw_text}.",
        f"Posteriormedianen ({post_text}) ligger på motsatt side av {centre} fra {raw_text}.",
    )


def flagged_prior_sensitivity(ctx: ReportContext, name: str) -> float | None:
    """Power-scaling's prior sensitivity of ``name`` (an estimand or one element's compared name) where it flags it.

    None where the run has no power-scaling of ``name`` or its sensitivity is below the threshold.
    """
    if "power_scaling" not in ctx.datatree.children:
        return None
    power = ctx.datatree["power_scaling"].to_dataset()
    if "estimand" not in power.coords or "prior" not in power or name not in [str(e) for e in power["estimand"].values]:
        return None
    prior = float(power["prior"].sel(estimand=name))
    return prior if prior >= float(power.attrs.get("threshold", 0.05)) else None


def prior_width_line(ctx: ReportContext, name: str, short: tuple[str, str], power_scaling: bool = True) -> str | None:
    """How much the priors alone allow ``name`` and how much narrower the posterior is, or None without prior draws.

    For a run with neither refits nor power-scaling of ``name``: its prior draws (the ``prior_estimands``
    group) still say how much the data narrowed the priors, read as every report reads a ratio of
    widths (:func:`prior_weight_words`). ``name`` is an estimand, one element (``"ame[age: +1 SD]"``) or
    a vector estimand, whose element the data narrowed least is the one stated;
    ``power_scaling``: whether the way to check names power-scaling (not for data too large for it).
    """
    found = _prior_and_posterior(ctx, name)
    if not found:
        return None

    def ratio(prior: Effect, post: Effect) -> float:
        width = prior.upper - prior.lower
        return (post.upper - post.lower) / width if width > 0 else float("nan")

    label, prior, post, unit = max(found, key=lambda item: np.nan_to_num(ratio(item[1], item[2]), nan=-1.0))
    if label is not None and len(found) > 1:
        shown = ctx.label(label)
        short = (
            f"{short[0]} for {shown} (of its {len(found)} elements, the one the data narrowed least)",
            f"{short[1]} for {shown} (av {len(found)} elementer den som dataene snevret minst inn)",
        )
    verdict_en, verdict_nb = prior_weight_words(ratio(prior, post))
    kind = f"{percent(ctx.style.prob, ctx.language)} {ctx.style.kind.upper()}"
    decimals = shared_decimals([prior.lower, prior.upper], unit)
    span = {lang: [amount(v, unit, lang, decimals) for v in (prior.lower, prior.upper)] for lang in ("en", "nb")}
    share = f"{100 * ratio(prior, post):.0f}" if np.isfinite(ratio(prior, post)) else "?"
    return ctx.text(
        f"The priors alone allow {short[0]} anywhere from {span['en'][0]} to {span['en'][1]} ({kind}); the posterior "
        f"interval is {share}% as wide, {verdict_en}. How far other priors would move it was not checked in this "
        f"run: add `sensitivity.prior_sets`{' or set `sensitivity.power_scaling = true`' if power_scaling else ''}.",
        f"Priorene alene tillater {short[1]} fra {span['nb'][0]} til {span['nb'][1]} ({kind}); posteriorintervallet "
        f"er {share} % så bredt, {verdict_nb}. Hvor langt andre priorer ville flytte det, ble ikke undersøkt i denne "
        f"kjøringen: legg til `sensitivity.prior_sets`"
        f"{' eller sett `sensitivity.power_scaling = true`' if power_scaling else ''}.",
    )


def _prior_and_posterior(ctx: ReportContext, name: str) -> list[tuple[str | None, Effect, Effect, str]]:
    """(element label, prior, posterior, unit) of estimand ``name``, of its element ``"var[label]"`` or of each element.

    Empty when the run has no prior draws of it, or an element is not found.
    """
    if "prior_estimands" not in ctx.datatree.children:
        return []
    priors = ctx.datatree["prior_estimands"].to_dataset()
    var, _, wanted = name.partition("[")
    wanted = wanted[:-1] if wanted.endswith("]") else wanted
    if var not in priors.data_vars or var not in ctx.estimands.data_vars:
        return []
    prior_values, post_values = priors[var], ctx.estimands[var]
    dims = [dim for dim in post_values.dims if dim not in ("chain", "draw", "sample")]
    if [dim for dim in prior_values.dims if dim not in ("chain", "draw", "sample")] != dims or len(dims) > 1:
        return []
    unit, null = str(post_values.attrs.get("unit", "")), post_values.attrs.get("null", 0.0)
    if dims:
        labels = [str(v) for v in post_values[dims[0]].values]
        if [str(v) for v in prior_values[dims[0]].values] != labels or (wanted and wanted not in labels):
            return []
        pairs = [(lab, prior_values.isel({dims[0]: i}), post_values.isel({dims[0]: i})) for i, lab in enumerate(labels)]
        pairs = [pair for pair in pairs if not wanted or pair[0] == wanted]
    elif wanted:
        return []
    else:
        pairs = [(None, prior_values, post_values)]
    out = []
    for label, prior, post in pairs:
        effects = [Effect.from_draws(np.asarray(v.values), ctx.style, unit, null) for v in (prior, post)]
        if all(np.isfinite([e.lower, e.upper]).all() for e in effects):
            out.append((label, effects[0], effects[1], unit))
    return out


__all__ = ["DATA_DECIDE", "PRIOR_MATTERS", "prior_weight_words", "prior_width_line", "pull_sentence"]
