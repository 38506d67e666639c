"""PyTensor's C compiler flags kept per CPU and compiler: later processes compile with the flags it would find."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytensor
import pytest
from pytensor.link.c.cmodule import GCC_compiler

from ipsbayes import compile_key, compiler_flags

needs_compiler = pytest.mark.skipif(not pytensor.config.cxx, reason="no C compiler for PyTensor")

FOUND = (  # in a run's setting of PyTensor: importing PyMC adds compiler flags
    "import pymc\n"
    "from pytensor.link.c.cmodule import GCC_compiler as G; import json; print(json.dumps(G.compile_args()))"
)
KEEP = (
    "import pymc\nfrom pytensor.link.c.cmodule import GCC_compiler as G; G.compile_args()\n"
    "from ipsbayes.compiler_flags import keep_found_flags; keep_found_flags()\nprint('[]')"
)
USE = (
    "import pymc\nfrom ipsbayes.compiler_flags import use_known_flags\n"
    "from pytensor.link.c.cmodule import GCC_compiler as G; import json\n"
    "took = use_known_flags()\n"
    "print(json.dumps([took, G.compile_args()]))"
)


def _python(code: str, cache: Path) -> object:
    env = {**os.environ, "IPSBAYES_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_compiler
def test_a_later_process_compiles_with_the_flags_pytensor_finds_itself(tmp_path: Path) -> None:
    found = _python(FOUND, tmp_path)
    assert _python(USE, tmp_path) == [False, found]  # nothing kept yet: PyTensor asks the compiler
    _python(KEEP, tmp_path)
    assert len(list((tmp_path / compiler_flags.FOLDER).glob("*.json"))) == 1
    assert _python(USE, tmp_path) == [True, found]


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pytensor.config, "cxx", sys.executable)  # any binary: the key needs one to exist
    monkeypatch.setattr(GCC_compiler, "march_flags", ["-march=kept"])
    compiler_flags.keep_found_flags()
    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    path = compiler_flags.flags_file()
    assert path is not None and path.is_file()
    return path


def test_kept_flags_are_used_and_known_flags_are_not_replaced(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert compiler_flags.use_known_flags() and GCC_compiler.march_flags == ["-march=kept"]
    monkeypatch.setattr(GCC_compiler, "march_flags", ["-mown"])
    assert not compiler_flags.use_known_flags() and GCC_compiler.march_flags == ["-mown"]


@pytest.mark.parametrize("content", ["", "{not json", '{"march_flags": "-march=x"}', '{"other": []}', "[1, 2]"])
def test_a_file_that_cannot_be_read_is_ignored(kept: Path, content: str) -> None:
    kept.write_text(content)
    assert not compiler_flags.use_known_flags()
    assert GCC_compiler.march_flags is None  # PyTensor asks the compiler as always


def test_another_cpu_compiler_or_pytensor_is_another_key(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_key, "cpu", lambda: ["x86_64-unknown-linux-gnu", "another", "+avx2"])
    assert compiler_flags.flags_file() != kept and not compiler_flags.use_known_flags()
    monkeypatch.undo()
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(kept.parents[1]))
    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    monkeypatch.setattr(pytensor.config, "gcc__cxxflags", "-O2")
    monkeypatch.setattr(pytensor.config, "cxx", sys.executable)
    assert compiler_flags.flags_file() != kept


def test_with_the_cache_off_nothing_is_read_or_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", "off")
    monkeypatch.setattr(GCC_compiler, "march_flags", ["-march=x"])
    compiler_flags.keep_found_flags()
    monkeypatch.setattr(GCC_compiler, "march_flags", None)
    assert compiler_flags.flags_file() is None and not compiler_flags.use_known_flags()


def test_an_unwritable_cache_never_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(blocked))
    monkeypatch.setattr(pytensor.config, "cxx", sys.executable)
    monkeypatch.setattr(GCC_compiler, "march_flags", ["-march=x"])
    compiler_flags.keep_found_flags()  # no error
    assert json.loads(json.dumps(GCC_compiler.march_flags)) == ["-march=x"]


def test_a_failing_key_never_fails_a_run(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[str]:
        raise RuntimeError("numba cannot name this CPU")

    monkeypatch.setattr(compile_key, "cpu", broken)
    assert not compiler_flags.use_known_flags() and GCC_compiler.march_flags is None
    monkeypatch.setattr(GCC_compiler, "march_flags", ["-march=x"])
    compiler_flags.keep_found_flags()  # no error
