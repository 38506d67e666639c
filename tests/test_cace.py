"""Raskt i jobb CACE model: bad input, recovery, agreement with the Wald/IV estimate, end-to-end report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipsbayes
from ipsbayes.errors import DataError
from ipsbayes.runner import check
from ipsbayes.simulate import simulate
from ipsbayes.testing import assert_covers, expect_error

NO_SENSITIVITY = {"sensitivity.prior_sets": [], "sensitivity.variants": {}, "sensitivity.power_scaling": False}


@pytest.fixture
def rij_data(tmp_path: Path) -> Path:
    folder = tmp_path / "rij"
    simulate("rij", seed=5, out=folder)
    return folder


def corrupt(folder: Path, change) -> None:
    frame = pd.read_csv(folder / "participants.csv")
    change(frame)
    frame.to_csv(folder / "participants.csv", index=False)


def _assignment_not_binary(f: pd.DataFrame) -> None:
    f["assigned_ips"] = f["assigned_ips"].replace({1: 2})


def _control_receives_ips(f: pd.DataFrame) -> None:
    f.loc[f.index[f["assigned_ips"] == 0][:2], "received_ips"] = 1


def _receipt_missing_in_ips_arm(f: pd.DataFrame) -> None:
    f["received_ips"] = f["received_ips"].astype(float)
    f.loc[f.index[f["assigned_ips"] == 1][:3], "received_ips"] = np.nan


def _everyone_assigned_ips(f: pd.DataFrame) -> None:
    f["assigned_ips"] = 1


def _nobody_receives_ips(f: pd.DataFrame) -> None:
    f["received_ips"] = 0


def _assignment_missing(f: pd.DataFrame) -> None:  # was fitted as a control (NaN cast to an integer)
    f["assigned_ips"] = f["assigned_ips"].astype(float)
    f.loc[f.index[4:6], "assigned_ips"] = np.nan


def _everybody_assigned_takes_it_up(f: pd.DataFrame) -> None:  # no never-takers: was fitted from the priors
    f.loc[f["assigned_ips"] == 1, "received_ips"] = 1


def _outcome_not_binary(f: pd.DataFrame) -> None:
    f["employed_12m"] = f["employed_12m"].replace({1: 3})


@pytest.mark.parametrize(
    "change, message",
    [
        (_assignment_not_binary, "'assigned_ips' must be binary"),
        (_control_receives_ips, "one-sided noncompliance assumption (controls cannot get IPS) is violated"),
        (_receipt_missing_in_ips_arm, "'received_ips' is missing for participants assigned to IPS"),
        (_everyone_assigned_ips, "no participants assigned to usual follow-up"),
        (_nobody_receives_ips, "nobody assigned to IPS received it"),
        (_assignment_missing, "column 'assigned_ips' is missing at data rows 5, 6"),
        (_everybody_assigned_takes_it_up, "there are no never-takers, so the CACE is the intention-to-treat effect"),
        (_outcome_not_binary, "'employed_12m' must be binary"),
    ],
)
def test_bad_trial_data_get_clear_errors(make_config, rij_data: Path, change, message: str) -> None:
    corrupt(rij_data, change)
    error = expect_error(check, make_config("rij_cace", data=rij_data))
    assert isinstance(error, DataError) and error.exit_code == 2
    assert message in str(error) and str(rij_data / "participants.csv") in str(error)


def test_control_rows_receiving_ips_are_named(make_config, rij_data: Path) -> None:
    frame = pd.read_csv(rij_data / "participants.csv")
    rows = frame.index[frame["assigned_ips"] == 0][:2]
    frame.loc[rows, "received_ips"] = 1
    frame.to_csv(rij_data / "participants.csv", index=False)
    text = str(expect_error(check, make_config("rij_cace", data=rij_data)))
    assert f"rows {rows[0] + 1}, {rows[1] + 1}" in text


def test_months_outside_range(make_config, rij_data: Path) -> None:
    corrupt(rij_data, lambda f: f.__setitem__("months_employed", f["months_employed"].replace({0: 13})))
    text = str(expect_error(check, make_config("rij_cace_months", data=rij_data)))
    assert "'months_employed' must be a whole number from 0 to 12" in text


def test_missing_receipt_in_control_arm_is_fine(make_config, rij_data: Path) -> None:
    corrupt(
        rij_data, lambda f: f.__setitem__("received_ips", np.where(f["assigned_ips"] == 0, np.nan, f["received_ips"]))
    )
    assert check(make_config("rij_cace", data=rij_data)).data.n_rows == 66


@pytest.mark.sampling
def test_cace_recovered_at_small_size(make_config, tmp_path: Path) -> None:
    data = tmp_path / "rij200"
    simulate("rij", seed=21, out=data, options={"n_participants": 200})
    truth = json.loads((data / "truth.json").read_text())["sample"]
    run = ipsbayes.run(
        make_config("rij_cace", data=data, **{"sampler.profile": "ci", **NO_SENSITIVITY}),
        out=tmp_path / "run",
        progress=False,
    )
    assert run.diagnostics.status in {"pass", "warn"}
    assert_covers(run.estimands["cace"], truth["cace_pp"], 0.9, "cace")
    assert_covers(run.estimands["complier_share"], truth["complier_share_percent"], 0.9, "complier_share")
    assert_covers(run.estimands["itt"], truth["itt_pp"], 0.9, "itt")


@pytest.mark.sampling
def test_months_cace_recovered(make_config, tmp_path: Path) -> None:
    data = tmp_path / "rij300"
    simulate("rij", seed=8, out=data, options={"n_participants": 300})
    truth = json.loads((data / "truth.json").read_text())["sample"]
    run = ipsbayes.run(
        make_config("rij_cace_months", data=data, **{"sampler.profile": "ci", **NO_SENSITIVITY}),
        out=tmp_path / "run",
        progress=False,
    )
    assert run.estimands["cace"].attrs["unit"] == "months"
    assert_covers(run.estimands["cace"], truth["cace_months"], 0.9, "cace months")


@pytest.mark.sampling
def test_posterior_cace_agrees_with_wald_estimate_on_a_large_trial(make_config, tmp_path: Path) -> None:
    data = tmp_path / "rij_large"
    simulate("rij", seed=3, out=data, options={"n_participants": 4000})
    changes = {"sampler.profile": "ci", "model.outcome_covariates": [], **NO_SENSITIVITY}
    run = ipsbayes.run(make_config("rij_cace", data=data, **changes), out=tmp_path / "run", progress=False)
    wald = float(run.estimands["observed_wald_cace"])
    posterior = run.estimands["cace"]
    assert abs(float(posterior.mean()) - wald) < 1.0, (float(posterior.mean()), wald)
    assert float(posterior.std()) < 3.0
    truth = json.loads((data / "truth.json").read_text())["sample"]["cace_pp"]
    assert_covers(posterior, truth, 0.95, "cace (large trial)")


@pytest.mark.sampling
def test_rij_report_shows_cace_itt_per_protocol_and_sensitivity(shipped: dict[str, Path]) -> None:
    run = ipsbayes.load_run(shipped["rij_cace"])  # the session's ci-profile run of the shipped config
    sensitivity = run.datatree["sensitivity"].to_dataset()
    assert [str(a) for a in sensitivity["analysis"].values] == [
        "main (weakly_informative)",
        "prior set: sceptical",
        "prior set: ips_literature",
        "variant: no_exclusion_restriction",
    ]
    gates = json.loads(sensitivity.attrs["gates"])  # every refit went through the same diagnostics gate
    assert set(gates) == {str(a) for a in sensitivity["analysis"].values}
    assert all(gate["status"] in {"pass", "warn", "fail"} for gate in gates.values())
    sceptical = float(sensitivity["cace"].sel(analysis="prior set: sceptical").median())
    main = float(sensitivity["cace"].sel(analysis="main (weakly_informative)").median())
    assert sceptical < main  # a sceptical prior pulls the effect towards zero
    for figure in ("strata_rates", "prior_posterior", "sensitivity_forest", "power_scaling", "ppc_calibration"):
        assert figure in run.figures, figure
    for table in ("sensitivity.csv", "power_scaling.csv"):
        assert (run.path / "tables" / table).is_file()
    md = run.report_md.read_text()
    assert "Why per-protocol differs from the CACE" in md and "Power-scaling sensitivity" in md
    assert "P(> 10) =" in md
    summary = run.summary.set_index("estimand")
    assert summary.loc["cace", "unit"] == "pp" and summary.loc["cace", "threshold"] == 10.0
    prior = run.datatree["prior_estimands"].to_dataset()
    assert float(prior["cace"].std()) > float(run.estimands["cace"].std())  # data narrow the prior


@pytest.mark.sampling
@pytest.mark.slow  # two whole runs (~30 s): `make test-slow`
def test_pymc_sampler_gives_the_same_run_contract_and_answer(make_config, rij_data: Path, tmp_path: Path) -> None:
    changes = {"sampler.profile": "ci", **NO_SENSITIVITY}
    runs = {
        backend: ipsbayes.run(
            make_config("rij_cace", data=rij_data, **{**changes, "sampler.backend": backend}),
            out=tmp_path / backend,
            progress=False,
        )
        for backend in ("nutpie", "pymc")
    }
    nutpie, pymc = runs["nutpie"], runs["pymc"]
    assert pymc.provenance["sampler"]["backend"] == "pymc"
    assert set(pymc.datatree.children) == set(nutpie.datatree.children)
    assert pymc.diagnostics.status in {"pass", "warn"}
    assert {check["name"] for check in pymc.diagnostics.to_dict()["checks"]} == {
        check["name"] for check in nutpie.diagnostics.to_dict()["checks"]
    }
    difference = float(pymc.estimands["cace"].mean()) - float(nutpie.estimands["cace"].mean())
    assert abs(difference) < 3.0, difference  # pp; Monte Carlo error of each mean is about 0.5 pp
