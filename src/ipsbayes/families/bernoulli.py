"""Binary outcome (0/1), logit link; rows merged by collapsing carry a trials count."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
from scipy.special import expit

from ipsbayes.families.base import Link, OutcomeFamily, softplus, softplus_graph


def bernoulli_logp(value: Any, eta: Any) -> Any:
    """``log P(value | eta)`` for 0/1 values: ``-softplus(-(2 value - 1) eta)``.

    The same number as ``Bernoulli(logit_p=eta)`` but one softplus per row instead of a
    switch over two; its gradient is about 40% cheaper (issue 15's speed study: 34 against
    54 us per call at 1,500 rows, 374 against 672 us at 15,000). The softplus is
    :func:`~ipsbayes.families.base.softplus_graph`, without branches and with one exponential for value
    and gradient: 33.9 -> 23.7 us per gradient at 1,500 rows against PyTensor's ``softplus``.
    """
    return -softplus_graph(-(2.0 * value - 1.0) * eta)


def collapsed_logp(value: Any, eta: Any, trials: Any) -> Any:
    """Sum of the Bernoulli log-likelihoods of ``trials`` identical rows with ``value`` successes.

    ``y eta - n softplus(eta)``: exactly the sum over the rows it replaces (no binomial
    coefficient, because the participants are distinguishable), so collapsed and
    uncollapsed log-likelihood sums agree to rounding.
    """
    return value * eta - trials * softplus_graph(eta)


class Bernoulli(OutcomeFamily):
    """Bernoulli likelihood with a logit link."""

    name = "bernoulli"
    title = "Bernoulli (binary outcome), logit link"
    title_nb = "Bernoulli (binært utfall), logit-link"
    likelihood_names = ("Bernoulli", "Bernoulli")
    link: ClassVar[Link] = "logit"
    collapsible = True
    numpy_pointwise = True
    draws_within_trials = True

    def check_response(self, values: pd.Series, trials: np.ndarray | None, where: str, column: str) -> list[str]:
        """0/1 or True/False only."""
        from ipsbayes.data import example_rows

        if pd.api.types.is_bool_dtype(values):
            return []
        numeric = pd.to_numeric(values, errors="coerce")
        bad = ~numeric.isin([0, 1]) & values.notna()
        if bad.any():
            found = ", ".join(sorted({str(v) for v in values[bad]})[:5])
            return [f"{where}: column '{column}' must be binary (0/1); found {found} at {example_rows(bad)}"]
        return []

    def response(self, values: pd.Series) -> np.ndarray:
        """0/1 as int64."""
        return pd.to_numeric(values.astype(int) if pd.api.types.is_bool_dtype(values) else values).to_numpy(np.int64)

    def logp(self, value: Any, eta: Any, trials: Any, aux: dict[str, Any]) -> Any:
        """Signed-softplus log-likelihood (collapsed rows: the sum over the rows they replace)."""
        return bernoulli_logp(value, eta) if trials is None else collapsed_logp(value, eta, trials)

    def log_likelihood(self, value: np.ndarray, eta: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        """:meth:`logp` in numpy (:func:`~ipsbayes.families.base.softplus`)."""
        if trials is None:
            out = softplus((1.0 - 2.0 * value) * eta)
            return np.negative(out, out=out)
        return value * eta - trials * softplus(eta)

    def predictive_draws(self, eta: np.ndarray, trials: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """The graph's draws: 0/1 from a uniform (:func:`bernoulli_draws`), or binomial counts of collapsed rows."""
        if trials is None:
            return bernoulli_draws(eta, rng)
        return rng.binomial(trials, expit(eta)).astype(np.int64)

    def observe(
        self, name: str, eta: Any, y: Any, trials: Any, aux: dict[str, Any], dims: str | tuple[str, ...]
    ) -> Any:
        """A CustomDist with the signed-softplus density and binomial draws."""
        if trials is None:
            return pm.CustomDist(
                name,
                eta,
                logp=bernoulli_logp,
                random=bernoulli_draws,
                observed=y,
                dims=dims,
                dtype="int64",
            )
        return pm.CustomDist(
            name,
            eta,
            trials,
            logp=collapsed_logp,
            random=lambda eta, n, rng=None, size=None: rng.binomial(n, expit(eta), size=size),
            observed=y,
            dims=dims,
            dtype="int64",
        )

    def draw(
        self, eta: np.ndarray, trials: np.ndarray | None, aux: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """0/1 draws (successes of each collapsed row)."""
        return rng.binomial(1 if trials is None else trials, expit(eta)).astype(np.int64)


FAMILY = Bernoulli()


def bernoulli_draws(eta: np.ndarray, rng: np.random.Generator | None = None, size: Any = None) -> np.ndarray:
    """One Bernoulli draw per row: ``1`` where a uniform number falls below ``expit(eta)``.

    The same distribution as ``rng.binomial(1, p)``, seven times faster (0.14 ms against 0.98 ms
    for 15,000 rows): predictive draws of 4,000 posterior draws took 4 s in the binomial sampler.
    """
    p = expit(eta)
    shape = np.shape(p) if size is None else size
    return (rng.random(shape) < p).astype(np.int64)
