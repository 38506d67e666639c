"""The regression families' numpy posterior predictive draws: the graph's distribution, seeded, thread-proof.

``ipsbayes.family_groups.add_from_family`` fills the ``posterior_predictive`` group from the family's
``predictive_draws`` at the numpy linear predictor, in chunks of draws on the sampler's cores, each
chunk with its own random stream spawned from the run's seed. PyMC's per-draw
``sample_posterior_predictive`` uses another stream, so the draws are compared in distribution (the
mean over draws against the expected value at each row, and against PyMC's own draws), and the
group's structure (names, dims, coordinates, attributes) must be PyMC's. The draws of a binary or
binomial outcome take the smallest integer type their trials allow (``int8`` where PyMC gives ``int64``),
as ``posterior.nc`` stores them.
"""

from __future__ import annotations

import functools

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy.special import expit

from ipsbayes.chunks import threads
from ipsbayes.family_groups import add_from_family
from ipsbayes.models import pointwise
from ipsbayes.models.predict import Predictor
from ipsbayes.runner import check

from .conftest import REPO, prior_as_posterior

CONFIGS = ["models/ipsung_employment.toml", "examples/cbpp/cbpp.toml"]


def _tree(plan, draws: int = 400, seed: int = 4) -> xr.DataTree:
    return prior_as_posterior(plan, draws, seed)


def _by(plan, seed: int = 11):
    return functools.partial(plan.family.posterior_predictive, data=plan.data, spec=plan.spec, seed=seed)


@pytest.mark.filterwarnings("ignore:The following trace variables were implicitly frozen")  # no constant_data here
@pytest.mark.parametrize("config", CONFIGS)
def test_group_is_built_as_pymc_builds_it_and_follows_the_graph(config: str) -> None:
    plan = check(REPO / config)
    tree = _tree(plan)
    reference = pm.sample_posterior_predictive(tree, model=plan.model, random_seed=3, progressbar=False)
    reference = reference["posterior_predictive"].to_dataset()
    assert add_from_family(tree, plan.model, "posterior_predictive", _by(plan), cores=2)
    ours = tree["posterior_predictive"].to_dataset()
    assert set(ours.data_vars) == set(reference.data_vars)
    name = next(iter(reference.data_vars))
    assert ours[name].dims == reference[name].dims
    assert np.issubdtype(ours[name].dtype, np.integer) and np.issubdtype(reference[name].dtype, np.integer)
    assert ours[name].dtype.itemsize < reference[name].dtype.itemsize  # 0/1 or counts of few trials: compact
    for dim in ours[name].dims:
        np.testing.assert_array_equal(ours[dim].values, reference[dim].values)
    assert set(ours.attrs) == set(reference.attrs)
    # in distribution: per row, the mean of the draws against the expected value (binomial SE), and against PyMC's
    predictor = Predictor.from_posterior(
        tree["posterior"].to_dataset(), plan.data, plan.family.outcome_family(plan.spec)
    )
    trials = plan.data.arrays.get("trials", np.ones(len(plan.data.arrays["y"])))
    p = expit(predictor.eta(slice(None)))
    expected = (p * trials).mean(axis=0)
    se = np.sqrt((p * (1 - p) * trials).mean(axis=0) / p.shape[0] + (p * trials).var(axis=0) / p.shape[0])
    drawn = ours[name].values.reshape(p.shape[0], -1).mean(axis=0)
    z = (drawn - expected) / np.maximum(se, 1e-9)
    assert np.abs(z).max() < 5.5 and abs(z.mean()) < 4 / np.sqrt(len(z)) + 0.05
    pymc_drawn = reference[name].values.reshape(p.shape[0], -1).mean(axis=0)
    z_pymc = (drawn - pymc_drawn) / np.maximum(np.sqrt(2) * se, 1e-9)
    assert abs(z_pymc.mean()) < 4 / np.sqrt(len(z_pymc)) + 0.05


def test_the_seed_decides_the_draws_not_the_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = check(REPO / "models" / "ipsung_employment.toml")
    posterior = _tree(plan, draws=60)["posterior"].to_dataset()
    monkeypatch.setattr(pointwise, "_CHUNK_CELLS", 4 * len(plan.data.arrays["y"]))  # 15 chunks of draws
    serial = plan.family.posterior_predictive(posterior, plan.data, plan.spec, seed=5)
    with threads(3):
        threaded = plan.family.posterior_predictive(posterior, plan.data, plan.spec, seed=5)
    other = plan.family.posterior_predictive(posterior, plan.data, plan.spec, seed=6)
    name = next(iter(serial))
    np.testing.assert_array_equal(threaded[name], serial[name])
    assert not np.array_equal(other[name], serial[name])
    chunks = serial[name].reshape(15, 4, -1)
    assert not any(np.array_equal(chunks[0], chunks[i]) for i in range(1, 15)), "each chunk has its own stream"


def test_collapsed_rows_draw_counts_of_their_trials(make_config, small_ipsung) -> None:
    formula = "work_or_education_12m ~ gender + diagnosis + ips25 + (1 | service)"
    plan = check(make_config(data=small_ipsung, **{"model.formula": formula, "model.collapse": "always"}))
    trials = plan.data.arrays["trials"]
    assert trials.max() > 1
    posterior = _tree(plan, draws=40)["posterior"].to_dataset()
    drawn = next(iter(plan.family.posterior_predictive(posterior, plan.data, plan.spec, seed=1).values()))
    assert drawn.dtype == pointwise.draws_dtype(plan.family.outcome_family(plan.spec), plan.data.arrays["y"], trials)
    assert (drawn >= 0).all() and (drawn <= trials).all()
    assert (drawn > 1).any(), "counts, not 0/1"


def test_draws_take_the_smallest_integer_type_their_trials_allow() -> None:
    from ipsbayes.families import get_outcome_family

    bernoulli, binomial, gaussian = (get_outcome_family(n) for n in ("bernoulli", "binomial", "gaussian"))
    y = np.array([0, 1, 1], dtype=np.int64)
    assert pointwise.draws_dtype(bernoulli, y, None) == np.int8
    assert pointwise.draws_dtype(binomial, y, np.array([3, 127, 5])) == np.int8
    assert pointwise.draws_dtype(binomial, y, np.array([3, 128, 5])) == np.int16  # 128 would wrap in int8
    assert pointwise.draws_dtype(binomial, y, np.array([40_000])) == np.int32
    assert pointwise.draws_dtype(binomial, y, np.array([2**40])) == np.int64
    assert pointwise.draws_dtype(gaussian, np.array([0.5, 1.5]), None) == np.float64
    # and a draw at the trials' largest value survives the type
    rng = np.random.default_rng(0)
    out = np.empty((1, 2), dtype=pointwise.draws_dtype(binomial, y, np.array([200, 200])))
    out[0] = binomial.predictive_draws(np.array([40.0, -40.0]), np.array([200, 200]), rng)
    assert out.tolist() == [[200, 0]]


def test_families_with_auxiliary_parameters_leave_the_group_to_pymc() -> None:
    plan = check(REPO / "examples" / "sleepstudy" / "sleepstudy.toml")
    tree = _tree(plan, draws=6)
    assert not add_from_family(tree, plan.model, "posterior_predictive", _by(plan), cores=2)
    assert "posterior_predictive" not in tree.children
