"""The output lock from an outside review of killed and concurrent commands (round 5).

- A forked child (figures, posterior.nc) kept its parent's lock after ``kill -9`` of the parent, so
  a new command into the folder was refused, naming the dead process.
- ``ipsbayes report`` of a folder a ``run`` was rewriting said "posterior.nc changed since ipsbayes
  wrote it" (it read the half-swapped files before looking at the lock) instead of naming the run.
- A legal folder name of 241-255 bytes failed with a message about an internal lock file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ipsbayes.cli import main
from ipsbayes.errors import OutputError
from ipsbayes.output_lock import acquire, check_unlocked

from .test_output_safety import fake_run


def test_a_forked_child_does_not_keep_the_lock_when_its_parent_is_killed(tmp_path: Path) -> None:
    target = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from ipsbayes.output_lock import acquire
        lock = acquire(Path({str(target)!r}), "run")
        if os.fork() == 0:  # a child still at work (as the figure or posterior.nc child)
            time.sleep(20)
            os._exit(0)
        print("locked", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    log = tmp_path / "parent.log"
    with log.open("w") as out:  # not a pipe: the child would hold it open, and the wait would last its 20 s
        parent = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)
        parent.wait(timeout=60)
    assert "locked" in log.read_text(), log.read_text()
    deadline = time.monotonic() + 5
    while True:  # the child sleeps for 20 s; the lock must be free once the parent is gone
        try:
            check_unlocked(target, "run")
            break
        except OutputError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    acquire(target, "run").release()


def test_report_names_the_command_writing_the_folder(tmp_path: Path, capsys) -> None:
    folder = fake_run(tmp_path / "r")
    lock = acquire(folder, "run")
    try:
        assert main(["report", str(folder)]) == 2
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "is writing it now" in err and "changed since" not in err and "Traceback" not in err


@pytest.mark.parametrize("length", [241, 255])
def test_a_folder_name_too_long_for_the_lock_file_is_named(tmp_path: Path, length: int) -> None:
    target = tmp_path / ("r" * length)
    with pytest.raises(OutputError, match=r"folder's name is \d+ bytes.*at most 240.*shorter name"):
        acquire(target, "run")
    assert not target.exists()


def test_a_staging_folder_left_by_a_killed_command_is_removed_by_the_next(tmp_path: Path) -> None:
    """After kill -9 a 1.6 MB '.run1.staging-xxxx' stayed beside the folder for good (outside review)."""
    from ipsbayes.output import claim_output

    stale = tmp_path / ".run.staging-deadbeef"
    (stale / "figures").mkdir(parents=True)
    (stale / "figures" / "a.png").write_bytes(b"half written")
    (stale / ".ipsbayes-staging").write_bytes(b"ipsbayes staging folder\n")  # the mark each staging folder gets
    mine = tmp_path / ".run.staging-notes"  # not a name ipsbayes gives: kept
    mine.mkdir()
    linked = tmp_path / ".run.staging-0badf00d"  # a link, even with the name: kept, and its target untouched
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    linked.symlink_to(target, target_is_directory=True)
    claim = claim_output(tmp_path / "run", kind="run")
    try:
        assert not stale.exists() and mine.is_dir() and linked.is_symlink() and (target / "keep.txt").exists()
        assert claim.staging.is_dir()
    finally:
        claim.release()
