"""Hostile data, round 4 (outsider-d findings 4, 5, 8, 14-18 and 23): ids kept as text, Parquet types,
numbers stored as text, rows dropped by ``missing = "drop"``, row numbering, invisible header characters,
Excel's ``sep=`` line, files of another format named ``.csv`` and very long column names.

Every test runs ``ipsbayes check`` in-process (no fit) or reads a table directly.
"""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ipsbayes.cli import main
from ipsbayes.config import load_config
from ipsbayes.data import example_rows, read_bundle, read_table

from .conftest import REPO

CBPP = REPO / "examples" / "cbpp" / "cbpp.csv"


def _toml(folder: Path, data: str, formula: str, extra: str = "") -> Path:
    """A multilevel binomial config reading ``data`` in ``folder``."""
    path = folder / "b.toml"
    path.write_text(
        f'name = "b"\nseed = 1\n[data]\nmain = "{data}"\n{extra}\n[model]\nkind = "multilevel"\n'
        f'formula = "{formula}"\nfamily = "binomial"\n[priors]\nset = "defaults"\n[sampler]\nprofile = "ci"\n'
    )
    return path


def _cbpp(with_age: bool = False) -> pd.DataFrame:
    """The cbpp example read with its herd as text, optionally with a numeric ``age`` column."""
    frame = pd.read_csv(CBPP, dtype={"herd": str})
    if with_age:
        frame["age"] = np.random.default_rng(1).integers(20, 60, len(frame))
    return frame


def _check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``ipsbayes check`` in-process: exit code, stdout and stderr (never a traceback)."""
    code = main(["check", str(config)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err, captured.err
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------- 4: ids and groups as text


def test_herds_01_and_1_stay_two_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp()
    frame.loc[frame["herd"] == "2", "herd"] = "01"
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, out, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ C(period) + (1 | herd)"), capsys)
    assert code == 0, err
    assert "herd=15" in out


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_zero_padded_ids_keep_their_text(tmp_path: Path, suffix: str) -> None:
    frame = _cbpp()
    frame["herd"] = frame["herd"].map(lambda h: f"{int(h):04d}")
    frame.insert(0, "participant_id", [f"{i:03d}" for i in range(len(frame))])
    frame.loc[1, "participant_id"] = "1"  # '000', '1', '002', ...: distinct text, not a repeat of '001'
    frame.loc[2, "participant_id"] = "001"
    if suffix == "csv":
        frame.to_csv(tmp_path / "d.csv", index=False)
    else:
        frame.to_parquet(tmp_path / "d.parquet")
    config = load_config(_toml(tmp_path, f"d.{suffix}", "p(incidence, size) ~ C(period) + (1 | herd)"))
    bundle = read_bundle(config)
    read = bundle.participants.frame
    assert read["herd"].iloc[0] == "0001"
    assert list(read["participant_id"].iloc[:3]) == ["000", "1", "001"]
    assert pd.api.types.is_numeric_dtype(read["incidence"])


def test_repeated_ids_are_named_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp()
    frame.insert(0, "participant_id", [f"{i:03d}" for i in range(len(frame))])
    frame.loc[3, "participant_id"] = "001"
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, _, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ C(period) + (1 | herd)"), capsys)
    assert code == 2
    assert "'001' at data rows 2, 4 (counted from 1 below the header)" in err


def test_join_keys_compare_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp()
    frame.loc[frame["herd"] == "2", "herd"] = "02"
    frame.to_csv(tmp_path / "d.csv", index=False)
    herds = pd.DataFrame({"herd": sorted(set(frame["herd"])), "altitude": np.arange(15.0)})
    herds.loc[herds["herd"] == "02", "herd"] = "2"  # '2' in the herds table does not match '02'
    herds.to_csv(tmp_path / "h.csv", index=False)
    extra = '[data.tables.herds]\npath = "h.csv"\nkey = "herd"'
    config = _toml(tmp_path, "d.csv", "p(incidence, size) ~ altitude + (1 | herd)", extra)
    code, _, err = _check(config, capsys)
    assert code == 2
    assert "02" in err and "do not appear" in err


# ----------------------------------------------------------------------------- 5, 8: Parquet column types


def _parquet_age(tmp_path: Path, column: pa.Array) -> Path:
    frame = _cbpp(with_age=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("age"), "age", column)
    pq.write_table(table, tmp_path / "d.parquet")
    return _toml(tmp_path, "d.parquet", "p(incidence, size) ~ age + C(period) + (1 | herd)")


def test_parquet_decimal_is_read_as_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ages = _cbpp(with_age=True)["age"]
    config = _parquet_age(tmp_path, pa.array([decimal.Decimal(int(a)) for a in ages], pa.decimal128(10, 2)))
    code, _, err = _check(config, capsys)
    assert code == 0, err
    assert pd.api.types.is_float_dtype(read_bundle(load_config(config)).participants.frame["age"])


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (lambda ages: pa.array(pd.to_datetime("2000-01-01") + pd.to_timedelta(ages, unit="D")), "timestamp"),
        (lambda ages: pa.array([[int(a)] for a in ages]), "list<"),
        (lambda ages: pa.array([{"years": int(a)} for a in ages]), "struct<"),
        (lambda ages: pa.array([str(a).encode() for a in ages], pa.binary()), "binary"),
    ],
)
def test_parquet_unusable_types_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], column: Any, kind: str
) -> None:
    code, _, err = _check(_parquet_age(tmp_path, column(_cbpp(with_age=True)["age"])), capsys)
    assert code == 2
    assert "d.parquet" in err and "column 'age' has Parquet type " + kind in err
    assert "Usable types are numbers" in err


def test_parquet_unusable_column_the_model_does_not_use_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = _cbpp()
    frame["visited"] = pd.to_datetime("2020-01-01")
    frame.to_parquet(tmp_path / "d.parquet")
    code, _, err = _check(_toml(tmp_path, "d.parquet", "p(incidence, size) ~ C(period) + (1 | herd)"), capsys)
    assert code == 0, err


def test_parquet_numbers_as_text_are_numbers(tmp_path: Path) -> None:
    frame = _cbpp(with_age=True)
    frame["age"] = frame["age"].astype(str)
    frame.to_parquet(tmp_path / "d.parquet")
    table = read_table(tmp_path / "d.parquet", "participants", text_columns={"herd"})
    assert pd.api.types.is_numeric_dtype(table.frame["age"])
    assert table.frame["herd"].iloc[0] == "1"


def test_parquet_mostly_numbers_with_text_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp(with_age=True)
    frame["age"] = frame["age"].astype(str)
    frame.loc[4, "age"] = "abc"
    frame.to_parquet(tmp_path / "d.parquet")
    config = _toml(tmp_path, "d.parquet", "p(incidence, size) ~ age + C(period) + (1 | herd)")
    code, _, err = _check(config, capsys)
    assert code == 2
    assert "predictor 'age' holds numbers but also text" in err and "data row 5 (counted from 1" in err


# ----------------------------------------------------------------------------- 14: drop every row


def test_drop_every_row_names_the_empty_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp(with_age=True)
    frame["age"] = np.nan
    frame.to_csv(tmp_path / "d.csv", index=False)
    extra = 'missing = "drop"'
    code, _, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ age + C(period) + (1 | herd)", extra), capsys)
    assert code == 2
    assert "would drop all 56 rows" in err and "'age' is empty in every row" in err
    assert "period" not in err.split("would drop")[1]


# ----------------------------------------------------------------------------- 15: row numbers


def test_rows_say_what_they_count() -> None:
    assert example_rows(np.array([False, True])) == "data row 2 (counted from 1 below the header)"
    many = example_rows(np.ones(7, bool))
    assert many.startswith("data rows 1, 2, 3, 4, 5, ... (7 rows in all, counted from 1 below the header)")


# ----------------------------------------------------------------------------- 16-18, 23: headers and file formats


def test_invisible_character_in_header_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp(with_age=True).rename(columns={"age": "age\u200b"})
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, _, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ age + (1 | herd)"), capsys)
    assert code == 2
    assert "'age\\u200b'" in err and "U+200B ZERO WIDTH SPACE" in err
    assert "\u200b" not in err


def test_excel_sep_line_is_recognised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.csv").write_text("sep=;\n" + _cbpp().to_csv(index=False, sep=";"))
    code, _, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ C(period) + (1 | herd)"), capsys)
    assert code == 2
    assert "'sep=;'" in err and "Delete that line" in err
    assert err.count("missing column") == 0


@pytest.mark.parametrize(("start", "what"), [(b"PK\x03\x04", "Excel workbook"), (b"PAR1", "Parquet file")])
def test_other_formats_named_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str], start: bytes, what: str) -> None:
    (tmp_path / "d.csv").write_bytes(start + bytes(range(256)) * 4)
    code, _, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ C(period) + (1 | herd)"), capsys)
    assert code == 2
    assert what in err and "not UTF-8 text" not in err


def test_long_column_name_is_shortened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _cbpp(with_age=True).rename(columns={"age": "a" * 20_000})
    frame.to_csv(tmp_path / "d.csv", index=False)
    code, _, err = _check(_toml(tmp_path, "d.csv", "p(incidence, size) ~ age + (1 | herd)"), capsys)
    assert code == 2
    assert len(err) < 2_000 and "(20,000 characters)" in err
