"""ipsbayes.convergence computes ArviZ's R-hat, ESS and MCSE for all elements at once: the same numbers."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from ipsbayes.convergence import diagnostic_summary, effective_size, mean_ess


def _ar(rng: np.random.Generator, chains: int, draws: int, k: int, phi: float) -> np.ndarray:
    """AR(1) chains: phi near 1 gives small ESS (long positive sequences), phi < 0 gives ESS > draws."""
    x = np.zeros((chains, draws, k))
    noise = rng.normal(size=(chains, draws, k))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def _posterior(chains: int, draws: int, seed: int = 1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "a": (("chain", "draw", "k"), _ar(rng, chains, draws, 6, 0.9) + np.arange(6)),
            "b": (("chain", "draw"), _ar(rng, chains, draws, 1, -0.6)[..., 0]),
            "c": (("chain", "draw", "g", "h"), _ar(rng, chains, draws, 6, 0.3).reshape(chains, draws, 2, 3)),
            # the same dimensions in the other order: ArviZ orders elements by the Dataset's dims
            "q": (("chain", "draw", "h", "g"), _ar(rng, chains, draws, 6, 0.5).reshape(chains, draws, 3, 2)),
            "constant": (("chain", "draw"), np.full((chains, draws), 2.5)),
            "count": (("chain", "draw"), rng.poisson(2, size=(chains, draws))),
            "with_nan": (
                ("chain", "draw"),
                np.where(np.arange(draws) == draws // 2, np.nan, rng.normal(size=(chains, draws))),
            ),
            "random_walk": (("chain", "draw", "w"), _ar(rng, chains, draws, 2, 0.995).cumsum(axis=1)),
        },
        coords={"k": list("abcdef"), "g": [0, 1], "h": ["x", "y", "z"], "w": [0, 1]},
    )


@pytest.mark.parametrize(("chains", "draws"), [(4, 1000), (2, 400), (4, 201), (1, 50), (3, 7), (2, 5), (2, 3)])
def test_diagnostic_summary_equals_arviz(chains: int, draws: int) -> None:
    posterior = _posterior(chains, draws)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.summary(xr.DataTree.from_dict({"posterior": posterior}), kind="diagnostics", round_to="none")
        ours = diagnostic_summary(posterior)
    assert list(ours.index) == list(reference.index)
    assert list(ours.columns) == list(reference.columns)
    np.testing.assert_allclose(ours.to_numpy(float), reference.to_numpy(float), rtol=1e-9, equal_nan=True)
    if draws >= 4:  # not all NaN: the comparison above compared numbers
        assert np.isfinite(ours.loc["a[a]"].drop("r_hat" if chains == 1 else [])).all()
    assert np.isnan(ours.loc["with_nan"]).all()


def test_selected_variables_and_tail_probability() -> None:
    posterior = _posterior(2, 300, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with az.rc_context({"stats.ci_prob": 0.9}):
            reference = az.summary(
                xr.DataTree.from_dict({"posterior": posterior}),
                var_names=["q", "b"],
                kind="diagnostics",
                round_to="none",
            )
        ours = diagnostic_summary(posterior, var_names=["q", "b"], tail_prob=0.9)
    assert list(ours.index) == list(reference.index)
    np.testing.assert_allclose(ours.to_numpy(float), reference.to_numpy(float), rtol=1e-9)


def test_effective_size_matches_arviz_loop_element_by_element() -> None:
    """The vectorised Geyer truncation, against ArviZ's Python loop, over chains with every kind of ending."""
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(7)
    stacks = [_ar(rng, 4, 120, 1, phi)[..., 0] for phi in (-0.9, -0.3, 0.0, 0.5, 0.95, 0.999)]
    stacks.append(np.tile(np.arange(2.0), (4, 60)))  # alternating: every pair sum is 0
    stack = np.stack(stacks)
    expected = [array_stats._ess(chains) for chains in stack]  # ArviZ's loop over one element
    np.testing.assert_allclose(effective_size(stack), expected, rtol=1e-10)


def test_mean_ess_is_arviz_mean_method() -> None:
    posterior = _posterior(4, 250, seed=5).drop_vars("with_nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.ess(posterior, method="mean")
    expected = np.hstack([np.asarray(reference[name].values, dtype=float).ravel() for name in posterior.data_vars])
    np.testing.assert_allclose(mean_ess(posterior), expected, rtol=1e-9)
