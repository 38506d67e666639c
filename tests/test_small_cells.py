"""Small-cell protection: a service of 3 participants is planted and no output file publishes its observed rate.

Model-based estimates for that service (its partially pooled rate) stay; its observed rate (1 of 3,
33.3%) and its size must not appear in any figure, table, CSV, XLSX, SVG or report, and figures say
that small cells are left out.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import ipsbayes

pytestmark = pytest.mark.sampling
PLANTED = "S99"


def renderings(rate_percent: float) -> list[str]:
    """Every way the outputs write an observed rate: percent and proportion, dot and comma decimals."""
    forms = {f"{rate_percent:.6g}", f"{rate_percent / 100:.6g}", f"{rate_percent:.4f}"}
    return sorted(forms | {f.replace(".", ",") for f in forms})


def texts(folder: Path) -> dict[str, str]:
    """Text of every output file a reader can open: html, md, csv, svg, and each XLSX part."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in {".html", ".md", ".csv", ".svg", ".json", ".toml"}:
            out[str(path.relative_to(folder))] = path.read_text(encoding="utf-8-sig")
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                for part in archive.namelist():
                    if part.endswith(".xml"):
                        out[f"{path.name}:{part}"] = archive.read(part).decode()
    return out


@pytest.fixture(scope="module")
def planted_run(small_ipsung: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import REPO

    data = tmp_path_factory.mktemp("small_cell")
    participants = pd.read_csv(small_ipsung / "participants.csv")
    services = pd.read_csv(small_ipsung / "services.csv")
    planted = participants.head(3).copy()
    planted["participant_id"] = [f"P9990{i}" for i in range(3)]
    planted["service"] = PLANTED
    planted["specialist"] = f"{PLANTED}-J1"
    planted["work_or_education_12m"] = [1, 0, 0]
    planted["outcome_12m"] = ["work", "none", "none"]
    planted[["work_12m", "apprenticeship_12m", "education_12m"]] = [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    pd.concat([participants, planted]).to_csv(data / "participants.csv", index=False)
    extra = services.head(1).assign(service=PLANTED, ips25=81.0)
    pd.concat([services, extra]).to_csv(data / "services.csv", index=False)
    from ipsbayes.testing import edit_config, load_raw_config

    raw = load_raw_config(REPO / "models" / "ipsung_employment.toml")
    raw["data"] = {"participants": str(data / "participants.csv"), "services": str(data / "services.csv")}
    raw = edit_config(
        raw,
        **{
            "model.formula": "work_or_education_12m ~ age + gender + ips25 + (1 | service)",
            "sampler.profile": "ci",
            "sampler.draws": 150,
            "sampler.tune": 150,
            "sensitivity.power_scaling": False,
            "report.min_cell": 5,
        },
    )
    import tomli_w

    config = data / "planted.toml"
    config.write_text(tomli_w.dumps(raw))
    return ipsbayes.run(config, out=data / "run", progress=False).path


def test_no_output_file_publishes_the_planted_small_cell(planted_run: Path) -> None:
    run = ipsbayes.load_run(planted_run)
    estimands = run.estimands
    observed = float(estimands["service_raw_rate"].sel(service=PLANTED))
    assert observed == pytest.approx(100 / 3)  # the cell is there in the data ...
    assert int(estimands["service_n"].sel(service=PLANTED)) == 3
    found = {}
    for name, text in texts(planted_run).items():
        hits = [form for form in renderings(observed) if re.search(rf"(?<![\d.,]){re.escape(form)}(?!\d)", text)]
        lines = [line for line in text.splitlines() if PLANTED in line]
        hits += [f"{PLANTED} line: {line[:120]}" for line in lines if re.search(r"n\s?=\s?3\b|1 (of|av) 3\b", line)]
        if hits:
            found[name] = hits
    assert not found, found  # ... but no output publishes it
    svg = (planted_run / "figures" / "service_caterpillar.svg").read_text()
    assert f"{PLANTED} (n&lt;5)" in svg or f"{PLANTED} (n<5)" in svg
    assert "fewer than 5 participants" in run.report_md.read_text()
    summary = run.summary
    assert PLANTED in set(summary.loc[summary["estimand"] == "service_rate", "element"])  # model-based stays
