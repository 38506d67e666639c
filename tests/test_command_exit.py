"""The ``ipsbayes`` command ends without the interpreter's teardown, and loses nothing by it.

Run as the installed command (``cli.command``), a finished command flushes its output, runs the
exit handlers (temporary folders, worker processes, logging) and leaves with ``os._exit``; while a
thread the interpreter would wait for still runs, it leaves the normal way.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from ipsbayes.cli import main

from .conftest import REPO

CONFIG = REPO / "models" / "rij_cace.toml"


def _command(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd)


def test_the_command_prints_all_its_output_and_runs_exit_handlers(tmp_path, capsys) -> None:
    assert main(["check", str(CONFIG)]) == 0
    in_process = capsys.readouterr().out
    done = _command(
        f"""
        import atexit, sys, tempfile, pathlib
        folder = tempfile.TemporaryDirectory(dir={str(tmp_path)!r})  # removed by its exit handler
        pathlib.Path(folder.name, "x").write_text("x")
        atexit.register(lambda: print("exit handler ran", file=sys.stderr))
        from ipsbayes.cli import command
        sys.argv = ["ipsbayes", "check", {str(CONFIG)!r}]
        command()
        print("not reached: command() left the process", file=sys.stderr)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()  # its first line states the memory available now, which moves
    assert lines[0].startswith("ok: ") and lines[1:] == in_process.splitlines()[1:] and len(lines) > 5
    assert "exit handler ran" in done.stderr and "not reached" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # the temporary folder's finalizer ran


def test_the_exit_code_is_kept_and_a_running_thread_is_waited_for(tmp_path) -> None:
    done = _command(
        f"""
        import sys, threading, time, pathlib
        def slow():
            time.sleep(1)
            pathlib.Path({str(tmp_path / "thread.txt")!r}).write_text("finished")
        threading.Thread(target=slow).start()  # not a daemon: the interpreter waits for it
        from ipsbayes.cli import command
        sys.argv = ["ipsbayes", "check", {str(tmp_path / "missing.toml")!r}]
        command()
        """,
        tmp_path,
    )
    assert done.returncode == 2 and "missing.toml" in done.stderr
    assert (tmp_path / "thread.txt").read_text() == "finished"


def test_only_the_installed_command_leaves_early(monkeypatch, capsys) -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "ipsbayes"]
    assert script.value == "ipsbayes.cli:command"
    monkeypatch.setattr(sys, "argv", ["ipsbayes", "check", str(CONFIG)])
    assert main() == 0  # a program (or a test) calling main() gets the exit code back
    assert capsys.readouterr().out.startswith("ok: ")


def test_the_version_on_a_full_disk_is_one_line_and_exit_2(tmp_path) -> None:
    from pathlib import Path

    if not Path("/dev/full").exists():
        import pytest

        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", "from ipsbayes.cli import command; command()", "--version"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: cannot write the version: No space left on device"


def test_the_command_imports_the_stack_with_the_collector_paused_then_frozen(tmp_path) -> None:
    """Only the console command pauses the collector for its imports; the run then collects as always."""
    done = _command(
        f"""
        import gc, sys
        import ipsbayes.cli as cli
        seen = {{}}
        original = cli.importing_stack

        import contextlib

        @contextlib.contextmanager
        def spy():
            with original():
                seen["paused"] = not gc.isenabled()
                yield
            seen["enabled_after"] = gc.isenabled()
            seen["frozen"] = gc.get_freeze_count()

        cli.importing_stack = spy
        sys.argv = ["ipsbayes", "check", {str(CONFIG)!r}]
        before = gc.get_freeze_count()
        code = cli.main()
        print({{**seen, "frozen": seen["frozen"] - before}}, code)
        from ipsbayes.command_process import pause_collector_for_imports

        pause_collector_for_imports()
        cli.main()
        print(seen)
        """,
        tmp_path,
    )
    programmatic, command = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert programmatic.startswith("{'paused': False, 'enabled_after': True, 'frozen': 0}"), done.stdout
    values = eval(command)  # our own printed dict
    assert values["paused"] and values["enabled_after"] and values["frozen"] > 100_000, command


def test_a_program_calling_main_keeps_its_collector(monkeypatch) -> None:
    import gc

    frozen = gc.get_freeze_count()
    assert main(["check", str(CONFIG)]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
