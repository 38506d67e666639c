"""Estimands of the time-to-event family on the users' scale (percent, percentage points, months, odds ratios).

Every cumulative incidence is the mean over the study's participants of the
model's probability of having entered the target by the end of the month, for
each posterior draw (see :mod:`ipsbayes.models.hazard_predict`). "any" is the
first transition into any target (one minus the probability of none yet).
Fidelity contrasts set every service to one score and keep everything else as
observed, including each service's own effect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.models.base import ModelData, draws_array, estimand, unstack_draws
from ipsbayes.models.hazard_predict import HazardPredictor, median_time
from ipsbayes.models.time_to_event_data import TARGETS_NB
from ipsbayes.present.text import configured_words, norwegian_words


def _wrap(posterior: xr.Dataset, values: np.ndarray, dims: tuple[str, ...] = (), coords: dict | None = None) -> Any:
    return unstack_draws(np.asarray(values), posterior, dims, coords)


def horizon_label(month: int) -> str:
    """Coordinate label of a reporting month, e.g. ``'12 months'`` (reports write it in their language)."""
    return f"{month} months"


def study_words(
    targets: list[str], outcome: str, outcome_nb: str, labels: Mapping[str, str] | None = None, language: str = "en"
) -> dict[str, str]:
    """The family's words for reports: the outcome in both languages, and the targets' Norwegian names.

    Stored as ``estimands.attrs["vocabulary"]``: a target's Norwegian name is the config's label when its report
    is Norwegian, else the usual name (:data:`TARGETS_NB`); in the report ``[report.labels]`` still wins.
    """
    words = {"outcome": outcome, "outcome_nb": outcome_nb}
    return words | norwegian_words([str(t) for t in targets], TARGETS_NB, labels or {}, language)


def hazard_estimands(
    posterior: xr.Dataset,
    data: ModelData,
    spec: Any,
    labels: Mapping[str, str] | None = None,
    language: str = "en",
) -> xr.Dataset:
    """Cumulative incidence, contrasts, median times and hazard odds ratios for one set of draws.

    Parameters
    ----------
    posterior : Dataset
        Posterior (or prior) draws.
    data : ModelData
        The prepared person-month data.
    spec : TimeToEventSpec
        The ``[model]`` table.
    labels : mapping, optional
        ``[report.labels]``: its ``outcome`` names the first transition in the labels of the report's language.
    language : {"en", "nb"}
        ``report.language``, the language ``labels`` are written in.
    """
    info, coords = data.info, data.coords
    predictor = HazardPredictor.from_posterior(posterior, data)
    months, targets = np.asarray(info["months"]), list(coords["target"])
    label, label_nb = configured_words(
        labels or {},
        language,
        "outcome",
        (info["outcome_label"], info.get("outcome_label_nb") or info["outcome_label"]),
    )
    horizons = [h for h in spec.horizons if h in set(months)]
    at = [int(np.flatnonzero(months == h)[0]) for h in horizons]
    hz = {"horizon": [horizon_label(h) for h in horizons]}
    has_services = "service" in coords
    column = int(np.flatnonzero(months == min(spec.service_horizon, months[-1]))[0])
    groups = info["service_groups"] if has_services else None
    overall, per_service = predictor.incidence(groups=groups, month=column)  # (S, T, K), (S, J, K)
    overall = 100 * overall
    any_curve = overall.sum(axis=-1)
    by_month = {"month": months}
    target_month = {"target": targets, "month": months}
    out = xr.Dataset()
    out["incidence_any"] = estimand(
        _wrap(posterior, any_curve[:, at], ("horizon",), hz),
        f"Share with a {label} within",
        "%",
        null=None,
        label_nb=f"Andel med {label_nb} innen",
        headline=True,
        note="cumulative incidence averaged over the study's participants",
        outcome_label=label,
    )
    out["incidence"] = estimand(
        _wrap(posterior, np.swapaxes(overall[:, at, :], 1, 2), ("target", "horizon"), {"target": targets, **hz}),
        "Share whose first transition is into the target, within",
        "%",
        null=None,
        label_nb="Andel med første overgang til målet, innen",
        note="cumulative incidence with the other targets competing",
    )
    out["incidence_curve_any"] = estimand(
        _wrap(posterior, any_curve, ("month",), by_month),
        f"Cumulative incidence of a {label} by month",
        "%",
        null=None,
        label_nb=f"Kumulativ insidens av {label_nb} per måned",
    )
    out["incidence_curve"] = estimand(
        _wrap(posterior, np.swapaxes(overall, 1, 2), ("target", "month"), target_month),
        "Cumulative incidence of each target by month",
        "%",
        null=None,
        label_nb="Kumulativ insidens for hvert mål per måned",
    )
    before = np.concatenate([np.zeros((len(any_curve), 1)), any_curve[:, :-1]], axis=1)
    out["hazard_curve_any"] = estimand(
        _wrap(posterior, 100 * (any_curve - before) / np.maximum(100 - before, 1e-9), ("month",), by_month),
        "Share of those still without a target who reach one in the month (population hazard)",
        "% per month",
        null=None,
        label_nb="Andel av dem som ennå ikke har nådd et mål, som når et i måneden (populasjonshasard)",
        unit_nb="% per måned",
    )
    out["median_time_any"] = estimand(
        _wrap(posterior, median_time(any_curve)),
        f"Median month of the first transition among those with a {label} by month {months[-1]}",
        "months",
        null=None,
        label_nb=f"Medianmåned for første overgang blant dem med {label_nb} innen måned {months[-1]}",
        headline=True,
        note="months since start; cumulative incidence taken as linear within months",
    )
    out["median_time"] = estimand(
        _wrap(
            posterior,
            np.column_stack([median_time(overall[..., k]) for k in range(len(targets))]),
            ("target",),
            {"target": targets},
        ),
        f"Median month of the first transition into the target among those reaching it by month {months[-1]}",
        "months",
        null=None,
        label_nb=f"Medianmåned for første overgang til målet blant dem som når det innen måned {months[-1]}",
    )
    if has_services:
        services = {"service": coords["service"]}
        out["service_incidence_any"] = estimand(
            _wrap(posterior, 100 * per_service.sum(axis=-1), ("service",), services),
            f"Expected share with a {label} by month {spec.service_horizon}, per service (partially pooled)",
            "%",
            null=None,
            label_nb=f"Forventet andel med {label_nb} innen måned {spec.service_horizon}, per tjeneste "
            "(delvis sammenslått)",
            month=int(spec.service_horizon),
        )
        out["service_observed_incidence_any"] = xr.DataArray(
            100 * info["service_observed_incidence"],
            dims="service",
            coords=services,
            attrs={
                "label": f"Observed share with a {label} by month {spec.service_horizon} (Kaplan-Meier)",
                "unit": "%",
            },
        )
        out["service_observed_events_any"] = xr.DataArray(
            info["service_observed_events"],
            dims="service",
            coords=services,
            attrs={
                "label": f"First transitions by month {spec.service_horizon}, per service (small-cell checks)",
                "unit": "participants",
            },
        )
        out["service_n"] = xr.DataArray(
            info["service_n"],
            dims="service",
            coords=services,
            attrs={"label": "Participants per service", "unit": "participants"},
        )
    out["observed_incidence_curve"] = xr.DataArray(
        100 * info["observed_incidence"].T,
        dims=("target", "month"),
        coords=target_month,
        attrs={
            "label": "Observed cumulative incidence (Aalen-Johansen)",
            "unit": "%",
            "participants": float(np.sum(info["pattern_weights"])),
        },
    )
    # first transitions so far per target and month: a share resting on fewer than report.min_cell is not published
    out["observed_events_curve"] = xr.DataArray(
        info["observed_events"].T,
        dims=("target", "month"),
        coords=target_month,
        attrs={"label": "Observed first transitions up to each month (small-cell checks)", "unit": "participants"},
    )
    out.update(_coefficients(posterior, data, targets))
    if predictor.fidelity_slope is not None and spec.fidelity is not None:
        out.update(_fidelity(predictor, posterior, data, spec, at, hz, label, label_nb))
    out.attrs["vocabulary"] = json.dumps(study_words(targets, label, label_nb, labels, language))
    return out


def _coefficients(posterior: xr.Dataset, data: ModelData, targets: list[str]) -> dict[str, xr.DataArray]:
    """Hazard odds ratios per predictor and target, and the service (and specialist) SDs."""
    out: dict[str, xr.DataArray] = {}
    terms = data.coords["term"]
    if len(terms) and "beta" in posterior:
        beta = np.swapaxes(draws_array(posterior, "beta"), 1, 2)  # (S, K, p)
        element = {"target": targets, "term": terms}
        out["hazard_odds_ratio"] = estimand(
            _wrap(posterior, np.exp(beta), ("target", "term"), element),
            f"Hazard odds ratio ({data.info['design'].per_words()[0]})",
            "OR",
            null=1.0,
            label_nb=f"Oddsratio for hasarden ({data.info['design'].per_words()[1]})",
            note="odds of a first transition into the target in a month, among those still at risk",
        )
        out["hazard_log_odds_per_unit"] = estimand(
            _wrap(posterior, beta / data.info["design"].unit_scale()[None, None, :], ("target", "term"), element),
            "Hazard log-odds coefficient per unit of the predictor",
            "log-odds",
            label_nb="Log-odds-koeffisient for hasarden per enhet av prediktoren",
        )
    if "sd_service" in posterior:
        out["sd_service"] = estimand(
            posterior["sd_service"],
            "SD of service effects on the hazard",
            "SD (log-odds)",
            null=None,
            label_nb="SD for tjenesteeffekter på hasarden",
        )
    if "sd_specialist" in posterior:
        out["sd_specialist"] = estimand(
            posterior["sd_specialist"],
            "SD of job-specialist effects on the hazard",
            "SD (log-odds)",
            null=None,
            label_nb="SD for jobbspesialisteffekter på hasarden",
        )
    return out


def _fidelity(
    predictor: HazardPredictor,
    posterior: xr.Dataset,
    data: ModelData,
    spec: Any,
    at: list[int],
    hz: dict,
    label: str,
    label_nb: str,
) -> dict[str, xr.DataArray]:
    """Cumulative incidence with every service at the contrast's two scores, and their difference."""
    fid = spec.fidelity
    scale = fid.resolved_scale
    centre, per = data.info["fidelity_centre"], fid.per
    low, high = fid.contrast
    targets, months = list(data.coords["target"]), data.info["months"]
    curves = {score: 100 * predictor.incidence(fidelity_value=(score - centre) / per)[0] for score in (low, high)}
    difference = curves[high] - curves[low]  # (S, T, K)
    difference_any = difference.sum(axis=-1)
    title = f"{scale.name} = {high:g} ({scale.band(high)}) minus {low:g} ({scale.band(low)})"
    title_nb = f"{scale.name} = {high:g} ({scale.band(high, 'nb')}) minus {low:g} ({scale.band(low, 'nb')})"
    unit = f"log-odds per {per:g} {scale.name} points"
    unit_nb = f"log-odds per {per:g} {scale.name}-poeng"
    element = {"target": targets}
    scores = np.stack([curves[low].sum(axis=-1), curves[high].sum(axis=-1)], axis=1)
    return {
        "hazard_fidelity_slope": estimand(
            _wrap(posterior, predictor.fidelity_slope, ("target",), element),
            f"Fidelity slope of the hazard ({scale.name})",
            unit,
            label_nb=f"Stigningstall for modelltrofasthet på hasarden ({scale.name})",
            unit_nb=unit_nb,
        ),
        "hazard_fidelity_odds_ratio": estimand(
            _wrap(posterior, np.exp(predictor.fidelity_slope), ("target",), element),
            f"Hazard odds ratio per {per:g} {scale.name} points",
            "OR",
            null=1.0,
            label_nb=f"Oddsratio for hasarden per {per:g} {scale.name}-poeng",
            headline=True,
        ),
        "fidelity_incidence_contrast_any": estimand(
            _wrap(posterior, difference_any[:, at], ("horizon",), hz),
            f"Share with a {label}: {title}, within",
            "pp",
            label_nb=f"Andel med {label_nb}: {title_nb}, innen",
            headline=True,
            note="every service set to each score; participants and services' own effects as observed, everyone "
            "followed to the horizon",
            outcome_label=label,
            scale=scale.name,
            low=float(low),
            high=float(high),
            per=float(per),
        ),
        "fidelity_incidence_contrast": estimand(
            _wrap(posterior, np.swapaxes(difference[:, at, :], 1, 2), ("target", "horizon"), {**element, **hz}),
            f"Share whose first transition is into the target: {title}, within",
            "pp",
            label_nb=f"Andel med første overgang til målet: {title_nb}, innen",
        ),
        "fidelity_contrast_curve_any": estimand(
            _wrap(posterior, difference_any, ("month",), {"month": months}),
            f"Difference in cumulative incidence of a {label} by month: {title}",
            "pp",
            label_nb=f"Forskjell i kumulativ insidens av {label_nb} per måned: {title_nb}",
        ),
        "incidence_at_fidelity_any": estimand(
            _wrap(posterior, scores, ("fidelity_score", "month"), {"fidelity_score": [low, high], "month": months}),
            f"Cumulative incidence of a {label} with every service at a {scale.name} score",
            "%",
            null=None,
            label_nb=f"Kumulativ insidens av {label_nb} med alle tjenester på en {scale.name}-skår",
        ),
        "service_fidelity": xr.DataArray(
            data.info["fidelity_raw"],
            dims="service",
            coords={"service": data.coords["service"]},
            attrs={"label": f"{scale.name} score per service", "unit": "points"},
        ),
    }
