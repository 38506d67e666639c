"""Non-IPS studies speak their own words: no IPS vocabulary in what ipsbayes writes for them.

Two non-IPS configs are fitted and rendered: pupils in schools in regions (a continuous score, nested
groups, a region table joined by its key) and the vitamin A trial (a generic CACE). Strings produced
by the model code (estimand names, labels, units, notes, the model description, summary.csv) must be
free of IPS words, and so must every file of the rendered run folder (report prose, figures, tables).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

import ipsbayes
from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

#: IPS words that must not appear in a non-IPS study's outputs
IPS_WORDS = re.compile(r"\bIPS\b|job specialist|\bservices?\b|usual follow-up|fidelity|Norwegian", re.IGNORECASE)


def ips_words(text: str) -> list[str]:
    """IPS words in ``text`` (the package name ipsbayes is not one)."""
    return sorted({m.group(0) for m in IPS_WORDS.finditer(text.replace("ipsbayes", ""))})


def write_schools(folder: Path, seed: int = 3) -> Path:
    """Pupils in schools in regions, with a region table (one row per region) declared by its key."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    regions = pd.DataFrame({"region": [f"R{r}" for r in range(8)], "rural": rng.integers(0, 2, 8)})
    region_effect = dict(zip(regions["region"], rng.normal(0, 4, 8), strict=True))
    rows = []
    for region in regions["region"]:
        for s in range(5):
            school_effect = rng.normal(0, 3)
            for _ in range(rng.integers(4, 16)):
                ses = rng.normal()
                score = 50 + 2 * ses + region_effect[region] + school_effect + rng.normal(0, 6)
                rows.append({"region": region, "school": f"S{s}", "ses": ses, "score": score})
    pd.DataFrame(rows).to_csv(folder / "pupils.csv", index=False)
    regions.to_csv(folder / "regions.csv", index=False)
    config = {
        "name": "schools",
        "data": {"main": "pupils.csv", "tables": {"regions": {"path": "regions.csv", "key": "region"}}},
        "model": {
            "kind": "multilevel",
            "family": "gaussian",
            "formula": "score ~ ses + rural + (1 | region/school)",
            "group_predictors": {"rural": "region"},
            "outcome_label": "test score",
            "outcome_unit": "points",
            "vocabulary": {"unit": "pupil", "units": "pupils", "school": "school", "region": "region"},
        },
        "priors": {"set": "defaults"},
        "sampler": {"profile": "ci"},
        "sensitivity": {"power_scaling": False},
    }
    path = folder / "schools.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def test_school_region_design_is_parsed_joined_and_named(tmp_path: Path) -> None:
    plan = check(write_schools(tmp_path / "schools"))
    assert set(plan.data.coords) >= {"region", "school"}
    assert len(plan.data.coords["school"]) == 40  # S0..S4 within each of 8 regions: nested, not crossed
    assert "rural" in plan.data.coords["term"]
    assert set(plan.priors.priors) >= {"sd_region", "sd_school", "sigma"}
    assert not ips_words(plan.family.describe(plan.spec, plan.data))


def test_group_predictor_varying_within_its_group_is_an_error(tmp_path: Path) -> None:
    path = write_schools(tmp_path / "schools")
    pupils = pd.read_csv(path.parent / "pupils.csv")
    pupils["rural"] = np.arange(len(pupils)) % 2
    pupils.to_csv(path.parent / "pupils.csv", index=False)
    with pytest.raises(ipsbayes.errors.DataError, match="'rural' is a region-level predictor but varies"):
        check(path)


def _model_strings(estimands) -> str:
    """Everything the model code writes about the estimands (names, labels, units, notes, vocabulary)."""
    parts = [json.dumps(estimands.attrs, default=str)]
    for name, var in estimands.data_vars.items():
        parts += [name, json.dumps(var.attrs, default=str)]
        parts += [str(v) for d in var.dims if d not in ("chain", "draw") for v in var[d].values]
    return "\n".join(parts)


def _non_ips_configs(tmp_path: Path) -> dict[str, dict]:
    schools = load_raw_config(write_schools(tmp_path / "schools"))
    trial = edit_config(
        load_raw_config(REPO / "examples" / "vitamin_a" / "vitamin_a.toml"),
        **{"sampler.profile": "ci", "sensitivity.variants": {}},
    )
    return {"schools": schools, "vitamin_a": trial}


@pytest.mark.sampling
def test_non_ips_reports_use_no_ips_vocabulary(tmp_path: Path) -> None:
    configs = _non_ips_configs(tmp_path)
    report_hits: dict[str, list[str]] = {}
    for name, raw in configs.items():
        plan = check(raw)
        run = ipsbayes.run(raw, out=tmp_path / f"run_{name}", progress=False)  # one fit serves both checks
        model_text = _model_strings(run.estimands) + plan.family.describe(plan.spec, plan.data)
        assert not ips_words(model_text), f"{name}: IPS words from the model code: {ips_words(model_text)}"
        summary = (run.path / "summary.csv").read_text()
        assert not ips_words(summary), f"{name}: summary.csv has {ips_words(summary)}"
        for path in sorted(run.path.rglob("*")):
            if path.is_file() and path.suffix in {".html", ".md", ".svg", ".csv", ".json", ".toml"}:
                found = ips_words(path.read_text(errors="ignore"))
                if found:
                    report_hits.setdefault(name, []).append(f"{path.relative_to(run.path)}: {found}")
    assert not report_hits, f"IPS words in what ipsbayes wrote: {report_hits}"
