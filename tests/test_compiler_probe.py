"""The C compiler's flags probed on a background thread are the flags PyTensor finds itself."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytensor
import pytest
from pytensor.link.c.cmodule import GCC_compiler

from ipsbayes import compiler_probe

pytestmark = pytest.mark.skipif(not pytensor.config.cxx, reason="no C compiler for PyTensor")

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


def test_flags_probed_in_the_background_are_those_pytensor_finds_itself() -> None:
    plain = _python(FLAGS)
    known, probed = _python(PROBED)
    assert known is not None  # found by the probe, before anything compiled
    assert probed == plain


def test_the_probe_runs_on_another_thread_and_is_finished_when_the_block_is_left(monkeypatch) -> None:
    seen: list[str] = []
    released = threading.Event()

    def fake_compile_args(march_flags: bool = True) -> list[str]:
        seen.append(threading.current_thread().name)
        released.wait(5)
        GCC_compiler.march_flags = ["-mfake"]
        return []

    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    monkeypatch.setattr(GCC_compiler, "compile_args", staticmethod(fake_compile_args))
    with compiler_probe.probing_compiler_flags():
        released.set()
    assert seen == ["ipsbayes-compiler-probe"]
    assert not any(t.name == "ipsbayes-compiler-probe" for t in threading.enumerate())
    assert GCC_compiler.march_flags == ["-mfake"]


def test_a_failing_probe_is_left_to_pytensor(monkeypatch) -> None:
    def broken(march_flags: bool = True) -> list[str]:
        raise OSError("no g++")

    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    monkeypatch.setattr(GCC_compiler, "compile_args", staticmethod(broken))
    with compiler_probe.probing_compiler_flags():
        pass
    assert GCC_compiler.march_flags is None  # PyTensor probes again when it first compiles


def test_nothing_starts_when_the_flags_are_known(monkeypatch) -> None:
    monkeypatch.setattr(GCC_compiler, "march_flags", ["-mknown"])
    monkeypatch.setattr(GCC_compiler, "compile_args", staticmethod(lambda march_flags=True: pytest.fail("probed")))
    with compiler_probe.probing_compiler_flags():
        assert not any(t.name == "ipsbayes-compiler-probe" for t in threading.enumerate())
