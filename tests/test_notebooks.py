"""The report-author notebook runs against a real run folder (code cells executed in order)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

import ipsbayes

from .conftest import REPO

pytestmark = pytest.mark.sampling


def test_embed_run_notebook_executes(make_config, tmp_path: Path, monkeypatch) -> None:
    config = make_config(**{"sampler.profile": "ci", "sampler.draws": 100, "sampler.tune": 100})
    run = ipsbayes.run(config, out=tmp_path / "run", progress=False)
    shown = []
    display_module = types.ModuleType("IPython.display")
    display_module.Image = lambda filename: filename  # stand-in: IPython is not a dependency
    display_module.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    monkeypatch.setenv("IPSBAYES_RUN", str(run.path))
    notebook = json.loads((REPO / "notebooks" / "embed_run_in_report.ipynb").read_text())
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "notebook", "exec"), namespace)
    assert namespace["run"].path == run.path
    assert "percentage points" in namespace["text"]
    assert len(shown) == 2 and all(Path(p).exists() for p in shown)
