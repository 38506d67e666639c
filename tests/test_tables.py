"""Data tables declared with their keys: columns the model needs are joined, every problem is named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ipsbayes.errors import DataError
from ipsbayes.runner import check

from .test_vocabulary import write_schools


@pytest.fixture
def schools(tmp_path: Path) -> Path:
    return write_schools(tmp_path / "schools")


def _edit(path: Path, name: str, change) -> None:
    frame = pd.read_csv(path.parent / name)
    frame = change(frame)
    frame.to_csv(path.parent / name, index=False)


def test_a_column_comes_from_the_table_declared_with_its_key(schools: Path) -> None:
    plan = check(schools)
    frame = plan.data.info["frame"]
    regions = pd.read_csv(schools.parent / "regions.csv").set_index("region")["rural"]
    assert (frame["rural"].to_numpy() == frame["region"].map(regions).to_numpy()).all()


def test_a_repeated_key_is_named(schools: Path) -> None:
    _edit(schools, "regions.csv", lambda f: pd.concat([f, f.iloc[:1]]))
    with pytest.raises(DataError, match=r"region must identify one row .* repeated at data row 9"):
        check(schools)


def test_a_key_missing_from_the_table_is_named(schools: Path) -> None:
    _edit(schools, "regions.csv", lambda f: f.iloc[1:])
    with pytest.raises(DataError, match="region value\\(s\\) R0 do not appear in the regions table"):
        check(schools)


def test_an_unknown_column_lists_the_tables_searched(schools: Path) -> None:
    _edit(schools, "regions.csv", lambda f: f.drop(columns="rural"))
    with pytest.raises(DataError, match=r"missing column 'rural'.*not found in .*pupils\.csv.*regions\.csv"):
        check(schools)


def test_the_norwegian_power_scaling_table_gives_the_diagnosis_in_norwegian() -> None:
    """tables/power_scaling_nb.csv said 'potential prior-data conflict' (outside review)."""
    from ipsbayes.report.tables import csv_nb

    table = pd.DataFrame(
        {"estimand": ["cace", "itt", "x"], "prior": [0.06, 0.01, 0.2], "likelihood": [0.11, 0.1, 0.01]}
        | {"diagnosis": ["potential prior-data conflict", "✓", "potential strong prior / weak likelihood"]}
    )
    text = csv_nb(table).decode("utf-8-sig")
    assert "mulig konflikt mellom prior og data" in text and "ingen følsomhet påvist" in text
    assert "prioren dominerer" in text and "potential" not in text
