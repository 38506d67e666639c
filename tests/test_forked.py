"""Work in a forked child beside the caller (``ipsbayes.forked``): results, errors, and no child left behind."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ipsbayes import forked, interrupt
from ipsbayes.errors import DataError

pytestmark = pytest.mark.skipif(not forked.available(), reason="fork needs Linux and two usable cores")


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not this one")


def test_the_childs_result_comes_back_and_the_block_runs_beside_it(tmp_path) -> None:
    def work() -> dict:
        (tmp_path / "from_child").write_text(str(os.getpid()))
        return {"pid": os.getpid(), "values": list(range(100_000))}  # larger than a pipe's buffer

    with forked.in_child(work) as child:
        here = os.getpid()
    assert child.result["pid"] != here and child.result["values"][-1] == 99_999
    assert (tmp_path / "from_child").read_text() == str(child.result["pid"]) and child.seconds > 0
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(child.result["pid"], os.WNOHANG)


def test_without_fork_the_work_runs_here_first() -> None:
    order = []
    with forked.in_child(lambda: order.append("work") or os.getpid(), fork=False) as child:
        order.append("block")
    assert order == ["work", "block"] and child.result == os.getpid()


def test_an_error_in_the_child_is_raised_in_the_caller() -> None:
    def fails() -> None:
        raise ValueError("column 'age' has text in data row 3")

    with pytest.raises(ValueError, match="column 'age' has text in data row 3"):
        with forked.in_child(fails):
            pass
    with pytest.raises(RuntimeError, match="Unpicklable"):  # one that cannot be pickled: its type and text
        with forked.in_child(lambda: (_ for _ in ()).throw(Unpicklable("x"))):
            pass


class UnpicklableDataError(DataError):
    """A user's error that carries something that cannot be pickled (and needs more than a headline)."""

    def __init__(self, headline: str, column: str) -> None:
        self.lock = threading.Lock()
        super().__init__(headline, [f"column {column!r}: text in row 3"])


def test_a_users_error_that_cannot_be_pickled_stays_a_users_error() -> None:
    """The caller gets a DataError with the same headline and problems: the command exits 2 naming them."""
    with pytest.raises(DataError) as raised:
        with forked.in_child(lambda: (_ for _ in ()).throw(UnpicklableDataError("participants.csv", "age"))):
            pass
    assert type(raised.value) is DataError and raised.value.exit_code == 2
    assert raised.value.headline == "participants.csv"
    assert raised.value.problems == ["column 'age': text in row 3"]
    assert "column 'age': text in row 3" in str(raised.value)


def test_a_child_that_dies_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="killed by signal 9"):
        with forked.in_child(lambda: os.kill(os.getpid(), signal.SIGKILL)):
            pass


def _announce_pid(path) -> None:
    """Write this process's pid to ``path`` whole (a reader that sees the file sees the pid, never an empty file)."""
    part = path.with_suffix(".part")
    part.write_text(str(os.getpid()))
    os.replace(part, path)


def test_an_error_in_the_block_kills_and_reaps_the_child(tmp_path) -> None:
    def slow() -> None:
        _announce_pid(tmp_path / "pid")
        time.sleep(60)
        (tmp_path / "finished").write_text("should never be written")

    started = time.perf_counter()
    with pytest.raises(KeyError):
        with forked.in_child(slow):
            while not (tmp_path / "pid").exists():
                time.sleep(0.01)
            raise KeyError("the caller failed")
    assert time.perf_counter() - started < 10
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert not (tmp_path / "finished").exists()


def test_a_ctrl_c_that_also_ends_the_child_is_an_interruption(tmp_path) -> None:
    """Ctrl-C reaches the whole process group: the child dies silently, the caller is interrupted."""

    def waits() -> None:
        _announce_pid(tmp_path / "pid")
        time.sleep(60)

    interrupt.reset()
    previous = interrupt.install_cli_handler()
    try:
        with pytest.raises(KeyboardInterrupt):
            with forked.in_child(waits):
                while not (tmp_path / "pid").exists():
                    time.sleep(0.01)
                os.kill(int((tmp_path / "pid").read_text()), signal.SIGINT)  # the child's share of the Ctrl-C
                interrupt.mark(signal.SIGINT)  # and the caller's, as its handler records it
        assert interrupt.requested()
    finally:
        interrupt.restore(previous)
        interrupt.reset()


def test_a_stuck_child_is_killed_and_its_work_done_here(monkeypatch, caplog) -> None:
    """A child blocked on a lock (here: asleep) uses no CPU; after STUCK_SECONDS its work is redone here."""
    monkeypatch.setattr(forked, "STUCK_SECONDS", 1.0)
    parent = os.getpid()

    def work() -> str:
        if os.getpid() != parent:
            time.sleep(60)  # never answers
        return "done here"

    started = time.perf_counter()
    with forked.in_child(work) as child:
        pass
    assert child.result == "done here" and time.perf_counter() - started < 15
    assert "made no progress" in caplog.text


def test_a_busy_child_is_not_taken_for_stuck(monkeypatch) -> None:
    monkeypatch.setattr(forked, "STUCK_SECONDS", 1.0)

    def busy() -> int:
        deadline, n = time.perf_counter() + 3.0, 0
        while time.perf_counter() < deadline:  # computing, answering nothing for 3 s
            n += 1
        return os.getpid()

    with forked.in_child(busy) as child:
        pass
    assert child.result != os.getpid()


def test_a_refused_fork_runs_the_work_here(monkeypatch) -> None:
    def no_memory() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_memory)
    with forked.in_child(os.getpid) as child:
        pass
    assert child.result == os.getpid()
