"""Parameter recovery on simulated data with known truth (ci profile; calibration runs in `ipsbayes validate`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ipsbayes
from ipsbayes.simulate import simulate
from ipsbayes.testing import assert_recovers

pytestmark = pytest.mark.sampling


def test_hierarchical_logistic_recovers_service_sd_fidelity_slope_and_a_coefficient(
    make_config, tmp_path: Path
) -> None:
    # fidelity measured without error here: this model assumes it (the measurement-error model is tested elsewhere)
    data = tmp_path / "data"
    simulate("ipsung", seed=101, out=data, options={"review_error_sd": 0.0})
    truth = json.loads((data / "truth.json").read_text())["work_or_education_12m"]
    config = make_config(data=data, **{"sampler.profile": "ci"})
    run = ipsbayes.run(config, out=tmp_path / "run", progress=False)
    assert run.diagnostics.status in {"pass", "warn"}
    estimands = run.estimands
    assert_recovers(
        estimands,
        {
            "sd_service": truth["sd_service"],
            "fidelity_slope": truth["fidelity_slope_per_10"],
            "log_odds_per_unit[months_outside]": truth["coefficients_per_unit"]["months_outside"],
            "log_odds_per_unit[diagnosis[psychosis]]": truth["coefficients_per_unit"]["diagnosis[psychosis]"],
        },
        prob=0.9,
    )


def test_large_services_are_centred_and_still_recover_the_truth(make_config, tmp_path: Path) -> None:
    """Services with hundreds of participants take the centred path; it samples cleanly and the answer stays right."""
    from ipsbayes.runner import check
    from ipsbayes.sampling import sample

    data = tmp_path / "data"
    options = {"n_participants": 8000, "n_services": 12, "n_specialists": 12, "sd_specialist": 0.0}
    simulate("ipsung", seed=6, out=data, options={**options, "review_error_sd": 0.0})
    truth = json.loads((data / "truth.json").read_text())["work_or_education_12m"]
    formula = "work_or_education_12m ~ age + gender + months_outside + diagnosis + ips25 + (1 | service)"
    plan = check(make_config(data=data, **{"sampler.profile": "ci", "model.formula": formula}))
    assert plan.data.info["centred_groups"]["service"] >= 8
    fit = sample(plan.model, plan.config.sampler, 3, predictive=False, log_likelihood=False, progress=False)
    assert int(fit.datatree["sample_stats"]["diverging"].sum()) == 0
    estimands = plan.family.estimands(fit.datatree["posterior"].to_dataset(), plan.data, plan.spec, plan.config)
    assert_recovers(
        estimands,
        {
            "sd_service": truth["sd_service"],
            "fidelity_slope": truth["fidelity_slope_per_10"],
            "log_odds_per_unit[months_outside]": truth["coefficients_per_unit"]["months_outside"],
        },
        prob=0.9,
    )
