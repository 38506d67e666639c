"""Reference check: Singer & Willett (2003), Table 11.3, grade at first intercourse (discrete-time hazard).

The published models are maximum-likelihood logistic regressions on person-period
rows with one free log-odds per grade; ipsbayes fits them with ``baseline = "free"``
and Normal(0, 4) priors (as in Kurz's brms replication), which move the estimates
by well under one standard error. Numbers: examples/alda_first_sex/README.md.
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pytest
import tomli_w

from ipsbayes.runner import check
from ipsbayes.sampling import sample
from ipsbayes.testing import edit_config

from .conftest import REPO

pytestmark = [pytest.mark.sampling, pytest.mark.reproduce]  # `make reproduce`
FOLDER = REPO / "examples" / "alda_first_sex"
#: Table 11.3: estimate and standard error of each grade's log-odds (D7..D12) and of PT and PAS
MODEL_D = {"pt": (0.6605, 0.2367), "pas": (0.2964, 0.1254)}
MODEL_D_GRADES = [(-2.8932, 0.3206), (-3.5848, 0.4231), (-2.1502, 0.2775), (-1.6932, 0.2647), (-1.5177, 0.2757),
                  (-1.0099, 0.2811)]  # fmt: skip
MODEL_B = {"pt": (0.8736, 0.2174)}


def fit(path: Path, seed: int = 11):
    plan = check(path)
    result = sample(plan.model, plan.config.sampler, seed, predictive=False, log_likelihood=False, progress=False)
    posterior = result.datatree["posterior"].to_dataset()
    return plan, posterior, plan.family.estimands(posterior, plan.data, plan.spec, plan.config)


def config(tmp_path: Path, name: str, **changes) -> Path:
    import tomllib

    raw = tomllib.loads((FOLDER / "first_sex_model_d.toml").read_text())
    for key in ("participants", "monthly_status"):
        raw["data"][key] = str(FOLDER / raw["data"][key])
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(edit_config(raw, **{"sampler.profile": "ci", **changes})))
    return path


def test_model_d_reproduces_table_11_3_within_one_standard_error(tmp_path: Path) -> None:
    _, posterior, estimands = fit(config(tmp_path, "model_d"))
    coefficients = estimands["hazard_log_odds_per_unit"].sel(target="first_sex")
    for term, (published, se) in MODEL_D.items():
        assert abs(float(coefficients.sel(term=term).mean()) - published) < se, term
    grades = posterior["baseline_logit"].sel(target="first_sex").mean(("chain", "draw")).values
    for grade, value, (published, se) in zip(range(7, 13), grades, MODEL_D_GRADES, strict=True):
        assert abs(value - published) < se, f"grade {grade}"


def test_collapsing_gives_the_same_posterior_as_person_period_rows(tmp_path: Path) -> None:
    """Model B (PT only): 822 person-periods collapse into 12 cells (6 grades x 2 PT groups)."""
    collapsed = fit(config(tmp_path, "model_b", **{"model.formula": "~ pt"}))
    rows = fit(config(tmp_path, "model_b_rows", **{"model.formula": "~ pt", "model.collapse": "never"}))
    assert collapsed[0].data.info["cells"] == 12 and rows[0].data.info["cells"] == 822
    selections = {
        "pt coefficient": ("hazard_log_odds_per_unit", {"target": "first_sex", "term": "pt"}),
        "share by grade 12": ("incidence_any", {"horizon": "12 months"}),
    }
    for label, (name, where) in selections.items():
        a, b = (result[2][name].sel(where).transpose("chain", "draw").values for result in (collapsed, rows))
        difference = float(a.mean() - b.mean())
        mcse = float(np.hypot(az.mcse(a), az.mcse(b)))
        assert abs(difference) < 4 * mcse, f"{label}: {difference:.4f} (MC SE {mcse:.4f})"
    pt_mean = float(collapsed[2]["hazard_log_odds_per_unit"].sel(target="first_sex", term="pt").mean())
    published, se = MODEL_B["pt"]
    assert abs(pt_mean - published) < se
