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


def test_a_forked_writer_does_not_import_distributed(tmp_path) -> None:
    """The child that writes posterior.nc leaves ``distributed`` unimported; the file is write_posterior's."""
    import subprocess
    import sys

    script = f"""
import sys
import numpy as np, xarray as xr
from ipsbayes.rundir import write_posterior, write_posterior_in_child
tree = xr.DataTree.from_dict({{"posterior": xr.Dataset({{"a": (("chain", "draw"), np.arange(8.0).reshape(2, 4))}})}})
assert "distributed" not in sys.modules
write_posterior_in_child(tree, {str(tmp_path / "child.nc")!r})
assert sys.modules.get("distributed", 0) is None, "distributed was imported"
write_posterior(tree, {str(tmp_path / "plain.nc")!r})
a = xr.open_datatree({str(tmp_path / "child.nc")!r}, engine="h5netcdf")
b = xr.open_datatree({str(tmp_path / "plain.nc")!r}, engine="h5netcdf")
xr.testing.assert_identical(a, b)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
