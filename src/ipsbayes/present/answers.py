"""Sentences shared by every family's answer block: probabilities, robustness across refits, the prior's pull.

Each function returns a plain-text sentence (no Markdown) in the report's language,
built from posterior draws; user-controlled words come from ``ctx.label``. The
renderer escapes the answer block, so nothing here escapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.present.context import ReportContext
from ipsbayes.present.phrases import Effect, amount, amounts
from ipsbayes.present.prior_weight import prior_width_line
from ipsbayes.present.text import choose, label_of
from ipsbayes.textutil import beside, decimal_commas


def threshold_amount(threshold: float, unit: str, language: str = "en") -> str:
    """A threshold as written in the config, with its unit: ``10 pp``, ``1 month``, ``5%``."""
    number = f"{threshold:g}"
    if language == "nb":
        number = number.replace(".", ",")
    if unit in ("months", "month"):
        word = (
            ("month" if threshold == 1 else "months")
            if language != "nb"
            else ("måned" if threshold == 1 else "måneder")
        )
        return f"{number} {word}"
    if unit == "%":
        return f"{number} %" if language == "nb" else f"{number}%"
    shown = amount(threshold, unit, language)
    word = shown.split(" ", 1)[1] if " " in shown else ""
    return f"{number} {word}".strip()


def probability_sentence(
    ctx: ReportContext,
    effect: Effect,
    threshold: float | None,
    what: tuple[str, str],
    up: tuple[str, str],
    down: tuple[str, str],
) -> str:
    """The probability of a change in the direction of the median, and of one beyond ``threshold``.

    E.g. "The probability that IPS raises employment for compliers is 0.88; of a rise of more than 10 pp, 0.63."

    The direction is the median's: for an estimate below its null the sentence gives the
    probability that the quantity *lowers* the outcome, and of a fall beyond the threshold.

    Parameters
    ----------
    what : (str, str)
        English and Norwegian subject and object, e.g. ``("IPS {verb} employment for compliers", ...)``
        with ``{verb}`` where the verb goes.
    up, down : (str, str)
        Present-tense verbs for an increase and a decrease, and (after a ``|``) their nouns:
        ``("raises|rise", "øker|økning")``.
    """
    verb_en, noun_en = (down if effect.sign < 0 else up)[0].split("|")
    verb_nb, noun_nb = (down if effect.sign < 0 else up)[1].split("|")
    p = ctx.probability(effect.p_direction)
    text = ctx.text(
        # the subject holds the study's words: "{verb}" is replaced, never formatted (a "{" in a label is text)
        f"The probability that {what[0].replace('{verb}', verb_en)} is {p}",
        f"Sannsynligheten for at {what[1].replace('{verb}', verb_nb)} er {p}",
    )
    if threshold is not None and effect.sign != 0:
        beyond = ctx.probability(effect.p_beyond(threshold))
        size = threshold_amount(threshold, effect.unit, ctx.language)
        text += ctx.text(
            f"; of a {noun_en} of more than {size}, {beyond}", f"; for en {noun_nb} på mer enn {size}, {beyond}"
        )
        if effect.sign < 0:  # the threshold was stated upwards: its own probability is said too
            rise_en, rise_nb = up[0].split("|")[1], up[1].split("|")[1]
            stated = ctx.probability(float(np.mean(effect.draws > threshold)))
            text += ctx.text(
                f" (of a {rise_en} of more than {size}, {stated})", f" (for en {rise_nb} på mer enn {size}, {stated})"
            )
        elif effect.direction(ctx.style.prob) == "unclear":  # either way is possible: the other tail is said too
            fall_en, fall_nb = down[0].split("|")[1], down[1].split("|")[1]
            low = 1 / threshold if effect.null == 1.0 and threshold > 0 else effect.null - abs(threshold)  # a ratio's
            other = ctx.probability(float(np.mean(effect.draws < low)))
            text += ctx.text(
                f" (of a {fall_en} of more than {size}, {other})", f" (for en {fall_nb} på mer enn {size}, {other})"
            )
    return text + "."


#: medians of several analyses closer than this share of the main analysis's interval width are "the same"
SAME_SHARE = 0.01


def robustness_line(ctx: ReportContext, name: str, short: tuple[str, str]) -> str | None:
    """How ``name`` moves across prior sets and model variants (None when the run has no refits).

    Says the range of medians with the analyses at its ends, whether the conclusion
    (interval excluding the null, or not, and on which side) changes between analyses,
    and names every refit whose diagnostics gate did not pass.
    """
    datatree = ctx.datatree
    effects = sensitivity_effects(ctx, name)
    if len(effects) < 2:  # a vector estimand is refitted element by element: say the one that moves most
        element = most_moved_element(ctx, name)
        if element is None:
            return None
        name, effects, short = element, sensitivity_effects(ctx, element), element_subject(ctx, element, short)
    attrs = datatree["sensitivity"][name].attrs
    unit = next(iter(effects.values())).unit
    ordered = sorted(effects.items(), key=lambda kv: kv[1].median)
    (low_name, low), (high_name, high) = ordered[0], ordered[-1]
    low_label = analysis_name(low_name, ctx.labels, ctx.language)
    high_label = analysis_name(high_name, ctx.labels, ctx.language)
    (low_en, high_en), (low_nb, high_nb) = (amounts([low.median, high.median], unit, lang) for lang in ("en", "nb"))
    main = next(iter(effects.values()))
    if low_en == high_en or high.median - low.median < SAME_SHARE * (main.upper - main.lower):
        # the same to every printed digit, or apart by a sliver of the interval: said to be the same
        about = "" if low_en == high_en else ctx.text("about ", "omtrent ")
        middle = (low.median + high.median) / 2
        text = ctx.text(
            f"Across prior sets and model variants, {short[0]} stays at {about}{amount(middle, unit, 'en')} in "
            "every analysis",
            f"På tvers av priorsett og modellvarianter er {short[1]} {about}{amount(middle, unit, 'nb')} i alle "
            "analysene",
        )
    else:
        text = ctx.text(
            f"Across prior sets and model variants, {short[0]} ranges from {low_en} ({low_label}) to {high_en} "
            f"({high_label})",
            f"På tvers av priorsett og modellvarianter varierer {short[1]} fra {low_nb} ({low_label}) til "
            f"{high_nb} ({high_label})",
        )
    if attrs.get("null") is not None:
        text += _agreement(ctx, effects)
    return text + gate_remark(ctx, refit_gates(datatree)) + "."


def refitted_elements(ctx: ReportContext, name: str) -> list[str]:
    """The refitted elements of vector estimand ``name`` (``name[...]``, :mod:`ipsbayes.compared`)."""
    if "sensitivity" not in ctx.datatree.children:
        return []
    group = ctx.datatree["sensitivity"]
    return [str(n) for n, v in group.data_vars.items() if v.attrs.get("element_of") == name]


def most_moved_element(ctx: ReportContext, name: str) -> str | None:
    """The element of ``name`` whose median moves most between analyses, against its main interval's width."""

    def spread(element: str) -> float:
        effects = list(sensitivity_effects(ctx, element).values())
        width = effects[0].upper - effects[0].lower
        moved = max(e.median for e in effects) - min(e.median for e in effects)
        return moved / width if width > 0 else 0.0

    elements = refitted_elements(ctx, name)
    return max(elements, key=spread) if elements else None


def element_subject(ctx: ReportContext, element: str, short: tuple[str, str]) -> tuple[str, str]:
    """``short`` narrowed to one element: "the effect of education collaboration: 1 vs 0 (of 8, the one ...)"."""
    attrs = ctx.datatree["sensitivity"][element].attrs
    coordinates = json.loads(str(attrs.get("element", "{}")))
    words = ", ".join(ctx.label(str(v)) for v in coordinates.values())
    n = len(refitted_elements(ctx, str(attrs.get("element_of", ""))))
    return (
        f"{short[0]} for {words} (of its {n} elements, the one that moves most)",
        f"{short[1]} for {words} (av {n} elementer den som flytter seg mest)",
    )


def gate_remark(ctx: ReportContext, gates: Mapping[str, Mapping[str, Any]]) -> str:
    """A parenthesis naming the analyses whose diagnostics gate did not pass (``""`` when none).

    E.g. `` (failed its diagnostics gate, so not to be relied on: A; warned by its diagnostics gate, so
    to be used with care: B)``. A gate that warned is worded as the verdict words it ("use with
    care"); only a failed gate makes an analysis "not to be relied on". Other statuses count as failed.
    """
    failed, warned = [], []
    for analysis, gate in gates.items():
        status = gate.get("status")
        if status in ("pass", "skipped"):
            continue
        (warned if status == "warn" else failed).append(analysis_name(analysis, ctx.labels, ctx.language))
    parts = []
    if failed:
        parts.append(
            ctx.text(
                f"failed its diagnostics gate, so not to be relied on: {', '.join(failed)}",
                f"ikke bestått diagnosesjekken, så ikke til å stole på: {', '.join(failed)}",
            )
        )
    if warned:
        parts.append(
            ctx.text(
                f"warned by its diagnostics gate, so to be used with care: {', '.join(warned)}",
                f"advarsel fra diagnosesjekken, så brukes med forsiktighet: {', '.join(warned)}",
            )
        )
    return f" ({'; '.join(parts)})" if parts else ""


def _sensitivity(ctx: ReportContext, value: float, limit: float) -> str:
    """A power-scaling sensitivity as read beside its threshold: never "0.05" for 0.04996, nor "1e-06"."""
    if not np.isfinite(value):
        return "nan"
    if value < 0.001:
        return ctx.text("< 0.001", "< 0,001")
    text = beside(value, 3, (limit,))
    return ctx.text(text, decimal_commas(text))


def prior_dependence_line(ctx: ReportContext, name: str, short: tuple[str, str], related: tuple[str, ...] = ()) -> str:
    """How much ``name`` depends on the priors, for the first screen: never silent.

    The refits under other prior sets and model variants when the run has them
    (:func:`robustness_line`); else power-scaling sensitivity of ``name`` (Kallioinen et al. 2023),
    read with ArviZ's 0.05 rule; else a sentence saying that this run did not check it.
    ``related`` are other estimands of the same effect (the fidelity slope and odds ratio beside the
    fidelity difference): where power-scaling flags one of them and not ``name``, the line says so,
    as the report's banner does.
    """
    robust = robustness_line(ctx, name, short)
    if robust:
        return robust
    datatree = ctx.datatree
    power = datatree["power_scaling"].to_dataset() if "power_scaling" in datatree.children else None
    scaled = [str(e) for e in power["estimand"].values] if power is not None and "estimand" in power.coords else []
    if name in scaled:
        line = _power_scaling_line(ctx, power, name, short)
        limit = float(power.attrs.get("threshold", 0.05))
        if float(power["prior"].sel(estimand=name)) >= limit:
            return line
        flagged = [n for n in related if n in scaled and float(power["prior"].sel(estimand=n)) >= limit]
        if not flagged:
            return line
        labels = {
            language: [_lower_first(label_of(ctx.estimands[n].attrs, language, n)) for n in flagged]
            for language in ("en", "nb")
        }
        values = [_sensitivity(ctx, float(power["prior"].sel(estimand=n)), limit) for n in flagged]
        return (
            line
            + " "
            + ctx.text(
                f"But it flags {_and_list(labels['en'], 'en')} (prior sensitivity {_and_list(values, 'en')}): the "
                "same effect on another scale depends more on the priors; compare refits under other prior sets "
                "before relying on it.",
                f"Men den markerer {_and_list(labels['nb'], 'nb')} (følsomhet for prioren {_and_list(values, 'nb')}): "
                "den samme effekten på en annen skala avhenger mer av priorene; sammenlign med analyser under andre "
                "priorsett før du stoler på den.",
            )
        )
    return _unchecked_line(ctx, name, short, power)


def _power_scaling_line(ctx: ReportContext, power: xr.Dataset, name: str, short: tuple[str, str]) -> str:
    """Power-scaling's reading of ``name``: insensitive to the priors (and the data's part), or sensitive."""
    prior = float(power["prior"].sel(estimand=name))
    likelihood = float(power["likelihood"].sel(estimand=name)) if "likelihood" in power else float("nan")
    limit = float(power.attrs.get("threshold", 0.05))
    conflict = "conflict" in str(power["diagnosis"].sel(estimand=name).values) if "diagnosis" in power else False
    numbers = ctx.text(
        f"prior sensitivity {_sensitivity(ctx, prior, limit)}; {ctx.number(limit, 'x')} or more flags it",
        f"følsomhet for prioren {_sensitivity(ctx, prior, limit)}; {ctx.number(limit, 'x')} eller mer markerer den",
    )
    if prior < limit and likelihood >= limit:
        return ctx.text(
            f"Power-scaling finds {short[0]} insensitive to the priors and sensitive to the data: the data, not "
            f"the priors, decide it ({numbers}; likelihood sensitivity {_sensitivity(ctx, likelihood, limit)}).",
            f"Power-scaling finner at {short[1]} ikke påvirkes av priorene, men av dataene: dataene, ikke "
            f"priorene, avgjør det ({numbers}; følsomhet for likelihooden {_sensitivity(ctx, likelihood, limit)}).",
        )
    if prior < limit:  # neither moves it: ArviZ reads a likelihood sensitivity this low as a weak likelihood
        return ctx.text(
            f"Power-scaling finds {short[0]} insensitive to the priors, but hardly moved by the data either "
            f"({numbers}; likelihood sensitivity {_sensitivity(ctx, likelihood, limit)}, below "
            f"{ctx.number(limit, 'x')}): the data may say little about it.",
            f"Power-scaling finner at {short[1]} ikke påvirkes av priorene, men heller knapt flyttes av dataene "
            f"({numbers}; følsomhet for likelihooden {_sensitivity(ctx, likelihood, limit)}, under "
            f"{ctx.number(limit, 'x')}): dataene sier kanskje lite om det.",
        )
    return ctx.text(
        f"Power-scaling finds {short[0]} sensitive to the priors"
        + (", with prior and data pulling apart" if conflict else "")
        + f" ({numbers}): compare refits under other prior sets before relying on it.",
        f"Power-scaling finner følsomhet for priorene i {short[1]}"
        + (", og prior og data trekker i ulike retninger" if conflict else "")
        + f" ({numbers}): sammenlign med analyser under andre priorsett før du stoler på det.",
    )


def _lower_first(text: str) -> str:
    """A label inside a sentence: its first letter in lower case (``Fidelity slope`` -> ``fidelity slope``)."""
    return text[:1].lower() + text[1:]


def _and_list(words: list[str], language: str) -> str:
    """``a``, ``a and b``, ``a, b and c`` (``og`` in Norwegian)."""
    word = "og" if language == "nb" else "and"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {word} {words[-1]}"


def _unchecked_line(ctx: ReportContext, name: str, short: tuple[str, str], power: xr.Dataset | None) -> str:
    """Why this run says nothing of how much ``name`` depends on the priors, and what would check it."""
    datatree = ctx.datatree
    if "sensitivity" in datatree.children or power is not None:  # checks ran, but not on this estimand
        return ctx.text(
            f"How much {short[0]} depends on the priors was not checked: this run's refits and power-scaling "
            f"compare other estimands; add `{name}` to `sensitivity.estimands`.",
            f"Hvor mye {short[1]} avhenger av priorene, ble ikke undersøkt: analysene med andre priorsett og "
            f"power-scaling i denne kjøringen gjelder andre størrelser; legg til `{name}` i `sensitivity.estimands`.",
        )
    if "so it was not refitted" in str(ctx.estimands.attrs.get("notes", "")):  # prior sets equal to the main one
        return ctx.text(
            f"How much {short[0]} depends on the priors was not checked in this run: the prior sets in "
            "`sensitivity.prior_sets` give this model the same priors as the main analysis (see the notes); name "
            "one that differs.",
            f"Hvor mye {short[1]} avhenger av priorene, ble ikke undersøkt i denne kjøringen: priorsettene i "
            "`sensitivity.prior_sets` gir denne modellen de samme priorene som hovedanalysen (se merknadene); "
            "oppgi et som er annerledes.",
        )
    large = "power-scaling of the likelihood were skipped" in str(ctx.estimands.attrs.get("notes", ""))
    widths = prior_width_line(ctx, name, short, power_scaling=not large)  # how much the data narrowed the priors
    if widths is not None:
        return widths
    if large:  # data too large for power-scaling
        return ctx.text(
            f"How much {short[0]} depends on the priors was not checked in this run (no refits under other prior "
            "sets; power-scaling is not possible for data this large): add `sensitivity.prior_sets`.",
            f"Hvor mye {short[1]} avhenger av priorene, ble ikke undersøkt i denne kjøringen (ingen analyser med "
            "andre priorsett; power-scaling er ikke mulig med så store data): legg til `sensitivity.prior_sets`.",
        )
    return ctx.text(
        f"How much {short[0]} depends on the priors was not checked in this run (no refits under other prior "
        "sets, no power-scaling): add `sensitivity.prior_sets` or set `sensitivity.power_scaling = true`.",
        f"Hvor mye {short[1]} avhenger av priorene, ble ikke undersøkt i denne kjøringen (ingen analyser med andre "
        "priorsett, ingen power-scaling): legg til `sensitivity.prior_sets` eller sett "
        "`sensitivity.power_scaling = true`.",
    )


def _agreement(ctx: ReportContext, effects: dict[str, Effect]) -> str:
    """Whether the analyses agree on excluding no effect, and the range of the probability of the main direction."""
    main = next(iter(effects.values()))
    up = main.sign >= 0
    excludes = [a for a, e in effects.items() if e.excludes_null()]
    p_low = min(e.p_up if up else e.p_down for e in effects.values())
    p_high = max(e.p_up if up else e.p_down for e in effects.values())
    span = ctx.text(
        f"the probability of {'an increase' if up else 'a decrease'} ranges from {ctx.probability(p_low)} to "
        f"{ctx.probability(p_high)}",
        f"sannsynligheten for {'en økning' if up else 'en nedgang'} varierer fra {ctx.probability(p_low)} til "
        f"{ctx.probability(p_high)}",
    )
    if ctx.probability(p_low) == ctx.probability(p_high):
        span = ctx.text(
            f"the probability of {'an increase' if up else 'a decrease'} is {ctx.probability(p_low)} in each",
            f"sannsynligheten for {'en økning' if up else 'en nedgang'} er {ctx.probability(p_low)} i hver av dem",
        )
    null = amount(main.null, "", ctx.language) if main.null else ctx.text("zero", "null")
    if not excludes:
        return ctx.text(
            f"; every interval includes {null} and {span}", f"; alle intervallene omfatter {null}, og {span}"
        )
    side_en = "above" if up else "below"
    side_nb = "over" if up else "under"
    if len(excludes) == len(effects):
        return ctx.text(
            f"; every interval lies {side_en} {null} and {span}",
            f"; alle intervallene ligger {side_nb} {null}, og {span}",
        )
    names = _and_list([analysis_name(a, ctx.labels, ctx.language) for a in excludes], ctx.language)
    return ctx.text(
        f"; the conclusion depends on these choices: only under {names} does the interval lie entirely {side_en} "
        f"{null}, and {span}",
        f"; konklusjonen avhenger av disse valgene: bare med {names} ligger hele intervallet {side_nb} {null}, "
        f"og {span}",
    )


def vocabulary_word(ctx: ReportContext, key: str, en: str, nb: str) -> str:
    """A study word from ``[report.labels]`` or the family's vocabulary, else the default of the report's language.

    A vocabulary entry ``<key>_<language>`` (e.g. ``control_nb = "ordinær oppfølging"``) is the word
    in that report language; it wins over the plain ``<key>`` (usually written in English).
    """
    localised = f"{key}_{ctx.language}"
    if key not in ctx.labels and localised in ctx.vocabulary:
        return str(ctx.vocabulary[localised])
    if key in ctx.labels or key in ctx.vocabulary:
        return ctx.label(key)
    return ctx.text(en, nb)


def sensitivity_effects(ctx: ReportContext, name: str) -> dict[str, Effect]:
    """Effect of ``name`` per sensitivity analysis (empty without refits)."""
    datatree = ctx.datatree
    if "sensitivity" not in datatree.children or name not in datatree["sensitivity"].data_vars:
        return {}
    values = datatree["sensitivity"][name]
    attrs: dict[str, Any] = dict(values.attrs)
    return {
        str(a): Effect.from_draws(
            values.sel(analysis=a).values, ctx.style, attrs.get("unit", ""), attrs.get("null", 0.0)
        )
        for a in values["analysis"].values
    }


def refit_gates(datatree: xr.DataTree | None) -> dict[str, dict[str, Any]]:
    """Analysis -> {"status", "messages"} of the sensitivity refits (empty without refits)."""
    if datatree is None or "sensitivity" not in datatree.children:
        return {}
    try:
        return dict(json.loads(datatree["sensitivity"].attrs.get("gates", "{}")))
    except (TypeError, ValueError):
        return {}


#: readable names of the prior sets ipsbayes ships, in English and Norwegian ([report.labels] wins)
PRIOR_SET_NAMES: dict[str, tuple[str, str]] = {
    "weakly_informative": ("weakly informative", "svakt informativt"),
    "defaults": ("default", "standard"),
    "sceptical": ("sceptical", "skeptisk"),
    "skeptical": ("sceptical", "skeptisk"),
    "optimistic": ("optimistic", "optimistisk"),
    "vague": ("vague", "vagt"),
    "ips_map": ("IPS MAP (earlier IPS trials)", "IPS-MAP (tidligere IPS-forsøk)"),
    "ips_literature": ("IPS literature", "IPS-litteraturen"),
    # the shipped CACE configs' model variant
    "no_exclusion_restriction": ("without the exclusion restriction", "uten eksklusjonsrestriksjonen"),
}


def _shown_name(name: str, labels: Mapping[str, str], language: str) -> str:
    """``[report.labels]`` first, then the shipped prior sets' names, else the name with spaces for underscores."""
    if name in labels:
        return str(labels[name])
    if name in PRIOR_SET_NAMES:
        return choose(language, *PRIOR_SET_NAMES[name])
    return name.replace("_", " ")


def analysis_name(analysis: str, labels: Mapping[str, str] | None = None, language: str = "en") -> str:
    """Readable name of a sensitivity analysis: ``prior set: sceptical`` -> "the sceptical prior set"."""
    labels = labels or {}
    if analysis in labels:
        return str(labels[analysis])
    kind, _, name = analysis.partition(": ")
    shown = _shown_name(name, labels, language)
    if kind == "prior set":
        return choose(language, f"the {shown} prior set", f"priorsettet {shown}")
    if kind == "variant":
        return choose(language, f"the variant {shown}", f"varianten {shown}")
    if analysis.startswith("main"):
        inner = analysis[analysis.find("(") + 1 : analysis.rfind(")")] if "(" in analysis else ""
        inner = _shown_name(inner, labels, language)
        return choose(language, f"the main analysis ({inner})", f"hovedanalysen ({inner})") if inner else analysis
    return analysis.replace("_", " ")


__all__ = [
    "analysis_name",
    "element_subject",
    "gate_remark",
    "most_moved_element",
    "prior_dependence_line",
    "probability_sentence",
    "refit_gates",
    "robustness_line",
    "sensitivity_effects",
    "threshold_amount",
    "vocabulary_word",
]
