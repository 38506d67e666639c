"""The model description of the CACE family, in English and Norwegian, from the spec actually run."""

from __future__ import annotations

from typing import Any

from ipsbayes.families import FAMILIES
from ipsbayes.models.base import ModelData, nb_word
from ipsbayes.present.cells import count_text
from ipsbayes.textutil import code_span, escape_md


def study_words(spec: Any, language: str) -> tuple[str, str]:
    """Treatment and control as the config names them, else the report language's generic words."""
    vocabulary = dict(spec.vocabulary)
    nb = language == "nb"
    treatment = vocabulary.get(f"treatment_{language}", vocabulary.get("treatment"))
    control = vocabulary.get(f"control_{language}", vocabulary.get("control"))
    return (
        treatment or ("behandlingen" if nb else "the treatment"),
        control or ("kontrollbetingelsen" if nb else "the control condition"),
    )


def describe_cace(spec: Any, data: ModelData, language: str = "en") -> str:
    """Markdown description of a fitted CACE model (``language`` "en" or "nb"): arms, likelihood, covariates, ER."""
    obs = data.info["observed"]
    nb = language == "nb"
    min_cell = data.info.get("min_cell", 5)
    units = escape_md(nb_word(spec.words, "units", "participants") if nb else spec.words.get("units", "participants"))
    treated, received, controls = (
        count_text(obs[key], min_cell, language) for key in ("n_treatment_arm", "n_received", "n_control_arm")
    )
    missed = obs["n_treatment_arm"] - obs["n_received"]
    if 0 < missed < min_cell:  # the received count would give away how few did not receive it
        received = f"alle unntatt færre enn {min_cell}" if nb else f"all but fewer than {min_cell}"
    treatment, control = (escape_md(word) for word in study_words(spec, language))
    en_name, nb_name = FAMILIES[spec.outcome_family].likelihood_names
    likelihood = nb_name if nb else en_name
    if spec.is_count:
        likelihood += f" av {spec.trials}" if nb else f" of {spec.trials}"
    none = "ingen" if nb else "none"
    compliance = ", ".join(code_span(c, in_table=False) for c in spec.compliance_covariates) or (
        "ingen kovariater" if nb else none
    )
    outcome_covariates = ", ".join(code_span(c, in_table=False) for c in spec.outcome_covariates) or none
    outcome = code_span(spec.outcome, in_table=False)
    weighted = ""
    if spec.weights:
        weighted = (
            f" Hver rad står for så mange {units} som kolonnen {code_span(spec.weights, in_table=False)} sier."
            if nb
            else f" Each row stands for the number of {units} in column {code_span(spec.weights, in_table=False)}."
        )
    if nb:
        er = (
            "Eksklusjonsrestriksjonen er antatt: tildeling alene endrer ikke utfallet for never-takers."
            if spec.exclusion_restriction
            else "Eksklusjonsrestriksjonen er løsnet: utfallet for never-takers kan variere med arm "
            "(`never_taker_arm_effect`, med prioren nedenfor)."
        )
        return (
            "Bayesiansk prinsipal stratifisering (Imbens & Rubin 1997) for ensidig manglende etterlevelse: "
            f"{treated} {units} tildelt {treatment} ({received} mottok det) og "
            f"{controls} tildelt {control}. Utfall {outcome}, {likelihood}-likelihood."
            f"{weighted} Etterlevelsesmodell: logistisk i {compliance}; kovariater i utfallsmodellen: "
            f"{outcome_covariates}. I kontrollarmen kan compliers ikke skilles fra never-takers, så likelihooden der "
            f"er en blanding av to komponenter, marginalisert slik at NUTS kan sample den. {er} Estimandene er "
            f"gjennomsnitt over studiens {units}, vektet med sannsynligheten for at hver av dem er complier."
        )
    er = (
        "Exclusion restriction assumed: assignment alone does not change never-takers' outcomes."
        if spec.exclusion_restriction
        else "Exclusion restriction relaxed: never-takers' outcome may differ by arm (`never_taker_arm_effect`, "
        "with the prior listed below)."
    )
    return (
        f"Bayesian principal stratification (Imbens & Rubin 1997) for one-sided noncompliance: "
        f"{treated} {units} assigned to {treatment} ({received} received it) and "
        f"{controls} to {control}. Outcome {outcome}, {likelihood} likelihood.{weighted} "
        f"Compliance model: logistic in {compliance}; outcome covariates: {outcome_covariates}. In the control "
        "arm compliers cannot be told from never-takers, so the likelihood there is a two-component mixture, "
        f"marginalised so that NUTS samples it. {er} Estimands average over the study's {units}, weighting "
        "each by their probability of being a complier."
    )


__all__ = ["describe_cace", "study_words"]
