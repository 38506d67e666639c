"""A generic ``[data] main`` config is spoken to in its own words, not the IPS study's.

An outside review found IPS words in messages for generic configs: "participants table" and key
'data.participants' for a config that says ``main``, "models/<name>" for a config kept elsewhere, a
raw Python dict for the rows ``data.missing = "drop"`` dropped, "+s" plurals ("countys",
"batchs") and ``term=0`` printed by ``ipsbayes check`` as if it were a grouping factor. IPS configs
(``participants = ...``) keep their words. None of these tests samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.cli import main
from ipsbayes.config import DataConfig, parse_config
from ipsbayes.runner import check
from ipsbayes.textutil import regular_plural


def _frame(n_groups: int = 6, per_group: int = 8, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    return pd.DataFrame(
        {
            "y": rng.normal(size=n).round(3),
            "x": rng.normal(size=n).round(3),
            "batch": np.repeat([f"b{i}" for i in range(n_groups)], per_group),
        }
    )


def _config(
    folder: Path, frame: pd.DataFrame, formula: str = "y ~ x + (1 | batch)", key: str = "main", **data: object
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "obs.csv", index=False)
    raw = {
        "name": "generic",
        "data": {key: "obs.csv", **data},
        "model": {"kind": "multilevel", "formula": formula, "family": "gaussian"},
        "priors": {"set": "defaults"},
    }
    path = folder / "generic.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


# ---------------------------------------------------------------- 1. the main table's own key


def test_data_errors_of_a_main_config_name_the_main_table(tmp_path, capsys):
    frame = _frame()
    frame.loc[[5, 17], "x"] = np.nan
    code, _, err = _cli(["check", _config(tmp_path, frame)], capsys)
    assert code == 2
    assert "main table " in err and "obs.csv: column 'x' has 2 missing value(s) at data rows 6, 18" in err
    assert "participants" not in err


def test_ips_configs_keep_the_participants_table(tmp_path, capsys):
    frame = _frame()
    frame.loc[[5], "x"] = np.nan
    code, _, err = _cli(["check", _config(tmp_path, frame, key="participants")], capsys)
    assert code == 2
    assert "participants table " in err


def test_a_missing_main_file_is_reported_under_the_key_the_config_used(tmp_path, capsys):
    path = _config(tmp_path, _frame())
    (tmp_path / "obs.csv").unlink()
    code, _, err = _cli(["check", path], capsys)
    assert code == 2
    assert "key 'data.main'" in err and "data.participants" not in err
    _, problems = parse_config({"name": "x", "data": {"main": 5}, "model": {"kind": "multilevel"}})
    assert problems and all("'data.main'" in p for p in problems), problems
    _, problems = parse_config({"name": "x", "data": {"participants": 5}, "model": {"kind": "multilevel"}})
    assert problems and all("'data.participants'" in p for p in problems), problems


def test_the_data_config_remembers_the_key_given():
    assert DataConfig.model_validate({"main": "a.csv"}).main_key == "main"
    assert DataConfig.model_validate({"participants": "a.csv"}).main_key == "participants"


def test_a_joined_table_with_missing_values_does_not_speak_of_participants(tmp_path, capsys):
    frame = _frame().drop(columns="x")
    frame["site"] = np.repeat(["s1", "s2", "s3"], len(frame) // 3)
    path = _config(
        tmp_path, frame, formula="y ~ z + (1 | batch)", tables={"sites": {"path": "sites.csv", "key": "site"}}
    )
    pd.DataFrame({"site": ["s1", "s2", "s3"], "z": [1.0, np.nan, 2.0]}).to_csv(tmp_path / "sites.csv", index=False)
    code, _, err = _cli(["check", path], capsys)
    assert code == 2
    assert "sites table" in err and "drops rows of the main table only" in err
    assert "participant" not in err


# ---------------------------------------------------------------- 2. the config's real path


def test_columns_that_do_not_match_name_the_config_file_not_models(tmp_path, capsys):
    path = _config(tmp_path, _frame(), formula="y ~ nosuch + (1 | batch)")
    code, _, err = _cli(["check", path], capsys)
    assert code == 2
    assert "models/generic" not in err
    assert f"Data do not match {path}" in err


# ---------------------------------------------------------------- 3. rows dropped, in a sentence


def test_rows_dropped_for_missing_values_are_a_sentence_naming_data_rows(tmp_path):
    frame = _frame(per_group=10)
    frame.loc[[5, 17, 40], "x"] = np.nan
    frame.loc[[22], "y"] = np.nan
    plan = check(_config(tmp_path, frame, missing="drop"))
    notes = [n for n in plan.data.notes if "dropped" in n]
    assert notes == [
        "4 rows of obs.csv were dropped for missing values (y: data row 23; x: data rows 6, 18, 41; "
        "rows counted from 1 below the header)."
    ], notes
    assert not any("{" in n for n in plan.data.notes)


def test_many_dropped_rows_are_listed_as_a_few_and_then_a_count():
    from ipsbayes.data import DataBundle, Table
    from ipsbayes.data_checks import dropped_rows_note, handle_missing

    frame = pd.DataFrame({"x": [np.nan if i % 2 else 1.0 for i in range(20)], "y": 1.0})
    table = Table(frame, Path("/somewhere/obs.csv"), "main")
    bundle = DataBundle(participants=table)
    assert handle_missing(table, ["x", "y"], "drop", bundle) == []
    assert dropped_rows_note(bundle) == (
        "10 rows of obs.csv were dropped for missing values (x: data rows 2, 4, 6, 8, 10 and 5 more; "
        "rows counted from 1 below the header)."
    )
    # a second drop from the same table still counts rows of the file as read
    table.frame.loc[[0], "y"] = np.nan  # data row 1 of the file
    table.frame.loc[[2], "y"] = np.nan  # data row 5 of the file
    handle_missing(table, ["y"], "drop", bundle)
    assert "y: data rows 1, 5;" in dropped_rows_note(bundle)


# ---------------------------------------------------------------- 4. English plurals


@pytest.mark.parametrize(
    ("word", "plural"),
    [
        ("school", "schools"),
        ("batch", "batches"),
        ("dish", "dishes"),
        ("class", "classes"),
        ("box", "boxes"),
        ("county", "counties"),
        ("municipality", "municipalities"),
        ("day", "days"),
        ("INDEX", "INDEXES"),
        ("ID", "IDs"),
        ("child", "children"),
        ("Child", "Children"),
        ("person", "people"),
        ("man", "men"),
        ("woman", "women"),
        ("mouse", "mice"),
        ("foot", "feet"),
        ("tooth", "teeth"),
        ("analysis", "analyses"),
        ("job specialist", "job specialists"),
        ("school district", "school districts"),
    ],
)
def test_english_plurals(word, plural):
    assert regular_plural(word, "en") == plural


@pytest.mark.parametrize(
    ("word", "plural"),
    [("skole", "skoler"), ("tjeneste", "tjenester"), ("elev", "elever"), ("lærer", "lærere"), ("barn", "barn")],
)
def test_bokmal_plurals(word, plural):
    assert regular_plural(word, "nb") == plural


def test_a_nesting_error_uses_the_plural_of_the_outer_factor(tmp_path, capsys):
    frame = _frame()
    frame["county"] = np.tile(["c1", "c2"], len(frame) // 2)  # every batch in both counties
    path = _config(tmp_path, frame, formula="y ~ x + (1 | county) + (1 | batch)")
    path.write_text(path.read_text() + '\n[model.nested]\nbatch = "county"\n')
    code, _, err = _cli(["check", path], capsys)
    assert code == 2, err
    assert "several counties" in err and "countys" not in err


# ---------------------------------------------------------------- 5. `ipsbayes check` names grouping factors


def test_check_prints_grouping_factors_and_population_level_terms_apart(tmp_path, capsys):
    code, out, _ = _cli(["check", _config(tmp_path, _frame(), formula="y ~ 1 + (1 | batch)")], capsys)
    assert code == 0
    first = out.splitlines()[0]
    assert "term=" not in first
    assert "grouping factor: batch=6;" in first
    assert "0 population-level terms" in first


@pytest.mark.parametrize(
    ("note", "norwegian"),
    [
        (
            "4 rows of pupils.csv were dropped for missing values (x: data rows 6, 18, 401; diagnosis: data row 23; "
            "rows counted from 1 below the header).",
            "4 rader i pupils.csv ble fjernet på grunn av manglende verdier (x: datarader 6, 18, 401; diagnosis: "
            "datarad 23; radene telles fra 1 under overskriften).",
        ),
        (
            "1 row of the services table was dropped for missing values. 12 rows of p.csv were dropped for missing "
            "values (x: data rows 1, 2, 3, 4, 5 and 7 more; rows counted from 1 below the header).",
            "1 rad i tabellen services ble fjernet på grunn av manglende verdier. 12 rader i p.csv ble fjernet på "
            "grunn av manglende verdier (x: datarader 1, 2, 3, 4, 5 og 7 til; radene telles fra 1 under "
            "overskriften).",
        ),
    ],
)
def test_the_dropped_rows_note_reads_in_norwegian(note: str, norwegian: str) -> None:
    from ipsbayes.present.notes import translate_note

    assert translate_note(note, "nb") == norwegian
    assert translate_note(note, "en") == note


def test_an_unclosed_quote_and_a_prior_without_dist_are_named(tmp_path: Path) -> None:
    """pandas' 'EOF inside string starting at row 2' and 'unknown dist None' said nothing of what to fix."""
    from ipsbayes.data_read import read_table
    from ipsbayes.errors import DataError
    from ipsbayes.priors import check_prior

    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,2\n3,"x\n4,5\n')
    with pytest.raises(DataError, match=r"double quote.*never closes at data row 2; close the quote"):
        read_table(path, "main")
    (problem,) = check_prior("sd_grp", {"sigma": -1.0}, "priors.overrides")
    assert "has no 'dist' key" in problem and "HalfNormal" in problem
