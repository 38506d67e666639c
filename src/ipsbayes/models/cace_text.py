"""The model description of the CACE family, in English and Norwegian, from the spec actually run."""

from __future__ import annotations

from typing import Any

from ipsbayes.models.base import ModelData


def describe_cace(spec: Any, data: ModelData, language: str = "en") -> str:
    """Markdown description of a fitted CACE model (``language`` "en" or "nb"): arms, likelihood, covariates, ER."""
    obs = data.info["observed"]
    nb = language == "nb"
    trials = spec.trials
    likelihood = {
        "bernoulli": "Bernoulli",
        "binomial": f"binomial av {trials}" if nb else f"binomial of {trials}",
        "beta_binomial": f"betabinomial av {trials}" if nb else f"beta-binomial of {trials}",
    }[spec.outcome_family]
    none = "ingen" if nb else "none"
    compliance = ", ".join(f"`{c}`" for c in spec.compliance_covariates) or ("ingen kovariater" if nb else none)
    outcome_covariates = ", ".join(f"`{c}`" for c in spec.outcome_covariates) or none
    if nb:
        er = (
            "Eksklusjonsrestriksjonen er antatt: tildeling alene endrer ikke utfallet for never-takers."
            if spec.exclusion_restriction
            else "Eksklusjonsrestriksjonen er løsnet: utfallet for never-takers kan variere med arm "
            "(`never_taker_arm_effect`, med prioren nedenfor)."
        )
        return (
            "Bayesiansk prinsipal stratifisering (Imbens & Rubin 1997) for ensidig manglende etterlevelse: "
            f"{obs['n_ips_arm']} deltakere tildelt IPS ({obs['n_received']} mottok det) og "
            f"{obs['n_control_arm']} tildelt ordinær oppfølging. Utfall `{spec.outcome}`, {likelihood}-likelihood. "
            f"Etterlevelsesmodell: logistisk i {compliance}; kovariater i utfallsmodellen: {outcome_covariates}. "
            "I kontrollarmen kan compliers ikke skilles fra never-takers, så likelihooden der er en blanding av "
            f"to komponenter, marginalisert slik at NUTS kan sample den. {er} Estimandene er gjennomsnitt over "
            "studiens deltakere, vektet med hver deltakers sannsynlighet for å være complier."
        )
    er = (
        "Exclusion restriction assumed: assignment alone does not change never-takers' outcomes."
        if spec.exclusion_restriction
        else "Exclusion restriction relaxed: never-takers' outcome may differ by arm (`never_taker_arm_effect`, "
        "with the prior listed below)."
    )
    return (
        f"Bayesian principal stratification (Imbens & Rubin 1997) for one-sided noncompliance: "
        f"{obs['n_ips_arm']} participants assigned to IPS ({obs['n_received']} received it) and "
        f"{obs['n_control_arm']} to usual follow-up. Outcome `{spec.outcome}`, {likelihood} likelihood. "
        f"Compliance model: logistic in {compliance}; outcome covariates: {outcome_covariates}. In the control "
        "arm compliers cannot be told from never-takers, so the likelihood there is a two-component mixture, "
        f"marginalised so that NUTS samples it. {er} Estimands average over the study's participants, weighting "
        "each by their probability of being a complier."
    )


__all__ = ["describe_cace"]
