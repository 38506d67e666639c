"""An outside hostile battery, round 6: each case gets exit 2 with a message naming the key, file or rows.

Found from outside: ``validate`` crashed (exit 1) when every coverage fit failed, on a config ``check``
called valid (a misspelled truth key, a simulator of another design); an empty outcome cell of the
competing-outcomes model crashed (exit 1); a NUL character in a TOML path crashed (exit 1);
``map-prior`` with ``output.prior_set`` under a file fitted, wrote its folder and then failed;
``ipsbayes report`` dropped a misspelled threshold without a word; ``check`` ignored ``[design]``;
a manifest without records let a rerun and ``report`` replace files the user had edited; and a few
messages leaked internals ("<class 'pathlib.Path'>", pandas' "line 5").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ipsbayes.cli import main
from ipsbayes.manifest import file_changed
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

RIJ_DATA = REPO / "data" / "rij"
CHEAP = {"sampler.profile": "ci", "sensitivity.prior_sets": [], "sensitivity.variants": {}}


def _cli(args: list[object], capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and "unexpected failure" not in captured.err
    return code, captured.err


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"validation.truth.cace": "sample.no_such_key"},
            "'sample.no_such_key' is not a number in the 'rij' simulator",
        ),
        ({"validation.design": "ipsung"}, "key 'validation.design': data simulated by 'ipsung' do not fit this model"),
        ({"validation.truth.caec": "sample.cace_pp"}, "unknown estimand 'caec' (did you mean 'cace'?)"),
        (
            {"validation.truth": {"cace[age: +1 SD (4.39)]": "sample.cace_pp"}},
            "the element names the SD of the observed data, which differs in every simulated data set",
        ),
    ],
)
def test_check_and_validate_refuse_a_validation_table_every_fit_would_fail_on(
    make_config, tmp_path, capsys, changes, words
) -> None:
    config = make_config("rij_cace", data=RIJ_DATA, **CHEAP, **changes)
    code, err = _cli(["check", config], capsys)
    assert code == 2 and words in err
    out = tmp_path / "validation"
    code, err = _cli(["validate", config, "--datasets", "1", "--profile", "ci", "--out", out, "--workers", "1"], capsys)
    assert code == 2 and words in err
    assert not out.exists()


def test_a_missing_competing_outcome_is_named_not_a_crash(tmp_path, capsys) -> None:
    data = tmp_path / "data"
    shutil.copytree(REPO / "data" / "ipsung", data)
    lines = (data / "participants.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("outcome_12m")] = ""
    lines[1] = ",".join(row)
    (data / "participants.csv").write_text("\n".join(lines) + "\n")
    raw = load_raw_config(REPO / "models" / "ipsung_outcomes.toml")
    for key in ("participants", "services", "reviews"):
        if key in raw["data"]:
            raw["data"][key] = str(data / f"{key}.csv")
    import tomli_w

    (tmp_path / "c.toml").write_text(tomli_w.dumps(raw))
    code, err = _cli(["check", tmp_path / "c.toml"], capsys)
    assert code == 2 and "column 'outcome_12m' has 1 missing value(s) at data row 1" in err


def test_a_nul_character_in_a_config_is_named(tmp_path, capsys) -> None:
    (tmp_path / "c.toml").write_text('name = "x"\n[data]\nparticipants = "a\\u0000b.csv"\n')
    code, err = _cli(["check", tmp_path / "c.toml"], capsys)
    assert code == 2 and "'data.participants' holds a NUL character" in err


def _map_config(tmp_path: Path, prior_set: str) -> Path:
    shutil.copytree(REPO / "priors", tmp_path / "priors")
    (tmp_path / "priors" / "map" / "ok.csv").write_text("a user file\n")
    text = (REPO / "priors" / "map" / "ips_map.toml").read_text()
    lines = [f'prior_set = "{prior_set}"' if line.startswith("prior_set =") else line for line in text.splitlines()]
    path = tmp_path / "priors" / "map" / "edited.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("prior_set", "words"),
    [
        ("ok.csv/x.toml", "key 'output.prior_set': priors/map/ok.csv is a file, so priors/map/ok.csv/x.toml cannot"),
        ("", "key 'output.prior_set': give a path, not an empty string"),
    ],
)
def test_map_prior_refuses_an_output_it_cannot_write_before_fitting(tmp_path, capsys, monkeypatch, prior_set, words):
    config = _map_config(tmp_path, prior_set)
    monkeypatch.chdir(tmp_path)
    code, err = _cli(["map-prior", config.relative_to(tmp_path), "--profile", "ci"], capsys)
    assert code == 2 and words in err
    assert not (tmp_path / "runs").exists()
    assert (tmp_path / "priors" / "map" / "ok.csv").read_text() == "a user file\n"


def test_report_refuses_a_threshold_for_no_estimand(shipped, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(shipped["rij_cace"], run)
    text = (run / "config.toml").read_text()
    assert "[report.thresholds]" in text or "thresholds" in text
    raw = load_raw_config(run / "config.toml")
    (run / "config.toml").write_text(
        __import__("tomli_w").dumps(edit_config(raw, **{"report.thresholds": {"caec": 10.0}}))
    )
    before = (run / "report.html").read_bytes()
    code, err = _cli(["report", run], capsys)
    assert code == 2 and "unknown estimand 'caec' (did you mean 'cace'?)" in err
    assert (run / "report.html").read_bytes() == before


def test_a_manifest_without_records_keeps_every_file_as_the_users(shipped, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(shipped["rij_cace"], run)
    manifest = run / ".ipsbayes-manifest.json"
    payload = json.loads(manifest.read_text())
    payload.pop("records")
    manifest.write_text(json.dumps(payload))
    assert file_changed(run / "report.md", None)  # no record: nothing shows it unchanged
    assert not file_changed(run / "no-such-file", None)
    code, err = _cli(["report", run], capsys)
    assert code == 2 and "has no record (size and SHA-256) of posterior.nc, diagnostics.json" in err


def test_messages_speak_of_paths_and_rows(make_config, tmp_path, capsys) -> None:
    config = make_config("rij_cace", **CHEAP, **{"data.participants": 5})
    code, err = _cli(["check", config], capsys)
    assert code == 2 and "key 'data.participants': must be a file path in quotes (got 5)" in err
    lines = (RIJ_DATA / "participants.csv").read_text().splitlines()
    lines[4] += ",extra"
    (tmp_path / "extra.csv").write_text("\n".join(lines) + "\n")
    config = make_config("rij_cace", **CHEAP, **{"data.participants": str(tmp_path / "extra.csv")})
    code, err = _cli(["check", config], capsys)
    assert code == 2 and "data row 4 has more fields than the rows above (11)" in err


def test_csv_row_counts_skip_blank_lines_and_follow_quoted_line_breaks(tmp_path) -> None:
    """A review: a blank line or a quoted line break earlier in the file shifted the row named by one."""
    from ipsbayes.data_read import longer_rows

    (tmp_path / "a.csv").write_text('a,b\n1,2\n\n"x\ny",3\n4,5,6\n')
    assert longer_rows(tmp_path / "a.csv", ",", 2) == "data row 3 has"
