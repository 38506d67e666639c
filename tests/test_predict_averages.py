"""The one-sweep averages of models/predict.py give the same numbers as the plain algorithm.

``Predictor.averages`` reuses the linear predictor across counterfactuals, shares offsets between rows
that change alike and turns ``expit(eta + c)`` into ``1 / (1 + exp(-eta) exp(-c))``. The plain
algorithm kept here as the reference computes every quantity on its own with ``Predictor.mean``
(which ``tests/test_equivalence.py`` checks against the PyMC graph). Both are compared per quantity
and through the whole estimands Dataset of the regression families, at prior draws (wider than any
posterior) and at draws blown up so the shortcut overflows and its plain fallback runs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from ipsbayes.models import predict
from ipsbayes.models.groups import idx_key
from ipsbayes.models.predict import Averages, Counterfactual, Predictor, group_weights
from ipsbayes.models.regression_estimands import _group_dims
from ipsbayes.runner import check

from .conftest import REPO

CONFIGS = ["models/ipsung_employment.toml", "models/ipsung_fidelity.toml", "examples/sleepstudy/sleepstudy.toml"]


def plain_averages(self: Predictor, counterfactuals=(), groups=(), fidelity_values=None) -> Averages:
    """The reference: every mean computed on its own, the linear predictor rebuilt each time."""
    curve = None
    if fidelity_values is not None:
        curve = np.column_stack([self.mean(fidelity_value=v) for v in fidelity_values])
    return Averages(
        self.mean(), [self.mean(groups=g) for g in groups], [self.mean(X=X) for X in counterfactuals], curve
    )


def _draws(model: pm.Model, draws: int = 60, seed: int = 3) -> xr.Dataset:
    with model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)["prior"].to_dataset()
    return prior if "chain" in prior.dims else prior.expand_dims("chain")


@pytest.fixture(scope="module", params=CONFIGS)
def plan(request):
    return check(REPO / request.param)


def _inputs(plan, predictor: Predictor):
    data = plan.data
    design = data.info["design"]
    designs = [X for c in design.contrasts() for X in design.counterfactual(data.info["frame"], c)]
    groups = [
        group_weights(data.arrays[idx_key(b.block.factor)], predictor.weights, len(data.coords[b.dim]))
        for b in _group_dims(data)
    ]
    values = np.linspace(-3.0, 2.0, 7) if predictor.fidelity_slope is not None else None
    return designs, groups, values


@pytest.mark.parametrize("blow_up", [1.0, 60.0])
def test_averages_equal_the_plain_means(plan, blow_up: float) -> None:
    draws = _draws(plan.model)
    if blow_up != 1.0:  # log-odds in the hundreds: exp(-eta) overflows, the plain fallback must take over
        draws = draws.map(lambda v: v * blow_up if v.dtype.kind == "f" else v)
    family = plan.family.outcome_family(plan.spec)
    predictor = Predictor.from_posterior(draws, plan.data, family)
    designs, groups, values = _inputs(plan, predictor)
    assert designs, "the reference configs have contrasts"
    fast = predictor.averages(designs, groups, values)
    plain = plain_averages(predictor, designs, groups, values)
    tol = {"rtol": 1e-10, "atol": 1e-13}
    assert np.all(np.isfinite(fast.overall))
    np.testing.assert_allclose(fast.overall, plain.overall, **tol)
    for a, b in zip(fast.groups, plain.groups, strict=True):
        np.testing.assert_allclose(a, b, **tol)
    for a, b in zip(fast.counterfactuals, plain.counterfactuals, strict=True):
        np.testing.assert_allclose(a, b, **tol)
    if values is not None:
        np.testing.assert_allclose(fast.fidelity, plain.fidelity, **tol)


def test_estimands_equal_those_of_the_plain_algorithm(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every estimand (AMEs, group rates, fidelity curve and contrast) is the same number either way."""
    draws = _draws(plan.model, draws=40)
    fast = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    monkeypatch.setattr(predict.Predictor, "averages", plain_averages)
    plain = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    assert set(fast.data_vars) == set(plain.data_vars)
    for name in plain.data_vars:
        xr.testing.assert_allclose(fast[name], plain[name], rtol=1e-10, atol=1e-12)


def test_chunks_do_not_change_the_numbers(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of one draw give the same numbers as one chunk of all draws."""
    draws = _draws(plan.model, draws=30)
    family = plan.family.outcome_family(plan.spec)
    predictor = Predictor.from_posterior(draws, plan.data, family)
    designs, groups, values = _inputs(plan, predictor)
    whole = predictor.averages(designs, groups, values)
    monkeypatch.setattr(predict, "_CACHE_CELLS", 1)
    single = predictor.averages(designs, groups, values)
    np.testing.assert_allclose(single.overall, whole.overall, rtol=1e-13)
    for a, b in zip(single.counterfactuals, whole.counterfactuals, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)


@pytest.mark.parametrize("seed", range(5))
def test_row_kinds_equal_numpys_unique_rows(seed: int) -> None:
    """The kinds of row change and each row's kind are np.unique(axis=0)'s, ties, -0.0 and 1 +- 1e-16 included."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, k = int(rng.integers(1, 3000)), int(rng.integers(1, 6))
        changes = rng.choice([-1.0, 0.0, -0.0, 1.0, 0.5, 1 + 2e-16, 1 - 1e-16, 2.0], size=(n, k))
        kinds, inverse = np.unique(changes, axis=0, return_inverse=True)
        found = predict.row_kinds(changes, 10_000)
        np.testing.assert_array_equal(found[0], kinds)
        np.testing.assert_array_equal(found[1], inverse.ravel())
        limit = int(rng.integers(1, 40))
        assert (predict.row_kinds(changes, limit) is None) == (len(kinds) > limit)
    wide = rng.integers(0, 3, size=(500, 45)).astype(float)  # 3**45 codes: renumbered before they overflow
    kinds, inverse = np.unique(wide, axis=0, return_inverse=True)
    found = predict.row_kinds(wide, 10_000)
    np.testing.assert_array_equal(found[0], kinds)
    np.testing.assert_array_equal(found[1], inverse.ravel())
    with_nan = np.array([[np.nan, 1.0], [0.0, 1.0], [np.nan, 1.0]])
    expected = np.unique(with_nan, axis=0, return_inverse=True)[1]
    np.testing.assert_array_equal(predict.row_kinds(with_nan, 10)[1], expected)


def _same(a, b) -> bool:
    """Equal design matrices, or equal counterfactuals (matrix and varying slopes' values)."""
    if isinstance(a, Counterfactual):
        return np.array_equal(a.X, b.X) and all(np.array_equal(a.slopes[k], b.slopes[k]) for k in a.slopes)
    return np.array_equal(a, b)


def test_counterfactual_designs_are_built_once_per_data(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prior's estimands reuse the posterior's counterfactual designs; a copy of the data does not."""
    import dataclasses

    from ipsbayes.models import regression_estimands as module

    data = dataclasses.replace(plan.data)  # its own memo
    assert data.derived == {}
    first = module._counterfactual_designs(data, data.arrays["X"])
    design = type(data.info["design"])
    monkeypatch.setattr(design, "counterfactual_frames", lambda *a, **k: pytest.fail("built a second time"))
    again = module._counterfactual_designs(data, data.arrays["X"])
    assert again is first
    monkeypatch.undo()
    other_x = data.arrays["X"].copy()  # other arrays: built again, and the same matrices
    rebuilt = module._counterfactual_designs(data, other_x)
    assert rebuilt is not first and all(_same(a, b) for a, b in zip(rebuilt[1], first[1], strict=True))
    assert dataclasses.replace(data).derived == {}


def _extreme(intercept: float, slope: float, fidelity, n: int = 4, latent: bool = False) -> Predictor:
    """One draw whose log-odds (intercept + slope * fidelity) and whose parts lie where exp() overflows."""
    from ipsbayes.families import get_outcome_family

    levels = np.asarray(fidelity, dtype=float)
    groups = levels.shape[-1]
    return Predictor(
        family=get_outcome_family("bernoulli"),
        intercept=np.array([intercept]),
        beta=np.array([[1.0]]),
        X=np.linspace(-1.0, 1.0, n)[:, None],
        weights=np.arange(1.0, n + 1.0),
        fidelity_slope=np.array([slope]),
        fidelity=levels[None, :] if latent else levels,
        fidelity_idx=np.arange(n) % groups,
    )


@pytest.mark.parametrize("latent", [False, True])
@pytest.mark.parametrize(
    ("intercept", "slope", "fidelity"),
    [
        (100.0, 70.0, [10.0, 10.0]),  # eta 800: exp(-eta) underflows to 0, slope * level 700
        (10.0, 72.0, [10.0, 9.9]),  # exp(slope * level) overflows, eta 730
        (-100.0, 70.0, [-10.0, -9.0]),  # eta -800: exp(-eta) overflows
        (40.0, 70.0, [10.0, 10.0]),  # exp(-eta) subnormal
        (5.0, 0.5, [1.0, -2.0]),  # nothing extreme: the shortcut itself
    ],
)
def test_shortcuts_never_keep_a_wrong_finite_value(intercept, slope, fidelity, latent) -> None:
    """Where a factor of a shortcut's product over- or underflows while the product would not, the plain way is used.

    An overflowed factor times an underflowed one gives nan, which the shortcuts always caught; an
    overflowed or underflowed factor times an ordinary one gives a finite, wrong value (3.4 percentage
    points on the fidelity curve of a real plan's prior draws with the slope scaled by 40).
    """
    predictor = _extreme(intercept, slope, fidelity, latent=latent)
    values = np.array([-10.0, -5.0, -0.6, 0.0, 0.5, 3.0])
    shifted = predictor.X + 2.0
    fast = predictor.averages([shifted], (), values)
    plain = plain_averages(predictor, [shifted], (), values)
    np.testing.assert_allclose(fast.fidelity, plain.fidelity, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(fast.counterfactuals[0], plain.counterfactuals[0], rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(fast.overall, plain.overall, rtol=1e-10, atol=1e-300)


def test_a_counterfactual_shift_whose_exponential_underflows() -> None:
    """exp(-eta) = inf (eta -710) times exp(-shift) subnormal (shift 740): expit(30), not 0."""
    predictor = _extreme(-710.0, 0.0, [0.0], n=3)
    predictor = replace(predictor, X=np.zeros((3, 1)), fidelity_slope=None, fidelity=None, fidelity_idx=None)
    fast = predictor.averages([np.full((3, 1), 740.0)])
    np.testing.assert_allclose(fast.counterfactuals[0], predictor.mean(X=np.full((3, 1), 740.0)), rtol=1e-12)
    assert fast.counterfactuals[0][0] > 0.999


def test_fidelity_slope_alone_far_out_on_a_real_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prior draws of the latent-fidelity plan with only the fidelity slope scaled into the overflow window."""
    plan = check(REPO / "models/ipsung_fidelity.toml")
    draws = _draws(plan.model, draws=60)
    family = plan.family.outcome_family(plan.spec)
    for factor in (20.0, 40.0, 45.0):
        scaled = draws.assign(fidelity_slope=draws["fidelity_slope"] * factor)
        predictor = Predictor.from_posterior(scaled, plan.data, family)
        designs, groups, values = _inputs(plan, predictor)
        fast = predictor.averages(designs, groups, values)
        plain = plain_averages(predictor, designs, groups, values)
        np.testing.assert_allclose(fast.fidelity, plain.fidelity, rtol=1e-10, atol=1e-13)


def test_a_subset_of_rows_does_not_reuse_the_whole_predictors_cached_arrays(plan) -> None:
    """of_rows after eta(): the subset's linear predictor is the whole one's columns, not the whole one's arrays."""
    family = plan.family.outcome_family(plan.spec)
    predictor = Predictor.from_posterior(_draws(plan.model, draws=5), plan.data, family)
    whole = predictor.eta(slice(0, 5))  # fills the cached arrays
    rows = np.arange(0, len(predictor.weights), 3)
    np.testing.assert_allclose(predictor.of_rows(rows).eta(slice(0, 5)), whole[:, rows], rtol=1e-13)


def test_row_kinds_edge_cases() -> None:
    """No rows, and a limit high enough that the combined codes would pass 2**62 unless renumbered."""
    kinds, inverse = predict.row_kinds(np.zeros((0, 2)), 10)
    assert kinds.shape == (0, 2) and inverse.shape == (0,)
    rng = np.random.default_rng(4)
    many = rng.integers(0, 5000, size=(6000, 6)).astype(float)  # 5000**6 > 2**62
    expected = np.unique(many, axis=0, return_inverse=True)
    found = predict.row_kinds(many, 10**6)
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1].ravel())
