"""`ipsbayes validate`: coverage and SBC on Dask; failures counted; helpers score correctly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ipsbayes.cli import main
from ipsbayes.runner import validate_config
from ipsbayes.validation import Job, coverage_table, lookup, run_job, sbc_quantities, score

from .conftest import REPO


def test_lookup_handles_bracketed_keys() -> None:
    truth = {"a": {"coefficients_per_unit": {"diagnosis[psychosis]": -0.6, "age": 0.04}}}
    assert lookup(truth, "a.coefficients_per_unit.diagnosis[psychosis]") == -0.6
    assert lookup(truth, "a.coefficients_per_unit.age") == 0.04


def test_score_pit_and_coverage() -> None:
    rng = np.random.default_rng(0)
    draws = xr.DataArray(rng.normal(size=(2, 500)), dims=("chain", "draw"))
    inside = score(draws, 0.0, [0.5, 0.9], rng)
    assert 0.4 < inside["pit"] < 0.6 and inside["covered_0.5"] == 1.0 and inside["covered_0.9"] == 1.0
    outside = score(draws, 3.0, [0.5, 0.9], rng)
    assert outside["pit"] > 0.99 and outside["covered_0.9"] == 0.0


def test_sbc_scores_elements_of_small_variables_only() -> None:
    rng = np.random.default_rng(1)

    def draws(*shape: int) -> np.ndarray:
        return rng.normal(size=(1, 50, *shape))

    corr = draws(2, 2)
    corr[..., 0, 0] = corr[..., 1, 1] = 1.0
    posterior = xr.Dataset(
        {
            "slope": (("chain", "draw"), draws()),
            "sd": (("chain", "draw", "equation"), draws(3)),
            "corr": (("chain", "draw", "eq", "eq_bis"), corr),
            "service_effect": (("chain", "draw", "service"), draws(43)),
        },
        coords={"equation": ["reach", "work", "education"]},
    )
    truth = posterior.isel(draw=[0])
    truths, chosen = sbc_quantities(truth, posterior, list(posterior.data_vars))
    assert list(truths) == ["slope", "sd[reach]", "sd[work]", "sd[education]", "corr[0, 1]", "corr[1, 0]"]
    assert truths["sd[work]"] == float(posterior["sd"].values[0, 0, 1])
    assert chosen["sd[education]"].dims == ("chain", "draw")


def test_failed_fit_is_a_row_not_an_exception() -> None:
    config, _family, spec, priors = validate_config(REPO / "models" / "rij_cace.toml")
    broken = config.model_copy(
        update={"validation": config.validation.model_copy(update={"options": {"n_participants": 0}})}
    )
    rows = run_job(Job("coverage", 0, 1, broken, spec, priors))
    assert len(rows) == 1 and rows[0]["ok"] is False and rows[0]["error"]
    good = {"study": "coverage", "dataset": 1, "quantity": "cace", "ok": True, "truth": 1.0, "mean": 1.0}
    table = pd.DataFrame([*rows, {**good, "covered_0.9": 1.0, "pit": 0.5}])
    coverage = coverage_table(table, [0.9])
    assert coverage["datasets"].tolist() == [1]


@pytest.mark.sampling
def test_validate_command_on_a_local_dask_cluster(tmp_path: Path, capsys) -> None:
    out = tmp_path / "validation"
    code = main(
        ["validate", str(REPO / "models" / "rij_cace.toml"), "--datasets", "2", "--workers", "1", "--out", str(out)]
    )
    assert code == 0
    assert capsys.readouterr().out.strip().endswith("report.html")
    fits = pd.read_csv(out / "fits.csv")
    assert set(fits["study"]) == {"coverage", "sbc"} and fits["ok"].all()
    assert {"cace", "itt", "complier_share", "treatment_effect"} <= set(fits["quantity"])
    coverage = pd.read_csv(out / "coverage.csv")
    assert {"quantity", "nominal", "coverage", "mcse", "datasets"} <= set(coverage.columns)
    md = (out / "report.md").read_text()
    assert "Failed fits: 0" in md and "Interval coverage" in md
    for figure in ("coverage.png", "ecdf_pit_coverage.png", "ecdf_pit_sbc.png"):
        assert (out / "figures" / figure).stat().st_size > 1000
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_validate_needs_a_validation_table(make_config, capsys) -> None:
    config = make_config("rij_cace", **{"validation.truth": {}})
    assert main(["validate", str(config), "--datasets", "1"]) == 2
    assert "[validation] needs 'design' and 'truth'" in capsys.readouterr().err


def test_validate_checks_simulator_options_before_any_fit(make_config, tmp_path: Path, capsys) -> None:
    config = make_config("rij_cace", **{"validation.options": {"n_participants": 2}})
    out = tmp_path / "validation"
    assert main(["validate", str(config), "--datasets", "1", "--out", str(out)]) == 2
    assert "[validation] Invalid options for design 'rij'" in capsys.readouterr().err
    assert not out.exists()


def test_job_is_picklable() -> None:
    import pickle

    config, _family, spec, priors = validate_config(REPO / "models" / "rij_cace.toml")
    job = Job("coverage", 0, 1, config, spec, priors)
    assert dataclasses.asdict(pickle.loads(pickle.dumps(job)))["seed"] == 1
