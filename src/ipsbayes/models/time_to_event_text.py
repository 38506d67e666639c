"""The model description of the time-to-event family, in English and Norwegian bokmål, from the spec actually run.

Every clause follows the config and the data that were fitted: services and job
specialists only when the formula has them, the baseline as configured (random walk
of order 1 or 2, or free), the fidelity paragraph only with a fidelity slope.
"""

from __future__ import annotations

from typing import Any

from ipsbayes.models.base import ModelData
from ipsbayes.models.time_to_event_data import TARGETS_NB
from ipsbayes.present.text import localise
from ipsbayes.textutil import code_span, escape_md


def describe_time_to_event(spec: Any, data: ModelData, language: str = "en") -> str:
    """Markdown description of a fitted time-to-event model (``language`` "en" or "nb")."""
    info, coords = data.info, data.coords
    nb = language == "nb"
    services = "service" in coords
    specialists = "specialist" in coords
    equation = (
        "    log h_k(t) / h_none(t) = baseline_k(t) + X beta_k"
        + (" + fidelity_slope_k * (fidelity - centre) / per" if spec.fidelity is not None else "")
        + (" + sd_service_k * z_service" if services else "")
        + (" + sd_specialist_k * z_specialist" if specialists else "")
    )
    months = f"{info['months'][0]}-{info['months'][-1]}"

    # the config's target names (in Norwegian the usual ones by their Norwegian names) and the data's statuses,
    # each escaped once: this is Markdown
    targets = ", ".join(
        f"*{escape_md(TARGETS_NB.get(k.lower(), k) if nb else k)}* ({escape_md(', '.join(v))})"
        for k, v in spec.targets.items()
    )
    formula = code_span(spec.formula, in_table=False)
    if nb:
        head = (
            f"Diskret-tids hasardmodell for første måned i en måltilstand for {data.n_rows} deltakere"
            + (f" i {len(coords['service'])} tjenester" if services else "")
            + (f" og {len(coords['specialist'])} jobbspesialister" if specialists else "")
            + f", fulgt i opptil {info['horizon']} måneder (måned {months}). Mål: {targets}; de konkurrerer: "
            f"det første som nås, avslutter deltakerens tid under risiko. Formel: {formula}."
        )
        body = (
            _baseline(spec, nb)
            + _centring(info, coords, nb)
            + (" Tjenesteeffektene er delvis sammenslått (partial pooling, ikke-sentrert)." if services else "")
            + (" Numeriske prediktorer er standardisert." if spec.standardize else "")
            + " Kumulativ insidens er gjennomsnittet av modellens prediksjoner over alle deltakerne, med egne "
            "prediktorer" + (" og egen tjeneste" if services else "") + ", for hvert posteriortrekk; deltakere "
            "med kortere oppfølging (høyresensurering, antatt uavhengig av utsiktene deres) teller med i de "
            "månedene de ble fulgt."
        )
        person_months, cells, patterns = (
            localise(f"{info[k]:,}", "nb") for k in ("person_months", "cells", "patterns")
        )
        rows = (
            f"Personmåneder under risiko: {person_months} (likelihood-radene før sammenslåing); "
            f"mønstermåneder med noen under risiko: {cells} (etter sammenslåing til "
            f"{patterns} kovariatmønstre x {len(info['months'])} måneder)."
        )
    else:
        head = (
            f"Discrete-time hazard model of the first month in a target state for {data.n_rows} participants"
            + (f" in {len(coords['service'])} services" if services else "")
            + (f" and {len(coords['specialist'])} job specialists" if specialists else "")
            + f", followed for up to {info['horizon']} months (months {months}). Targets: {targets}; they "
            f"compete: the first one reached ends a participant's time at risk. Formula: {formula}."
        )
        body = (
            _baseline(spec, nb)
            + _centring(info, coords, nb)
            + (" Service effects are partially pooled (non-centred)." if services else "")
            + (" Numeric predictors are standardised." if spec.standardize else "")
            + " Cumulative incidence averages the model's predictions over every participant, with their own "
            "predictors" + (" and service" if services else "") + ", for each posterior draw; "
            "participants whose follow-up ended early (right-censoring, assumed unrelated to their prospects) "
            "count through the months they were followed."
        )
        rows = (
            f"Person-months at risk: {info['person_months']:,} (the likelihood rows before collapsing); "
            f"pattern-months with someone at risk: {info['cells']:,} (after collapsing "
            f"{info['patterns']:,} covariate patterns x {len(info['months'])} months)."
        )
    lines = [head, "", equation, "", body, "", rows]
    if spec.fidelity is not None:
        lines.append("\n" + _fidelity(spec, info, nb))
    return "\n".join(lines)


def _baseline(spec: Any, nb: bool) -> str:
    if getattr(spec, "baseline_centre", "zero") == "zero":
        return _walk(spec, nb)
    centre = (
        " Prioren for `hazard_intercept` er angitt relativt til den månedlige log-oddsen der halvparten av "
        "deltakerne ville hatt en første overgang innen siste modellerte måned, fordelt likt på målene."
        if nb
        else " The prior of `hazard_intercept` is stated relative to the monthly log-odds at which half of the "
        "participants would have a first transition by the last month modelled, split evenly over the targets."
    )
    return _walk(spec, nb) + centre


def _centring(info: dict[str, Any], coords: dict[str, Any], nb: bool) -> str:
    """Which of the walk's coordinates are sampled centred (only said when some are)."""
    centred = info.get("baseline_centred", 0)
    if not centred or "basis" not in coords:
        return ""
    total = len(coords["basis"]) * len(coords["target"])
    if nb:
        return (
            f" {centred} av gangens {total} koordinater (over alle mål), de dataene sier mest om, samples sentrert "
            "og resten ikke-sentrert: samme prior, en geometri som passer sampleren."
        )
    return (
        f" {centred} of the walk's {total} coordinates (over all targets), those the data say most about, are "
        "sampled centred and the rest non-centred: the same prior, a geometry that suits the sampler."
    )


def _walk(spec: Any, nb: bool) -> str:
    if spec.baseline == "free":
        if nb:
            return "Hvert måls grunnlinje har én log-odds per måned, hver med sin egen prior (ingen glatting)."
        return "Each target's baseline has one log-odds per month, each with its own prior (no smoothing)."
    if nb:
        order, line = ("andre", "den rette linjen") if spec.baseline == "rw2" else ("første", "gjennomsnittet")
        return (
            f"Hvert måls grunnlinje (log-odds over måneder) er en tilfeldig gange (random walk) av {order} orden; "
            f"glattheten `baseline_sd`, det typiske avviket fra {line}, har sin egen prior."
        )
    order, line = ("second", "straight line") if spec.baseline == "rw2" else ("first", "mean")
    return (
        f"Each target's baseline log-odds over months is a random walk of {order} order; its smoothness "
        f"`baseline_sd`, the typical deviation from its {line}, has its own prior."
    )


def _fidelity(spec: Any, info: dict[str, Any], nb: bool) -> str:
    scale = spec.fidelity.resolved_scale
    column, per = code_span(spec.fidelity.column, in_table=False), f"{spec.fidelity.per:g}"
    if nb:
        centre = localise(f"{info['fidelity_centre']:.1f}", "nb")
        return (
            f"Modelltrofasthet: {column} på {scale.name}-skalaen, sentrert i {centre} og skalert per {per} poeng. "
            "Skåren brukes slik den er målt (ingen målefeil i denne modellen)."
        )
    return (
        f"Fidelity: {column} on the {scale.name} scale, centred at {info['fidelity_centre']:.1f} and scaled per "
        f"{per} points, treated as measured without error."
    )
