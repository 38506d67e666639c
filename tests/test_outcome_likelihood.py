"""Competing outcomes: the picked log-probability equals PyMC's Categorical, and numpy draws follow it."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from ipsbayes.backends import C_MODE, draw_mode
from ipsbayes.models.competing_outcomes import outcome_random
from ipsbayes.runner import check


def test_observed_log_likelihood_and_gradient_equal_pymc_categorical(make_config, small_ipsung) -> None:
    """The model's cell-wise log-likelihood and its gradient = ``pm.Categorical(logit_p=log_p)``'s, at any point."""
    plan = check(make_config("ipsung_outcomes", data=small_ipsung))
    model = plan.model
    observed = model[plan.data.info["response"]]
    log_p = observed.owner.inputs[-1]
    ours = model.logp(vars=[observed], sum=False)[0]
    reference = pm.logp(pm.Categorical.dist(logit_p=log_p), model.rvs_to_values[observed])
    reference = model.replace_rvs_by_values([reference])[0]
    values = model.value_vars
    function = pytensor.function(
        values,
        [ours, reference, *pytensor.grad(ours.sum(), values), *pytensor.grad(reference.sum(), values)],
        on_unused_input="ignore",
        givens={model.rvs_to_values[observed]: pt.as_tensor(plan.data.arrays["y"])},
    )
    rng = np.random.default_rng(2)
    for _ in range(3):
        point = [v + rng.normal(0, 0.5, np.shape(v)) for v in model.initial_point().values()]
        outputs = function(*point)
        np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-10, atol=1e-12)
        half = (len(outputs) - 2) // 2
        for ours_gradient, reference_gradient in zip(outputs[2 : 2 + half], outputs[2 + half :], strict=True):
            np.testing.assert_allclose(ours_gradient, reference_gradient, rtol=1e-9, atol=1e-10)


def test_numpy_draws_follow_the_probabilities_and_shapes() -> None:
    probabilities = np.array([[0.7, 0.1, 0.15, 0.05], [0.05, 0.05, 0.1, 0.8]])
    draws = outcome_random(np.log(probabilities), rng=np.random.default_rng(1), size=(100_000, 2))
    assert draws.shape == (100_000, 2) and draws.dtype == np.int64
    for row in range(2):
        shares = np.bincount(draws[:, row], minlength=4) / len(draws)
        assert np.abs(shares - probabilities[row]).max() < 0.005  # 5 standard errors at most
    unnormalised = outcome_random(np.log(probabilities) + 30.0, rng=np.random.default_rng(1), size=(100_000, 2))
    np.testing.assert_array_equal(unnormalised, draws)  # only the differences of the log-probabilities count
    assert outcome_random(np.log(probabilities), rng=np.random.default_rng(3)).shape == (2,)


def test_outcome_draws_need_no_numba_compile(make_config, small_ipsung) -> None:
    plan = check(make_config("ipsung_outcomes", data=small_ipsung))
    assert draw_mode(plan.model) == C_MODE
    tree = pm.sample_prior_predictive(draws=20, model=plan.model, random_seed=4, compile_kwargs=C_MODE)
    drawn = tree["prior_predictive"][plan.data.info["response"]].values
    assert drawn.shape == (1, 20, len(plan.data.arrays["y"])) and drawn.min() >= 0 and drawn.max() <= 3
