"""The Bernoulli family's predictive draws (uniform below expit(eta)) have the right distribution and shape."""

from __future__ import annotations

import numpy as np
import pymc as pm
from scipy.special import expit

from ipsbayes.families.bernoulli import FAMILY, bernoulli_draws


def test_draws_are_bernoulli_with_probability_expit_eta() -> None:
    rng = np.random.default_rng(3)
    eta = np.linspace(-4.0, 4.0, 9)
    draws = bernoulli_draws(np.tile(eta, (40_000, 1)), rng=rng)
    assert draws.dtype == np.int64 and set(np.unique(draws)) <= {0, 1}
    p = expit(eta)
    se = np.sqrt(p * (1 - p) / 40_000)
    assert np.all(np.abs(draws.mean(axis=0) - p) < 5 * se)


def test_sizes_follow_pymc() -> None:
    rng = np.random.default_rng(1)
    assert bernoulli_draws(np.zeros(5), rng=rng).shape == (5,)
    assert bernoulli_draws(np.zeros(5), rng=rng, size=(3, 5)).shape == (3, 5)


def test_the_model_variable_draws_through_it() -> None:
    with pm.Model(coords={"obs": range(3)}) as model:
        eta = pm.Data("eta", np.array([-30.0, 30.0, 0.0]))
        FAMILY.observe("y", eta, np.array([0, 1, 1]), None, {}, "obs")
    with model:
        values = pm.sample_prior_predictive(draws=2000, random_seed=2)["prior_predictive"]["y"].values[0]
    assert values.shape == (2000, 3)
    assert values[:, 0].max() == 0 and values[:, 1].min() == 1
    assert abs(values[:, 2].mean() - 0.5) < 0.05
