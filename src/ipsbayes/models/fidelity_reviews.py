"""Service fidelity from repeated reviews: checks, plug-in means and the measurement-error model.

Services are reviewed one or more times; each review's total score (IPS-25 by
default) measures the service's true fidelity with error. The latent model is::

    f_s = fidelity_mean + fidelity_sd * z_s,        z_s ~ Normal(0, 1)
    review_sj ~ Normal(f_s, review_error_sd)

on the scale used for the slope ((score - centre) / per), so the outcome model's
fidelity slope applies to the true score and its uncertainty propagates. Services
without a review get their fidelity from the population distribution alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm

from ipsbayes.data import DataBundle, Table, example_rows
from ipsbayes.data_checks import handle_missing, missing_columns, out_of_range
from ipsbayes.priors import PriorSet
from ipsbayes.scales import FidelitySpec

PRIOR_NAMES = {
    "fidelity_mean": "mean true fidelity across services (in steps of `per` points from the centre)",
    "fidelity_sd": "SD of true fidelity across services (in steps of `per` points)",
    "review_error_sd": "SD of a review's score around the service's true fidelity (in steps of `per` points)",
}


def review_table(bundle: DataBundle, service: str, fidelity: FidelitySpec) -> tuple[Table | None, list[str]]:
    """The reviews table after its own checks (columns, missing values, score range)."""
    if bundle.reviews is None:
        return None, ["model.fidelity.source = 'reviews' needs a reviews table: set data.reviews in the config"]
    reviews = bundle.reviews
    problems = missing_columns(reviews, [service, fidelity.review_column], "fidelity reviews")
    if problems:
        return None, problems
    problems = handle_missing(reviews, [service, fidelity.review_column], "error", bundle)
    scale = fidelity.resolved_scale
    problems += out_of_range(reviews, fidelity.review_column, scale.minimum, scale.maximum, scale.name)
    return reviews, problems


def unknown_review_services(reviews: Table, service: str, known: set[str]) -> list[str]:
    """Problems for reviews of services that have no participants."""
    ids = reviews.frame[service].astype(str)
    unknown = ~ids.isin(known)
    if not unknown.any():
        return []
    names = ", ".join(sorted(set(ids[unknown]))[:5])
    return [
        f"{reviews.where}: review(s) for unknown service(s) {names} at {example_rows(unknown)}; "
        f"every reviewed {service} needs participants"
    ]


def plug_in_scores(reviews: Table, service: str, fidelity: FidelitySpec) -> pd.Series:
    """Mean review score per service (the naive plug-in value)."""
    return reviews.frame.groupby(reviews.frame[service].astype(str))[fidelity.review_column].mean()


def review_arrays(
    reviews: Table, service: str, fidelity: FidelitySpec, services: list[str], centre: float
) -> dict[str, np.ndarray]:
    """Scaled review scores and the service each belongs to."""
    ids = reviews.frame[service].astype(str)
    return {
        "review_score": (reviews.frame[fidelity.review_column].to_numpy(float) - centre) / fidelity.per,
        "review_service_idx": pd.Categorical(ids, categories=services).codes.astype(np.int64),
    }


def latent_fidelity(priors: PriorSet, d: dict[str, Any], dim: str = "service") -> Any:
    """True fidelity of each group of ``dim`` (scaled), with the reviews as its noisy measurements."""
    mean = priors["fidelity_mean"].create("fidelity_mean")
    sd = priors["fidelity_sd"].create("fidelity_sd")
    z = pm.Normal("z_fidelity", 0.0, 1.0, dims=dim)
    latent = pm.Deterministic("fidelity_latent", mean + sd * z, dims=dim)
    error = priors["review_error_sd"].create("review_error_sd")
    pm.Normal(
        "review_score_obs", mu=latent[d["review_service_idx"]], sigma=error, observed=d["review_score"], dims="review"
    )
    return latent
