"""How much the priors weigh in an estimate: the reading of interval widths and where the median lies.

Every report reads a posterior interval's width against the priors' alone the same way
(:func:`prior_weight_words`), and says where the posterior median lies between the raw estimate and
the prior's centre without blaming the prior alone for the distance (:func:`pull_sentence`).
"""

from __future__ import annotations

import numpy as np

from ipsbayes.present.context import ReportContext
from ipsbayes.present.phrases import Effect, amount
from ipsbayes.present.text import shared_decimals

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


__all__ = ["DATA_DECIDE", "PRIOR_MATTERS", "prior_weight_words", "pull_sentence"]
