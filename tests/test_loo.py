"""ipsbayes.loo is ArviZ's PSIS-LOO, computed for many observations at once: the same numbers as ``az.loo``."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from ipsbayes.config import DiagnosticsConfig
from ipsbayes.diagnostics import _pareto_checks
from ipsbayes.loo import psis_loo, relative_efficiency


def _tree(chains: int, draws: int, n: int, seed: int = 1, obs_dims: tuple[str, ...] = ("obs",)) -> xr.DataTree:
    """Normal-model log-likelihoods with a few outlying observations (Pareto k above 0.7 for some)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 0.3, size=(chains, draws, 1))
    # an autocorrelated scale parameter, so r_eff is below 1
    log_sd = np.cumsum(rng.normal(0.0, 0.05, size=(chains, draws, 1)), axis=1) * 0.5
    y = rng.normal(size=n)
    y[:4] *= 8.0
    ll = -0.5 * ((y[None, None, :] - mu) / np.exp(log_sd)) ** 2 - log_sd - 0.5 * np.log(2 * np.pi)
    shape = (chains, draws, *([2, n // 2] if len(obs_dims) == 2 else [n]))
    posterior = xr.Dataset({"mu": (("chain", "draw"), mu[..., 0]), "log_sd": (("chain", "draw"), log_sd[..., 0])})
    log_lik = xr.Dataset({"y": (("chain", "draw", *obs_dims), ll.reshape(shape))})
    return xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": log_lik})


@pytest.mark.parametrize(
    ("chains", "draws", "n", "obs_dims"),
    [
        (4, 500, 300, ("obs",)),  # the usual case, tail of 3 sqrt(S / r_eff) draws
        (1, 400, 50, ("obs",)),  # one chain: r_eff = 1
        (2, 60, 40, ("obs",)),  # few draws: tail of S / 5 draws
        (4, 250, 60, ("row", "column")),  # two observation dims
    ],
)
def test_psis_loo_equals_arviz(chains: int, draws: int, n: int, obs_dims: tuple[str, ...]) -> None:
    tree = _tree(chains, draws, n, obs_dims=obs_dims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.loo(tree, var_name="y", pointwise=True)
    ours = psis_loo(tree["log_likelihood"]["y"], relative_efficiency(tree["posterior"].to_dataset()))
    assert ours.elpd == pytest.approx(float(reference.elpd), rel=1e-12)
    assert ours.se == pytest.approx(float(reference.se), rel=1e-10)
    assert ours.p == pytest.approx(float(reference.p), rel=1e-9, abs=1e-9)
    assert ours.good_k == pytest.approx(float(reference.good_k))
    np.testing.assert_allclose(ours.pareto_k, np.asarray(reference.pareto_k).ravel(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.elpd_i, np.asarray(reference.elpd_i).ravel(), rtol=1e-12, atol=1e-12)
    if chains == 4 and draws == 500:
        assert (ours.pareto_k > ours.good_k).any(), "the outliers should give some large k"


def test_blocks_do_not_change_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ipsbayes import loo

    tree = _tree(4, 300, 100)
    whole = psis_loo(tree["log_likelihood"]["y"], 0.8)
    monkeypatch.setattr(loo, "_BLOCK_CELLS", 1)  # one observation per block
    single = psis_loo(tree["log_likelihood"]["y"], 0.8)
    np.testing.assert_allclose(single.pareto_k, whole.pareto_k, rtol=1e-13)
    assert single.elpd == pytest.approx(whole.elpd, rel=1e-14)


def test_pareto_fits_in_groups_of_columns_equal_one_fit_of_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """``gpd_fit`` fits groups of columns to keep its grid x tail x columns array small: the same numbers.

    Equal to float rounding (a one-column group's sums run in pairs, not in a row), as the LOO blocks are.
    """
    from ipsbayes import loo

    rng = np.random.default_rng(3)
    tail = np.sort(rng.pareto(rng.uniform(1.0, 6.0, size=37), size=(60, 37)), axis=0) + 0.01
    tail[:, 5] = tail[0, 5]  # a degenerate column (first quartile = minimum): NaN in any group
    whole = loo._gpd_fit_columns(tail)
    assert np.isnan(whole[0][5]) and np.isfinite(whole[0][:5]).all()
    for cells in (1, (30 + 7) * 60 * 4, 10**9):  # one column per group, groups of 4 (the last of 1), one group
        monkeypatch.setattr(loo, "_FIT_CELLS", cells)
        grouped = loo.gpd_fit(tail)
        np.testing.assert_allclose(grouped[0], whole[0], rtol=1e-13, atol=0)
        np.testing.assert_allclose(grouped[1], whole[1], rtol=1e-13, atol=0)


def test_the_diagnostics_message_is_the_one_arviz_numbers_give() -> None:
    """The Pareto k check reports the same counts, elpd, SE and p_loo as when it called az.loo."""
    tree = _tree(4, 500, 300)
    (check,) = _pareto_checks(tree, DiagnosticsConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.loo(tree, var_name="y")
    k = np.asarray(reference.pareto_k).ravel()
    limit = float(reference.good_k)
    unknown = int(np.isnan(k).sum())
    assert unknown >= 1  # ArviZ too has no k for an outlier whose tail's first quartile is its minimum
    n_bad = int((k > limit).sum()) + unknown  # a k without an estimate counts against the check (ArviZ's > skips it)
    assert check.value == n_bad
    assert check.message == (
        f"{n_bad} of {k.size} observations have Pareto k > {limit:.2f} or no estimate of k ({unknown}) "
        f"(max {np.nanmax(k):.2f}); elpd_loo {float(reference.elpd):.1f} (SE {float(reference.se):.1f}), "
        f"p_loo {float(reference.p):.1f}"
    )


def test_a_row_whose_log_likelihood_does_not_vary_is_not_an_error() -> None:
    """ArviZ raises "All tail values are the same" for it (the shipped ALDA example hit it at --profile ci).

    Equal importance ratios need no smoothing: the row gets k = 0, elpd_i equal to its log-likelihood and
    p_loo_i = 0, and every other row keeps exactly the values it has without that row.
    """
    rng = np.random.default_rng(4)
    varying = rng.normal(-1.0, 0.3, (2, 500, 6))
    constant = np.full((2, 500, 1), -0.7)
    both = xr.DataArray(np.concatenate([varying, constant], axis=2), dims=("chain", "draw", "obs"))
    alone = xr.DataArray(varying, dims=("chain", "draw", "obs"))
    result, reference = psis_loo(both, 1.0), psis_loo(alone, 1.0)
    elpd, p, k = (np.asarray(v).ravel() for v in (result.elpd_i, result.p_i, result.pareto_k))
    assert k[-1] == 0.0 and np.isclose(elpd[-1], -0.7) and np.isclose(p[-1], 0.0)
    np.testing.assert_allclose(elpd[:-1], np.asarray(reference.elpd_i).ravel())
    np.testing.assert_allclose(k[:-1], np.asarray(reference.pareto_k).ravel())
