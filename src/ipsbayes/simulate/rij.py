"""Synthetic Raskt i jobb data: a small RCT of IPS with one-sided noncompliance, with known truth.

Defaults mirror the trial: 66 refugees in the introduction programme randomised
1:1 to IPS or usual follow-up; about one in three assigned to IPS do not receive
it, mostly those with little Norwegian; controls cannot receive IPS.

Each participant has a latent type, complier or never-taker, with
``P(complier) = expit(c0 + c_norsk * (norwegian_level - 1.5) + ...)``. Months
employed in the 12 after enrolment are beta-binomial with mean
``12 * mu``, where ``logit(mu)`` depends on type, on the arm for compliers (the
effect of IPS), optionally on the arm for never-takers (a violation of the
exclusion restriction) and on years of schooling. Employment at 12 months is
Bernoulli(months / 12), so marginally it is Bernoulli(mu): the same ``mu``
drives both outcomes and the truth is exact for logistic and binomial models.
This module imports no model code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit

NORWEGIAN_LEVELS = ("A0", "A1", "A2", "B1")


@dataclass(frozen=True)
class RijDesign:
    """Design and true parameters of the simulated Raskt i jobb trial (log-odds scale)."""

    n_participants: int = 66
    treatment_share: float = 0.5
    # compliance (latent type) model
    complier_intercept: float = 1.0
    complier_per_norwegian_level: float = 1.2
    complier_per_year_schooling: float = 0.05
    # outcome model: logit of the monthly employment probability mu
    complier_control_intercept: float = -1.3
    treatment_effect: float = 1.1  # log-odds, compliers only
    never_taker_intercept: float = -2.2
    never_taker_arm_effect: float = 0.0  # non-zero violates the exclusion restriction
    outcome_per_year_schooling: float = 0.06
    months_concentration: float = 4.0  # beta-binomial concentration (lower = more overdispersed)
    trials: int = 12
    extra: dict = field(default_factory=dict)
    #: the range of each setting that ``make_design`` checks first (other numbers: -1,000 to 1,000)
    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "n_participants": (1, 200_000),
        "trials": (1, 1_000),
        "months_concentration": (0.01, 1_000),
    }

    @property
    def n_treated(self) -> int:
        """Participants randomised to IPS."""
        return round(self.treatment_share * self.n_participants)

    def problems(self) -> list[str]:
        """Settings that cannot make a trial, each with what would be valid (empty when all are valid)."""
        found = []
        if not 0 < self.treatment_share < 1:
            found.append(f"treatment_share = {self.treatment_share}: must be strictly between 0 and 1")
        n_treated = self.n_treated
        if self.n_participants < 4 or not 2 <= n_treated <= self.n_participants - 2:
            found.append(
                f"n_participants = {self.n_participants} with treatment_share = {self.treatment_share} "
                f"puts {n_treated} in the IPS arm: each arm needs at least 2 participants"
            )
        if self.trials < 1:
            found.append(f"trials = {self.trials}: must be at least 1 (months observed)")
        if not self.months_concentration > 0:
            found.append(f"months_concentration = {self.months_concentration}: must be positive")
        return found


def _mu(design: RijDesign, complier: np.ndarray, arm: np.ndarray, schooling: np.ndarray) -> np.ndarray:
    """Monthly employment probability for each participant's type and arm."""
    eta = np.where(
        complier == 1,
        design.complier_control_intercept + design.treatment_effect * arm,
        design.never_taker_intercept + design.never_taker_arm_effect * arm,
    )
    return expit(eta + design.outcome_per_year_schooling * (schooling - 10))


def _covariates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    level = rng.choice(4, size=n, p=[0.25, 0.3, 0.3, 0.15])
    return pd.DataFrame(
        {
            "norwegian_level": level,
            "norwegian_cefr": np.array(NORWEGIAN_LEVELS)[level],
            "age": rng.integers(20, 56, n),
            "gender": np.where(rng.random(n) < 0.45, "female", "male"),
            "years_schooling": np.clip(np.round(rng.normal(9.0, 4.0, n)), 0, 18).astype(int),
            "months_in_norway": rng.integers(6, 61, n),
        }
    )


def _complier_probability(design: RijDesign, covariates: pd.DataFrame) -> np.ndarray:
    return expit(
        design.complier_intercept
        + design.complier_per_norwegian_level * (covariates["norwegian_level"].to_numpy() - 1.5)
        + design.complier_per_year_schooling * (covariates["years_schooling"].to_numpy() - 10)
    )


def simulate_rij(seed: int, design: RijDesign | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """Simulate one Raskt i jobb trial.

    Parameters
    ----------
    seed : int
        Seed of the random generator.
    design : RijDesign, optional
        Sizes and true parameters (defaults mirror the trial).

    Returns
    -------
    tables : dict of DataFrame
        ``participants``: one row per randomised participant.
    truth : dict
        True CACE (risk difference, risk ratio, extra months), ITT, complier share and parameters.
    """
    design = design or RijDesign()
    if problems := design.problems():
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    n = design.n_participants
    covariates = _covariates(n, rng)
    n_treated = design.n_treated
    arm = rng.permutation(np.r_[np.ones(n_treated, int), np.zeros(n - n_treated, int)])
    p_complier = _complier_probability(design, covariates)
    complier = rng.binomial(1, p_complier)
    schooling = covariates["years_schooling"].to_numpy()
    mu = _mu(design, complier, arm, schooling)
    # expit saturates at 0 or 1 beyond |logit| ~ 37, where a beta needs positive parameters
    bounded = np.clip(mu, 1e-12, 1 - 1e-12)
    a, b = bounded * design.months_concentration, (1 - bounded) * design.months_concentration
    months = rng.binomial(design.trials, rng.beta(a, b))
    employed = rng.binomial(1, months / design.trials)
    participants = pd.DataFrame(
        {
            "participant_id": [f"R{i + 1:03d}" for i in range(n)],
            "assigned_ips": arm,
            "received_ips": arm * complier,
            **{c: covariates[c] for c in covariates.columns},
            "employed_12m": employed,
            "months_employed": months,
        }
    )
    truth = {
        "design": "rij",
        "seed": seed,
        "settings": {k: v for k, v in asdict(design).items() if k != "extra"},
        "sample": _estimands(design, p_complier, schooling),
        "population": _population_truth(design),
        "realised": {"compliers": int(complier.sum()), "compliers_in_treatment_arm": int((complier * arm).sum())},
        "note": (
            "'sample' averages over this sample's covariates with the true parameters (what the model's "
            "estimands target); 'population' averages over the covariate distribution (Monte Carlo)."
        ),
    }
    return {"participants": participants}, truth


def _estimands(design: RijDesign, p_complier: np.ndarray, schooling: np.ndarray) -> dict:
    """True estimands given covariates: complier-weighted averages of type- and arm-specific means."""
    ones, zeros = np.ones_like(schooling), np.zeros_like(schooling)
    mu_c1, mu_c0 = _mu(design, ones, ones, schooling), _mu(design, ones, zeros, schooling)
    mu_n1, mu_n0 = _mu(design, zeros, ones, schooling), _mu(design, zeros, zeros, schooling)
    w = p_complier
    cace = float(np.sum(w * (mu_c1 - mu_c0)) / np.sum(w))
    itt = float(np.mean(w * mu_c1 + (1 - w) * mu_n1) - np.mean(w * mu_c0 + (1 - w) * mu_n0))
    per_protocol = float(np.sum(w * mu_c1) / np.sum(w) - np.mean(w * mu_c0 + (1 - w) * mu_n0))
    return {
        "cace_pp": 100 * cace,
        "cace_ratio": float(np.sum(w * mu_c1) / np.sum(w * mu_c0)),
        "cace_months": design.trials * cace,
        "itt_pp": 100 * itt,
        "itt_months": design.trials * itt,
        "per_protocol_pp": 100 * per_protocol,
        "complier_share_percent": float(100 * np.mean(w)),
        "complier_control_rate_percent": float(100 * np.sum(w * mu_c0) / np.sum(w)),
        "never_taker_rate_percent": float(100 * np.sum((1 - w) * mu_n0) / np.sum(1 - w)),
        "treatment_effect_log_odds": design.treatment_effect,
    }


def _population_truth(design: RijDesign, draws: int = 200_000) -> dict:
    """Population estimands by Monte Carlo over the covariate distribution (fixed seed)."""
    covariates = _covariates(draws, np.random.default_rng(12345))
    return _estimands(design, _complier_probability(design, covariates), covariates["years_schooling"].to_numpy())
