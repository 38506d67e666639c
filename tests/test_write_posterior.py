"""posterior.nc keeps every group and every number; only the encoding is chosen for speed."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
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


def _rich_tree() -> xr.DataTree:
    """What run trees carry: booleans, unsigned counts, labelled string coordinates, Norwegian attributes."""
    rng = np.random.default_rng(3)
    tree = _tree(n=40)
    stats = tree["sample_stats"].to_dataset()
    stats["n_steps"] = (("chain", "draw"), rng.integers(1, 64, size=(2, 500)).astype(np.uint64))
    stats["energy"] = (("chain", "draw"), np.where(rng.random((2, 500)) < 0.01, np.nan, rng.normal(size=(2, 500))))
    stats.attrs = {"sampler": "nutpie", "tuning_steps": 1000, "created": "2026-11-29T14:00:00"}
    tree["sample_stats"] = xr.DataTree(stats)
    estimands = xr.Dataset(
        {"ame": (("chain", "draw", "term"), rng.normal(size=(2, 500, 3)), {"label": "Forskjell i prosentpoeng"})},
        coords={"term": ["alder", "kjønn: kvinne", "tjeneste «Øst»"]},
        attrs={"vocabulary": '{"unit": "deltaker", "units_nb": "deltakere"}', "notes": "[]", "interval": 0.95},
    )
    estimands["service_n"] = (("service",), np.array([12.0, 7.0]))
    estimands = estimands.assign_coords(service=["Bodø", "Tromsø"])
    tree["estimands"] = xr.DataTree(estimands)
    return tree


def test_both_writers_read_back_identically(tmp_path: Path, monkeypatch) -> None:
    """The C writer (netCDF4) and h5netcdf give files that read back the same: values, types, attributes."""
    import ipsbayes.rundir as rundir

    assert rundir.writer_engine() == "netcdf4"  # installed with the package
    tree = _rich_tree()
    write_posterior(tree, tmp_path / "c.nc")
    monkeypatch.setattr(rundir, "writer_engine", lambda: "h5netcdf")
    write_posterior(tree, tmp_path / "h5.nc")
    written = {name: xr.open_datatree(tmp_path / name, engine="h5netcdf").load() for name in ("c.nc", "h5.nc")}
    xr.testing.assert_identical(written["c.nc"], written["h5.nc"])
    for c_node, h5_node in zip(written["c.nc"].subtree, written["h5.nc"].subtree, strict=True):
        assert c_node.path == h5_node.path
        assert repr(c_node.attrs) == repr(h5_node.attrs)
        for name in c_node.variables:
            assert c_node[name].dtype == h5_node[name].dtype, (c_node.path, name)
            assert repr(c_node[name].attrs) == repr(h5_node[name].attrs), (c_node.path, name)
    back = written["c.nc"]
    assert back["sample_stats"]["diverging"].dtype == bool
    assert back["sample_stats"]["n_steps"].dtype == np.uint64
    assert list(back["estimands"]["term"].values) == ["alder", "kjønn: kvinne", "tjeneste «Øst»"]
    with h5py.File(tmp_path / "c.nc") as handle:  # the same compression rules
        assert handle["log_likelihood/y"].compression is None
        assert handle["posterior_predictive/y"].compression == "gzip"


def test_without_netcdf4_the_h5netcdf_writer_is_used(monkeypatch) -> None:
    import importlib.util

    import ipsbayes.rundir as rundir

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "netCDF4" else real(name, *a))
    assert rundir.writer_engine() == "h5netcdf"


@pytest.mark.parametrize("outcome", ["#score", "(score)", "-score", "<score>", " score", "score ", "tab\there"])
def test_names_the_netcdf_library_refuses_are_written_by_h5netcdf(tmp_path: Path, outcome: str) -> None:
    """An outcome column may be called anything: the observed variable takes its name (outside review)."""
    tree = _tree(n=20)
    observed = tree["observed_data"].to_dataset().rename({"y": outcome})
    tree["observed_data"] = xr.DataTree(observed)
    write_posterior(tree, tmp_path / "posterior.nc")
    back = xr.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf").load()
    np.testing.assert_array_equal(back["observed_data"][outcome].values, observed[outcome].values)


NAMES = [
    "score",
    "_x",
    "9a",
    "a b",
    "ø",
    "Ålesund",
    "a#b",
    "a(b)",
    "x.y",
    "a:b",
    "a-b",
    "😀x",
    "#x",
    "(x)",
    "-x",
    "<x",
    "a ",
    " a",
    "a\tb",
    "x\x7f",
]


@pytest.mark.parametrize("name", NAMES)
def test_the_name_rule_accepts_only_what_the_netcdf_library_writes(tmp_path: Path, name: str) -> None:
    import netCDF4

    from ipsbayes.rundir import netcdf_name

    handle = netCDF4.Dataset(tmp_path / "probe.nc", "w")
    try:
        handle.createDimension("d", 1)
        handle.createVariable(name, "f8", ("d",))
        written = True
    except Exception:
        written = False
    finally:
        handle.close()
    assert not netcdf_name(name) or written  # never sent to the C library with a name it refuses


def test_a_failing_c_writer_falls_back_to_h5netcdf(tmp_path: Path, monkeypatch) -> None:
    tree = _tree(n=20)
    real = xr.DataTree.to_netcdf
    engines = []

    def writes(self, path, **kwargs):
        engines.append(kwargs.get("engine"))
        if kwargs.get("engine") == "netcdf4":
            raise RuntimeError("NetCDF: HDF error")
        return real(self, path, **kwargs)

    monkeypatch.setattr(xr.DataTree, "to_netcdf", writes)
    write_posterior(tree, tmp_path / "posterior.nc")
    assert engines == ["netcdf4", "h5netcdf"]
    back = xr.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf").load()
    np.testing.assert_array_equal(back["log_likelihood"]["y"].values, tree["log_likelihood"]["y"].values)
