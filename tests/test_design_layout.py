"""Design matrices enter the graph transposed (``X_T``): the same log density, only the memory order changes.

``ipsbayes.models.base.TRANSPOSED_DATA`` makes every model keep its design matrices as ``<name>_T``
(transposed, C-contiguous) and use their ``.T`` in the graph, because numba's products then read
memory in BLAS's order (``benchmarks/design_layout.py``). These tests prove the speed trick leaves the
model unchanged: for every shipped config, the log density and its gradient equal those of the graph
built from the matrices as they are, at several points.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytest
import tomli_w
import xarray as xr

from ipsbayes.models import base
from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config

REPO = Path(__file__).resolve().parents[1]
#: shipped run configs: the models, and the published examples (varying slopes, Gaussian, binomial, CACE)
CONFIGS = sorted((REPO / "models").glob("*.toml")) + sorted(
    p for p in (REPO / "examples").glob("*/*.toml") if "kind" in tomllib.loads(p.read_text()).get("model", {})
)


def _logp_and_gradient(model: pm.Model):
    logp = model.logp()
    gradient = pytensor.grad(logp, model.value_vars)
    return pytensor.function(model.value_vars, [logp, *gradient], mode="FAST_COMPILE", on_unused_input="ignore")


def _points(model: pm.Model, n: int = 3) -> list[dict[str, np.ndarray]]:
    start = model.initial_point()
    rng = np.random.default_rng(5)
    points = [start]
    for _ in range(n - 1):
        points.append({name: value + rng.normal(0.0, 0.3, np.shape(value)) for name, value in start.items()})
    return points


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_transposed_design_gives_the_same_log_density(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = check(config)
    transposed = plan.model
    stored = {v.name for v in transposed.data_vars}
    used = {name for name in base.TRANSPOSED_DATA if name in plan.data.arrays and np.ndim(plan.data.arrays[name]) == 2}
    assert {base.data_name(name) for name in used} <= stored
    assert not used & stored, "a design matrix is stored both ways"
    for name in used:
        value = transposed[base.data_name(name)].get_value()
        assert value.flags.c_contiguous and np.array_equal(value, plan.data.arrays[name].T)
    with monkeypatch.context() as patch:
        patch.setattr(base, "TRANSPOSED_DATA", frozenset())
        plain = plan.family.build(plan.data, plan.spec, plan.priors)
    assert {v.name for v in plain.data_vars} == (stored - {base.data_name(n) for n in used}) | used
    assert [v.name for v in plain.value_vars] == [v.name for v in transposed.value_vars]
    f_transposed, f_plain = _logp_and_gradient(transposed), _logp_and_gradient(plain)
    for point in _points(transposed):
        args = [point[v.name] for v in transposed.value_vars]
        for ours, reference in zip(f_transposed(*args), f_plain(*args), strict=True):
            assert np.allclose(ours, reference, rtol=1e-12, atol=1e-9)


def test_the_graph_reads_the_matrix_with_its_own_shape() -> None:
    """``model_data`` hands the graph ``X`` (rows x terms) while the container holds ``X_T``."""
    arrays = {"X": np.arange(12.0).reshape(4, 3), "y": np.arange(4)}
    with pm.Model(coords={"obs": range(4), "term": list("abc")}):
        d = base.model_data(arrays, {"X": ("obs", "term"), "y": ("obs",)})
        assert d["X"].eval().shape == (4, 3)
        assert np.array_equal(d["X"].eval(), arrays["X"])
        assert d["y"].name == "y"


@pytest.mark.parametrize("column", ["y", "X_T", "service_idx"])
def test_an_outcome_named_like_a_data_container_builds(tmp_path: Path, column: str) -> None:
    """Competing outcomes: an outcome column called ``y`` (or the design's container) once failed to build."""
    source = REPO / "models" / "ipsung_outcomes.toml"
    participants = pd.read_csv(REPO / "data" / "ipsung" / "participants.csv")
    participants.rename(columns={"outcome_12m": column}).to_csv(tmp_path / "participants.csv", index=False)
    raw = edit_config(
        load_raw_config(source),
        **{
            "data.participants": str(tmp_path / "participants.csv"),
            "data.services": str(REPO / "data" / "ipsung" / "services.csv"),
            "model.formula": f"{column} ~ age + gender + ips25 + (1 | service)",
        },
    )
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(raw))
    plan = check(config)
    assert [rv.name for rv in plan.model.observed_RVs] == [f"{column}_observed"]


@pytest.mark.sampling
def test_a_run_folder_keeps_the_design_matrix_as_the_data_gave_it(shipped: dict[str, Path]) -> None:
    """posterior.nc's constant_data holds ``X`` (rows x terms), as run folders always have, not the graph's ``X_T``."""
    import ipsbayes

    run = ipsbayes.load_run(shipped["ipsung_employment"])
    constant = run.datatree["constant_data"].to_dataset()
    assert "X_T" not in constant and constant["X"].dims == ("obs", "term")
    plan = check(REPO / "models" / "ipsung_employment.toml")
    assert np.array_equal(constant["X"].values, plan.data.arrays["X"])
    assert list(constant["X"].coords["term"].values) == list(plan.data.coords["term"])


def test_constant_data_keeps_the_stored_name_where_the_data_use_the_given_one() -> None:
    """A grouping factor's dim called ``X`` (fidelity over it): writing the run folder must not fail on the name."""
    constant = xr.Dataset(
        {"X_T": (("term", "obs"), np.ones((2, 3))), "fidelity": (("X",), np.zeros(4))},
        coords={"term": ["a", "b"], "X": list("pqrs")},
    )
    kept = base.data_as_given(constant)
    assert set(kept.data_vars) == {"X_T", "fidelity"} and kept["X_T"].dims == ("term", "obs")
    plain = base.data_as_given(constant.drop_vars(["fidelity", "X"]))
    assert set(plain.data_vars) == {"X"} and plain["X"].dims == ("obs", "term")


@pytest.mark.parametrize("name", ["X", "X_T", "y"])
def test_a_service_column_named_like_a_data_container_is_renamed_not_refused(tmp_path: Path, name: str) -> None:
    """The service factor takes ``<name>_group`` (as ``obs`` always did); the fidelity score still finds it."""
    source = REPO / "models" / "ipsung_employment.toml"
    for table in ("participants", "services"):
        frame = pd.read_csv(REPO / "data" / "ipsung" / f"{table}.csv").rename(columns={"service": name})
        frame.to_csv(tmp_path / f"{table}.csv", index=False)
    raw = load_raw_config(source)
    formula = raw["model"]["formula"].replace("(1 | service)", f"(1 | {name})")
    raw = edit_config(
        raw,
        **{
            "data.participants": str(tmp_path / "participants.csv"),
            "data.services": str(tmp_path / "services.csv"),
            "model.formula": formula.replace("(1 | service:specialist)", f"(1 | {name}:specialist)"),
            "model.service": name,
        },
    )
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(raw))
    plan = check(config)
    assert f"{name}_group" in plan.model.coords and plan.data.info["fidelity_group"] == f"{name}_group"
    assert "43 services" in plan.family.describe(plan.spec, plan.data)  # the service found under its new name


def test_a_competing_outcome_named_like_a_parameter_builds(tmp_path: Path) -> None:
    """An outcome column called like one of the model's parameters (``service_chol``) takes the suffix too."""
    participants = pd.read_csv(REPO / "data" / "ipsung" / "participants.csv")
    participants.rename(columns={"outcome_12m": "service_chol"}).to_csv(tmp_path / "participants.csv", index=False)
    raw = edit_config(
        load_raw_config(REPO / "models" / "ipsung_outcomes.toml"),
        **{
            "data.participants": str(tmp_path / "participants.csv"),
            "data.services": str(REPO / "data" / "ipsung" / "services.csv"),
            "model.formula": "service_chol ~ age + gender + ips25 + (1 | service)",
        },
    )
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(raw))
    assert [rv.name for rv in check(config).model.observed_RVs] == ["service_chol_observed"]
