"""Power-scaling from the per-draw log-likelihood total gives what ArviZ gives from the pointwise values."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import xarray as xr
from arviz_stats.psense import power_scale_dataset

from ipsbayes.sensitivity import log_likelihood_total, power_scaling


def _tree(seed: int = 2) -> tuple[xr.DataTree, xr.Dataset]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.3, 0.1, size=(4, 400))
    y = rng.normal(0.3, 1.0, size=300)
    ll = -0.5 * (y[None, None, :] - mu[..., None]) ** 2
    reviews = -0.5 * (rng.normal(size=(4, 400, 2, 5)) * 0.1) ** 2  # a second observed variable, two obs dims
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), mu)}),
            "log_prior": xr.Dataset({"mu": (("chain", "draw"), -0.5 * (mu / 2) ** 2)}),
            "log_likelihood": xr.Dataset(
                {"y": (("chain", "draw", "obs"), ll), "r": (("chain", "draw", "a", "b"), reviews)}
            ),
        }
    )
    estimands = xr.Dataset({"rate": (("chain", "draw"), 100 / (1 + np.exp(-mu))), "mu": (("chain", "draw"), mu)})
    return tree, estimands


def test_power_scaling_table_is_unchanged() -> None:
    tree, estimands = _tree()
    ours = power_scaling(tree, estimands, ["rate", "mu"], ["mu"])
    reference_tree = xr.DataTree.from_dict(
        {
            "posterior": estimands[["rate", "mu"]],
            "log_prior": tree["log_prior"].to_dataset(),
            "log_likelihood": tree["log_likelihood"].to_dataset(),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.psense_summary(reference_tree, round_to=6)
    np.testing.assert_allclose(ours["prior"].values, reference["prior"].to_numpy(dtype=float), atol=1e-6)
    np.testing.assert_allclose(ours["likelihood"].values, reference["likelihood"].to_numpy(dtype=float), atol=1e-6)


def test_power_scaled_draws_are_unchanged() -> None:
    tree, estimands = _tree()
    pointwise = xr.DataTree.from_dict({"posterior": estimands, "log_likelihood": tree["log_likelihood"].to_dataset()})
    total = xr.DataTree.from_dict({"posterior": estimands, "log_likelihood": log_likelihood_total(tree)})
    a = power_scale_dataset(pointwise, "likelihood", (0.8, 1.25), ["chain", "draw"], None, None)
    b = power_scale_dataset(total, "likelihood", (0.8, 1.25), ["chain", "draw"], None, None)
    xr.testing.assert_allclose(a, b, rtol=1e-12)
