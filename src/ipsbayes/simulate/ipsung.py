"""Synthetic IPS ung data: participants in job specialists in services, with known truth.

Defaults mirror the national trial (43 services, 113 job-specialist positions,
ages 16-30, uneven service sizes with some very small services). The data are
generated in two stages, which together give a categorical outcome at 12 months
(none / work / apprenticeship / education):

1. reaching *any* of work, apprenticeship or education is logistic in
   participant covariates, the service's latent true IPS-25 fidelity, a service
   effect and a job-specialist effect;
2. among those who reach one, which one is multinomial-logistic (work is the
   reference) in covariates and the service's collaboration with the education
   sector, with its own service effects.

The three service effects (reach, apprenticeship vs work, education vs work)
are correlated. Services are reviewed one to three times; each review scores the
latent fidelity with error, and the services table carries the mean review
score as the plug-in value. This module imports no model code: the truth must be
independent of the code under test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit

from ipsbayes.simulate.monthly_panel import monthly_panel

#: rows of the monthly panel (participants x monthly_months): 150,000 x 24 take 0.9 GB and 30 s to simulate
MAX_PANEL_ROWS = 5_000_000
DIAGNOSES = ("anxiety_depression", "neurodevelopmental", "psychosis", "substance_use")
CATEGORIES = ("none", "work", "apprenticeship", "education")


@dataclass(frozen=True)
class IpsUngDesign:
    """Design and true parameters of the simulated IPS ung trial (log-odds scale)."""

    n_services: int = 43
    n_specialists: int = 113
    n_participants: int = 1500
    service_size_sdlog: float = 0.9
    min_service_size: int = 2
    fidelity_mean: float = 92.0
    fidelity_sd: float = 12.0
    review_error_sd: float = 6.0
    max_reviews: int = 3
    collaboration_share: float = 0.4
    diagnosis_probs: tuple[float, ...] = (0.45, 0.2, 0.2, 0.15)
    # stage 1: reach work, apprenticeship or education (logit), covariates on their natural units
    reach_intercept: float = -0.2
    reach_age_per_year: float = 0.04
    reach_male: float = 0.10
    reach_months_outside_per_month: float = -0.025
    reach_diagnosis: tuple[float, ...] = (0.0, -0.25, -0.65, -0.45)
    fidelity_slope_per_10: float = 0.25
    fidelity_centre: float = 90.0
    sd_service: float = 0.45
    sd_specialist: float = 0.25
    # stage 2: which outcome among those who reach one (reference: work)
    apprenticeship_intercept: float = 0.3
    apprenticeship_age_per_year: float = -0.10
    apprenticeship_male: float = 0.40
    apprenticeship_neurodevelopmental: float = 0.30
    education_intercept: float = 0.6
    education_age_per_year: float = -0.09
    education_male: float = -0.30
    education_months_outside_per_month: float = -0.012
    education_collaboration: float = 0.60
    sd_service_apprenticeship: float = 0.35
    sd_service_education: float = 0.40
    service_correlation: tuple[float, float, float] = (0.2, 0.4, 0.1)  # reach-appr, reach-edu, appr-edu
    # monthly register panel (simulate/monthly_panel.py): follow-up, censoring and the hazard's shape over months
    monthly_months: int = 24
    recruitment_months: int = 12
    extract_after_months: int = 28
    monthly_dropout: float = 0.01
    study_start: str = "2024-01"
    hazard_log_month: float = 1.0
    hazard_per_month: float = -0.2
    benefits_share: float = 0.5
    target_persistence: float = 0.85
    extra: dict = field(default_factory=dict)
    #: the range of each setting that ``make_design`` checks first (other numbers: -1,000 to 1,000);
    #: sizes are what a 2-core, 8 GB machine simulates in well under a minute
    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "n_services": (2, 1_000),
        "n_specialists": (2, 100_000),
        "n_participants": (1, 200_000),
        "min_service_size": (1, 1_000),
        "max_reviews": (1, 20),
        "monthly_months": (12, 60),
        "recruitment_months": (1, 60),
        "extract_after_months": (1, 120),
        "service_size_sdlog": (0, 10),
    }

    def correlation_matrix(self) -> np.ndarray:
        """3 x 3 correlation of the service effects (reach, apprenticeship, education)."""
        r12, r13, r23 = (*self.service_correlation, 0.0, 0.0, 0.0)[:3]
        return np.array([[1.0, r12, r13], [r12, 1.0, r23], [r13, r23, 1.0]])

    def problems(self) -> list[str]:
        """Settings that cannot make a data set, each with what would be valid (empty when all are valid)."""
        found = []
        if self.n_services < 2:
            found.append(f"n_services = {self.n_services}: at least 2 services are needed for partial pooling")
        if self.min_service_size < 1:
            found.append(f"min_service_size = {self.min_service_size}: must be at least 1")
        if self.n_participants < self.min_service_size * self.n_services:
            found.append(
                f"n_participants = {self.n_participants}: must be at least min_service_size x n_services "
                f"= {self.min_service_size * self.n_services}"
            )
        if self.n_specialists < self.n_services:
            found.append(
                f"n_specialists = {self.n_specialists}: every service needs one, so at least "
                f"n_services = {self.n_services}"
            )
        if self.max_reviews < 1:
            found.append(f"max_reviews = {self.max_reviews}: every service needs at least 1 review")
        if not 0 <= self.collaboration_share <= 1:
            found.append(f"collaboration_share = {self.collaboration_share}: must be between 0 and 1")
        if not 25 <= self.fidelity_mean <= 125:
            found.append(f"fidelity_mean = {self.fidelity_mean}: IPS-25 totals lie in 25-125")
        for name in (
            "service_size_sdlog", "fidelity_sd", "review_error_sd", "sd_service", "sd_specialist",
            "sd_service_apprenticeship", "sd_service_education",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                found.append(f"{name} = {getattr(self, name)}: a standard deviation cannot be negative")
        for name in ("diagnosis_probs", "reach_diagnosis"):
            if len(getattr(self, name)) != len(DIAGNOSES):
                found.append(f"{name}: needs {len(DIAGNOSES)} values, one per diagnosis ({', '.join(DIAGNOSES)})")
        if any(p < 0 for p in self.diagnosis_probs) or sum(self.diagnosis_probs) <= 0:
            found.append(f"diagnosis_probs = {self.diagnosis_probs}: must be non-negative with a positive sum")
        found += self._panel_problems()
        if len(self.service_correlation) != 3 or np.linalg.eigvalsh(self.correlation_matrix()).min() < -1e-10:
            found.append(
                f"service_correlation = {self.service_correlation}: needs 3 correlations (reach-appr, "
                "reach-edu, appr-edu) forming a positive semi-definite matrix"
            )
        return found

    def _panel_problems(self) -> list[str]:
        """Settings of the monthly panel that cannot make one."""
        found = []
        if self.monthly_months < 12:
            found.append(f"monthly_months = {self.monthly_months}: the panel must cover the 12-month outcome")
        if self.n_participants * self.monthly_months > MAX_PANEL_ROWS:
            found.append(
                f"n_participants x monthly_months = {self.n_participants * self.monthly_months:,} monthly panel "
                f"rows: at most {MAX_PANEL_ROWS:,}; give fewer participants or months"
            )
        if self.recruitment_months < 1:
            found.append(f"recruitment_months = {self.recruitment_months}: must be at least 1")
        if self.extract_after_months - self.recruitment_months + 1 < 1:
            found.append(
                f"extract_after_months = {self.extract_after_months}: must exceed recruitment_months - 1 = "
                f"{self.recruitment_months - 1} so the last to enter are followed for a month"
            )
        for name in ("monthly_dropout", "benefits_share", "target_persistence"):
            if not 0 <= getattr(self, name) <= 1 or (name == "monthly_dropout" and self.monthly_dropout >= 1):
                found.append(f"{name} = {getattr(self, name)}: must be a probability (dropout below 1)")
        try:
            pd.Period(self.study_start, freq="M")
        except ValueError:
            found.append(f"study_start = {self.study_start!r}: write a calendar month as YYYY-MM")
        return found


def _service_sizes(design: IpsUngDesign, rng: np.random.Generator) -> np.ndarray:
    """Uneven service sizes summing to n_participants, each at least min_service_size."""
    spare = design.n_participants - design.min_service_size * design.n_services
    weights = rng.lognormal(0.0, design.service_size_sdlog, design.n_services)
    return design.min_service_size + rng.multinomial(spare, weights / weights.sum())


def _specialists_per_service(design: IpsUngDesign, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """At least one specialist per service; the rest allocated in proportion to size."""
    spare = design.n_specialists - design.n_services
    extra = rng.multinomial(spare, sizes / sizes.sum())
    return 1 + np.minimum(extra, np.maximum(sizes - 1, 0))


def _service_effects(design: IpsUngDesign, rng: np.random.Generator) -> np.ndarray:
    """Correlated service effects (reach, apprenticeship, education): shape (services, 3)."""
    sds = np.array([design.sd_service, design.sd_service_apprenticeship, design.sd_service_education])
    corr = design.correlation_matrix()
    return rng.multivariate_normal(np.zeros(3), corr * np.outer(sds, sds), size=design.n_services)


def simulate_ipsung(seed: int, design: IpsUngDesign | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """Simulate one IPS ung data set.

    Parameters
    ----------
    seed : int
        Seed of the random generator: the same seed gives the same tables.
    design : IpsUngDesign, optional
        Sizes and true parameters (defaults mirror IPS ung).

    Returns
    -------
    tables : dict of DataFrame
        ``participants``, ``services``, ``reviews`` and ``monthly_status`` (long form).
    truth : dict
        The true parameters, service effects and population rates.
    """
    design = design or IpsUngDesign()
    if problems := design.problems():
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    n_s = design.n_services
    service_ids = np.array([f"S{j + 1:02d}" for j in range(n_s)])
    sizes = _service_sizes(design, rng)
    n_spec = _specialists_per_service(design, sizes, rng)
    true_fidelity = np.clip(rng.normal(design.fidelity_mean, design.fidelity_sd, n_s), 40, 124)
    collaboration = rng.binomial(1, design.collaboration_share, n_s)
    effects = _service_effects(design, rng)

    service = np.repeat(np.arange(n_s), sizes)
    n = len(service)
    spec_in_service = np.concatenate([rng.integers(0, n_spec[j], sizes[j]) for j in range(n_s)])
    specialist_labels = np.array([f"{service_ids[s]}-J{k + 1}" for s, k in zip(service, spec_in_service, strict=True)])
    specialist_keys = sorted(set(specialist_labels))
    specialist_effect = dict(
        zip(specialist_keys, rng.normal(0.0, design.sd_specialist, len(specialist_keys)), strict=True)
    )

    age = rng.integers(16, 31, n)
    male = rng.binomial(1, 0.5, n)
    months_outside = np.minimum(np.round(rng.gamma(1.6, 9.0, n)), 120).astype(int)
    diagnosis = rng.choice(len(DIAGNOSES), size=n, p=np.array(design.diagnosis_probs) / sum(design.diagnosis_probs))

    eta_reach = (
        design.reach_intercept
        + design.reach_age_per_year * (age - 16)
        + design.reach_male * male
        + design.reach_months_outside_per_month * months_outside
        + np.asarray(design.reach_diagnosis)[diagnosis]
        + design.fidelity_slope_per_10 * (true_fidelity[service] - design.fidelity_centre) / 10
        + effects[service, 0]
        + np.array([specialist_effect[label] for label in specialist_labels])
    )
    reached = rng.binomial(1, expit(eta_reach))
    eta_appr = (
        design.apprenticeship_intercept
        + design.apprenticeship_age_per_year * (age - 16)
        + design.apprenticeship_male * male
        + design.apprenticeship_neurodevelopmental * (diagnosis == 1)
        + effects[service, 1]
    )
    eta_edu = (
        design.education_intercept
        + design.education_age_per_year * (age - 16)
        + design.education_male * male
        + design.education_months_outside_per_month * months_outside
        + design.education_collaboration * collaboration[service]
        + effects[service, 2]
    )
    logits = np.column_stack([np.zeros(n), eta_appr, eta_edu])
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    which = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1) + 1  # 1 work, 2 appr, 3 edu
    category = np.where(reached == 1, which, 0)

    reviews = _reviews(design, service_ids, true_fidelity, rng)
    plug_in = reviews.groupby("service")["ips25_total"].mean().reindex(service_ids).round(1)
    participants = pd.DataFrame(
        {
            "participant_id": [f"P{i + 1:05d}" for i in range(n)],
            "service": service_ids[service],
            "specialist": specialist_labels,
            "age": age,
            "gender": np.where(male == 1, "male", "female"),
            "months_outside": months_outside,
            "diagnosis": np.array(DIAGNOSES)[diagnosis],
            "outcome_12m": np.array(CATEGORIES)[category],
            "work_12m": (category == 1).astype(int),
            "apprenticeship_12m": (category == 2).astype(int),
            "education_12m": (category == 3).astype(int),
            "work_or_education_12m": reached,
        }
    )
    services = pd.DataFrame(
        {
            "service": service_ids,
            "ips25": plug_in.to_numpy(),
            "n_reviews": reviews.groupby("service").size().reindex(service_ids).to_numpy(),
            "education_collaboration": collaboration,
        }
    )
    truth = _truth(design, seed, service_ids, true_fidelity, effects, participants, expit(eta_reach))
    # the monthly panel comes last and from its own random stream: the tables above do not depend on it
    fidelity_term = design.fidelity_slope_per_10 * (true_fidelity[service] - design.fidelity_centre) / 10
    panel, truth["time_to_event"] = monthly_panel(
        design, seed, eta_reach, reached, which, probs, fidelity_term, participants["participant_id"].to_numpy()
    )
    tables = {"participants": participants, "services": services, "reviews": reviews, "monthly_status": panel}
    return tables, truth


def _reviews(
    design: IpsUngDesign, service_ids: np.ndarray, true_fidelity: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """One to ``max_reviews`` fidelity reviews per service, each the true score plus error."""
    rows = []
    for sid, truth in zip(service_ids, true_fidelity, strict=True):
        for review in range(1, int(rng.integers(1, design.max_reviews + 1)) + 1):
            score = int(np.clip(np.round(truth + rng.normal(0.0, design.review_error_sd)), 25, 125))
            rows.append({"service": sid, "review": review, "months_since_start": 6 * review, "ips25_total": score})
    return pd.DataFrame(rows)


def _truth(
    design: IpsUngDesign,
    seed: int,
    service_ids: np.ndarray,
    true_fidelity: np.ndarray,
    effects: np.ndarray,
    participants: pd.DataFrame,
    reach_probability: np.ndarray,
) -> dict:
    """Everything a recovery test needs, on the model's natural units."""
    reach = {
        "age": design.reach_age_per_year,
        "months_outside": design.reach_months_outside_per_month,
        "gender[male]": design.reach_male,
        **{f"diagnosis[{d}]": v for d, v in zip(DIAGNOSES[1:], design.reach_diagnosis[1:], strict=True)},
    }
    shares = participants["outcome_12m"].value_counts(normalize=True).reindex(list(CATEGORIES), fill_value=0.0)
    return {
        "design": "ipsung",
        "seed": seed,
        "settings": {k: v for k, v in asdict(design).items() if k != "extra"},
        "work_or_education_12m": {
            "coefficients_per_unit": reach,
            "fidelity_slope_per_10": design.fidelity_slope_per_10,
            "sd_service": design.sd_service,
            "sd_specialist": design.sd_specialist,
            "expected_rate_percent": float(100 * reach_probability.mean()),
            "note": "log-odds per year / month / vs reference level; fidelity is the latent true score",
        },
        "categorical_12m": {
            "categories": list(CATEGORIES),
            "apprenticeship_vs_work": {
                "age": design.apprenticeship_age_per_year,
                "gender[male]": design.apprenticeship_male,
                "diagnosis[neurodevelopmental]": design.apprenticeship_neurodevelopmental,
            },
            "education_vs_work": {
                "age": design.education_age_per_year,
                "gender[male]": design.education_male,
                "months_outside": design.education_months_outside_per_month,
                "education_collaboration": design.education_collaboration,
            },
            "sd_service": [design.sd_service, design.sd_service_apprenticeship, design.sd_service_education],
            "service_correlation": {
                "reach_apprenticeship": design.service_correlation[0],
                "reach_education": design.service_correlation[1],
                "apprenticeship_education": design.service_correlation[2],
            },
            "observed_shares": {k: float(v) for k, v in shares.items()},
        },
        "fidelity": {
            "review_error_sd": design.review_error_sd,
            "true_score": dict(zip(service_ids.tolist(), np.round(true_fidelity, 2).tolist(), strict=True)),
        },
        "service_effects": {
            sid: [round(float(x), 4) for x in row] for sid, row in zip(service_ids, effects, strict=True)
        },
    }
