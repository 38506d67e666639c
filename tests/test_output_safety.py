"""ipsbayes never deletes or replaces files it did not write; failed or interrupted commands leave nothing half-written.

Most tests here need no sampling: they fake an earlier run folder (a manifest and a few
files) and check what a command does around it. The tests marked ``sampling`` fit a tiny
model once and check re-running, re-rendering and Ctrl-C on a real run folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from ipsbayes import output
from ipsbayes.cli import main
from ipsbayes.errors import OutputError
from ipsbayes.output import MANIFEST_NAME, atomic_output, claim_output, read_manifest
from ipsbayes.output_refresh import refresh_folder
from ipsbayes.simulate import simulate
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

TINY = {
    "sampler.profile": "ci",
    "sampler.draws": 60,
    "sampler.tune": 60,
    "model.formula": "work_or_education_12m ~ age + ips25 + (1 | service)",
    "sensitivity.power_scaling": False,
}


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (for "nothing changed" assertions)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Hidden staging, render or old folders ipsbayes may have left next to its outputs."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".") and ("staging" in p.name or ".old-" in p.name or ".render-" in p.name)
    )


def fake_run(folder: Path, kind: str = "run") -> Path:
    """An earlier ipsbayes folder: two files it wrote and a manifest listing them."""
    (folder / "figures").mkdir(parents=True)
    (folder / "report.md").write_text("old report\n")
    (folder / "figures" / "a.png").write_bytes(b"old figure")
    output.write_manifest(folder, kind)
    return folder


def add_user_files(folder: Path) -> dict[str, bytes]:
    """A user's notes, a folder of their figures and a file of theirs inside ipsbayes' figures/."""
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "my_figs").mkdir()
    (folder / "my_figs" / "x.png").write_bytes(b"my figure")
    (folder / "figures" / "mine.png").write_bytes(b"my own figure among ipsbayes' ones")
    return {
        "notes.txt": b"my notes\n",
        "my_figs/x.png": b"my figure",
        "figures/mine.png": b"my own figure among ipsbayes' ones",
    }


@pytest.fixture
def config(tmp_path: Path, small_ipsung: Path) -> Path:
    """A tiny ipsung config in its own folder, reading the small simulated data."""
    raw = edit_config(load_raw_config(REPO / "models" / "ipsung_employment.toml"), **TINY)
    for key in ("participants", "services"):
        raw["data"][key] = str(small_ipsung / f"{key}.csv")
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "tiny.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


# ----------------------------------------------------------------------------- refusing places


def test_folder_of_user_files_is_refused_and_untouched(config: Path, tmp_path: Path, capsys) -> None:
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    (mywork / "notes.txt").write_text("notes")
    (mywork / "analysis.R").write_text("lm(y ~ x)")
    before = files_of(mywork)
    started = time.perf_counter()
    assert main(["run", str(config), "--out", str(mywork)]) == 2
    assert time.perf_counter() - started < 2.0  # refused before any data are read or anything is compiled
    err = capsys.readouterr().err
    assert "did not write" in err and "--force" in err and "Traceback" not in err
    assert files_of(mywork) == before and leftovers(tmp_path) == []


def test_validate_checks_its_output_folder_before_any_work(config: Path, tmp_path: Path, capsys) -> None:
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    (mywork / "notes.txt").write_text("notes")
    started = time.perf_counter()
    assert main(["validate", str(config), "--out", str(mywork), "--datasets", "1"]) == 2
    assert time.perf_counter() - started < 2.0
    assert "Refusing to write the validation folder" in capsys.readouterr().err
    assert (mywork / "notes.txt").read_text() == "notes" and leftovers(tmp_path) == []


def test_run_folder_of_an_older_ipsbayes_is_named_as_such(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.toml", "posterior.nc", "provenance.json"):
        (old / name).write_text("")
    with pytest.raises(OutputError, match="older ipsbayes, which wrote no manifest"):
        claim_output(old, kind="run")


@pytest.mark.parametrize("where", [".", "..", "/", "~", "config_folder", "data_folder", "repo"])
def test_places_that_are_never_output_folders(where: str, config: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    target = {
        "config_folder": str(config.parent),
        "data_folder": str(Path(load_raw_config(config)["data"]["participants"]).parent),
        "repo": str(REPO),
        "~": str(Path.home()),
    }.get(where, where)
    assert main(["run", str(config), "--out", target, "--force"]) == 2
    err = capsys.readouterr().err
    assert "Refusing to write the run folder" in err and "Traceback" not in err
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("name", ["..", ".", "../escape", "a/b", "runs name", "-rf", ""])
def test_config_name_is_a_plain_slug(name: str, config: Path, capsys) -> None:
    raw = load_raw_config(config)
    raw["name"] = name
    config.write_text(tomli_w.dumps(raw))
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "key 'name'" in err and "letters, digits" in err


def test_unwritable_or_impossible_location_fails_at_once(config: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for out in (blocker / "run", Path("/proc/ipsbayes-run")):
        started = time.perf_counter()
        assert main(["run", str(config), "--out", str(out)]) == 2
        assert time.perf_counter() - started < 2.0
        err = capsys.readouterr().err
        assert err.startswith("error: Cannot write") and len(err.strip().splitlines()) == 1
    assert leftovers(tmp_path) == []


def test_force_writes_a_versioned_sibling_and_deletes_nothing(tmp_path: Path) -> None:
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    (mywork / "notes.txt").write_text("notes")
    (tmp_path / "mywork-2").mkdir()
    (tmp_path / "mywork-2" / "x").write_text("taken")
    claim = claim_output(mywork, kind="run", force=True)
    assert claim.target == tmp_path / "mywork-3"
    with atomic_output(claim) as staging:
        (staging / "report.md").write_text("new")
    assert (tmp_path / "mywork-3" / "report.md").read_text() == "new"
    assert (mywork / "notes.txt").read_text() == "notes" and (tmp_path / "mywork-2" / "x").read_text() == "taken"
    assert read_manifest(tmp_path / "mywork-3").files == {"report.md"}


def test_other_kind_of_ipsbayes_folder_is_not_replaced(tmp_path: Path) -> None:
    data = fake_run(tmp_path / "sim", kind="simulation")
    with pytest.raises(OutputError, match="holds a simulated data set, not a run folder"):
        claim_output(data, kind="run")


# ----------------------------------------------------------------------------- replacing ipsbayes folders


def test_replacing_an_earlier_run_keeps_every_file_ipsbayes_did_not_write(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "runs" / "a")
    mine = add_user_files(run)
    (run / "empty_dir_of_mine").mkdir()
    claim = claim_output(run, kind="run")
    assert claim.replaces
    with pytest.warns(UserWarning, match="kept"), atomic_output(claim) as staging:
        (staging / "report.md").write_text("new report\n")
        (staging / "figures").mkdir()
        (staging / "figures" / "b.png").write_bytes(b"new figure")
    now = files_of(run)
    for name, content in mine.items():
        assert now[name] == content, name
    assert now["report.md"] == b"new report\n" and "figures/a.png" not in now  # ipsbayes' old file is gone
    assert (run / "empty_dir_of_mine").is_dir()
    assert read_manifest(run).files == {"report.md", "figures/b.png"}  # the user's files stay theirs
    assert leftovers(run.parent) == []


def test_user_file_taking_a_new_files_name_is_kept_beside_it(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "a")
    (run / "summary.csv").write_text("the user's own summary")
    with pytest.warns(UserWarning), atomic_output(claim_output(run, kind="run")) as staging:
        (staging / "summary.csv").write_text("ipsbayes summary")
    assert (run / "summary.csv").read_text() == "ipsbayes summary"
    assert (run / "summary.csv.kept-1").read_text() == "the user's own summary"


def test_hand_made_manifest_cannot_delete_outside_the_folder(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / MANIFEST_NAME).write_text(
        json.dumps(
            {"tool": "ipsbayes", "kind": "run", "files": ["../victim.txt", "/etc/hostname", "a/../../victim.txt"]}
        )
    )
    assert read_manifest(run).files == frozenset()
    with atomic_output(claim_output(run, kind="run")) as staging:
        (staging / "report.md").write_text("new")
    assert victim.read_text() == "precious"


def test_failure_or_interrupt_removes_the_staging_folder_and_keeps_the_earlier_run(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "a")
    before = files_of(run)
    for error in (ValueError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)), atomic_output(claim_output(run, kind="run")) as staging:
            (staging / "report.md").write_text("half")
            raise error
        assert files_of(run) == before and leftovers(tmp_path) == []


def test_claims_of_a_command_are_released_whatever_stops_it(tmp_path: Path) -> None:
    @output.releasing_claims
    def command() -> None:
        claim_output(tmp_path / "out", kind="run")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        command()
    assert list(tmp_path.iterdir()) == []

    @output.releasing_claims
    def nested() -> None:
        claim_output(tmp_path / "runs" / "deep" / "out", kind="run")
        raise ValueError("failed before placing")

    with pytest.raises(ValueError):
        nested()
    assert list(tmp_path.iterdir()) == []  # the empty parents it created are gone too


def test_failed_final_rename_leaves_no_staging_folder(tmp_path: Path, monkeypatch) -> None:
    run = fake_run(tmp_path / "a")
    before = files_of(run)
    real_replace = os.replace

    def failing_replace(src, dst):
        if ".staging-" in str(src):
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", failing_replace)
    with pytest.raises(OutputError, match="permission denied"), atomic_output(claim_output(run, kind="run")) as staging:
        (staging / "report.md").write_text("complete new run")
    assert files_of(run) == before and leftovers(tmp_path) == []


def test_refresh_rewrites_only_listed_files(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "a")
    mine = add_user_files(run)
    with refresh_folder(run) as staging:
        (staging / "report.md").write_text("re-rendered\n")
    assert (run / "report.md").read_text() == "re-rendered\n" and (run / "figures" / "a.png").exists()
    for name, content in mine.items():
        assert files_of(run)[name] == content
    with pytest.raises(OutputError, match="did not write"), refresh_folder(run) as staging:
        (staging / "notes.txt").write_text("would overwrite the user's notes")
    assert (run / "notes.txt").read_text() == "my notes\n" and leftovers(tmp_path) == []


def test_refresh_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    """A run's figures/ replaced by a link to the user's folder: re-rendering must not write into it."""
    run = fake_run(tmp_path / "a")
    users = tmp_path / "userfigs"
    users.mkdir()
    (users / "a.png").write_bytes(b"the user's own figure")
    for path in (run / "figures").iterdir():
        path.unlink()
    (run / "figures").rmdir()
    (run / "figures").symlink_to(users)
    before = files_of(users)
    with pytest.raises(OutputError, match="symbolic link"), refresh_folder(run) as staging:
        (staging / "figures").mkdir()
        (staging / "figures" / "a.png").write_bytes(b"new figure")
    assert files_of(users) == before and leftovers(tmp_path) == []
    # a link to a single listed file is refused too (replacing it would replace the user's link)
    (run / "figures").unlink()
    (run / "figures").mkdir()
    (run / "figures" / "a.png").symlink_to(users / "a.png")
    with pytest.raises(OutputError, match="symbolic link"), refresh_folder(run):
        pass
    assert files_of(users) == before and (run / "figures" / "a.png").is_symlink()


def test_report_refuses_a_folder_without_manifest(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "not_a_run"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    assert main(["report", str(folder)]) == 2
    assert "manifest" in capsys.readouterr().err and (folder / "notes.txt").read_text() == "x"


# ----------------------------------------------------------------------------- simulate --out


def test_simulate_refuses_a_file_and_a_folder_of_user_files(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "data.csv"
    a_file.write_text("a,b\n1,2\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "participants.csv").write_text("my real data")
    for out in (a_file, mine):
        assert main(["simulate", "rij", "--out", str(out)]) == 2
        assert "Refusing" in capsys.readouterr().err
    assert a_file.read_text() == "a,b\n1,2\n" and (mine / "participants.csv").read_text() == "my real data"


def test_simulate_replaces_its_own_data_set(tmp_path: Path) -> None:
    folder = tmp_path / "rij"
    simulate("rij", seed=1, out=folder, options={"n_participants": 60})
    (folder / "README.txt").write_text("my description of this data set")
    with pytest.warns(UserWarning, match="kept 1 item"):
        simulate("rij", seed=2, out=folder, options={"n_participants": 60})
    assert (folder / "README.txt").read_text() == "my description of this data set"
    assert read_manifest(folder).files == {"participants.csv", "truth.json"}


def test_committed_data_sets_are_simulated_data_sets() -> None:
    for name in ("ipsung", "rij"):
        manifest = read_manifest(REPO / "data" / name)
        assert manifest is not None and manifest.kind == "simulation", name
        assert manifest.files == {p.name for p in (REPO / "data" / name).iterdir() if p.name != MANIFEST_NAME}


# ----------------------------------------------------------------------------- interrupts before sampling


@pytest.mark.parametrize("stage", ["check", "fit"])  # fit: the pipeline stage that samples
def test_ctrl_c_before_or_during_sampling_exits_130_and_keeps_earlier_run(
    stage: str, config: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import ipsbayes.runner as runner

    run = fake_run(tmp_path / "runs" / "tiny")
    before = files_of(run)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, stage, interrupted)
    assert main(["run", str(config), "--out", str(run)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert files_of(run) == before and leftovers(run.parent) == []


@pytest.mark.sampling
@pytest.mark.parametrize("where", ["thread", "forked child"])
@pytest.mark.parametrize("failure", ["report interrupted", "posterior write fails"])
def test_failure_while_the_posterior_is_written_in_the_background_leaves_nothing(
    failure: str, where: str, config: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """posterior.nc is written beside the report (a forked child, else a thread): either side may fail cleanly."""
    import ipsbayes.runner as runner
    from ipsbayes import forked

    if where == "forked child" and not forked.available():
        pytest.skip("fork needs Linux and two usable cores")
    run = fake_run(tmp_path / "runs" / "tiny")
    before = files_of(run)
    finished = tmp_path / "writer finished"
    real_write = runner.write_posterior

    def slow_write(datatree, path):
        real_write(datatree, path)
        time.sleep(5 if where == "forked child" and failure == "report interrupted" else 0.5)  # still writing
        finished.write_text("yes")
        if failure == "posterior write fails":
            raise OSError(28, "No space left on device", str(path))

    def interrupted_report(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "write_posterior", slow_write)
    monkeypatch.setattr(runner, "write_posterior_in_child", slow_write)  # what the forked child calls
    if where == "thread":
        monkeypatch.setattr(forked, "available", lambda: False)
        monkeypatch.setattr(runner, "BACKGROUND_WRITE_BYTES", 0)  # the tiny run's posterior is written on the thread
    if failure == "report interrupted":
        monkeypatch.setattr(runner, "write_report", interrupted_report)
    code = main(["run", str(config), "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    if where == "thread" or failure == "posterior write fails":
        assert finished.exists()  # the writer ended before the staging folder was removed
    else:
        assert not finished.exists()  # the child was killed (and reaped) before the staging folder was removed
    if failure == "report interrupted":
        assert code == 130 and "interrupted" in err
    else:
        assert code != 0 and "No space left on device" in err
    assert "Traceback" not in err
    assert files_of(run) == before and leftovers(run.parent) == []


def test_a_disk_too_full_for_the_run_folder_is_refused_before_writing(
    config: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """HDF5 can segfault when the disk fills mid-write; the run checks the free space first and writes nothing."""
    import shutil as real_shutil

    from ipsbayes import output_policy

    run = fake_run(tmp_path / "runs" / "tiny")
    before = files_of(run)
    usage = real_shutil.disk_usage(tmp_path)
    monkeypatch.setattr(output_policy.shutil, "disk_usage", lambda path: usage._replace(free=2 * 2**20))  # a 2 MB disk
    code = main(["run", str(config), "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "not enough free space" in err.lower() and "2 MB are free" in err
    assert "Traceback" not in err and files_of(run) == before and leftovers(run.parent) == []
    assert output_policy.free_space_problem(tmp_path / "new" / "run", 10) is not None  # nearest existing folder
    monkeypatch.undo()
    assert output_policy.free_space_problem(tmp_path / "new" / "run", 10) is None


# ----------------------------------------------------------------------------- real run folders


def cli() -> list[str]:
    entry = Path(sys.executable).parent / "ipsbayes"
    return [str(entry)] if entry.exists() else [sys.executable, "-m", "ipsbayes.cli"]


@pytest.mark.sampling
def test_rerun_and_report_keep_user_files_and_interrupted_report_changes_nothing(
    config: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import ipsbayes.runner as runner

    run = tmp_path / "runs" / "tiny"
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 0
    (run / "notes.txt").write_text("my notes\n")
    (run / "my_figs").mkdir()
    (run / "my_figs" / "x.png").write_bytes(b"mine")
    (run / "figures" / "mine.png").write_bytes(b"mine too")
    posterior = (run / "posterior.nc").read_bytes()

    assert main(["report", str(run)]) == 0
    assert (run / "posterior.nc").read_bytes() == posterior
    before = files_of(run)
    assert before["notes.txt"] == b"my notes\n" and before["my_figs/x.png"] == b"mine"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "write_report", interrupted)
    assert main(["report", str(run)]) == 130
    assert files_of(run) == before and leftovers(run.parent) == []
    monkeypatch.undo()

    capsys.readouterr()
    assert main(["run", str(config), "--out", str(run), "--quiet", "--seed", "5"]) == 0
    assert "warning: kept 3 item(s) ipsbayes did not write" in capsys.readouterr().err
    after = files_of(run)
    assert after["notes.txt"] == b"my notes\n" and after["my_figs/x.png"] == b"mine"
    assert after["figures/mine.png"] == b"mine too" and after["posterior.nc"] != posterior
    assert {"notes.txt", "my_figs/x.png", "figures/mine.png"}.isdisjoint(read_manifest(run).files)
    assert leftovers(run.parent) == []


@pytest.mark.sampling
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_during_sampling_exits_130_within_seconds_and_keeps_earlier_run(
    config: Path, tmp_path: Path, stop: int, code: int
) -> None:
    """A real ``ipsbayes run`` gets SIGINT (or SIGTERM, as ``kill`` and ``timeout`` send) while nutpie samples.

    Exit 130 (143), no staging folder, earlier run intact.
    """
    run = fake_run(tmp_path / "runs" / "tiny")
    (run / "notes.txt").write_text("my notes\n")
    before = files_of(run)
    raw = load_raw_config(config)
    raw["sampler"].update({"draws": 100_000, "tune": 1000, "chains": 2})
    config.write_text(tomli_w.dumps(raw))
    process = subprocess.Popen(
        [*cli(), "run", str(config), "--out", str(run)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "ipsbayes: sampling" in line:
            break
    assert any("ipsbayes: sampling" in line for line in lines), "".join(lines)
    time.sleep(1.5)  # well into sampling (100,000 draws take minutes)
    assert process.poll() is None
    sent = time.perf_counter()
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    seconds = time.perf_counter() - sent
    assert process.returncode == code, err
    assert seconds < 5.0, seconds
    assert "interrupted" in err and "Traceback" not in err
    assert files_of(run) == before and leftovers(run.parent) == []


# ----------------------------------------------------------------------------- a stop Python swallowed


@pytest.mark.sampling
def test_a_stop_whose_keyboard_interrupt_was_swallowed_still_keeps_the_earlier_run(
    config: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """SIGTERM's KeyboardInterrupt raised inside a garbage-collection callback is swallowed by Python.

    The signal is recorded all the same: the run must not go on to replace the earlier folder.
    """
    import signal

    import ipsbayes.runner as runner
    from ipsbayes import interrupt

    run = fake_run(tmp_path / "runs" / "tiny")
    before = files_of(run)
    real_report = runner.write_report

    def report_then_swallowed_stop(*args, **kwargs):
        result = real_report(*args, **kwargs)
        interrupt.mark(signal.SIGTERM)  # what the handler records; its KeyboardInterrupt never arrives
        return result

    monkeypatch.setattr(runner, "write_report", report_then_swallowed_stop)
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 143
    err = capsys.readouterr().err
    assert "interrupted" in err and "in place" not in err and "Traceback" not in err
    assert files_of(run) == before and leftovers(run.parent) == []


def test_a_later_library_call_forgets_an_earlier_calls_stop(tmp_path: Path) -> None:
    """A notebook that interrupted one run: the next one's output is claimed and placed as usual."""
    import signal

    from ipsbayes import interrupt
    from ipsbayes.output import atomic_output, claim_output

    interrupt.mark(signal.SIGINT)  # recorded during an earlier call, outside the command line
    claim = claim_output(tmp_path / "next", kind="run")
    assert not interrupt.requested()
    with atomic_output(claim) as staging:
        (staging / "x.txt").write_text("x")
    assert (tmp_path / "next" / "x.txt").read_text() == "x"


def test_exceptions_python_cannot_raise_print_no_traceback(capsys) -> None:
    import gc
    import sys

    from ipsbayes.cli import _unraisable

    def unraisable(error: BaseException):
        """Python's own record of ``error`` raised in a destructor."""

        class Raises:
            def __del__(self):
                raise error

        caught = []
        previous, sys.unraisablehook = sys.unraisablehook, caught.append
        try:
            Raises()
            gc.collect()
        finally:
            sys.unraisablehook = previous
        return caught[0]

    _unraisable(unraisable(KeyboardInterrupt()), debug=False)
    _unraisable(unraisable(RuntimeError("Can't decrement id ref count")), debug=False)
    _unraisable(unraisable(KeyboardInterrupt()), debug=True)
    assert capsys.readouterr().err == ""
    _unraisable(unraisable(RuntimeError("Can't decrement id ref count")), debug=True)
    assert "Can't decrement id ref count" in capsys.readouterr().err
