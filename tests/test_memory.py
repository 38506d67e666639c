"""The ipsbayes command keeps freed memory (glibc's malloc thresholds); programs importing ipsbayes do not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ipsbayes import memory
from ipsbayes.cli import main


def test_thresholds_are_set_on_glibc_in_a_fresh_process() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    code = (
        "import os, subprocess, sys; from ipsbayes.memory import keep_freed_memory; print(keep_freed_memory()); "
        "print(subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get(\"MALLOC_TRIM_THRESHOLD_\"))'],"
        " capture_output=True, text=True).stdout.strip())"
    )
    env = {k: v for k, v in os.environ.items() if k not in memory.USER_SETTINGS}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    # set here, and handed to the processes the command starts (Dask workers spawn afresh)
    assert result.stdout.split() == ["True", str(memory.TRIM_THRESHOLD)]


@pytest.mark.parametrize("name", memory.USER_SETTINGS)
def test_the_users_own_setting_wins(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "1048576")
    assert memory.keep_freed_memory() is False


def test_only_the_command_changes_the_allocator(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append(1) or True)
    assert main(["--version"]) == 0  # a program calling main() with its arguments
    assert calls == []
    monkeypatch.setattr(sys, "argv", ["ipsbayes", "--version"])
    assert main() == 0  # the ipsbayes command
    assert calls == [1]
    capsys.readouterr()
