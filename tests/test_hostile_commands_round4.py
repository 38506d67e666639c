"""Round 4 of the hostile-input review: edited outputs, concurrent commands, quoted numbers, paths, pipes.

Each test names the finding it covers (``/tmp/outsider-d/findings.md``, #10 to #22). Only the
test marked ``sampling`` fits a model.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from ipsbayes import output
from ipsbayes.cli import main
from ipsbayes.errors import OutputError
from ipsbayes.manifest import changed_files, read_manifest
from ipsbayes.output import atomic_output, claim_output
from ipsbayes.output_refresh import refresh_folder
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO
from .test_output_safety import TINY, fake_run, leftovers

CACE_CONFIG = REPO / "models" / "rij_cace.toml"


def write_config(folder: Path, **changes: object) -> Path:
    """The shipped rij CACE config with ``changes`` (dotted keys), its data path made absolute."""
    raw = load_raw_config(CACE_CONFIG)
    raw["data"]["participants"] = str((REPO / "models" / raw["data"]["participants"]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rij.toml"
    path.write_text(tomli_w.dumps(edit_config(raw, **changes)))
    return path


# ------------------------------------------------------------------ #11 edited files are the user's


def test_simulate_again_keeps_a_simulated_file_the_user_edited(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d"
    assert main(["simulate", "rij", "--seed", "3", "--out", str(out)]) == 0
    with (out / "participants.csv").open("a") as handle:
        handle.write("# my cleaned data, 3 hours of work\n")
    edited = (out / "participants.csv").read_bytes()
    capsys.readouterr()

    assert main(["simulate", "rij", "--seed", "4", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert (out / "participants.csv.kept-1").read_bytes() == edited
    assert b"3 hours" not in (out / "participants.csv").read_bytes()
    assert "participants.csv" in err and "changed since ipsbayes wrote it" in err
    assert "participants.csv.kept-1" not in read_manifest(out).files  # the user's: never deleted later
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_replacing_a_folder_keeps_edited_listed_files_and_deletes_unchanged_ones(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r")
    (run / "report.md").write_text("old report\nmy comments\n")
    claim = claim_output(run, kind="run")
    with pytest.warns(UserWarning, match=r"report\.md \(as report\.md\.kept-1\)"), atomic_output(claim) as staging:
        (staging / "report.md").write_text("new report\n")
    assert (run / "report.md").read_text() == "new report\n"
    assert (run / "report.md.kept-1").read_text() == "old report\nmy comments\n"
    assert not (run / "figures" / "a.png").exists()  # unchanged: ipsbayes' own, deleted


def test_a_copied_unchanged_file_is_not_counted_as_edited(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r")
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)  # new modification times, same content
    os.utime(copy / "report.md", (1, 1))
    assert changed_files(copy, read_manifest(copy)) == []
    (copy / "report.md").write_text("old report\n!")  # size changed
    (copy / "figures" / "a.png").write_bytes(b"new figure")  # same size, other bytes
    assert changed_files(copy, read_manifest(copy)) == ["figures/a.png", "report.md"]


def test_report_refuses_to_replace_a_listed_file_the_user_edited(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "r")
    (run / "report.md").write_text("old report, corrected by hand\n")
    before = (run / "report.md").read_bytes()
    with pytest.raises(OutputError, match=r"report\.md.*changed since ipsbayes wrote"):
        with refresh_folder(run) as staging:
            (staging / "report.md").write_text("new report\n")
    assert (run / "report.md").read_bytes() == before and leftovers(tmp_path) == []

    with refresh_folder(run) as staging:  # the same bytes written back (config.toml on re-render): nothing lost
        (staging / "report.md").write_bytes(before)
        (staging / "figures").mkdir()
        (staging / "figures" / "a.png").write_bytes(b"new figure")
    assert (run / "figures" / "a.png").read_bytes() == b"new figure"
    assert changed_files(run, read_manifest(run)) == ["report.md"]  # still the user's after the re-render


# ------------------------------------------------------------------ #10 one command per folder


def test_a_second_command_into_a_folder_being_written_exits_2_at_once(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d"
    claim = claim_output(out, kind="simulation")
    try:
        started = time.perf_counter()
        assert main(["simulate", "rij", "--out", str(out)]) == 2
        assert time.perf_counter() - started < 10
        err = capsys.readouterr().err
        assert f"process {os.getpid()}" in err and "is writing it now" in err and str(out) in err
        assert not out.exists()
    finally:
        claim.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # lock file and staging folder removed
    assert main(["simulate", "rij", "--out", str(out)]) == 0


def test_a_lock_left_by_a_killed_command_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "d"
    script = (
        "import os, signal, sys; from pathlib import Path; from ipsbayes.output import claim_output; "
        f"claim_output(Path({str(out)!r}), kind='simulation'); os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert (tmp_path / ".d.ipsbayes-lock").exists()  # left behind, not held by anyone
    claim = claim_output(out, kind="simulation")
    with atomic_output(claim) as staging:
        (staging / "x.txt").write_text("x")
    assert (out / "x.txt").exists() and not (tmp_path / ".d.ipsbayes-lock").exists()


# ------------------------------------------------------------------ #13 numbers written as text


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [("seed", "1", 'write 1, not "1"'), ("report.min_cell", "3", 'write 3, not "3"'),
     ("report.interval_prob", "0.9", 'write 0.9, not "0.9"'), ("sampler.draws", "500", 'write 500, not "500"')],
)  # fmt: skip
def test_numbers_written_as_toml_text_are_refused(tmp_path: Path, capsys, key: str, value: str, shown: str) -> None:
    config = write_config(tmp_path, **{key: value})
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"key '{key}'" in err and shown in err and "Traceback" not in err


def test_every_shipped_model_config_still_checks(capsys) -> None:
    for config in sorted((REPO / "models").glob("*.toml")):
        assert main(["check", str(config)]) == 0, capsys.readouterr().err


# ------------------------------------------------------------------ #22 path messages


def test_a_data_path_starting_with_a_tilde_is_read_from_the_home_folder(tmp_path, monkeypatch, capsys) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "models" / load_raw_config(CACE_CONFIG)["data"]["participants"], home / "p.csv")
    monkeypatch.setenv("HOME", str(home))
    config = write_config(tmp_path / "cfg", **{"data.participants": "~/p.csv"})
    assert main(["check", str(config)]) == 0, capsys.readouterr().err


def test_an_empty_data_path_and_a_device_as_config_are_named_as_such(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, **{"data.participants": ""})
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "key 'data.participants': is empty" in err and " . is a folder" not in err
    assert main(["check", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "/dev/null is not a regular file (a character device)" in err and "not found" not in err


# ------------------------------------------------------------------ #19, #20, #21


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; from ipsbayes.cli import main; sys.exit(main())"]
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    done = subprocess.run(
        [*command, "check", str(CACE_CONFIG)], stdout=reader.stdin, stderr=subprocess.PIPE, timeout=300, check=False
    )
    reader.stdin.close()
    reader.wait()
    assert done.returncode in (0, 141) and done.stderr == b""


@pytest.mark.parametrize("sizes", ["66,,100", "66,", ",66"])
def test_design_sizes_with_an_empty_item_are_refused(tmp_path: Path, capsys, sizes: str) -> None:
    assert main(["design", str(tmp_path / "x.toml"), "--sizes", sizes]) == 2
    assert "--sizes has an empty item" in capsys.readouterr().err


@pytest.mark.parametrize("prob", [0.9999999, 1e-9, 0.975])
def test_an_interval_probability_that_cannot_be_printed_truthfully_is_refused(tmp_path, capsys, prob) -> None:
    config = write_config(tmp_path, **{"report.interval_prob": prob})
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "report.interval_prob" in err and "whole percentage from 0.01 to 0.99" in err


# ------------------------------------------------------------------ #12 report of an edited run folder


@pytest.mark.sampling
def test_report_refuses_a_run_folder_whose_config_names_another_model_kind(
    tmp_path: Path, small_ipsung: Path, capsys
) -> None:
    raw = edit_config(load_raw_config(REPO / "models" / "ipsung_employment.toml"), **TINY)
    for key in ("participants", "services"):
        raw["data"][key] = str(small_ipsung / f"{key}.csv")
    config = tmp_path / "cfg" / "tiny.toml"
    config.parent.mkdir()
    config.write_text(tomli_w.dumps(raw))
    run = tmp_path / "r"
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 0
    text = (run / "config.toml").read_text()
    fitted = load_raw_config(run / "config.toml")["model"]["kind"]
    (run / "config.toml").write_text(text.replace(f'kind = "{fitted}"', 'kind = "cace"'))
    capsys.readouterr()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "model.kind" in err and "'cace'" in err and f"'{fitted}'" in err and "Traceback" not in err

    # posterior.nc describes the run; a config.toml edited outside [report] is refused, [report] may change
    import json
    import tomllib

    import xarray as xr

    with xr.open_datatree(run / "posterior.nc") as recorded:
        attrs = dict(recorded.attrs)
    provenance = json.loads((run / "provenance.json").read_text())
    assert tomllib.loads(attrs["config_toml"]) == tomllib.loads(text)
    assert attrs["seed"] == provenance["seed"] and attrs["data_sha256"] == provenance["data_sha256"]
    assert json.loads(attrs["data_files_sha256"]) == {k: v["sha256"] for k, v in provenance["data"].items()}
    assert json.loads(attrs["versions"])["pymc"] == provenance["versions"]["pymc"]
    seed = load_raw_config(run / "config.toml")["seed"]
    (run / "config.toml").write_text(text.replace(f"seed = {seed}", "seed = 777"))
    capsys.readouterr()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "'seed'" in err and "[report]" in err and "Traceback" not in err
    edited = load_raw_config(run / "config.toml")
    edited["report"]["title"] = "Retitled for the board"
    (run / "config.toml").write_text(tomli_w.dumps(edited).replace("seed = 777", f"seed = {seed}"))
    assert main(["report", str(run)]) == 0
    assert "Retitled for the board" in (run / "report.md").read_text()

    (run / "config.toml").write_text(text)
    assert main(["report", str(run)]) == 0
    (run / "report.md").write_text((run / "report.md").read_text() + "\nmy note\n")
    assert main(["report", str(run)]) == 2
    assert "report.md" in capsys.readouterr().err and "my note" in (run / "report.md").read_text()
    assert output.placed_count() >= 1

    # numbers changed in posterior.nc (valid netCDF, 100 added to an estimand) were re-rendered as if computed
    (run / "report.md").write_text((run / "report.md").read_text().replace("\nmy note\n", ""))
    tree = xr.open_datatree(run / "posterior.nc")
    tree.load()
    tree.close()
    estimands = tree["estimands"].to_dataset()
    name = next(n for n, v in estimands.data_vars.items() if "chain" in v.dims)
    tree["estimands"] = xr.DataTree(estimands.assign({name: estimands[name] + 100}))
    tree.to_netcdf(tmp_path / "tampered.nc", engine="h5netcdf")
    (tmp_path / "tampered.nc").replace(run / "posterior.nc")
    before = (run / "summary.csv").read_text()
    capsys.readouterr()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "posterior.nc changed since ipsbayes wrote it" in err and "Traceback" not in err
    assert (run / "summary.csv").read_text() == before


@pytest.mark.parametrize("value", [0.9999999, 1e-9, 0.925])
def test_a_design_interval_probability_must_print_as_a_whole_percent(value: float) -> None:
    """The design report prints its interval as a whole percent, as run reports do (``report.interval_prob``)."""
    from pydantic import ValidationError

    from ipsbayes.assurance import DesignSpec

    with pytest.raises(ValidationError, match="whole percentage"):
        DesignSpec.model_validate({"interval_prob": value})
    assert DesignSpec.model_validate({"interval_prob": 0.95}).interval_prob == 0.95


def test_keeping_an_edited_file_never_renames_a_users_own_file(tmp_path: Path) -> None:
    """A user's own ``participants.csv.kept-1`` stays as it is; the edited file takes the next free name."""
    from ipsbayes.manifest import carry_user_files

    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / "participants.csv").write_text("# my edit\n")
    (old / "participants.csv.kept-1").write_text("my own notes\n")
    (new / "participants.csv").write_text("new data\n")
    carried = dict(carry_user_files(old, new, frozenset()))
    assert carried == {
        "participants.csv.kept-1": "participants.csv.kept-1",
        "participants.csv": "participants.csv.kept-2",
    }
    assert (new / "participants.csv.kept-1").read_text() == "my own notes\n"
    assert (new / "participants.csv.kept-2").read_text() == "# my edit\n"
