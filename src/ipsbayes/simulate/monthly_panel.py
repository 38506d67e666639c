"""The monthly register panel of the IPS ung simulator: status per participant and month since start.

The panel extends, and never changes, the participant table: it is drawn from its
own random stream (seeded by ``[seed, 13]``) after every other draw, so the
existing tables stay identical for a seed. Its generating process is a
discrete-time hazard of the first entry into work, apprenticeship or education
that agrees exactly with the 12-month outcome already drawn:

- participant *i*'s monthly hazard of a first transition is
  ``h_i(t) = expit(b_t + c_i)`` with a baseline shape ``b_t = log_month * log(t) +
  per_month * t`` (rising over the first months of job search, then falling);
- ``c_i`` is the unique value with ``1 - prod_{t<=12} (1 - h_i(t)) = expit(eta_i)``,
  the participant's probability of reaching an outcome by month 12 in the
  participant table (covariates, true fidelity, service and specialist effects);
- given the 12-month outcome already drawn, the month of the first transition
  is drawn from its conditional distribution: within months 1-12 for participants
  whose ``outcome_12m`` is work, apprenticeship or education, after month 12 (or
  never within the panel) for ``none``;
- the first transition is into the participant's drawn outcome type (work,
  apprenticeship or education; for ``none`` participants the type drawn but unused
  at 12 months), so the hazard of each target is ``pi_ik h_i(t)``.

Follow-up is right-censored: participants enter over ``recruitment_months``
calendar months from ``study_start``, the register is extracted
``extract_after_months`` after the study start (at most ``monthly_months``
months each), and a participant leaves the register (moves, withdraws) with
monthly probability ``monthly_dropout``, independently of outcomes. Before the
first transition a participant is on ``benefits`` or ``none``; afterwards the
status may persist, lapse and return (only the first entry matters for time to
first job).

True cumulative incidence by month, averaged over the study's participants, and
the effect of fidelity on it are exactly defined by this process (no model
involved) and are written to ``truth.json`` for coverage checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

TARGETS = ("work", "apprenticeship", "education")
HORIZONS = (6, 12, 24)


def baseline_shape(months: int, log_month: float, per_month: float) -> np.ndarray:
    """Baseline log-odds shape ``b_t`` for months 1..``months``."""
    t = np.arange(1, months + 1, dtype=float)
    return log_month * np.log(t) + per_month * t


def solve_offsets(p12: np.ndarray, shape: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Offsets ``c_i`` such that the hazard ``expit(shape_t + c_i)`` reaches ``p12`` by month 12 (bisection)."""
    low = np.full(len(p12), -40.0)
    high = np.full(len(p12), 40.0)
    first12 = shape[:12]
    for _ in range(iterations):
        mid = (low + high) / 2
        reached = 1.0 - np.prod(1.0 - expit(first12[None, :] + mid[:, None]), axis=1)
        too_low = reached < p12
        low = np.where(too_low, mid, low)
        high = np.where(too_low, high, mid)
    return (low + high) / 2


def survival(offsets: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """``S_i(t)`` for t = 0..months: probability of no transition by the end of month t."""
    hazard = expit(shape[None, :] + offsets[:, None])
    return np.concatenate([np.ones((len(offsets), 1)), np.cumprod(1.0 - hazard, axis=1)], axis=1)


def _draw_first_month(surv: np.ndarray, reached: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Month of the first transition given the 12-month outcome (months + 1 when after the panel)."""
    cdf = 1.0 - surv  # P(T <= t), t = 0..months
    u = rng.random(len(reached))
    # reached by 12: T | T <= 12; not reached: T | T > 12 (T > months means no transition in the panel)
    low = np.where(reached == 1, 0.0, cdf[:, 12])
    high = np.where(reached == 1, cdf[:, 12], 1.0)
    target = low + u * (high - low)
    first = (cdf[:, 1:] < target[:, None]).sum(axis=1) + 1  # smallest t with cdf(t) >= target
    first = np.where(reached == 1, np.minimum(first, 12), np.maximum(first, 13))
    return first


def _statuses(
    first: np.ndarray, kind: np.ndarray, followed: np.ndarray, months: int, design: Any, rng: np.random.Generator
) -> np.ndarray:
    """Status per participant and month (object array, '' after the end of follow-up)."""
    n = len(first)
    out = np.full((n, months), "", dtype=object)
    on_benefits = rng.random(n) < design.benefits_share
    in_target = np.zeros(n, bool)
    for t in range(1, months + 1):
        switch = rng.random(n) < 0.1
        on_benefits = np.where(switch, ~on_benefits, on_benefits)
        stay = rng.random(n) < design.target_persistence
        back = rng.random(n) < 0.3
        in_target = np.where(t == first, True, np.where(t > first, np.where(in_target, stay, back), False))
        label = np.where(on_benefits, "benefits", "none").astype(object)
        label = np.where(in_target, np.array(TARGETS, dtype=object)[kind], label)
        out[:, t - 1] = np.where(t <= followed, label, "")
    return out


def _truth_curves(offsets: np.ndarray, shape: np.ndarray, type_probs: np.ndarray) -> dict[str, np.ndarray]:
    """Cumulative incidence (percent) by month 1..months of any target and of each, averaged over participants."""
    reached = 1.0 - survival(offsets, shape)[:, 1:]
    curves = {"any": 100 * reached.mean(axis=0)}
    for k, name in enumerate(TARGETS):
        curves[name] = 100 * (type_probs[:, k : k + 1] * reached).mean(axis=0)
    return curves


def median_month(curve: np.ndarray) -> float:
    """Month by which half of those with a transition by the last month had it (linear between month ends)."""
    full = np.r_[0.0, curve]
    half = full[-1] / 2
    t = int(np.argmax(full >= half))
    return float(t - 1 + (half - full[t - 1]) / (full[t] - full[t - 1]))


def monthly_panel(
    design: Any,
    seed: int,
    eta_reach: np.ndarray,
    reached: np.ndarray,
    which: np.ndarray,
    type_probs: np.ndarray,
    fidelity_term: np.ndarray,
    participant_ids: np.ndarray,
) -> tuple[pd.DataFrame, dict]:
    """Draw the monthly status table and its truth.

    Parameters
    ----------
    design : IpsUngDesign
        Sizes, true parameters and the panel settings.
    seed : int
        The data set's seed (the panel uses its own stream ``[seed, 13]``).
    eta_reach : ndarray
        Log-odds of reaching any outcome by month 12, per participant.
    reached : ndarray of {0, 1}
        The 12-month outcome already drawn.
    which : ndarray of {1, 2, 3}
        Outcome type drawn for each participant (work, apprenticeship, education).
    type_probs : ndarray (n, 3)
        The probabilities ``which`` was drawn from.
    fidelity_term : ndarray
        The part of ``eta_reach`` due to the service's true fidelity,
        ``slope * (score - centre) / 10``; the truth replaces it to set every service
        to one fidelity score.
    participant_ids : ndarray of str

    Returns
    -------
    table : DataFrame
        Long form: participant_id, month, calendar_month, status.
    truth : dict
    """
    rng = np.random.default_rng([seed, 13])
    months = design.monthly_months
    shape = baseline_shape(months, design.hazard_log_month, design.hazard_per_month)
    offsets = solve_offsets(expit(eta_reach), shape)
    surv = survival(offsets, shape)
    first = _draw_first_month(surv, reached, rng)
    n = len(reached)
    entry = rng.integers(0, design.recruitment_months, n)
    admin = np.minimum(months, design.extract_after_months - entry)
    dropout = rng.geometric(design.monthly_dropout, n) if design.monthly_dropout > 0 else np.full(n, months)
    followed = np.minimum(admin, dropout)
    statuses = _statuses(first, which - 1, followed, months, design, rng)
    start = pd.Period(design.study_start, freq="M")
    rows_p, rows_m = np.nonzero(statuses != "")
    table = pd.DataFrame(
        {
            "participant_id": participant_ids[rows_p],
            "month": rows_m + 1,
            "calendar_month": [str(start + int(e) + int(m)) for e, m in zip(entry[rows_p], rows_m, strict=True)],
            "status": statuses[rows_p, rows_m],
        }
    )
    curves = _truth_curves(offsets, shape, type_probs)
    low, high = 74.0, 100.0
    centre = design.fidelity_centre
    contrast = {}
    at = {}
    for score in (low, high):
        eta = eta_reach - fidelity_term + design.fidelity_slope_per_10 * (score - centre) / 10.0
        at[score] = _truth_curves(solve_offsets(expit(eta), shape), shape, type_probs)
    for key in curves:
        contrast[key] = {str(h): float(at[high][key][h - 1] - at[low][key][h - 1]) for h in HORIZONS if h <= months}
    observed_first = np.where(first <= followed, first, 0)
    truth = {
        "targets": list(TARGETS),
        "hazard": {
            "form": "h_i(t) = expit(b_t + c_i), b_t = log_month * log(t) + per_month * t; c_i solves "
            "P(first transition by month 12) = expit(eta_reach_i); target k has hazard pi_ik h_i(t)",
            "log_month": design.hazard_log_month,
            "per_month": design.hazard_per_month,
            "baseline_logit_shape": [round(float(v), 4) for v in shape],
            "offset_mean": float(offsets.mean()),
            "offset_sd": float(offsets.std()),
        },
        "censoring": {
            "study_start": design.study_start,
            "recruitment_months": design.recruitment_months,
            "extract_after_months": design.extract_after_months,
            "monthly_dropout": design.monthly_dropout,
            "followed_at_least_12_months_percent": float(100 * np.mean(followed >= 12)),
            "followed_all_months_percent": float(100 * np.mean(followed >= months)),
            "mean_months_followed": float(followed.mean()),
        },
        "person_months": len(table),
        "person_months_at_risk": int(np.minimum(np.where(first <= months, first, months), followed).sum()),
        "observed_transitions": int((observed_first > 0).sum()),
        "cumulative_incidence_percent": {
            key: {str(m): round(float(v), 4) for m, v in enumerate(curve, start=1)} for key, curve in curves.items()
        },
        "fidelity_contrast_pp": {"scores": [low, high], **contrast},
        "median_months_to_first": {key: round(median_month(curve), 4) for key, curve in curves.items()},
        "note": "percent of the study's participants, averaged over them with their own covariates, service and "
        "specialist effects (expected values, not the shares observed in this draw); the fidelity contrast "
        "sets every service's true score to 100 and 74; median: month by which half of those with a transition "
        "by the last month had it, linear within months",
    }
    return table, truth
