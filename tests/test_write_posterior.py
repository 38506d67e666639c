"""posterior.nc keeps every group and every number; only the encoding is chosen for speed."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from ipsbayes.rundir import write_posterior


def _tree(n: int = 1200, seed: int = 1) -> xr.DataTree:
    rng = np.random.default_rng(seed)
    dims = ("chain", "draw", "obs")
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"intercept": (("chain", "draw"), rng.normal(size=(2, 500)))}),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 500), bool))}),
            "log_likelihood": xr.Dataset({"y": (dims, -np.logaddexp(0, rng.normal(size=(2, 500, n))))}),
            "posterior_predictive": xr.Dataset({"y": (dims, rng.integers(0, 2, size=(2, 500, n)))}),
            "observed_data": xr.Dataset({"y": (("obs",), rng.integers(0, 2, size=n))}),
        }
    )


def test_every_group_and_value_survives_the_file(tmp_path: Path) -> None:
    tree = _tree()
    write_posterior(tree, tmp_path / "posterior.nc")
    back = xr.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf").load()
    assert set(back.children) == set(tree.children)
    # the pointwise log-likelihood in full precision, predictive draws as the smallest integers holding them
    assert back["log_likelihood"]["y"].dtype == np.float64
    np.testing.assert_array_equal(back["log_likelihood"]["y"].values, tree["log_likelihood"]["y"].values)
    assert back["posterior_predictive"]["y"].dtype == np.int8
    np.testing.assert_array_equal(back["posterior_predictive"]["y"].values, tree["posterior_predictive"]["y"].values)
    np.testing.assert_array_equal(back["posterior"]["intercept"].values, tree["posterior"]["intercept"].values)
    with h5py.File(tmp_path / "posterior.nc") as handle:
        assert handle["log_likelihood/y"].compression is None
        assert handle["posterior_predictive/y"].compression == "gzip"
        assert handle["posterior/intercept"].compression is None  # draws: zlib saves little and costs time
        assert handle["sample_stats/diverging"].compression == "gzip"


def test_counts_beyond_int8_keep_a_wider_type(tmp_path: Path) -> None:
    tree = _tree(n=10)
    counts = tree["posterior_predictive"].to_dataset()
    counts["y"] = counts["y"] * 300
    tree["posterior_predictive"] = xr.DataTree(counts)
    write_posterior(tree, tmp_path / "posterior.nc")
    back = xr.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf").load()
    assert back["posterior_predictive"]["y"].dtype == np.int16
    np.testing.assert_array_equal(back["posterior_predictive"]["y"].values, counts["y"].values)


def test_a_tree_read_from_a_file_is_written_by_the_same_rules(tmp_path: Path) -> None:
    """Encodings a file left on the variables (e.g. compression) do not override the rules."""
    tree = _tree()
    encoding = {"/log_likelihood": {"y": {"zlib": True, "complevel": 1}}}
    tree.to_netcdf(tmp_path / "old.nc", engine="h5netcdf", encoding=encoding)
    old = xr.open_datatree(tmp_path / "old.nc", engine="h5netcdf").load()
    write_posterior(old, tmp_path / "posterior.nc")
    with h5py.File(tmp_path / "posterior.nc") as handle:
        assert handle["log_likelihood/y"].compression is None
