"""PyTensor's C compiler flags probed on a thread: the flags PyTensor finds itself, for every compile, or nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytensor
import pytest
from pytensor.link.c.cmodule import GCC_compiler

from ipsbayes import compiler_probe, forked

FLAGS = "from pytensor.link.c.cmodule import GCC_compiler as G; import json; print(json.dumps(G.compile_args()))"
PROBED = (
    "from ipsbayes.compiler_probe import probing_compiler_flags as p\n"
    "with p():\n    pass\n"
    "from pytensor.link.c.cmodule import GCC_compiler as G; import json\n"
    "known = G.march_flags\n"
    "print(json.dumps([known, G.compile_args()]))"
)


def _python(code: str) -> object:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def slow_detection(monkeypatch):
    """A compile_args that marks the flags as being looked for, takes 0.3 s, then keeps ["-mfake"]."""
    calls: list[str] = []

    def compile_args(march_flags: bool = True) -> list[str]:
        calls.append(threading.current_thread().name)
        if GCC_compiler.march_flags is None:
            GCC_compiler.march_flags = []  # as PyTensor does while it looks
            time.sleep(0.3)
            GCC_compiler.march_flags = ["-mfake"]
        return ["-O3", *GCC_compiler.march_flags]

    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    monkeypatch.setattr(GCC_compiler, "compile_args", staticmethod(compile_args))
    monkeypatch.setattr(pytensor.config, "cxx", "g++")
    monkeypatch.setitem(compiler_probe._state, "started", False)
    return calls


@pytest.mark.skipif(not pytensor.config.cxx, reason="no C compiler for PyTensor")
def test_flags_probed_on_the_thread_are_those_pytensor_finds_itself() -> None:
    plain = _python(FLAGS)
    known, probed = _python(PROBED)
    assert known is not None  # found by the probe, before anything compiled
    assert probed == plain


def test_a_compile_on_another_thread_waits_for_the_probe(slow_detection) -> None:
    with compiler_probe.probing_compiler_flags():
        args = GCC_compiler.compile_args()  # while the probe is still looking: waits, gets the flags
    assert args == ["-O3", "-mfake"]
    assert slow_detection[0] == "ipsbayes-compiler-probe"
    assert not any(t.name == "ipsbayes-compiler-probe" for t in threading.enumerate())
    assert GCC_compiler.__dict__["compile_args"].__func__.__name__ == "compile_args"  # restored on leaving


@pytest.mark.skipif(not forked.available(), reason="fork needs Linux and two usable cores")
def test_a_fork_waits_for_the_probe(slow_detection) -> None:
    with compiler_probe.probing_compiler_flags():
        with forked.in_child(lambda: (GCC_compiler.march_flags, [t.name for t in threading.enumerate()])) as child:
            pass
    flags, threads = child.result
    assert flags == ["-mfake"] and "ipsbayes-compiler-probe" not in threads


def test_a_failing_probe_is_left_to_pytensor(monkeypatch) -> None:
    def broken(march_flags: bool = True) -> list[str]:
        raise OSError("no g++")

    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    monkeypatch.setattr(GCC_compiler, "compile_args", staticmethod(broken))
    monkeypatch.setattr(pytensor.config, "cxx", "g++")
    monkeypatch.setitem(compiler_probe._state, "started", False)
    with compiler_probe.probing_compiler_flags():
        pass
    assert GCC_compiler.march_flags is None  # PyTensor probes again when it first compiles


@pytest.mark.parametrize("case", ["known", "unrecognised compiler", "no compiler", "probed before"])
def test_nothing_starts_when_there_is_nothing_to_probe(slow_detection, monkeypatch, case: str) -> None:
    if case == "known":
        monkeypatch.setattr(GCC_compiler, "march_flags", ["-mknown"])
    elif case == "unrecognised compiler":
        monkeypatch.setattr(pytensor.config, "cxx", "/usr/bin/c++")
    elif case == "no compiler":
        monkeypatch.setattr(pytensor.config, "cxx", "")
    else:
        monkeypatch.setitem(compiler_probe._state, "started", True)
    with compiler_probe.probing_compiler_flags():
        assert not any(t.name == "ipsbayes-compiler-probe" for t in threading.enumerate())
    assert slow_detection == []
