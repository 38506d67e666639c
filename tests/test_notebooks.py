"""The report-author notebook runs against every shipped config's run folder in a real IPython kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import REPO, SHIPPED

pytestmark = pytest.mark.sampling
nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[notebook]'")
nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[notebook]'")


@pytest.mark.parametrize("name", SHIPPED)
def test_embed_run_notebook_executes(shipped: dict[str, Path], name: str, monkeypatch) -> None:
    monkeypatch.setenv("IPSBAYES_RUN", str(shipped[name]))
    notebook = nbformat.read(REPO / "notebooks" / "embed_run_in_report.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "diagnostics:" in text and "Intervals:" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs if o.output_type == "display_data") >= 2
