"""Hostile configs and data found by an outside tester: each is exit 2 with a message that names the problem.

Numbers in a config must be finite and whole numbers may not be booleans (over the whole schema, found
by walking it); a fidelity contrast compares two different scores; a flag column of the evidence table
holds yes or no; a data path that is a folder, a FIFO or a device says so; a header that repeats a
column, or a column mixing decimal commas and points, is named with its rows and values; and the
advice for missing values follows the table they are in. None of these tests samples.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, ValidationError

from ipsbayes.cli import main
from ipsbayes.config import RunConfig, parse_config
from ipsbayes.config_problems import pydantic_problems
from ipsbayes.data import Table, read_table
from ipsbayes.data_checks import missing_values
from ipsbayes.errors import ConfigError, DataError
from ipsbayes.evidence.config import MapConfig, load_map_config
from ipsbayes.evidence.table import read_evidence
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO
from .test_map_prior import simulated_trials, write_config


def run_cli(args: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the command line in-process; return its exit code and stderr (never a traceback)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err, captured.err
    return code, captured.err


@pytest.fixture
def cfg(make_config, data_copy: Path):
    """A config (ipsung_employment) reading a private copy of the small data set, with edits."""

    def _make(**changes: Any) -> Path:
        return make_config(data=data_copy, **changes)

    return _make


# ----------------------------------------------------------------------------- 1, 2: numbers in the config


def _numeric_fields(schema: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, type]]:
    """Every scalar whole-number or number key of ``schema`` (dotted), walking nested tables."""
    for name, field in schema.model_fields.items():
        if name == "source":
            continue
        annotation = field.annotation
        union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        members = typing.get_args(annotation) if union else (annotation,)
        for member in members:
            if typing.get_origin(member) is typing.Annotated:
                member = typing.get_args(member)[0]
            if isinstance(member, type) and issubclass(member, BaseModel):
                yield from _numeric_fields(member, (*prefix, name))
            elif member in (int, float):
                yield ".".join((*prefix, name)), member


def _problems(schema: type[BaseModel], raw: dict[str, Any]) -> list[str]:
    try:
        schema.model_validate(raw)
    except ValidationError as exc:
        return pydantic_problems(exc, schema, "config.toml")
    return []


RUN_RAW = load_raw_config(REPO / "models" / "ipsung_employment.toml")
MAP_RAW = {"name": "m", "evidence": "trials.csv"}
RUN_FIELDS = list(_numeric_fields(RunConfig))
MAP_FIELDS = list(_numeric_fields(MapConfig))


def test_the_schema_walk_finds_the_keys_of_the_bug_report() -> None:
    keys = {key for key, _ in RUN_FIELDS}
    assert {"seed", "sampler.draws", "sampler.tune", "sampler.chains", "sampler.cores", "report.min_cell"} <= keys
    assert {"validation.datasets", "report.interval_prob", "sampler.target_accept", "report.figures.width_cm"} <= keys
    assert {"diagnostics.rhat_warn", "diagnostics.pareto_k_max"} <= keys
    assert {"seed", "mixture.max_components", "hierarchy.control_tau"} <= {key for key, _ in MAP_FIELDS}


@pytest.mark.parametrize(("schema", "raw", "key", "kind"), [(RunConfig, RUN_RAW, *f) for f in RUN_FIELDS])
def test_no_boolean_passes_as_a_number_anywhere_in_the_run_config(schema, raw, key, kind) -> None:
    for value, word in ((True, "true"), (False, "false")):
        problems = _problems(schema, edit_config(raw, **{key: value}))
        wanted = "must be a whole number" if kind is int else "must be a number"
        assert f"key '{key}': {wanted} (got {word})" in "\n".join(problems), problems


@pytest.mark.parametrize(
    ("schema", "raw", "key", "kind"),
    [(RunConfig, RUN_RAW, *f) for f in RUN_FIELDS] + [(MapConfig, MAP_RAW, *f) for f in MAP_FIELDS],
)
def test_every_number_in_the_config_must_be_finite(schema, raw, key, kind) -> None:
    if kind is int:
        assert f"key '{key}': must be a whole number (got true)" in "\n".join(
            _problems(schema, edit_config(raw, **{key: True}))
        )
        return
    for value, word in ((math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")):
        problems = _problems(schema, edit_config(raw, **{key: value}))
        assert f"key '{key}': must be a finite number (not nan or inf) (got {word})" in "\n".join(problems), problems


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"report.thresholds": {"fidelity_contrast": math.nan}}, "key 'report.thresholds.fidelity_contrast'"),
        ({"report.thresholds": {"fidelity_contrast": True}}, "key 'report.thresholds.fidelity_contrast'"),
        ({"validation.probs": [0.5, math.inf]}, "key 'validation.probs.1'"),
    ],
)
def test_numbers_inside_tables_and_lists_are_checked_too(changes, words) -> None:
    _, problems = parse_config(edit_config(RUN_RAW, **changes))
    assert any(words in p and ("finite number" in p or "must be a number (got true)" in p) for p in problems), problems


def test_nan_threshold_and_boolean_seed_exit_2_naming_the_key(cfg, capsys) -> None:
    code, err = run_cli(["check", cfg(**{"report.thresholds": {"fidelity_contrast": math.nan}})], capsys)
    assert code == 2 and "key 'report.thresholds.fidelity_contrast': must be a finite number" in err, err
    assert "(got nan)" in err
    code, err = run_cli(["check", cfg(seed=True)], capsys)
    assert code == 2 and "key 'seed': must be a whole number (got true)" in err, err


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"model.fidelity.per": True}, "key 'model.fidelity.per': must be a number (got true)"),
        ({"model.fidelity.per": math.inf}, "key 'model.fidelity.per': must be a finite number"),
        ({"model.fidelity.centre": math.nan}, "key 'model.fidelity.centre': must be a finite number"),
        ({"model.fidelity.contrast": [74, math.nan]}, "key 'model.fidelity.contrast.1': must be a finite number"),
        ({"model.fidelity.scale": {"items": True}}, "key 'model.fidelity.scale.items': must be a whole number"),
    ],
)
def test_fidelity_numbers_are_finite_and_not_booleans(cfg, capsys, changes, words) -> None:
    code, err = run_cli(["check", cfg(**changes)], capsys)
    assert code == 2 and words in err, err


def test_map_prior_config_numbers_are_finite_and_not_booleans(tmp_path: Path) -> None:
    table = simulated_trials(4, seed=2)
    for changes, words in (
        ({"seed": True}, "key 'seed': must be a whole number (got true)"),
        ({"mixture": {"aic_penalty": math.nan}}, "key 'mixture.aic_penalty': must be a finite number"),
        ({"hierarchy": {"covariates": ["youth"], "target": {"youth": math.inf}}}, "key 'hierarchy.target.youth'"),
    ):
        with pytest.raises(ConfigError) as info:
            load_map_config(write_config(tmp_path, table, **changes))
        assert words in str(info.value), str(info.value)


# ----------------------------------------------------------------------------- 3: the fidelity contrast


def test_a_fidelity_contrast_of_one_score_twice_is_refused(cfg, capsys) -> None:
    code, err = run_cli(["check", cfg(**{"model.fidelity.contrast": [80, 80]})], capsys)
    assert code == 2 and "key 'model.fidelity.contrast': the two scores must differ (both are 80)" in err, err
    assert "(got [80, 80])" in err and "[74, 100]" in err


# ----------------------------------------------------------------------------- 4: flags of the evidence table


@pytest.mark.parametrize("value", ["maybe", "2", "partial"])
def test_an_evidence_flag_that_is_neither_yes_nor_no_is_named_with_row_and_valid_values(
    tmp_path: Path, capsys, value: str
) -> None:
    table = simulated_trials(5, seed=1)
    table["verified"] = ["yes", "no", value, "TRUE", ""]
    path = write_config(tmp_path, table)
    with pytest.raises(DataError) as info:
        read_evidence(load_map_config(path))
    text = str(info.value)
    assert f"trials.csv: column 'verified' must say yes or no; found '{value}' in T02 (data row 3)" in text, text
    assert "yes/no, true/false, 1/0" in text and "T04" not in text  # an empty cell is "no"
    code, err = run_cli(["map-prior", path, "--profile", "ci"], capsys)
    assert code == 2 and "T02 (data row 3)" in err and not (tmp_path / "runs").exists()


def test_evidence_flags_of_every_accepted_spelling_are_read(tmp_path: Path) -> None:
    table = simulated_trials(8, seed=1)
    table["verified"] = ["yes", "No", "TRUE", "false", "1", "0", "Y", ""]
    evidence = read_evidence(load_map_config(write_config(tmp_path, table)))
    assert evidence.studies == ["T00", "T02", "T04", "T06"]
    table["verified"] = [1, 0, 1, np.nan, 1, 0, 1, 1]  # read as 1.0, 0.0 and empty
    evidence = read_evidence(load_map_config(write_config(tmp_path, table)))
    assert evidence.left_out == ["T01", "T03", "T05"]


# ----------------------------------------------------------------------------- 5: folders, FIFOs, devices


def test_a_data_path_that_is_a_folder_fifo_or_device_says_so(cfg, data_copy: Path, capsys) -> None:
    (data_copy / "participants.csv").unlink()
    (data_copy / "participants.csv").mkdir()
    (data_copy / "services.csv").unlink()
    os.mkfifo(data_copy / "services.csv")
    code, err = run_cli(["check", cfg(**{"data.reviews": "/dev/null"})], capsys)
    assert code == 2 and "file not found" not in err, err
    assert f"key 'data.participants': {data_copy / 'participants.csv'} is a folder, not a .csv/.parquet file" in err
    assert f"key 'data.services': {data_copy / 'services.csv'} is not a regular file (a named pipe, FIFO)" in err
    assert "key 'data.reviews': /dev/null is not a regular file (a character device)" in err


def test_a_further_table_or_evidence_path_that_is_a_folder_says_so(cfg, data_copy: Path, tmp_path: Path) -> None:
    (data_copy / "schools.csv").mkdir()
    path = cfg(**{"data.tables": {"schools": {"path": str(data_copy / "schools.csv"), "key": "service"}}})
    _, problems = parse_config(path)
    assert any("key 'data.tables.schools.path'" in p and "is a folder" in p for p in problems), problems
    with pytest.raises(DataError, match=r"is a folder, not a \.csv/\.parquet file"):
        read_table(data_copy / "schools.csv", "schools")
    config = write_config(tmp_path, simulated_trials(4, seed=2))
    (tmp_path / "trials.csv").unlink()
    (tmp_path / "trials.csv").mkdir()
    with pytest.raises(ConfigError, match=r"key 'evidence': .*trials.csv is a folder, not a .csv file"):
        load_map_config(config)


# ----------------------------------------------------------------------------- 6: repeated column names


def test_a_header_that_repeats_a_column_is_refused_naming_the_file_and_columns(cfg, data_copy: Path, capsys) -> None:
    path = data_copy / "participants.csv"
    lines = path.read_text().splitlines()
    lines[0] += ",age"
    lines[1:] = [f"{line},99" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    code, err = run_cli(["check", cfg()], capsys)
    names = lines[0].split(",")
    wanted = f"'age' (columns {names.index('age') + 1} and {len(names)})"
    assert code == 2 and str(path) in err and "repeats column name(s) in its header" in err and wanted in err, err


def test_names_repeated_up_to_spaces_or_in_parquet_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id;age; age \n1;20;21\n")
    with pytest.raises(DataError, match=r"'age' \(columns 2 and 3\)"):
        read_table(tmp_path / "a.csv", "participants")
    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["age", "age"]), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a.parquet repeats column name\(s\) in its header: 'age' \(columns 1 and 2\)"):
        read_table(tmp_path / "a.parquet", "participants")
    (tmp_path / "b.csv").write_text("id,age,,\n1,20,,\n")  # empty names (trailing separators) are not repeats
    assert list(read_table(tmp_path / "b.csv", "participants").frame.columns[:2]) == ["id", "age"]


# ----------------------------------------------------------------------------- 7: decimal commas and points


def test_a_column_mixing_decimal_commas_and_points_names_both_with_rows(cfg, data_copy: Path, capsys) -> None:
    path = data_copy / "services.csv"
    services = pd.read_csv(path)
    text = [f"{v + 0.5:.1f}".replace(".", ",") if i % 3 else f"{v + 0.7:.1f}" for i, v in enumerate(services["ips25"])]
    services["ips25"] = text
    services.to_csv(path, sep=";", index=False)
    code, err = run_cli(["check", cfg()], capsys)
    assert code == 2 and str(path) in err and "column 'ips25' mixes decimal commas and decimal points" in err, err
    assert (
        f"'{text[1]}' at data row 2 " in err and f"'{text[0]}' at data row 1 " in err
    )  # a comma example and a point example
    assert "read with decimal comma" in err and "one decimal mark in the whole file" in err
    assert "[data] decimal" in err and "not numeric" not in err


def test_a_file_read_with_decimal_points_names_the_comma_rows(tmp_path: Path) -> None:
    from ipsbayes.data import mixed_decimals

    (tmp_path / "s.csv").write_text("service;score;note\nA;1.5;x\nB;2,5;y\nC;3;z\n")
    table = read_table(tmp_path / "s.csv", "services", decimal=".")
    [problem] = mixed_decimals(table)
    assert "column 'score' mixes" in problem
    assert "'2,5' at data row 2 (counted from 1 below the header) with a comma" in problem
    assert (
        "'1.5' at data row 1 (counted from 1 below the header) with a point" in problem
        and "read with decimal point ('.')" in problem
    )


# ----------------------------------------------------------------------------- 8: advice for missing values


@pytest.mark.parametrize("policy", ["drop", "error"])
def test_missing_service_values_are_never_advised_to_be_dropped(cfg, data_copy: Path, capsys, policy: str) -> None:
    path = data_copy / "services.csv"
    services = pd.read_csv(path)
    services.loc[1, "ips25"] = np.nan
    services.to_csv(path, index=False)
    code, err = run_cli(["check", cfg(**{"data.missing": policy})], capsys)
    assert code == 2 and "column 'ips25' has 1 missing value(s) at data row 2" in err, err
    assert 'set data.missing = "drop"' not in err
    assert "missing values in the services table cannot be dropped" in err and "fill them in" in err


def test_missing_value_advice_follows_the_table() -> None:
    frame = pd.DataFrame({"service": ["A", "B"], "score": [1.0, np.nan]})
    [participants] = missing_values(Table(frame, Path("p.csv"), "participants"), ["score"])[1]
    assert 'set data.missing = "drop"' in participants
    [reviews] = missing_values(Table(frame, Path("r.csv"), "reviews"), ["score"])[1]
    assert "reviews table cannot be dropped" in reviews and "delete the reviews that have none" in reviews
    [schools] = missing_values(Table(frame, Path("s.csv"), "schools"), ["score"])[1]
    assert "dropping a row of the schools table would silently drop every participant" in schools


# ----------------------------------------------------------------------------- every problem at once


def test_a_schema_problem_does_not_hide_the_prior_set_threshold_or_file_problems(cfg, capsys) -> None:
    config = cfg(
        **{
            "report.language": "de",
            "sampler.backend": "stan",
            "priors.set": "nonexistent",
            "report.thresholds": {"nonsense": 3.0},
            "data.services": "no_such_file.csv",
        }
    )
    code, err = run_cli(["check", config], capsys)
    assert code == 2, err
    for words in (
        "key 'report.language'",
        "key 'sampler.backend'",
        "no prior set named 'nonexistent'",
        "report.thresholds: unknown estimand 'nonsense'",
        "key 'data.services': file not found",
    ):
        assert words in err, (words, err)


def test_a_broken_prior_table_is_not_checked_again_with_the_default_set(cfg, capsys) -> None:
    code, err = run_cli(["check", cfg(**{"priors.set": 3, "priors.overrides": {"no_such_parameter": 1}})], capsys)
    assert code == 2 and "key 'priors.set'" in err, err
    assert "weakly_informative" not in err  # the default set put in its place is never judged


def test_every_kind_of_bad_trials_is_named_and_the_outcome_is_still_checked(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    trials = rng.integers(3, 10, 60)
    frame = pd.DataFrame(
        {
            "clinic": [f"c{i % 6}" for i in range(60)],
            "x": rng.normal(size=60).round(3),
            "succ": [int(rng.integers(0, n + 1)) for n in trials],
            "n": trials.astype(object),
        }
    )
    frame.loc[2, "n"], frame.loc[4, "n"], frame.loc[6, "n"] = "abc", 0, 2.5
    frame.loc[10, "n"], frame.loc[11, "n"] = 2**63, 10**12  # wrapped round as int64; non-finite at the start
    frame.loc[8, "succ"] = 20  # more successes than its (valid) trials
    frame.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "c.toml").write_text(
        'name = "bin"\nseed = 1\n[data]\nparticipants = "d.csv"\n[model]\nkind = "multilevel"\n'
        'formula = "p(succ, n) ~ x + (1 | clinic)"\nfamily = "binomial"\n'
    )
    code, err = run_cli(["check", tmp_path / "c.toml"], capsys)
    assert code == 2, err
    assert "not a number (e.g. 'abc') at data row 3" in err, err
    assert "below 1 (e.g. '0') at data row 5" in err and "not a whole number (e.g. '2.5') at data row 7" in err, err
    assert f"found 20 (of {trials[8]}) at data row 9" in err, err
    assert "give its trials as" not in err  # the trials were given; they were wrong
    assert "more than 1,000,000,000 (e.g. '9223372036854775808') at data rows 11, 12" in err, err
    assert "-9223372036854775808" not in err
