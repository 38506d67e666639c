"""Data preparation of the time-to-event family: participant checks and the pattern x month arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ipsbayes.config import RunConfig
from ipsbayes.data import DataBundle, Table, config_where, raise_if
from ipsbayes.data_checks import (
    constant_columns,
    dropped_rows_note,
    handle_missing,
    merge_service_columns,
    missing_columns,
    not_nested,
    out_of_range,
    unmatched_keys,
    varying_within,
)
from ipsbayes.models.base import ModelData, natural_key
from ipsbayes.models.design import Design
from ipsbayes.models.hazard_predict import group_matrix, observed_incidence
from ipsbayes.models.person_months import baseline_split, collapse, month_trend, rw_basis
from ipsbayes.panel import first_events

#: Norwegian words for the usual target names, used when neither ``[report.labels]`` nor the study's vocabulary
#: names the target (the config's keys are usually English)
TARGETS_NB = {
    "work": "arbeid",
    "job": "jobb",
    "employment": "arbeid",
    "apprenticeship": "læreplass",
    "education": "utdanning",
    "school": "skole",
}


def participant_table(
    bundle: DataBundle, spec: Any, parts: Any, has_services: bool, nested: str | None, config: RunConfig
) -> tuple[pd.DataFrame, list[str]]:
    """Participants with service-level columns joined, checked like the other families' tables."""
    participants, services = bundle.participants, bundle.services
    fid = spec.fidelity
    service_cols = set(services.frame.columns) if services is not None else set()
    service_level = list(dict.fromkeys([*spec.service_predictors, *([fid.column] if fid is not None else [])]))
    from_services = [
        v
        for v in dict.fromkeys([*parts.variables, *service_level])
        if v in service_cols and v not in participants.frame.columns
    ]
    needs = [
        spec.participant,
        *([spec.service] if has_services else []),
        *([nested] if nested else []),
        *[v for v in parts.variables if v not in from_services],
    ]
    problems = missing_columns(participants, dict.fromkeys(needs), "used by the model")
    if services is not None and has_services:
        problems += missing_columns(services, [spec.service], "service id")
    raise_if(problems, f"Data do not match {config_where(config)}: columns")
    problems += handle_missing(participants, needs, config.data.missing, bundle)
    if services is not None and has_services:
        problems += handle_missing(services, [spec.service, *from_services], "error", bundle)
        problems += unmatched_keys(participants, services, spec.service)
    raise_if(problems, "The data cannot be used as they are")
    frame = merge_service_columns(bundle, spec.service, from_services) if has_services else participants.frame.copy()
    merged = Table(frame, participants.path, participants.label)
    problems += constant_columns(merged, parts.variables)
    if has_services:
        problems += varying_within(merged, spec.service, service_level)
    if nested:
        problems += not_nested(merged, nested, spec.service)
    if fid is not None:
        scale = fid.resolved_scale
        target = services if fid.column in from_services else merged
        problems += out_of_range(target, fid.column, scale.minimum, scale.maximum, scale.name)
    return frame, problems


def person_month_data(
    frame: pd.DataFrame,
    panel: pd.DataFrame,
    spec: Any,
    parts: Any,
    has_services: bool,
    nested: str | None,
    horizon: int,
    bundle: DataBundle,
) -> ModelData:
    """Design matrix, pattern x month counts, smooth-baseline basis, and what estimands and reports need."""
    fid = spec.fidelity
    ids = frame[spec.participant].astype(str).to_numpy()
    events = first_events(panel[panel["participant"].isin(set(ids))], spec.targets, horizon)
    position = pd.Index(events.participant).get_indexer(ids)
    months = list(range(spec.first_month, horizon + 1))
    n_months, targets = len(months), list(spec.targets)
    exit_index = events.exit_month[position] - spec.first_month + 1
    exit_target = events.target[position]
    last_followed = panel.groupby("participant")["month"].max().reindex(ids).to_numpy()
    followed = np.minimum(last_followed, horizon) - spec.first_month + 1

    rhs_terms = [quoted(t, frame.columns) for t in parts.formula.common_terms if fid is None or t != fid.column]
    design = Design(" + ".join(rhs_terms) or "1", frame, standardize=spec.standardize, where=bundle.participants.where)
    X = design.matrix()
    service_ids = frame[spec.service].astype(str) if has_services else pd.Series("all", index=frame.index)
    services = sorted(service_ids.unique(), key=natural_key)
    service_idx = pd.Categorical(service_ids, categories=services).codes.astype(np.int64)
    keys = [X, service_idx[:, None].astype(float)]
    coords: dict[str, Any] = {"term": design.labels, "target": targets, "month": months}
    if has_services:
        coords["service"] = services
    specialist_idx = None
    if nested:
        specialist_keys = service_ids + ":" + frame[nested].astype(str)
        specialists = sorted(specialist_keys.unique(), key=natural_key)
        specialist_idx = pd.Categorical(specialist_keys, categories=specialists).codes.astype(np.int64)
        coords["specialist"] = specialists
        keys.append(specialist_idx[:, None].astype(float))
    pooled = collapse(np.column_stack(keys), exit_index, exit_target, n_months, len(targets), spec.collapse != "never")
    order = 2 if spec.baseline == "rw2" else 1
    basis = rw_basis(n_months, order) if spec.baseline != "free" else np.zeros((n_months, 0))
    coords["pattern"] = np.arange(len(pooled.first))
    if spec.baseline != "free":
        coords["basis"] = np.arange(basis.shape[1])
    arrays: dict[str, np.ndarray] = {"X": X[pooled.first], "trials": pooled.trials, "y": pooled.events}
    centred = 0
    if spec.baseline != "free":
        arrays |= {"rw_basis": basis, "trend": month_trend(n_months)}
        split, split_coords, centred = baseline_split(
            pooled.trials, pooled.events, basis, targets, spec.baseline_parameterisation, spec.centre_above
        )
        arrays |= split
        coords |= split_coords
    if has_services:
        arrays["service_idx"] = service_idx[pooled.first]
    if specialist_idx is not None:
        arrays["specialist_idx"] = specialist_idx[pooled.first]
    info: dict[str, Any] = {
        "design": design,
        "frame": frame,
        "horizon": horizon,
        "months": months,
        "targets": targets,
        "pattern_of": pooled.pattern_of,
        "pattern_weights": pooled.weights,
        "patterns": pooled.patterns,
        "exit_index": exit_index,
        "exit_target": exit_target,
        "followed": followed,
        "person_months": pooled.person_months,
        "cells": pooled.cells,
        "baseline_centred": centred,
        "outcome_label": spec.outcome_label or "first " + " or ".join(targets),
        # an English outcome_label is not used in a Norwegian report: outcome_label_nb, else the targets' names
        "outcome_label_nb": spec.outcome_label_nb
        or "første overgang til " + " eller ".join(TARGETS_NB.get(t.lower(), t.replace("_", " ")) for t in targets),
    }
    if fid is not None:
        per_service = frame.groupby(service_ids)[fid.column].first().reindex(services).to_numpy(float)
        centre = fid.centre if fid.centre is not None else float(per_service.mean())
        arrays["fidelity"] = (per_service - centre) / fid.per
        info |= {"fidelity_raw": per_service, "fidelity_centre": centre}
    _observed(info, pooled.trials, pooled.events, service_idx[pooled.first], len(services), months, spec)
    data = ModelData(coords=coords, arrays=arrays, info=info, n_rows=len(frame))
    if dropped := dropped_rows_note(bundle):  # a sentence naming the file, the columns and their first rows
        data.notes.append(dropped)
    data.notes.append(
        f"{pooled.person_months:,} person-months at risk were collapsed into {pooled.cells:,} pattern-months with "
        f"someone at risk ({pooled.patterns:,} covariate patterns x {n_months} months; same likelihood)."
    )
    censored = int(np.sum((exit_target < 0) & (followed < n_months)))
    if censored:
        data.notes.append(
            f"{censored} participants' follow-up ended before month {horizon} without a target state "
            "(right-censored: they count for the months they were followed)."
        )
    return data


def _observed(
    info: dict[str, Any],
    trials: np.ndarray,
    events: np.ndarray,
    pattern_service: np.ndarray,
    n_services: int,
    months: list[int],
    spec: Any,
) -> None:
    """Nonparametric (Aalen-Johansen) cumulative incidence overall and per service, for comparison."""
    info["observed_incidence"] = observed_incidence(trials.sum(axis=0), events.sum(axis=0))
    info["observed_events"] = np.cumsum(events.sum(axis=0), axis=0)  # (T, K): who the observed shares rest on
    column = months.index(min(spec.service_horizon, months[-1]))
    per_service, transitions = np.zeros(n_services), np.zeros(n_services)
    for s in range(n_services):
        mine = pattern_service == s
        curve = observed_incidence(trials[mine].sum(axis=0), events[mine].sum(axis=0))
        per_service[s] = curve[column].sum()
        transitions[s] = events[mine].sum(axis=0)[: column + 1].sum()  # whom the service's share rests on
    info["service_observed_incidence"] = per_service
    info["service_observed_events"] = transitions
    info["service_n"] = np.bincount(pattern_service, weights=info["pattern_weights"], minlength=n_services)
    info["service_groups"] = group_matrix(pattern_service, info["pattern_weights"], n_services)


def quoted(term: str, columns: Any) -> str:
    """A formula term as formulae reads it again: column names that are not identifiers in backticks.

    formulae gives a term's name without the backticks it was written with (```age years``` ->
    ``age years``); joined into a formula as it is, that name would not parse. Parts of an
    interaction (``a:b``) are quoted one by one.
    """
    if term in columns and not term.isidentifier():
        return f"`{term}`"
    parts = term.split(":")
    if len(parts) > 1 and all(part in columns for part in parts):
        return ":".join(quoted(part, columns) for part in parts)
    return term
