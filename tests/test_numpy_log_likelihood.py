"""The regression families' numpy log-likelihood gives the group PyMC's compute_log_likelihood gives.

``ipsbayes.family_groups.add_from_family`` fills the ``log_likelihood`` group from the family's
numpy form (the linear predictor of :class:`~ipsbayes.models.predict.Predictor` and the family's
``log_likelihood``) in chunks on the sampler's cores. Here it is compared with PyMC's per-draw
evaluation of the graph, at prior draws (wider than any posterior, log-odds far into the tails), for
Bernoulli rows, collapsed rows with trials, and binomial counts; families without a numpy form (and
models observing more than the outcome) must leave the group to PyMC.
"""

from __future__ import annotations

import functools

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from ipsbayes.chunks import threads
from ipsbayes.families import FAMILIES
from ipsbayes.family_groups import add_from_family
from ipsbayes.models import pointwise
from ipsbayes.runner import check

from .conftest import REPO, prior_as_posterior

NUMPY_CONFIGS = [
    "models/ipsung_employment.toml",  # Bernoulli rows
    "examples/cbpp/cbpp.toml",  # binomial counts
    "examples/contraception/contraception.toml",  # Bernoulli, random slopes
]
PYMC_CONFIGS = [
    "examples/sleepstudy/sleepstudy.toml",  # Gaussian: an auxiliary SD, no numpy form
]


def _tree(plan, draws: int = 50, seed: int = 4) -> xr.DataTree:
    return prior_as_posterior(plan, draws, seed)


def _by(plan):
    return functools.partial(plan.family.log_likelihood, data=plan.data, spec=plan.spec)


@pytest.mark.parametrize("config", NUMPY_CONFIGS)
def test_numpy_group_equals_pymcs(config: str) -> None:
    plan = check(REPO / config)
    tree = _tree(plan)
    reference = pm.compute_log_likelihood(tree, model=plan.model, progressbar=False, extend_inferencedata=False)
    assert add_from_family(tree, plan.model, "log_likelihood", _by(plan), cores=2)
    ours = tree["log_likelihood"].to_dataset()
    assert set(ours.data_vars) == set(reference.data_vars)
    for name in reference.data_vars:
        assert ours[name].dims == reference[name].dims
        for dim in ours[name].dims:
            np.testing.assert_array_equal(ours[dim].values, reference[dim].values)
        np.testing.assert_allclose(ours[name].values, reference[name].values, rtol=1e-11, atol=1e-11)
        assert np.isfinite(ours[name].values).all()
    assert set(ours.attrs) == set(reference.attrs)
    assert ours.attrs["inference_library"] == "pymc"


def test_collapsed_rows_with_trials_equal_pymcs(make_config, small_ipsung) -> None:
    formula = "work_or_education_12m ~ gender + diagnosis + ips25 + (1 | service)"
    collapsed = check(make_config(data=small_ipsung, **{"model.formula": formula, "model.collapse": "always"}))
    assert "trials" in collapsed.data.arrays, "discrete predictors collapse into binomial rows"
    tree = _tree(collapsed)
    reference = pm.compute_log_likelihood(tree, model=collapsed.model, progressbar=False, extend_inferencedata=False)
    assert add_from_family(tree, collapsed.model, "log_likelihood", _by(collapsed), cores=1)
    name = next(iter(reference.data_vars))
    np.testing.assert_allclose(tree["log_likelihood"][name].values, reference[name].values, rtol=1e-11, atol=1e-11)


def test_models_observing_review_scores_leave_the_group_to_pymc() -> None:
    plan = check(REPO / "models" / "ipsung_fidelity.toml")
    assert "review_score" in plan.data.arrays
    tree = _tree(plan, draws=6)
    assert not add_from_family(tree, plan.model, "log_likelihood", _by(plan), cores=2)


@pytest.mark.parametrize("config", PYMC_CONFIGS)
def test_families_without_a_numpy_form_leave_the_group_to_pymc(config: str) -> None:
    plan = check(REPO / config)
    tree = _tree(plan, draws=6)
    assert not add_from_family(tree, plan.model, "log_likelihood", _by(plan), cores=2)
    assert "log_likelihood" not in tree.children


def test_every_family_without_auxiliary_parameters_has_a_numpy_form() -> None:
    # a new family without auxiliary parameters should give the fast path, or say here why not
    eta, y = np.array([[-40.0, -1.0, 0.0, 2.5, 40.0]]), np.array([0, 1, 1, 0, 1])
    for name, family in FAMILIES.items():
        trials = np.full(5, 3) if family.needs_trials else None
        values = family.log_likelihood(y, eta, trials)
        draws = family.predictive_draws(eta, trials, np.random.default_rng(0))
        assert family.numpy_pointwise == (not family.aux), name  # the flag pointwise.py reads says so
        if family.aux:
            assert values is None and draws is None, name
        else:
            assert values is not None and np.isfinite(values).all(), name
            assert draws is not None and draws.shape == eta.shape, name


def test_chunks_in_threads_give_the_same_array(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = check(REPO / "models" / "ipsung_employment.toml")
    posterior = _tree(plan, draws=40)["posterior"].to_dataset()
    monkeypatch.setattr(pointwise, "_CHUNK_CELLS", 3 * len(plan.data.arrays["y"]))  # 14 chunks of draws
    serial = plan.family.log_likelihood(posterior, plan.data, plan.spec)
    with threads(3):
        threaded = plan.family.log_likelihood(posterior, plan.data, plan.spec)
    for name in serial:
        np.testing.assert_array_equal(threaded[name], serial[name])


def test_softplus_equals_logaddexp_and_leaves_its_input_alone() -> None:
    from ipsbayes.families.base import softplus

    x = np.concatenate([np.linspace(-800.0, 800.0, 20_001), [0.0, -0.0, 1e-300, -1e-300, 36.0, 37.0, 709.0, 710.0]])
    before = x.copy()
    value = softplus(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(value, np.logaddexp(0.0, x), rtol=1e-15, atol=1e-300)
    assert np.all(np.isfinite(value)) and np.all(value >= 0.0)
