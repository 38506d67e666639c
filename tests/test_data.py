"""Bad data get one clear error naming file, column and rows; nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ipsbayes.cli import main
from ipsbayes.errors import DataError
from ipsbayes.runner import check
from ipsbayes.testing import expect_error


def edit(folder: Path, table: str, change) -> Path:
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path)
    frame = change(frame)
    frame.to_csv(path, index=False)
    return path


def test_valid_data_pass(make_config, data_copy: Path) -> None:
    plan = check(make_config(data=data_copy))
    assert plan.data.n_rows == 400 and len(plan.data.coords["service"]) == 20


def test_missing_column(make_config, data_copy: Path) -> None:
    path = edit(data_copy, "participants", lambda f: f.drop(columns=["months_outside"]))
    error = expect_error(check, make_config(data=data_copy))
    assert isinstance(error, DataError) and error.exit_code == 2
    assert str(path) in str(error) and "missing column 'months_outside'" in str(error)


def test_non_binary_outcome_names_rows(make_config, data_copy: Path) -> None:
    def corrupt(frame: pd.DataFrame) -> pd.DataFrame:
        frame["work_or_education_12m"] = frame["work_or_education_12m"].astype(object)
        frame.loc[[2, 9], "work_or_education_12m"] = [2, "yes"]
        return frame

    edit(data_copy, "participants", corrupt)
    text = str(expect_error(check, make_config(data=data_copy)))
    assert "'work_or_education_12m' must be binary (0/1)" in text and "rows 3, 10" in text


def test_missing_values_counted_per_column_or_dropped(make_config, data_copy: Path) -> None:
    def corrupt(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[[0, 4], "age"] = np.nan
        frame.loc[[7], "gender"] = np.nan
        return frame

    edit(data_copy, "participants", corrupt)
    text = str(expect_error(check, make_config(data=data_copy)))
    assert "column 'age' has 2 missing value(s) at data rows 1, 5" in text
    assert "column 'gender' has 1 missing value(s) at data row 8" in text
    assert 'data.missing = "drop"' in text
    plan = check(make_config(data=data_copy, **{"data.missing": "drop"}))
    assert plan.data.n_rows == 397
    assert any("dropped" in note for note in plan.data.notes)


def test_services_missing_from_either_table(make_config, data_copy: Path) -> None:
    edit(data_copy, "participants", lambda f: f.assign(service=f["service"].where(f.index != 5, "S77")))
    edit(data_copy, "services", lambda f: pd.concat([f, f.iloc[[0]].assign(service="S99")]))
    text = str(expect_error(check, make_config(data=data_copy)))
    assert "S77 do not appear in the services table" in text and "row 6" in text
    assert "S99 have no rows in the participants table" in text


def test_constant_predictor(make_config, data_copy: Path) -> None:
    edit(data_copy, "participants", lambda f: f.assign(gender="female"))
    text = str(expect_error(check, make_config(data=data_copy)))
    assert "predictor 'gender' is constant" in text


def test_service_level_predictor_varying_within_service(make_config, data_copy: Path) -> None:
    services = pd.read_csv(data_copy / "services.csv")
    lookup = dict(zip(services["service"], services["ips25"], strict=True))

    def add_fidelity(frame: pd.DataFrame) -> pd.DataFrame:
        frame["ips25"] = frame["service"].map(lookup)
        frame.loc[frame.index[:2], "ips25"] = [60.0, 110.0]
        return frame

    edit(data_copy, "participants", add_fidelity)
    edit(data_copy, "services", lambda f: f.drop(columns=["ips25"]))
    text = str(expect_error(check, make_config(data=data_copy)))
    assert "'ips25' is a service-level predictor but varies within" in text


def test_specialist_not_nested_in_service(make_config, data_copy: Path) -> None:
    edit(data_copy, "participants", lambda f: f.assign(specialist="J1"))
    path = make_config(
        data=data_copy,
        **{"model.formula": ("work_or_education_12m ~ age + gender + ips25 + (1 | service) + (1 | specialist)")},
    )
    text = str(expect_error(check, path))
    assert "specialist must be nested in service" in text


def test_fidelity_outside_scale(make_config, data_copy: Path) -> None:
    edit(data_copy, "services", lambda f: f.assign(ips25=f["ips25"].where(f.index != 3, 131.0)))
    text = str(expect_error(check, make_config(data=data_copy)))
    assert "'ips25' must lie in 25-125 (IPS-25)" in text and "row 4" in text


def test_parquet_input(make_config, data_copy: Path) -> None:
    for name in ("participants", "services"):
        pd.read_csv(data_copy / f"{name}.csv").to_parquet(data_copy / f"{name}.parquet")
    path = make_config(
        data=data_copy,
        **{
            "data.participants": str(data_copy / "participants.parquet"),
            "data.services": str(data_copy / "services.parquet"),
        },
    )
    assert check(path).data.n_rows == 400


@pytest.mark.parametrize("command", ["check", "run"])
def test_cli_bad_data_exit_2_and_no_run_folder(
    make_config, data_copy: Path, tmp_path: Path, capsys, command: str
) -> None:
    edit(data_copy, "participants", lambda f: f.drop(columns=["age"]))
    out = tmp_path / "runs" / "bad"
    args = [command, str(make_config(data=data_copy))] + (["--out", str(out), "--quiet"] if command == "run" else [])
    assert main(args) == 2
    assert "missing column 'age'" in capsys.readouterr().err
    assert not out.exists() and not any((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else True


def test_infinite_and_huge_values_are_named_by_column_and_row_among_many_columns() -> None:
    from ipsbayes.data import Table, non_finite

    frame = pd.DataFrame({f"c{i}": np.zeros(5) for i in range(2_000)})
    frame["age"] = [20.0, np.inf, 30.0, 1e300, np.nan]
    frame["count"] = pd.array([1, None, 3, 4, 5], dtype="Int64")
    frame["flag"] = [True, False, True, True, False]
    frame["id"] = pd.Series([1, 2, 99999999999999999999999, 4, None], dtype=object)  # as read_csv reads it
    frame["name"] = ["a", "b", "c", "d", "e"]
    frame["c7"] = [0.0, 0.0, 0.0, 0.0, -np.inf]
    problems = non_finite(Table(frame, Path("p.csv"), "participants"))
    assert len(problems) == 3, problems
    c7, age, big = problems  # in the table's column order
    assert "column 'c7' holds -inf at data row 5" in c7
    assert "column 'age' holds inf at data rows 2, 4" in age and "finite and smaller than 1e+100" in age
    assert "column 'id' holds whole numbers too large to read" in big and "row 3" in big


def test_a_predictor_varying_within_a_factor_of_two_columns_is_named_by_the_factor(tmp_path: Path) -> None:
    from ipsbayes.data import Table
    from ipsbayes.data_checks import varying_within_factor

    frame = pd.DataFrame({"school": ["a", "a", "b", "b"], "class": [1, 1, 1, 1], "size": [20, 21, 30, 30]})
    table = Table(frame, tmp_path / "pupils.csv", "participants")
    (problem,) = varying_within_factor(table, ["school", "class"], "school:class", "size")
    assert "'size' is a school:class-level predictor but varies within 1 school:class, e.g." in problem
    assert "e.g. school:class a:1" in problem
    assert varying_within_factor(table, ["school"], "school", "class") == []  # constant within each school
