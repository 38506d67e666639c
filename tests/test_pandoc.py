"""report.md through pandoc (Debian's package), from another working folder: front matter read, every
figure found through --resource-path, Quarto figure labels kept as identifiers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.sampling


@pytest.fixture(scope="module")
def pandoc() -> str:
    found = shutil.which("pandoc")
    if found is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("pandoc is not installed: `make test` installs it (apt-get install pandoc)")
        pytest.skip("pandoc not installed")
    return found


def test_report_md_converts_with_figures_from_any_folder(pandoc: str, shipped: dict[str, Path], tmp_path) -> None:
    folder = shipped["ipsung_employment"]
    md = (folder / "report.md").read_text()
    assert md.startswith("---\ntitle: ") and "\nlang: " in md.split("\n---\n")[0]
    html = subprocess.run(
        [pandoc, str(folder / "report.md"), "--resource-path", str(folder), "-s", "-t", "html", "--self-contained"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert html.returncode == 0, html.stderr
    assert "Could not fetch resource" not in html.stderr
    assert "<title>IPS ung" in html.stdout and 'id="fig-fidelity-curve"' in html.stdout
    assert html.stdout.count("data:image/png;base64,") == len(list((folder / "figures").glob("*.png")))
    docx = subprocess.run(
        [pandoc, str(folder / "report.md"), "--resource-path", str(folder), "-o", str(tmp_path / "report.docx")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert docx.returncode == 0 and "Could not fetch resource" not in docx.stderr, docx.stderr
