"""The model description of the hierarchical logistic family, in English and Norwegian, from the spec actually run.

Every clause follows the config and the data that were fitted: job specialists
only when the formula nests them, the fidelity paragraph by how fidelity entered
(a column used as measured, the mean of reviews plugged in, or a latent true
score measured with error by the reviews), and the parameterisation chosen.
"""

from __future__ import annotations

from typing import Any

from ipsbayes.models.base import ModelData
from ipsbayes.textutil import code_span


def describe_hierarchical(spec: Any, data: ModelData, language: str = "en") -> str:
    """Markdown description of a fitted hierarchical logistic model (``language`` "en" or "nb")."""
    info, coords = data.info, data.coords
    # the service's dim: its column's name, or the factor's model name where that name is reserved (X -> X_group)
    blocks = info.get("blocks", [])
    named = [b.dim for b in blocks if tuple(b.block.factor.columns) == (spec.service,)]
    service = named[0] if named else spec.service if spec.service in coords else "service"
    # the multilevel model's blocks: any grouping factor besides the service holds job specialists
    others = [b.dim for b in info.get("blocks", []) if b.dim != service]
    nested = bool(others)
    specialists = len(coords[others[0]]) if nested else 0
    nb = language == "nb"
    design = info.get("design")
    # every numeric predictor standardised, none, or some (a column inside a function never is)
    per_en, per_nb = design.per_words()[:2] if design is not None else ("", "")
    scaled = per_en.startswith("per SD for numeric") if design is not None else bool(spec.standardize)
    mixed = design is not None and per_en.startswith("per SD for standardised")
    fid = spec.fidelity
    latent = fid is not None and fid.latent
    fidelity_term = ""
    if fid is not None:
        fidelity_term = " + fidelity_slope * (" + ("true_fidelity" if latent else "fidelity") + " - centre) / per"
    equation = (
        "    logit P(y = 1) = intercept + X beta"
        + fidelity_term
        + " + sd_service * z_service"
        + (" + sd_specialist * z_specialist" if nested else "")
    )
    n_services = len(coords[service])
    outcome = code_span(info.get("outcome_column", info["response"]), in_table=False)  # the column, as written
    formula = code_span(spec.formula, in_table=False)
    if nb:
        groups = f"{n_services} tjenester" + (f" og {specialists} jobbspesialister" if nested else "")
        head = f"Hierarkisk logistisk regresjon av {outcome} for {data.n_rows} deltakere i {groups}. Formel: {formula}."
        pooling = (
            ("Konstantleddene for tjenester og jobbspesialister" if nested else "Tjenestenes konstantledd")
            + " er delvis sammenslått (partial pooling). "
            + _parameterisation_nb(info.get("centred_groups", {}), spec.parameterisation, spec.centre_above, nested)
            + (
                " Numeriske prediktorer er standardisert (koeffisienter per SD; `log_odds_per_unit` gir dem per "
                "opprinnelig enhet)."
                if scaled
                else f" Koeffisientene er {per_nb} (`log_odds_per_unit` gir dem per opprinnelig enhet)."
                if mixed
                else " Koeffisientene for numeriske prediktorer er per opprinnelig enhet."
            )
            + " Effekter på sannsynlighetsskalaen er gjennomsnittlige marginale effekter: "
            "gjennomsnittet over studiens deltakere av endringen i predikert sannsynlighet, beregnet for hvert "
            "posteriortrekk."
        )
    else:
        groups = f"{n_services} services" + (f" and {specialists} job specialists" if nested else "")
        head = (
            f"Hierarchical logistic regression of {outcome} for {data.n_rows} participants "
            f"in {groups}. "
            f"Formula: {formula}."
        )
        pooling = (
            ("Service and specialist" if nested else "Service")
            + " intercepts are partially pooled. "
            + describe_parameterisation(
                info.get("centred_groups", {}), spec.parameterisation, spec.centre_above, nested
            )
            + (
                " Numeric predictors are standardised (coefficients per SD; `log_odds_per_unit` gives them per "
                "original unit)."
                if scaled
                else f" Coefficients are {per_en} (`log_odds_per_unit` gives them per original unit)."
                if mixed
                else " Coefficients of numeric predictors are per original unit."
            )
            + " Effects on the probability scale are average marginal effects: the mean over the "
            "study's participants of the change in predicted probability, computed for every posterior draw."
        )
    lines = [head, "", equation, "", pooling]
    if fid is not None:
        lines += ["", _fidelity_paragraph(spec, info, nb)]
    return "\n".join(lines)


def _fidelity_paragraph(spec: Any, info: dict[str, Any], nb: bool) -> str:
    fid = spec.fidelity
    scale = fid.resolved_scale
    where = f"{scale.name} ({scale.minimum:g}-{scale.maximum:g})"
    centre = f"{info['fidelity_centre']:.1f}"
    per = f"{fid.per:g}"
    column, reviewed = (code_span(c, in_table=False) if c else "" for c in (fid.column, fid.review_column))
    if fid.source == "column":
        return (
            f"Modelltrofasthet: {column} på skalaen {where}, sentrert i {centre} og skalert per {per} poeng. "
            "Skåren brukes slik den er målt (ingen målefeil i denne modellen)."
            if nb
            else f"Fidelity: {column} on the {where} scale, centred at {centre} and scaled per {per} points. "
            "The score is used as measured (no measurement error in this model)."
        )
    reviews = info.get("n_reviews", "the")
    if fid.latent:
        return (
            f"Modelltrofasthet: hver tjenestes sanne {scale.name}-skåre er latent; de {reviews} vurderingene "
            f"({reviewed}) måler den med feil (vurderingenes SD estimeres), så usikkerheten om sann "
            f"trofasthet forplanter seg til stigningstallet. Sentrert i {centre}, per {per} poeng."
            if nb
            else f"Fidelity: each service's true {scale.name} score is latent; its {reviews} reviews "
            f"({reviewed}) measure it with error (the review SD is estimated), so the uncertainty about "
            f"true fidelity propagates into the slope. Centred at {centre}, per {per} points."
        )
    return (
        f"Modelltrofasthet: gjennomsnittet av hver tjenestes vurderinger ({reviews} i alt, {reviewed}) "
        f"på skalaen {where} brukes som om det var eksakt (ingen målefeil i denne modellen), sentrert i {centre} "
        f"og skalert per {per} poeng."
        if nb
        else f"Fidelity: the mean of each service's reviews ({reviews} in all, {reviewed}) on the {where} "
        f"scale, plugged in as if exact (no measurement error in this model), centred at {centre} and scaled per "
        f"{per} points."
    )


def _parameterisation_nb(centred: dict[str, int], mode: str, threshold: float, nested: bool) -> str:
    """Norwegian counterpart of :func:`~ipsbayes.models.pooling.describe_parameterisation`."""
    if not any(centred.values()):
        why = "."
        if mode == "auto":
            why = (
                " (med jobbspesialister innenfor tjenester holder 'auto' alle grupper ikke-sentrert)."
                if nested
                else f" (ingen tjenestes data hadde informasjon n p (1 - p) over {threshold:g})."
            )
        return "De er ikke-sentrert (z ~ Normal(0, 1)), som sampler godt når tjenestene er små" + why
    words = {"service": ("tjeneste", "tjenester"), "specialist": ("jobbspesialist", "jobbspesialister")}
    counts = ", ".join(f"{n} {words.get(dim, (dim, dim))[n != 1]}" for dim, n in centred.items() if n)
    if mode == "auto":
        return (
            f"Tjenester der dataene bestemmer konstantleddet godt, samples i sentrert form ({counts}; informasjon "
            f"n p (1 - p) over {threshold:g}), resten ikke-sentrert: samme posterior, med en geometri NUTS sampler "
            "raskere."
        )
    return f"Alle grupper samples i sentrert form ({counts}), slik konfigurasjonen ber om."


def describe_parameterisation(centred: dict[str, int], mode: str, threshold: float, nested: bool) -> str:
    """How the group intercepts were parameterised, in one or two sentences for the report."""
    if not any(centred.values()):
        why = "."
        if mode == "auto":
            why = (
                " (with job specialists nested in services, 'auto' keeps every group non-centred)."
                if nested
                else f" (no service's data carried information n p (1 - p) above {threshold:g})."
            )
        return "They are non-centred (z ~ Normal(0, 1)), which samples well when services are small" + why
    counts = ", ".join(f"{n} {dim}{'s' * (n != 1)}" for dim, n in centred.items() if n)
    if mode == "auto":
        return (
            f"Services whose data pin their intercept down are sampled in the centred form ({counts}; information "
            f"n p (1 - p) above {threshold:g}), the rest non-centred: the same posterior, with geometry "
            "NUTS samples faster."
        )
    return f"All groups are sampled in the centred form ({counts}), as the config asks."


__all__ = ["describe_hierarchical"]
