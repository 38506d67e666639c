"""Overdispersed counts of a trials column: beta-binomial with mean ``expit(eta)`` and a concentration."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy.special import expit

from ipsbayes.families.base import Link, OutcomeFamily
from ipsbayes.families.binomial import count_problems
from ipsbayes.priors import Prior


class BetaBinomial(OutcomeFamily):
    """Beta-binomial likelihood: ``p_i ~ Beta(mu kappa, (1 - mu) kappa)``, ``y_i ~ Binomial(n_i, p_i)``."""

    name = "beta_binomial"
    title = "Beta-binomial (overdispersed successes out of trials), logit link for the mean"
    title_nb = "Betabinomisk (overspredte suksesser av forsøk), logit-link for gjennomsnittet"
    likelihood_names = ("beta-binomial", "betabinomial")
    link: ClassVar[Link] = "logit"
    needs_trials = True
    aux: ClassVar[dict[str, str]] = {"concentration": "beta-binomial concentration (smaller = more overdispersed)"}

    def check_response(self, values: pd.Series, trials: np.ndarray | None, where: str, column: str) -> list[str]:
        """Whole numbers between 0 and the row's trials."""
        return count_problems(values, trials, where, column)

    def default_priors(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, Prior]:
        """Logit defaults plus a Gamma(2, 0.1) concentration (mean 20, from strong overdispersion to binomial)."""
        return super().default_priors(y, trials) | {
            "concentration": Prior(
                "Gamma",
                {"alpha": 2.0, "beta": 0.1},
                "default: mean 20, 95% within about 2.4-56, from strongly overdispersed to nearly binomial",
                source_nb="standard: gjennomsnitt 20, 95 % innenfor omtrent 2,4-56, fra sterkt overspredt til nesten "
                "binomisk",
            )
        }

    def logp(self, value: Any, eta: Any, trials: Any, aux: dict[str, Any]) -> Any:
        """Beta-binomial log-pmf."""
        mu, kappa = pm.math.sigmoid(eta), aux["concentration"]
        return pm.logp(pm.BetaBinomial.dist(n=trials, alpha=mu * kappa, beta=(1 - mu) * kappa), value)

    def observe(
        self, name: str, eta: Any, y: Any, trials: Any, aux: dict[str, Any], dims: str | tuple[str, ...]
    ) -> Any:
        """PyMC's BetaBinomial with mean ``expit(eta)``."""
        mu, kappa = pm.math.sigmoid(eta), aux["concentration"]
        return pm.BetaBinomial(name, n=trials, alpha=mu * kappa, beta=(1 - mu) * kappa, observed=y, dims=dims)

    def draw(
        self, eta: np.ndarray, trials: np.ndarray | None, aux: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Beta-distributed probabilities, then binomial counts."""
        mu, kappa = expit(eta), float(np.asarray(aux["concentration"]).ravel()[0])
        return rng.binomial(trials, rng.beta(mu * kappa, (1 - mu) * kappa)).astype(np.int64)

    def estimands(self, posterior: xr.Dataset, outcome_unit: str | None) -> dict[str, xr.DataArray]:
        """The concentration and the intra-row correlation ``1 / (1 + kappa)``."""
        from ipsbayes.models.base import estimand

        kappa = posterior["concentration"]
        return {
            "concentration": estimand(
                kappa, "Beta-binomial concentration", "concentration", null=None, label_nb="Betabinomisk konsentrasjon"
            ),
            "overdispersion": estimand(
                1.0 / (1.0 + kappa),
                "Correlation between trials of the same row (0 = binomial)",
                "correlation",
                null=None,
                label_nb="Korrelasjon mellom forsøk i samme rad (0 = binomisk)",
            ),
        }

    @property
    def figure(self) -> Any:
        """Observed share per row against its predictive interval."""
        from ipsbayes.families.figures import PROPORTIONS

        return PROPORTIONS


FAMILY = BetaBinomial()
