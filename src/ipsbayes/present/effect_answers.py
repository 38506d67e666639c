"""The answer's sentences on the predictors of a regression: the one asked about, else the leading one."""

from __future__ import annotations

from ipsbayes.present.answers import prior_dependence_line, probability_sentence, threshold_amount
from ipsbayes.present.common import effect_rows
from ipsbayes.present.context import ReportContext
from ipsbayes.present.phrases import estimate


def effect_answers(ctx: ReportContext, kinds: tuple[str, str], outcome: tuple[str, str]) -> list[str]:
    """The answer's sentences on predictors: the one the study asks about (``model.focus``), else the leading one.

    Each gives the average marginal effect with its interval, then the probability of a change in the
    direction of its median and of one beyond ``report.thresholds.ame``. The leading predictor is
    the first of :func:`effect_rows`: the largest by absolute median, or with a threshold the most
    likely to pass it, and the sentence names the rule that chose it. Plain text (the answer block
    is escaped when rendered).

    Parameters
    ----------
    kinds : (str, str)
        What the predictors are, in English and Norwegian ("predictors", "prediktorene").
    outcome : (str, str)
        What they change ("expected outcome", "forventet utfall").
    """
    rows = effect_rows(ctx)
    focus = str(ctx.estimands.attrs.get("focus") or "")
    asked = [row for row in rows if focus and row["contrast"].split(":", 1)[0].strip() == focus]
    threshold = ctx.thresholds.get("ame")
    lines = []
    for row in asked[:ANSWERED] or rows[:1]:
        effect, label = row["effect"], row["label"]
        shown = [estimate(effect, ctx.style, language, signed_value=True) for language in ("en", "nb")]
        if asked or len(rows) == 1:
            lead = ctx.text(
                f"{label[:1].upper()}{label[1:]} goes with a difference of {shown[0]} in the {outcome[0]}.",
                f"{label[:1].upper()}{label[1:]} henger sammen med en forskjell på {shown[1]} i {outcome[1]}.",
            )
        elif threshold is None:
            lead = ctx.text(
                f"Of the {kinds[0]} in the model, the largest difference in the {outcome[0]} goes with {label} "
                f"({shown[0]}).",
                f"Av {kinds[1]} i modellen henger {label} sammen med den største forskjellen i {outcome[1]} "
                f"({shown[1]}).",
            )
        else:
            size = [threshold_amount(abs(threshold), effect.unit, language) for language in ("en", "nb")]
            lead = ctx.text(  # the rank of effect_rows: each one's probability in the direction of its own median
                f"Of the {kinds[0]} in the model, {label} has the highest probability of changing the {outcome[0]} "
                f"by more than {size[0]} in the direction of its median ({shown[0]}).",
                f"Av {kinds[1]} i modellen har {label} høyest sannsynlighet for å endre {outcome[1]} med mer enn "
                f"{size[1]} i medianens retning ({shown[1]}).",
            )
        probability = probability_sentence(
            ctx,
            effect,
            abs(threshold) if threshold is not None else None,
            # "{verb}" is filled in by probability_sentence (never formatted: a brace in a label is text)
            (f"{label} goes with a " + "{verb} " + outcome[0], f"{label} henger sammen med " + "{verb} " + outcome[1]),
            ("higher|rise", "høyere|økning"),
            ("lower|fall", "lavere|nedgang"),
        )
        lines.append(f"{lead} {probability}")
    if asked and (line := _focus_prior_line(ctx, asked[0])):
        lines.append(line)
    if len(asked) > ANSWERED:
        rule = (
            ("the ones most likely to pass the threshold", "de som mest sannsynlig er over terskelen")
            if threshold is not None
            else ("the largest by median", "de største etter median")
        )
        more, name = len(asked) - ANSWERED, ctx.label(focus, focus)
        name = name[:1].upper() + name[1:]
        lines.append(
            ctx.text(
                f"{name} has {len(asked)} contrasts; the {ANSWERED} above are {rule[0]}, and {more} more "
                f"{'is' if more == 1 else 'are'} in the table of average marginal effects.",
                f"{name} har {len(asked)} kontraster; de {ANSWERED} over er {rule[1]}, og {more} til står i "
                "tabellen over gjennomsnittlige marginale effekter.",
            )
        )
    return lines


def _focus_prior_line(ctx: ReportContext, row: dict) -> str:
    """How much the asked-about predictor's first contrast depends on the priors, where the run checked it.

    Power-scaling scores each contrast of a vector estimand (``ame[program: 1 vs 0]``); the line the
    answer gives for the overall outcome says nothing about the contrast the study asked about,
    which may depend on its prior when the outcome does not. Empty where neither power-scaling nor
    refits cover it (the outcome's line then says the run did not check).
    """
    element = f"ame[{row['contrast']}]"
    power = ctx.datatree["power_scaling"] if "power_scaling" in ctx.datatree.children else None
    scaled = power is not None and element in [str(e) for e in power["estimand"].values]
    if not scaled and "sensitivity" not in ctx.datatree.children:
        return ""
    label = row["label"]
    return prior_dependence_line(ctx, element, (f"the difference with {label}", f"forskjellen med {label}"))


#: contrasts of the asked-about predictor the answer gives in words; the rest are named by count
ANSWERED = 3


__all__ = ["ANSWERED", "effect_answers"]
