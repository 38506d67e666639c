"""Successes out of a trials column (aggregated counts, ``p(successes, trials)``), logit link."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.special import expit, gammaln

from ipsbayes.families.base import Link, OutcomeFamily, softplus, softplus_graph, unit_share_problems
from ipsbayes.textutil import plain


def log_binomial_coefficient(value: Any, trials: Any) -> Any:
    """``log C(trials, value)`` in PyTensor (a constant given the data; folded when data are frozen)."""
    return pt.gammaln(trials + 1.0) - pt.gammaln(value + 1.0) - pt.gammaln(trials - value + 1.0)


def binomial_logp(value: Any, eta: Any, trials: Any) -> Any:
    """Binomial log-pmf with logit ``eta``: ``y eta - n softplus(eta) + log C(n, y)``."""
    return value * eta - trials * softplus_graph(eta) + log_binomial_coefficient(value, trials)


def count_problems(values: pd.Series, trials: np.ndarray | None, where: str, column: str) -> list[str]:
    """Whole numbers from 0 to the row's trials."""
    from ipsbayes.data import example_rows

    numeric, problems = unit_share_problems(values, where, column)
    if problems:
        return problems
    if trials is None:
        return [f"{where}: column '{column}' is a count: give its trials as p({column}, trials) or model.trials"]
    bad = (numeric < 0) | (numeric % 1 != 0) | (numeric.to_numpy() > trials)  # an invalid count (NaN) is said apart
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        same = bool(np.all(trials == trials[0]))
        upper = f"{trials[0]:.0f}" if same else "its trials"
        of = "" if same or np.isnan(trials[first]) else f" (of {trials[first]:.0f})"
        return [
            f"{where}: column '{column}' must be a whole number from 0 to {upper}; found "
            f"{plain(values.iloc[first])}{of} at {example_rows(bad)}"
        ]
    return []


class Binomial(OutcomeFamily):
    """Binomial likelihood (successes of trials) with a logit link."""

    name = "binomial"
    title = "Binomial (successes out of trials), logit link"
    title_nb = "Binomisk (antall suksesser av forsøk), logit-link"
    likelihood_names = ("binomial", "binomial")
    link: ClassVar[Link] = "logit"
    needs_trials = True
    numpy_pointwise = True
    draws_within_trials = True

    def check_response(self, values: pd.Series, trials: np.ndarray | None, where: str, column: str) -> list[str]:
        """Whole numbers between 0 and the row's trials."""
        return count_problems(values, trials, where, column)

    def logp(self, value: Any, eta: Any, trials: Any, aux: dict[str, Any]) -> Any:
        """Binomial log-pmf, binomial coefficient included (so LOO and log-likelihoods are exact)."""
        return binomial_logp(value, eta, trials)

    def log_likelihood(self, value: np.ndarray, eta: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        """:meth:`logp` in numpy, binomial coefficient included."""
        coefficient = gammaln(trials + 1.0) - gammaln(value + 1.0) - gammaln(trials - value + 1.0)
        return value * eta - trials * softplus(eta) + coefficient

    def predictive_draws(self, eta: np.ndarray, trials: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """Binomial successes of each row's trials."""
        return rng.binomial(trials, expit(eta)).astype(np.int64)

    def observe(
        self, name: str, eta: Any, y: Any, trials: Any, aux: dict[str, Any], dims: str | tuple[str, ...]
    ) -> Any:
        """A CustomDist with the softplus form of the binomial density."""
        return pm.CustomDist(
            name,
            eta,
            trials,
            logp=binomial_logp,
            random=lambda eta, n, rng=None, size=None: rng.binomial(n, expit(eta), size=size),
            observed=y,
            dims=dims,
            dtype="int64",
        )

    def draw(
        self, eta: np.ndarray, trials: np.ndarray | None, aux: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Successes of each row's trials."""
        return rng.binomial(trials, expit(eta)).astype(np.int64)

    @property
    def figure(self) -> Any:
        """Observed share per row against its predictive interval."""
        from ipsbayes.families.figures import PROPORTIONS

        return PROPORTIONS


FAMILY = Binomial()
