"""The cases of issue 10 that used to reach users as tracebacks, wrong exits or unreadable messages.

Every case runs the command line in-process and asserts the exit code, the words of the
message and that no traceback was printed. None of these tests samples.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
import xarray as xr

from ipsbayes import resources
from ipsbayes.cli import main
from ipsbayes.errors import DataError, SamplingError
from ipsbayes.runner import check
from ipsbayes.sampling import check_draws
from ipsbayes.testing import load_raw_config
from ipsbayes.textutil import clean_message, shorten

from .conftest import REPO


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text
    return code, captured.err


@pytest.fixture
def cfg(make_config, data_copy: Path):
    """A config (ipsung_employment) reading a private copy of the small data set, with edits."""

    def _make(**changes) -> Path:
        return make_config(data=data_copy, **changes)

    return _make


# ----------------------------------------------------------------------------- issue 10, item 6


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"sampler.draws": 10**12}, "key 'sampler.draws': Input should be less than or equal to 100000"),
        ({"sampler.tune": 10**12}, "key 'sampler.tune': Input should be less than or equal to 100000"),
        ({"sampler.chains": 1000}, "key 'sampler.chains'"),
        ({"sampler.cores": 10**9}, "key 'sampler.cores'"),
        ({"seed": -1}, "key 'seed'"),
        ({"seed": 2**63 - 1}, "key 'seed'"),
        ({"validation.datasets": 0}, "key 'validation.datasets'"),
        ({"model.kind": {"a": 1}}, "key 'model.kind' must be the name of a model kind in quotes"),
        ({"model.kind": ["cace"]}, "got a list"),
        ({"model.fidelity.scale": {"items": 0}}, "key 'model.fidelity.scale.items'"),
        ({"model.fidelity.scale": 5}, "key 'model.fidelity.scale': must be text in quotes or a table"),
    ],
)
def test_config_values_out_of_bounds_or_of_the_wrong_type(cfg, capsys, changes, words) -> None:
    code, err = run_cli(["check", cfg(**changes)], capsys)
    assert code == 2 and words in err, err
    assert "function-after" not in err and "FidelityScale" not in err


def test_latin1_config_says_save_as_utf8(tmp_path: Path, capsys) -> None:
    text = (REPO / "models" / "ipsung_employment.toml").read_text().replace("Work, apprenticeship", "Tilbud på tvers")
    path = tmp_path / "latin1.toml"
    path.write_bytes(text.encode("latin-1"))
    code, err = run_cli(["check", path], capsys)
    assert code == 2 and "not UTF-8" in err and "save it as UTF-8" in err and "line 5" in err


@pytest.mark.parametrize("seed", ["-1", str(2**70), "2**32", "abc"])
def test_seed_outside_its_range_is_an_argument_error(seed: str, cfg, capsys) -> None:
    code, err = run_cli(["run", cfg(), "--seed", seed], capsys)
    assert code == 2 and "--seed" in err


@pytest.mark.parametrize("datasets", ["-5", "0", "10001"])
def test_validate_datasets_must_be_positive_and_is_never_silently_the_default(datasets: str, cfg, capsys) -> None:
    code, err = run_cli(["validate", cfg(), "--datasets", datasets], capsys)
    assert code == 2 and "--datasets must be between 1 and 10,000" in err


def test_validate_datasets_zero_in_python_is_an_error(cfg) -> None:
    from ipsbayes.errors import ConfigError
    from ipsbayes.validation import validate

    with pytest.raises(ConfigError, match="datasets must be between 1"):
        validate(cfg(), datasets=0, out=cfg().parent / "v")


def test_simulate_out_pointing_at_a_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "existing.csv"
    path.write_text("precious")
    code, err = run_cli(["simulate", "ipsung", "--out", path], capsys)
    assert code == 2 and "a file with that name exists" in err and path.read_text() == "precious"


def fake_run_folder(tmp_path: Path) -> Path:
    """A run folder's files without a fit: enough for ``ipsbayes report`` to find what is damaged."""
    from ipsbayes.output import write_manifest
    from ipsbayes.rundir import FILES

    folder = tmp_path / "run"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text("")
    xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), np.zeros((1, 4)))})}).to_netcdf(
        folder / "posterior.nc", engine="h5netcdf"
    )
    (folder / "config.toml").write_text(tomli_w.dumps(load_raw_config(REPO / "models" / "rij_cace.toml")))
    (folder / "summary.csv").write_text("estimand\nx\n")
    (folder / "diagnostics.json").write_text('{"status": "pass", "checks": [], "messages": []}')
    (folder / "provenance.json").write_text("{}")
    write_manifest(folder, "run")
    return folder


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("truncate_posterior", "posterior.nc could not be read"),
        ("broken_config", "config.toml could not be read (TOMLDecodeError"),
        ("invalid_config", "is not a valid run config any more"),
        ("missing_file", "missing: summary.csv"),
        ("no_manifest", "not a run folder written by this version"),
    ],
)
def test_report_on_a_damaged_run_folder(damage: str, words: str, tmp_path: Path, capsys) -> None:
    folder = fake_run_folder(tmp_path)
    if damage == "truncate_posterior":
        data = (folder / "posterior.nc").read_bytes()
        (folder / "posterior.nc").write_bytes(data[: len(data) // 3])
    elif damage == "broken_config":
        with (folder / "config.toml").open("a") as handle:
            handle.write("\nname = [broken\n")
    elif damage == "invalid_config":
        (folder / "config.toml").write_text(
            (folder / "config.toml").read_text().replace('name = "rij_cace"', 'name = ".."')
        )
    elif damage == "missing_file":
        (folder / "summary.csv").unlink()
    else:
        (folder / ".ipsbayes-manifest.json").unlink()
    before = sorted(p.name for p in folder.iterdir())
    code, err = run_cli(["report", folder], capsys)
    assert code == 2 and words in err, err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_pydantic_internals_never_reach_a_message(cfg, capsys) -> None:
    code, err = run_cli(["check", cfg(**{"model.fidelity.scale": {"bands": {"fair": 1000}}})], capsys)
    assert code == 2 and "key 'model.fidelity.scale': band 'fair' starts at 1000" in err
    assert "function-after" not in err and "Value error" not in err


def test_unexpected_failure_is_one_line_with_debug_hint(cfg, capsys, monkeypatch) -> None:
    import ipsbayes.runner as runner

    def broken(*args, **kwargs):
        raise TypeError("something nobody expected")

    monkeypatch.setattr(runner, "check", broken)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 1
    assert (
        err.strip()
        == "error: unexpected failure: TypeError: something nobody expected (run with --debug for the traceback)"
    )
    assert main(["check", str(cfg()), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "no/such/config.toml"],
        ["check", "."],
        ["report", "no/such/run"],
        ["simulate", "nosuchdesign", "--out", "x"],
        ["simulate", "rij", "--option", "n_participants", "--out", "x"],
        ["simulate", "rij", "--option", "n_participants=abc", "--out", "x"],
        ["run"],
        ["nosuchcommand"],
    ],
)
def test_other_bad_invocations_exit_2_without_traceback(args: list[str], capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _ = run_cli(args, capsys)
    assert code == 2
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- bounds before work


def test_run_that_would_exceed_memory_is_refused_quoting_the_estimate(cfg, capsys, monkeypatch) -> None:
    monkeypatch.setattr(resources, "available_memory", lambda: 10_000_000)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2
    assert "This fit would need about" in err and re.search(r"\d chains x [\d,]+ draws x 8 bytes", err)
    assert "10.0 MB of memory is available" in err


def test_check_states_the_memory_estimate(cfg, capsys) -> None:
    code = main(["check", str(cfg())])
    assert code == 0 and "draws need" in capsys.readouterr().out


def test_memory_estimate_counts_parameters_rows_and_draws(cfg) -> None:
    plan = check(cfg())
    estimate = resources.estimate_memory(plan.model, {"chains": 4, "draws": 1000})
    rows = len(plan.data.arrays["y"])
    assert estimate.rows == rows and estimate.parameters > 20
    assert estimate.total == 4 * 1000 * 8 * (2 * estimate.parameters + 16 + 2 * rows)


def test_a_short_trace_is_a_sampling_error_never_a_report() -> None:
    settings = {"chains": 2, "draws": 100}
    full = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), np.zeros((2, 100)))})})
    check_draws(full, settings)
    short = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), np.zeros((2, 37)))})})
    with pytest.raises(SamplingError, match="returned 37 draws in 2 chain"):
        check_draws(short, settings)
    padded = np.zeros((2, 100))
    padded[1, 40:] = np.nan
    with pytest.raises(SamplingError, match="missing draws of 'a' in chain"):
        check_draws(xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), padded)})}), settings)


# ----------------------------------------------------------------------------- issue 10, items 3 and 7


def test_duplicated_participants_are_an_error_naming_ids_and_rows(cfg, data_copy: Path, capsys) -> None:
    frame = pd.read_csv(data_copy / "participants.csv")
    pd.concat([frame, frame.iloc[:20]]).to_csv(data_copy / "participants.csv", index=False)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2
    first = frame["participant_id"].iloc[0]
    assert f"{first!r} at data rows 1, {len(frame) + 1}" in err and "20 value(s) appear more than once" in err


def test_participant_id_column_can_be_named_and_must_exist(cfg, data_copy: Path, capsys) -> None:
    frame = pd.read_csv(data_copy / "participants.csv").rename(columns={"participant_id": "pid"})
    frame.loc[5, "pid"] = frame.loc[4, "pid"]
    frame.to_csv(data_copy / "participants.csv", index=False)
    code, err = run_cli(["check", cfg(**{"data.participant_id": "pid"})], capsys)
    assert code == 2 and "pid must be unique" in err and "at data rows 5, 6" in err
    code, err = run_cli(["check", cfg(**{"data.participant_id": "person"})], capsys)
    assert code == 2 and "participant_id names column 'person', which is missing" in err


def test_duplicated_services_and_reviews_are_errors(cfg, data_copy: Path, capsys) -> None:
    services = pd.read_csv(data_copy / "services.csv")
    pd.concat([services, services.iloc[[2]]]).to_csv(data_copy / "services.csv", index=False)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and "service must be unique" in err and services["service"].iloc[2] in err


def test_semicolon_and_decimal_comma_csv_is_read_like_the_original(cfg, data_copy: Path) -> None:
    plain_plan = check(cfg())
    original = pd.read_csv(data_copy / "services.csv")["ips25"]
    for name in ("participants", "services"):
        frame = pd.read_csv(data_copy / f"{name}.csv")
        if name == "services":
            frame["ips25"] = frame["ips25"] + 0.25
        frame.to_csv(data_copy / f"{name}.csv", index=False, sep=";", decimal=",")
    assert ";" in (data_copy / "services.csv").read_text().splitlines()[1]
    assert ",25" in (data_copy / "services.csv").read_text()
    plan = check(cfg())
    assert plan.data.n_rows == plain_plan.data.n_rows
    services = plan.bundle.services.frame
    assert services["ips25"].dtype.kind == "f"
    np.testing.assert_allclose(services["ips25"], original + 0.25)


def test_separator_option_is_suggested_when_detection_cannot_tell(data_copy: Path, cfg, capsys) -> None:
    from ipsbayes.data import read_table

    path = data_copy / "odd.csv"
    path.write_text("a;b|c\n1;2|3\n")
    table = read_table(path, "participants", separator="|")
    assert list(table.frame.columns) == ["a;b", "c"]
    code, err = run_cli(["check", cfg(**{"data.separator": ";", "data.decimal": ","})], capsys)
    assert code == 2 and "missing column" in err  # a comma file read with ';' names its columns plainly


def test_zero_row_participants_table_says_0_rows(cfg, data_copy: Path, capsys) -> None:
    header = (data_copy / "participants.csv").read_text().splitlines()[0]
    (data_copy / "participants.csv").write_text(header + "\n")
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and "participants table" in err and "has 0 rows" in err and "services" not in err
    (data_copy / "participants.csv").write_text("")
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and "is empty" in err


def test_one_service_gets_a_clear_message(cfg, data_copy: Path, capsys) -> None:
    participants = pd.read_csv(data_copy / "participants.csv")
    first = participants["service"].iloc[0]
    participants[participants["service"] == first].to_csv(data_copy / "participants.csv", index=False)
    services = pd.read_csv(data_copy / "services.csv")
    services[services["service"] == first].to_csv(data_copy / "services.csv", index=False)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and "only one row (one service)" in err and "needs at least two" in err
    shutil.copy(data_copy / "participants.csv", data_copy / "p.csv")


def test_long_lists_in_messages_are_cut_with_a_count(cfg, data_copy: Path, capsys) -> None:
    frame = (
        pd.read_csv(data_copy / "participants.csv")
        .drop(columns=["age"])
        .groupby("service")
        .head(1)
        .reset_index(drop=True)
    )
    wide = pd.DataFrame(np.zeros((len(frame), 100_000), dtype=np.int8), columns=[f"c{i}" for i in range(100_000)])
    pd.concat([frame, wide], axis=1).to_csv(data_copy / "participants.csv", index=False)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and "missing column 'age'" in err
    assert "(99,99" in err and "100,0" in err and len(err) < 3000


def test_values_are_printed_plainly() -> None:
    assert clean_message("found np.int64(13) at row 4; np.float64(0.5) and np.str_('S01')") == (
        "found 13 at row 4; 0.5 and 'S01'"
    )
    assert shorten(np.arange(3, dtype=np.int64)) == "0, 1, 2"


def test_months_outcome_out_of_range_is_printed_plainly(make_config, tmp_path: Path, capsys) -> None:
    data = tmp_path / "rij"
    data.mkdir()
    frame = pd.read_csv(REPO / "data" / "rij" / "participants.csv")
    frame.loc[3, "months_employed"] = 13
    frame.to_csv(data / "participants.csv", index=False)
    code, err = run_cli(["check", make_config("rij_cace_months", data=data)], capsys)
    assert code == 2 and "found 13 at data row 4" in err and "np.int64" not in err


# ----------------------------------------------------------------------------- second outside battery


def test_numbers_with_stray_text_or_an_identifier_as_predictor_are_refused(cfg, data_copy: Path, capsys) -> None:
    """'twenty' in an age column, or a per-row id in the formula, would silently become a huge category."""
    table = data_copy / "participants.csv"
    frame = pd.read_csv(table)
    frame["age"] = frame["age"].astype(object)
    frame.loc[[4, 8], "age"] = "twenty"
    frame.to_csv(table, index=False)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and "predictor 'age' holds numbers but also text (e.g. 'twenty') at data rows 5, 9" in err
    assert "C(age)" in err
    formula = "work_or_education_12m ~ participant_id + gender + ips25 + (1 | service)"
    code, err = run_cli(["check", cfg(**{"model.formula": formula})], capsys)
    assert code == 2 and "predictor 'participant_id' has" in err and "(1 | participant_id)" in err


def test_the_outcome_cannot_predict_itself(cfg, capsys) -> None:
    formula = "work_or_education_12m ~ work_or_education_12m + age + (1 | service)"
    code, err = run_cli(["check", cfg(**{"model.formula": formula})], capsys)
    assert code == 2 and "'work_or_education_12m' is the outcome and also on the right of '~'" in err


def test_a_sensitivity_variant_is_checked_against_the_data_before_sampling(cfg, capsys) -> None:
    variant = {"v1": {"formula": "work_or_education_12m ~ shoe_size + age + ips25 + (1 | service)"}}
    code, err = run_cli(["check", cfg(**{"sensitivity.variants": variant})], capsys)
    assert code == 2 and "sensitivity.variants.v1" in err and "missing column 'shoe_size'" in err


def test_cace_roles_are_distinct_columns_and_text_receipts_are_named(make_config, tmp_path: Path, capsys) -> None:
    from ipsbayes.simulate import simulate

    data = tmp_path / "rij"
    simulate("rij", seed=3, out=data, options={"n_participants": 80})

    def rij(**changes) -> Path:
        return make_config("rij_cace", **{"data.participants": str(data / "participants.csv"), **changes})

    code, err = run_cli(["check", rij(**{"model.receipt": "assigned_ips"})], capsys)
    assert code == 2 and "'assignment' and 'receipt' name the same column (assigned_ips)" in err
    code, err = run_cli(["check", rij(**{"model.outcome": "assigned_ips"})], capsys)
    assert code == 2 and "'outcome' and 'assignment' name the same column" in err
    code, err = run_cli(["check", rij(**{"model.outcome_covariates": ["received_ips"]})], capsys)
    assert code == 2 and "also listed as a covariate" in err
    frame = pd.read_csv(data / "participants.csv")
    frame["received_ips"] = frame["received_ips"].astype(object)
    frame.loc[2, "received_ips"] = "yes"
    frame.to_csv(data / "participants.csv", index=False)
    code, err = run_cli(["check", rij()], capsys)
    assert code == 2 and "column 'received_ips' must be binary (0/1); found yes at data row 3" in err


def test_two_names_without_an_operator_are_refused_not_silently_dropped(cfg, capsys) -> None:
    """formulae stops at 'months outside' without an error and fits 'y ~ age + months' instead."""
    formula = "work_or_education_12m ~ age + months outside + ips25 + (1 | service)"
    code, err = run_cli(["check", cfg(**{"model.formula": formula})], capsys)
    assert code == 2 and "'months outside' has no operator between its parts" in err and "backticks" in err


def test_model_table_numbers_are_finite_whole_where_they_must_be(make_config, capsys) -> None:
    """[model] keys refuse nan, inf and true like every other table of the config."""
    for key, value, words in (
        ("model.first_month", True, "key 'model.first_month': must be a whole number (got true)"),
        ("model.centre_above", float("nan"), "key 'model.centre_above': must be a finite number"),
        ("model.horizons", [6, True], "key 'model.horizons.1': must be a whole number (got true)"),
    ):
        code, err = run_cli(["check", make_config("ipsung_time_to_job", **{key: value})], capsys)
        assert code == 2 and words in err, err


def test_a_data_row_longer_than_the_header_is_named_not_shifted(tmp_path: Path) -> None:
    """pandas took the first column of such a file as its index: every value moved one column to the left."""
    from ipsbayes.data_read import read_table

    path = tmp_path / "participants.csv"
    path.write_text("participant_id,age,employed\nP1,30,1,stray\nP2,41,0\nP3,25,1,x\n")
    with pytest.raises(DataError, match=r"data rows 1, 3 have more fields than the header has names \(3\)"):
        read_table(path, "participants")
    path.write_text("participant_id,age,employed\nP1,30,1\nP2,41,0\n")
    assert read_table(path, "participants").frame["age"].tolist() == [30, 41]
