"""Every draw's log prior in one vectorised call, and the likelihood totals from the sampler's log density.

:func:`ipsbayes.prior_density.prior_densities` replaces PyMC's draw-by-draw ``compute_log_prior``:
it must give the same ``log_prior`` group for every shipped model. Its log-Jacobian, with the
sampler's ``logp``, gives each draw's log-likelihood total; that must equal the sum over rows
(here ``logp`` is PyMC's own log density with Jacobian at each draw, as nutpie records it), and a
run must fall back to the sum over rows whenever the two disagree.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import xarray as xr

from ipsbayes import prior_density
from ipsbayes.backends import LOG_DENSITY_MODE
from ipsbayes.family_groups import add_likelihood_summary
from ipsbayes.initial_point import default_initial_values
from ipsbayes.models.predict import Predictor
from ipsbayes.runner import check

from .conftest import REPO, prior_as_posterior

SHIPPED = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "models").glob("*.toml"))
EXAMPLES = [
    "examples/cbpp/cbpp.toml",
    "examples/sleepstudy/sleepstudy.toml",
    "examples/contraception/contraception.toml",
    "examples/alda_first_sex/first_sex_model_d.toml",
]


def _sampler_logp(model: pm.Model, posterior: xr.Dataset) -> np.ndarray:
    """The model's log density with Jacobian at each draw (chain, draw): what nutpie records as ``logp``."""
    logp = model.compile_logp(jacobian=True)
    transforms = {rv.name: model.rvs_to_transforms.get(rv) for rv in model.free_RVs}
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    out = np.empty((chains, draws))
    for c in range(chains):
        for d in range(draws):
            point = {}
            for rv in model.free_RVs:
                value = posterior[rv.name].isel(chain=c, draw=d).values
                transform = transforms[rv.name]
                if transform is not None:
                    value = transform.forward(value, *rv.owner.inputs).eval()
                point[model.rvs_to_values[rv].name] = value
            out[c, d] = logp(point)
    return out


@pytest.mark.parametrize("config", SHIPPED + EXAMPLES)
def test_log_prior_equals_pymcs(config: str) -> None:
    plan = check(REPO / config)
    tree = prior_as_posterior(plan, draws=40)
    with default_initial_values(plan.model):  # as sampling computes both (a model may start at data-based values)
        reference = pm.stats.compute_log_prior(
            tree.copy(),
            model=plan.model,
            progressbar=False,
            compile_kwargs=LOG_DENSITY_MODE,
            extend_inferencedata=False,
        )
        densities = prior_density.prior_densities(plan.model, tree["posterior"].to_dataset())
    assert densities is not None, config
    prior_density.add_log_prior(tree, densities)
    ours = tree["log_prior"].to_dataset()
    assert set(ours.data_vars) == set(reference.data_vars)
    assert set(ours.attrs) == set(reference.attrs)  # PyMC's provenance attributes (created_at, sample_dims, ...)
    for name in reference.data_vars:
        assert ours[name].dims == reference[name].dims, name
        np.testing.assert_allclose(ours[name].values, reference[name].values, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("config", SHIPPED + EXAMPLES)
def test_log_jacobian_equals_pymcs(config: str) -> None:
    """Each transform's log-Jacobian (log, log-odds, interval, packed Cholesky), against PyMC's logp with and without.

    Draws are the constrained values of unconstrained points around the model's initial point, so the
    Jacobian is evaluated where the sampler would be, whatever the prior draws would give.
    """
    plan = check(REPO / config)
    model = plan.model
    names = {rv.name for rv in model.free_RVs}
    outputs = [v for v in model.unobserved_value_vars if v.name in names]
    constrained = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    with_jacobian, without = model.compile_logp(jacobian=True), model.compile_logp(jacobian=False)
    rng = np.random.default_rng(5)
    start = model.initial_point()
    draws: dict[str, list] = {v.name: [] for v in outputs}
    expected = []
    for _ in range(6):
        point = {key: value + rng.normal(scale=0.3, size=np.shape(value)) for key, value in start.items()}
        for variable, value in zip(outputs, constrained(point), strict=True):
            draws[variable.name].append(value)
        expected.append(with_jacobian(point) - without(point))
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *(f"{name}_dim_{i}" for i in range(np.ndim(v[0])))),
                np.reshape(v, (2, 3, *np.shape(v[0]))),
            )
            for name, v in draws.items()
        }
    )
    densities = prior_density.prior_densities(model, posterior)
    assert densities is not None and densities.jacobian is not None, config
    np.testing.assert_allclose(densities.jacobian.ravel(), expected, rtol=1e-9, atol=1e-9)


def test_totals_from_the_sampler_equal_the_sum_over_rows(employment) -> None:
    plan, tree, _, known = employment
    reference = pm.compute_log_likelihood(tree.copy(), model=plan.model, progressbar=False, extend_inferencedata=False)
    (name,) = reference.data_vars
    summed = reference[name].sum([d for d in reference[name].dims if d not in ("chain", "draw")]).values.ravel()
    np.testing.assert_allclose(known[name], summed, rtol=1e-10)


def _summary_tree(config: str) -> tuple:
    plan = check(REPO / config)
    tree = prior_as_posterior(plan, draws=40)
    posterior = tree["posterior"].to_dataset()
    tree["sample_stats"] = xr.DataTree(xr.Dataset({"logp": (("chain", "draw"), _sampler_logp(plan.model, posterior))}))
    compute = functools.partial(plan.family.log_likelihood_summary, data=plan.data, spec=plan.spec)
    known = prior_density.likelihood_totals(tree, plan.model, prior_density.prior_densities(plan.model, posterior))
    return plan, tree, compute, known


@pytest.fixture(scope="module")
def employment() -> tuple:
    """The employment model at prior draws with a sampler-style ``logp``: plan, tree, summary function, totals."""
    return _summary_tree("models/ipsung_employment.toml")


def test_summary_with_the_samplers_totals_equals_the_plain_summary(employment) -> None:
    plan, tree, compute, known = employment
    tree, plain = tree.copy(), tree.copy()
    assert add_likelihood_summary(plain, plan.model, compute, 30, seed=3, cores=2)
    assert add_likelihood_summary(tree, plan.model, compute, 30, seed=3, cores=2, known_totals=known)
    for group in ("log_likelihood_total", "loo_subsample", "loo_approximation"):
        xr.testing.assert_allclose(tree[group].to_dataset(), plain[group].to_dataset(), rtol=1e-10, atol=1e-10)
    (name,) = known
    np.testing.assert_array_equal(tree["log_likelihood_total"].to_dataset()[name].values.ravel(), known[name])


def test_totals_that_disagree_are_not_used(employment) -> None:
    plan, tree, compute, known = employment
    plain = tree.copy()
    assert add_likelihood_summary(plain, plan.model, compute, 30, seed=3, cores=2)
    (name,) = known
    for wrong in (known[name] + 1e-3, np.where(np.arange(known[name].size) == 0, known[name] - 5.0, known[name])):
        trial = tree.copy()
        assert add_likelihood_summary(trial, plan.model, compute, 30, seed=3, cores=2, known_totals={name: wrong})
        total = trial["log_likelihood_total"].to_dataset()[name].values.ravel()
        np.testing.assert_array_equal(total, plain["log_likelihood_total"].to_dataset()[name].values.ravel())


def test_no_totals_without_logp_or_with_a_potential() -> None:
    plan, tree, _, known = _summary_tree("examples/cbpp/cbpp.toml")  # its own model: a potential is added below
    densities = prior_density.prior_densities(plan.model, tree["posterior"].to_dataset())
    assert known is not None
    without = tree.copy()
    del without["sample_stats"]
    assert prior_density.likelihood_totals(without, plan.model, densities) is None
    with plan.model:
        pm.Potential("extra", pt.constant(0.0))
    assert prior_density.likelihood_totals(tree, plan.model, densities) is None
    assert prior_density.likelihood_totals(tree, plan.model, None) is None


def test_without_densities_the_log_prior_is_pymcs(employment) -> None:
    plan, tree, _, _ = employment
    vectorised, drawn = tree.copy(), tree.copy()
    prior_density.store_log_prior(
        vectorised, plan.model, prior_density.prior_densities(plan.model, tree["posterior"].to_dataset())
    )
    prior_density.store_log_prior(drawn, plan.model, None)  # a graph that does not vectorise: PyMC's, draw by draw
    xr.testing.assert_allclose(vectorised["log_prior"].to_dataset(), drawn["log_prior"].to_dataset(), rtol=1e-12)


@pytest.mark.parametrize(
    "config", ["examples/contraception/contraception.toml", "models/ipsung_fidelity.toml", "examples/seeds/seeds.toml"]
)
def test_the_subsamples_linear_predictor_is_the_whole_ones_rows(config: str) -> None:
    """``Predictor.of_rows``: random slopes (contraception), a fidelity slope, and nested groups (seeds)."""
    plan = check(REPO / config)
    posterior = prior_as_posterior(plan, draws=10)["posterior"].to_dataset()
    predictor = Predictor.from_posterior(posterior, plan.data, plan.family.outcome_family(plan.spec))
    n = len(predictor.weights)
    rows = np.sort(np.random.default_rng(2).choice(n, size=min(25, n // 2), replace=False))
    whole = predictor.eta(slice(None))
    np.testing.assert_allclose(predictor.of_rows(rows).eta(slice(None)), whole[:, rows], rtol=1e-12, atol=1e-12)


def test_a_graph_that_does_not_vectorise_falls_back(employment, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, tree, _, _ = employment

    def refuse(*args, **kwargs):
        raise NotImplementedError("no vectorised form")

    monkeypatch.setattr(prior_density, "vectorize_graph", refuse)
    monkeypatch.setattr(prior_density, "_BUILT", weakref.WeakKeyDictionary())  # not the function built before
    assert prior_density.prior_densities(plan.model, tree["posterior"].to_dataset()) is None


def test_the_function_built_while_sampling_is_used_after_with_the_same_numbers(
    employment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prepare_for_draws`` builds the vectorised log prior once; the densities equal a fresh build's."""
    from ipsbayes.sampling import prepare_for_draws

    plan, tree, _, _ = employment
    posterior = tree["posterior"].to_dataset()
    monkeypatch.setattr(prior_density, "_BUILT", weakref.WeakKeyDictionary())
    fresh = prior_density.prior_densities(plan.model, posterior)
    monkeypatch.setattr(prior_density, "_BUILT", weakref.WeakKeyDictionary())
    builds = []
    plain = prior_density._vectorised
    monkeypatch.setattr(prior_density, "_vectorised", lambda model: builds.append(model) or plain(model))
    prepare_for_draws(plan.model, log_prior=True)
    assert len(builds) == 1
    kept = prior_density.prior_densities(plan.model, posterior)
    assert len(builds) == 1  # not built again after sampling
    assert fresh is not None and kept is not None
    for name, values in fresh.values.items():
        np.testing.assert_array_equal(kept.values[name], values, err_msg=name)
    np.testing.assert_array_equal(kept.jacobian, fresh.jacobian)


def test_a_build_that_fails_while_sampling_is_not_raised_there(employment, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait swallows the error; after sampling the densities fall back to PyMC's path (None)."""
    from ipsbayes.sampling import prepare_for_draws

    plan, tree, _, _ = employment
    builds = []

    def refuse(model):
        builds.append(model)
        raise NotImplementedError("no vectorised form")

    monkeypatch.setattr(prior_density, "_BUILT", weakref.WeakKeyDictionary())
    monkeypatch.setattr(prior_density, "_vectorised", refuse)
    prepare_for_draws(plan.model, log_prior=True)
    assert prior_density.prior_densities(plan.model, tree["posterior"].to_dataset()) is None
    assert len(builds) == 1  # the error is kept, not met twice
