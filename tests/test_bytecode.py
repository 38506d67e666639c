"""``make`` leaves the package byte-compiled, so no command compiles ipsbayes's modules from source.

An editable install leaves bytecode to the first import, which cannot write it where
PYTHONDONTWRITEBYTECODE is set; ``make bytecode`` (before ``make test``, ``make demo``, the
benchmarks) compiles it once. Checked when the tests run under make, as CI runs them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import ipsbayes

PACKAGE = Path(ipsbayes.__file__).parent


@pytest.mark.skipif("MAKELEVEL" not in os.environ, reason="checks what make did: run under make test")
def test_every_module_of_the_package_has_current_bytecode() -> None:
    stale = []
    for source in sorted(PACKAGE.rglob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
            stale.append(str(source.relative_to(PACKAGE)))
    assert not stale, f"no current bytecode for {len(stale)} modules, e.g. {stale[:3]}"


def test_the_make_targets_that_run_commands_compile_the_package_first() -> None:
    makefile = (PACKAGE.parents[1] / "Makefile").read_text()
    for target in ("demo", "test", "validate", "benchmark", "benchmark-contenders"):
        line = next(row for row in makefile.splitlines() if row.startswith(f"{target}:"))
        assert "bytecode" in line.split(":", 1)[1].split(), f"make {target} does not compile the package first"
