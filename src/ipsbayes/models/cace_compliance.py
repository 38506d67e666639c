"""Who takes the offer up: the CACE report's sentence on the compliance model's clearest covariate."""

from __future__ import annotations

import json

import numpy as np

from ipsbayes.models.cace_small import units_word
from ipsbayes.present import ReportContext
from ipsbayes.present.answers import vocabulary_word
from ipsbayes.present.phrases import Effect, estimate
from ipsbayes.present.text import escape_md, format_probability


def compliance_sentence(ctx: ReportContext) -> str | None:
    """Which compliance covariate is most strongly associated with taking the offer up, in which direction."""
    posterior = ctx.datatree["posterior"] if "posterior" in ctx.datatree.children else None
    if posterior is None or "compliance_beta" not in posterior.data_vars:
        return None
    beta = posterior["compliance_beta"]
    dim = next(d for d in beta.dims if d not in ("chain", "draw"))
    effects = {
        str(term): Effect.from_draws(beta.sel({dim: term}).values, ctx.style, "", 0.0) for term in beta[dim].values
    }
    if not effects:
        return None
    term, effect = max(effects.items(), key=lambda kv: (kv[1].p_direction, abs(kv[1].median)))
    name = escape_md(ctx.label(term))
    odds = Effect.from_draws(np.exp(effect.draws), ctx.style, "OR", 1.0)
    kind = effect.direction(ctx.style.prob)
    treatment = escape_md(vocabulary_word(ctx, "treatment", "the treatment", "behandlingen"))
    meaning = json.loads(str(ctx.estimands.attrs.get("compliance_terms", "{}"))).get(term, {"kind": "numeric"})
    per_en, per_nb = _odds_ratio_of(meaning)
    if kind == "unclear":
        return ctx.text(
            f"No compliance covariate clearly predicts who takes {treatment} up (the clearest, {name}, has an odds "
            f"ratio {per_en} of {estimate(odds, ctx.style, 'en')}).",
            f"Ingen kovariat i etterlevelsesmodellen skiller tydelig hvem som tar imot {treatment} (den tydeligste, "
            f"{name}, har oddsforhold {per_nb} {estimate(odds, ctx.style, 'nb')}).",
        )
    more = effect.sign > 0
    units = units_word(ctx)
    odds_en, odds_nb = estimate(odds, ctx.style, "en"), estimate(odds, ctx.style, "nb")
    # an interval that holds an odds ratio of 1 leaves the direction probable, not clear: the words say so
    # and give its probability
    probable = kind.startswith("probably")
    p_en, p_nb = (format_probability(effect.p_direction, language=language) for language in ("en", "nb"))
    if probable:
        odds_en, odds_nb = f"{odds_en}; P = {p_en}", f"{odds_nb}; P = {p_nb}"
    are_en, are_nb = ("are probably", "er trolig") if probable else ("are", "er")
    tend_en, tend_nb = ("probably tend", "har trolig") if probable else ("tend", "har gjerne")
    often_en, often_nb = ("are probably", "har trolig") if probable else ("are", "har")
    likely_en, likely_nb = ("more" if more else "less"), ("oftere" if more else "sjeldnere")
    if meaning.get("kind") == "level":  # a category: this level against the reference level, no "higher values"
        level, reference = escape_md(meaning["level"]), escape_md(meaning["reference"])
        variable = escape_md(ctx.label(meaning["variable"]))
        return ctx.text(
            f"In these data, taking {treatment} up is most clearly associated with {variable}: {units} with "
            f"{level} {are_en} {likely_en} likely to be compliers than those with {reference} (odds ratio "
            f"{odds_en}), so never-takers {often_en} {'less' if more else 'more'} often {level}.",
            f"I disse dataene henger det å ta imot {treatment} tydeligst sammen med {variable}: {units} med {level} "
            f"{are_nb} {likely_nb} compliers enn de med {reference} (oddsforhold {odds_nb}), så never-takers "
            f"{often_nb} {'sjeldnere' if more else 'oftere'} {level}.",
        )
    if meaning.get("kind") == "binary":
        return ctx.text(
            f"In these data, taking {treatment} up is most clearly associated with {name}: {units} with {name} = 1 "
            f"{are_en} {likely_en} likely to be compliers than those with 0 (odds ratio {odds_en}), so never-takers "
            f"{'probably ' if probable else ''}{'less' if more else 'more'} often have {name} = 1.",
            f"I disse dataene henger det å ta imot {treatment} tydeligst sammen med {name}: {units} med {name} = 1 "
            f"{are_nb} {likely_nb} compliers enn de med 0 (oddsforhold {odds_nb}), så never-takers "
            f"{often_nb} {'sjeldnere' if more else 'oftere'} {name} = 1.",
        )
    return ctx.text(
        f"In these data, taking {treatment} up is most clearly associated with {name}: {units} with higher "
        f"values {are_en} {likely_en} likely to be compliers (odds ratio {per_en} {odds_en}), so never-takers "
        f"{tend_en} to have {'lower' if more else 'higher'} {name}.",
        f"I disse dataene henger det å ta imot {treatment} tydeligst sammen med {name}: {units} med høyere verdier "
        f"{are_nb} {likely_nb} compliers (oddsforhold {per_nb} {odds_nb}), så never-takers {tend_nb} "
        f"{'lavere' if more else 'høyere'} {name}.",
    )


def _odds_ratio_of(meaning: dict[str, str]) -> tuple[str, str]:
    """What an odds ratio of a compliance term is per: an SD, a unit, 1 against 0, a level against the reference."""
    kind = meaning.get("kind")
    if kind == "numeric":
        return ("per SD", "per SD") if meaning.get("per") == "SD" else ("per unit", "per enhet")
    if kind == "binary":
        return "for 1 against 0", "for 1 mot 0"
    if kind == "level":
        reference = escape_md(meaning["reference"])
        return f"against {reference}", f"mot {reference}"
    return "per unit of the term", "per enhet av leddet"


__all__ = ["compliance_sentence"]
