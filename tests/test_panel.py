"""The monthly status table: long and wide form, and one clear error (exit 2, nothing written) per kind of problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.cli import main
from ipsbayes.errors import ConfigError, DataError
from ipsbayes.runner import check
from ipsbayes.testing import edit_config, expect_error, load_raw_config

from .conftest import REPO


def tte_config(data: Path, tmp_path: Path, **changes: Any) -> Path:
    """The shipped time-to-event config pointed at ``data`` (with edits), written into tmp_path."""
    raw = load_raw_config(REPO / "models" / "ipsung_time_to_job.toml")
    for key in ("participants", "services", "monthly_status"):
        raw["data"][key] = str(data / f"{key}.csv")
    raw = edit_config(raw, **{"sampler.profile": "ci", **changes})
    path = tmp_path / "ipsung_time_to_job.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def corrupt(folder: Path, change) -> Path:
    path = folder / "monthly_status.csv"
    change(pd.read_csv(path)).to_csv(path, index=False)
    return path


def problems(data: Path, tmp_path: Path, **changes: Any) -> str:
    error = expect_error(check, tte_config(data, tmp_path, **changes))
    assert isinstance(error, DataError) and error.exit_code == 2
    return str(error)


def test_valid_panel_builds_pattern_month_counts(data_copy: Path, tmp_path: Path) -> None:
    plan = check(tte_config(data_copy, tmp_path))
    info, arrays = plan.data.info, plan.data.arrays
    panel = pd.read_csv(data_copy / "monthly_status.csv")
    assert plan.data.n_rows == 400 and info["months"] == list(range(1, 25))
    # every transition in the table is counted once, in the month it happened
    first = panel[panel["status"].isin(["work", "apprenticeship", "education"])].groupby("participant_id").first()
    assert arrays["y"].sum() == len(first)
    assert arrays["trials"][:, 0].sum() == 400 and info["person_months"] == arrays["trials"].sum()
    assert info["cells"] == int((arrays["trials"] > 0).sum()) <= info["person_months"]
    at_risk_month_1 = arrays["trials"][:, 0] - arrays["y"][:, 0].sum(axis=1)
    assert np.all(arrays["trials"][:, 1] <= at_risk_month_1)  # nobody returns to the risk set


def test_wide_form_gives_the_same_data(data_copy: Path, tmp_path: Path) -> None:
    long = pd.read_csv(data_copy / "monthly_status.csv")
    wide = long.pivot(index="participant_id", columns="month", values="status")
    wide.columns = [f"month_{m}" for m in wide.columns]
    entry = long[long["month"] == 1].set_index("participant_id")["calendar_month"]
    wide.insert(0, "calendar_month", entry)
    wide.reset_index().to_csv(data_copy / "monthly_wide.csv", index=False)
    a = check(tte_config(data_copy, tmp_path)).data
    b = check(
        tte_config(
            data_copy,
            tmp_path,
            **{"data.monthly_status": str(data_copy / "monthly_wide.csv"), "data.monthly_format": "wide"},
        )
    ).data
    for key in ("trials", "y", "X", "service_idx"):
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
    assert a.info["entry_months"] == b.info["entry_months"]


def test_gap_names_participant_months_and_rows(data_copy: Path, tmp_path: Path) -> None:
    path = corrupt(data_copy, lambda f: f.drop(index=[4, 5]))  # P00001 loses months 5 and 6
    text = problems(data_copy, tmp_path)
    assert str(path) in text and "without gaps" in text and "P00001 lacks month(s) 5, 6" in text


def test_duplicate_participant_month(data_copy: Path, tmp_path: Path) -> None:
    corrupt(data_copy, lambda f: pd.concat([f.iloc[:3], f.iloc[[2]], f.iloc[3:]], ignore_index=True))
    text = problems(data_copy, tmp_path)
    assert "participant P00001 has month 3 more than once" in text and "rows 3, 4" in text


def test_status_outside_vocabulary_suggests_and_lists_valid(data_copy: Path, tmp_path: Path) -> None:
    corrupt(data_copy, lambda f: f.assign(status=f["status"].where(f.index != 7, "wrok")))
    text = problems(data_copy, tmp_path)
    assert "'wrok'" in text and "did you mean 'work'" in text and "row 8" in text
    assert "valid (model.statuses): none, benefits, work, apprenticeship, education" in text


def test_months_before_start(data_copy: Path, tmp_path: Path) -> None:
    corrupt(data_copy, lambda f: f.assign(month=f["month"].where(f.index != 0, 0)))
    text = problems(data_copy, tmp_path)
    assert "months before start" in text and "found 0 at data row 1" in text


def test_participants_missing_from_either_table(data_copy: Path, tmp_path: Path) -> None:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["participant_id"] == "P00002", "participant_id"] = "P99999"
        return frame

    corrupt(data_copy, change)
    text = problems(data_copy, tmp_path)
    assert "participant(s) P99999 do not appear in the participants table" in text
    assert "participant(s) P00002 (1 in all)" in text and 'data.missing = "drop"' in text


def test_participants_without_months_can_be_dropped(data_copy: Path, tmp_path: Path) -> None:
    corrupt(data_copy, lambda f: f[f["participant_id"] != "P00003"])
    plan = check(tte_config(data_copy, tmp_path, **{"data.missing": "drop"}))
    assert plan.data.n_rows == 399 and any("without any month" in note for note in plan.data.notes)


def test_calendar_month_must_advance_with_months(data_copy: Path, tmp_path: Path) -> None:
    corrupt(data_copy, lambda f: f.assign(calendar_month=f["calendar_month"].where(f.index != 3, "2031-01")))
    text = problems(data_copy, tmp_path)
    assert "does not advance one calendar month per month since start" in text and "P00001" in text


def test_wide_form_gap_names_cells(data_copy: Path, tmp_path: Path) -> None:
    long = pd.read_csv(data_copy / "monthly_status.csv")
    wide = long.pivot(index="participant_id", columns="month", values="status")
    wide.columns = [f"month_{m}" for m in wide.columns]
    wide.iloc[0, 2] = np.nan  # P00001, month 3
    wide.reset_index().to_csv(data_copy / "monthly_wide.csv", index=False)
    path = tte_config(
        data_copy,
        tmp_path,
        **{"data.monthly_status": str(data_copy / "monthly_wide.csv"), "data.monthly_format": "wide"},
    )
    text = str(expect_error(check, path))
    assert "P00001 lacks month(s) 3" in text and "(month_" in text


def test_config_without_monthly_table(data_copy: Path, tmp_path: Path) -> None:
    path = tte_config(data_copy, tmp_path)
    raw = load_raw_config(path)
    del raw["data"]["monthly_status"]
    path.write_text(tomli_w.dumps(raw))
    assert "data.monthly_status' is missing" in str(expect_error(check, path))


def test_spec_problems_are_named(data_copy: Path, tmp_path: Path) -> None:
    path = tte_config(data_copy, tmp_path, **{"model.targets": {"work": ["work", "jobb"], "any": ["education"]}})
    error = expect_error(check, path)
    assert isinstance(error, ConfigError)
    assert "status 'jobb' is not in statuses" in str(error) and "'any' is reserved" in str(error)


@pytest.mark.parametrize("command", ["check", "run"])
def test_cli_exit_2_and_nothing_written(data_copy: Path, tmp_path: Path, capsys, command: str) -> None:
    corrupt(data_copy, lambda f: f.drop(index=[10]))
    out = tmp_path / "runs" / "bad"
    args = [command, str(tte_config(data_copy, tmp_path))] + (
        ["--out", str(out), "--quiet"] if command == "run" else []
    )
    assert main(args) == 2
    assert "without gaps" in capsys.readouterr().err
    assert not out.exists()


def test_participants_dropped_for_missing_values_leave_their_months_behind(data_copy: Path, tmp_path: Path) -> None:
    people = pd.read_csv(data_copy / "participants.csv")
    people.loc[[0, 5], "age"] = np.nan
    people.to_csv(data_copy / "participants.csv", index=False)
    assert "column 'age' has 2 missing value(s)" in problems(data_copy, tmp_path)
    plan = check(tte_config(data_copy, tmp_path, **{"data.missing": "drop"}))
    assert plan.data.n_rows == 398 and plan.data.arrays["trials"][:, 0].sum() == 398


def _wide(data: Path) -> pd.DataFrame:
    long = pd.read_csv(data / "monthly_status.csv")
    wide = long.pivot(index="participant_id", columns="month", values="status")
    wide.columns = [f"month_{m}" for m in wide.columns]
    return wide.reset_index()


def test_wide_form_month_written_twice_is_refused(data_copy: Path, tmp_path: Path) -> None:
    """month_1 and month_01 are one month: keeping the last of them silently changed every transition."""
    wide = _wide(data_copy)
    wide["month_01"] = "work"
    wide.to_csv(data_copy / "monthly_wide.csv", index=False)
    path = tte_config(
        data_copy,
        tmp_path,
        **{"data.monthly_status": str(data_copy / "monthly_wide.csv"), "data.monthly_format": "wide"},
    )
    error = expect_error(check, path)
    assert isinstance(error, DataError) and error.exit_code == 2
    assert "columns 'month_1' and 'month_01' both hold month 1" in str(error)


def test_wide_form_unknown_status_names_no_status_column(data_copy: Path, tmp_path: Path) -> None:
    wide = _wide(data_copy)
    wide.loc[3, "month_2"] = "holiday"
    wide.to_csv(data_copy / "monthly_wide.csv", index=False)
    path = tte_config(
        data_copy,
        tmp_path,
        **{"data.monthly_status": str(data_copy / "monthly_wide.csv"), "data.monthly_format": "wide"},
    )
    text = str(expect_error(check, path))
    assert "the month columns have status(es) outside the vocabulary" in text and "column 'status'" not in text


def test_horizon_after_the_last_followed_month_is_refused(data_copy: Path, tmp_path: Path) -> None:
    """A horizon of 36 on data that stop at month 24 published 12 months with nobody at risk as if observed."""
    text = problems(data_copy, tmp_path, **{"model.horizon": 36})
    assert "model.horizon = 36 is after the last month anyone is followed" in text and "(24)" in text
    check(tte_config(data_copy, tmp_path, **{"model.horizon": 24, "model.horizons": [6, 12, 24]}))


def test_an_english_outcome_label_is_not_used_in_norwegian(data_copy: Path, tmp_path: Path) -> None:
    info = check(tte_config(data_copy, tmp_path)).data.info
    assert info["outcome_label_nb"] == "første jobb, læreplass eller utdanning"  # the shipped config's own
    path = tte_config(data_copy, tmp_path)
    raw = load_raw_config(path)
    del raw["model"]["outcome_label_nb"]
    path.write_text(tomli_w.dumps(raw))
    info = check(path).data.info
    assert info["outcome_label"] == "first job, apprenticeship or education"
    assert (
        info["outcome_label_nb"].startswith("første overgang til ") and "apprenticeship" not in info["outcome_label_nb"]
    )
