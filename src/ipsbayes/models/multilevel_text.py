"""The model description a multilevel run's report opens with, in the study's own words."""

from __future__ import annotations

from typing import Any

import numpy as np

from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import ModelData, en_plural, nb_plural, nb_word
from ipsbayes.models.formula import ModelFormula
from ipsbayes.present.text import unit_of
from ipsbayes.textutil import code_span, escape_md


def group_words(formula: ModelFormula | None, vocabulary: dict[str, str]) -> dict[str, str]:
    """Word for each grouping factor (the config's vocabulary, else the factor's name)."""
    if formula is None:
        return {}
    return {f.name: vocabulary.get(f.name, f.name.replace("_", " ")) for f in formula.factors}


def plural(words: dict[str, str], key: str, language: str = "en") -> str:
    """Plural of a vocabulary word: ``<key>_plural`` if given, else a regular plural ("counties"; "skoler")."""
    if language == "nb":
        return nb_plural(words, key, key.replace("_", " "))
    return en_plural(words, key, key.replace("_", " "))


def describe_model(spec: Any, data: ModelData, family: OutcomeFamily, language: str = "en") -> str:
    """Markdown: what was fitted, the equation, how groups were parameterised and what the estimands mean.

    ``language`` is "en" or "nb"; the study's words (units, grouping factors) are the config's.
    """
    nb = language == "nb"

    def t(en: str, nb_text: str) -> str:
        return nb_text if nb else en

    info, coords = data.info, data.coords
    words = {key: escape_md(value) for key, value in info["vocabulary"].items()}
    formula: ModelFormula = info["formula"]
    blocks = info["blocks"]
    units_word = nb_word(words, "units", "observations") if nb else words.get("units", "observations")
    groups = ", ".join(f"{len(coords[f.name])} {plural(words, f.name, language)}" for f in formula.factors)
    outcome = info.get("outcome_column", info["response"])  # the column, not the observed variable's name
    outcome_unit = unit_of({"unit": words.get("outcome_unit", ""), "unit_nb": words.get("outcome_unit_nb")}, language)
    response = code_span(outcome, in_table=False) + (f" ({outcome_unit})" if outcome_unit else "")
    lhs = {"logit": "logit E[y / trials]" if "trials" in data.arrays else "logit P(y = 1)", "identity": "E[y]"}
    terms = ["intercept", *(["X beta"] if len(coords["term"]) else [])]
    if info.get("fidelity_group"):
        terms.append("fidelity_slope * (fidelity - centre) / per")
    terms += [f"{b.block.effect_name}[{b.dim}]" + ("" if b.intercept_only else " . x") for b in blocks]
    title = family.title_nb if nb else family.title
    counted = f"{data.n_rows} {units_word}"
    if "trials" in data.arrays:  # a row counts several trials (seeds on a plate): both numbers
        trials = f"{int(np.sum(data.arrays['trials'])):,}".replace(",", "\u2009" if nb else ",")
        counted = f"{data.n_rows} {t('rows', 'rader')} ({trials} {units_word})"
    lines = [
        t(
            f"{title}: multilevel regression of {response} for {counted}"
            + (f" in {groups}" if groups else "")
            + f". Formula: {code_span(spec.formula, in_table=False)}.",
            f"{title}: flernivåregresjon av {response} for {counted}"
            + (f" i {groups}" if groups else "")
            + f". Formel: {code_span(spec.formula, in_table=False)}.",
        ),
        "",
        f"    {lhs[family.link]} = " + " + ".join(terms),
        "",
    ]
    described = []
    for block in blocks:
        word = words.get(block.dim, block.dim)
        columns = ", ".join(code_span(c, in_table=False) for c in block.columns)
        if block.k > 1:
            described.append(
                t(
                    f"{word} effects on {columns} are correlated (covariance with an LKJ prior on the correlations, "
                    "non-centred)",
                    f"effektene av {columns} per {word} er korrelerte (kovarians med LKJ-prior på korrelasjonene, "
                    "ikke-sentrert)",
                )
            )
        elif not block.intercept_only:
            described.append(
                t(
                    f"{word} slopes on {columns} are partially pooled (non-centred)",
                    f"stigningstallene for {columns} per {word} er delvis sammenslått (ikke-sentrert)",
                )
            )
    centred = {dim: n for dim, n in info.get("centred_groups", {}).items() if n}
    pooled = ", ".join(plural(words, b.dim, language) for b in blocks if b.intercept_only and not b.block.suffix)
    if pooled:
        text = t(f"Intercepts of {pooled} are partially pooled", f"Konstantleddene for {pooled} er delvis sammenslått")
        if centred:
            counts = ", ".join(f"{n} {plural(words, dim, language)}" for dim, n in centred.items())
            text += t(
                f"; groups whose data pin their intercept down are sampled in the centred form ({counts}; "
                f"information above {spec.centre_above:g}), the rest non-centred: the same posterior, with "
                "geometry NUTS samples faster",
                f"; grupper der dataene bestemmer konstantleddet godt, samples i sentrert form ({counts}; "
                f"informasjon over {spec.centre_above:g}), resten ikke-sentrert: samme posterior, med en geometri "
                "NUTS sampler raskere",
            )
        else:
            text += t(
                " (non-centred, z ~ Normal(0, 1), which samples well when groups are small",
                " (ikke-sentrert, z ~ Normal(0, 1), som sampler godt når gruppene er små",
            )
            several = len({b.dim for b in blocks}) > 1 and spec.parameterisation == "auto"
            text += (
                t(
                    "; with more than one grouping factor 'auto' keeps every group non-centred)",
                    "; med mer enn én grupperingsfaktor holder 'auto' alle grupper ikke-sentrert)",
                )
                if several
                else ")"
            )
        described.insert(0, text)
    if described:
        lines.append("; ".join(described) + ".")
    units = family.units(spec.outcome_unit)
    own_nb = words.get("outcome_unit_nb") if units.difference == spec.outcome_unit else None
    difference = unit_of({"unit": units.difference, "unit_nb": own_nb}, language)
    scale = t("percentage points", "prosentpoeng") if units.difference == "pp" else escape_md(difference)
    design = data.info.get("design")
    numeric = design is not None and any(design.kinds.get(v) == "numeric" for v in design.variables)
    # what the coefficients are per, from what was standardised (a column inside a function never is)
    standardised = (
        t(f" Coefficients are {design.per_words()[0]}.", f" Koeffisientene er {design.per_words()[1]}.")
        if numeric
        else ""
    )
    lines.append(
        standardised
        + t(
            f" Effects on the users' scale are average marginal effects in {scale}: the mean over the study's "
            f"{units_word} of the change in the expected outcome, for every posterior draw.",
            f" Effekter på brukernes skala er gjennomsnittlige marginale effekter i {scale}: gjennomsnittet over "
            f"studiens {units_word} av endringen i forventet utfall, for hvert posteriortrekk.",
        )
    )
    if info.get("fidelity_group"):
        scale_spec = spec.fidelity.resolved_scale
        group = words.get(info["fidelity_group"], info["fidelity_group"])
        where = f"{scale_spec.name} ({scale_spec.minimum:g}-{scale_spec.maximum:g})"
        centre, per = f"{info['fidelity_centre']:.1f}", f"{spec.fidelity.per:g}"
        if spec.fidelity.latent:
            measured = t(
                "latent, measured with error by repeated reviews", "latent, målt med feil av gjentatte vurderinger"
            )
        else:
            measured = t("treated as measured without error", "brukt som målt uten feil")
        fidelity_column = code_span(spec.fidelity.column, in_table=False)
        lines.append(
            t(
                f"\nFidelity: {fidelity_column} on the {where} scale, one score per {group}, centred at "
                f"{centre} and scaled per {per} points; {measured}.",
                f"\nModelltrofasthet: {fidelity_column} på skalaen {where}, én skåre per {group}, sentrert i "
                f"{centre} og skalert per {per} poeng; {measured}.",
            )
        )
    return "\n".join(lines)
