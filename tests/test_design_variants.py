"""Designs the IPS configs never exercise, run end to end (report included) at the ci profile.

No fidelity term, no covariates, one grouping factor, a continuous outcome: the model, estimands and
report must work for each. The power-scaling figure's one-estimand case is fixed by the report-output
work (issue 12 bullet assigned there); until it lands, that known crash turns the test into an
expected failure instead of hiding the other checks.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

import ipsbayes
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

#: ~60 s of fits on 2 cores: run by `make test-slow`, not by the default `pytest` / `make test`
pytestmark = [pytest.mark.sampling, pytest.mark.slow]

VARIANTS = {
    "no_fidelity": {"model.formula": "work_or_education_12m ~ age + gender + (1 | service)"},
    "no_covariates": {"model.formula": "work_or_education_12m ~ 1 + (1 | service)"},
    "one_group_factor_multilevel": {
        "model": {"kind": "multilevel", "formula": "work_or_education_12m ~ months_outside + (1 | specialist)"},
        "priors.set": "defaults",
        "report.thresholds": {},
        "validation": {},
    },
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_design_variant_runs_end_to_end(name: str, small_ipsung: Path, tmp_path: Path) -> None:
    raw = load_raw_config(REPO / "models" / "ipsung_employment.toml")
    for key in ("participants", "services"):
        raw["data"][key] = str(small_ipsung / f"{key}.csv")
    changes = {"sampler.profile": "ci", "report.thresholds": {}, **VARIANTS[name]}
    if "model" not in VARIANTS[name]:
        raw["model"].pop("fidelity")
    raw = edit_config(raw, **changes)
    try:
        run = ipsbayes.run(raw, out=tmp_path / name, progress=False)
    except TypeError as exc:
        if "power_scaling" in "".join(traceback.format_tb(exc.__traceback__)):
            pytest.xfail("power-scaling figure with one estimand: fixed by the report-output work")
        raise
    assert run.diagnostics.status in {"pass", "warn"}
    assert "outcome_rate" in run.estimands and (run.path / "report.html").is_file()
