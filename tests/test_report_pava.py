"""The PAVA calibration figure reads a bounded number of predictive draws."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ipsbayes.report.figures import PAVA_CELLS, PAVA_MAX_DRAWS, PAVA_MIN_DRAWS, pava_draws


def _tree(chains: int, draws: int, rows: int) -> xr.DataTree:
    rng = np.random.default_rng(0)
    return xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset(
                {"y": (("chain", "draw", "obs"), rng.integers(0, 2, (chains, draws, rows), dtype=np.int8))}
            ),
            "observed_data": xr.Dataset({"y": (("obs",), rng.integers(0, 2, rows))}),
        }
    )


def test_small_runs_use_every_draw() -> None:
    tree, n_draws, thinned = pava_draws(_tree(2, 400, 300), "y")
    assert not thinned and n_draws == 800
    assert tree["posterior_predictive"].sizes["draw"] == 400


def test_large_runs_are_thinned_evenly_within_every_chain() -> None:
    rows = 15_000
    tree, n_draws, thinned = pava_draws(_tree(4, 1000, rows), "y")
    assert thinned
    assert PAVA_MIN_DRAWS <= n_draws <= max(PAVA_MIN_DRAWS, PAVA_CELLS // rows) + 4
    assert tree["posterior_predictive"].sizes["chain"] == 4
    assert tree["observed_data"]["y"].size == rows


def test_many_draws_of_few_rows_are_thinned_to_the_most_the_band_needs() -> None:
    tree, n_draws, thinned = pava_draws(_tree(4, 1000, 1500), "y")
    assert thinned and PAVA_MIN_DRAWS <= n_draws <= PAVA_MAX_DRAWS
    assert tree["posterior_predictive"].sizes["draw"] == 250  # every 4th draw of each chain
