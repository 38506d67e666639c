"""Prior-data conflict: tail probabilities, robust-component weights, and the report section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ipsbayes.conflict import prior_data_conflict, robust_weights, tail_probabilities
from ipsbayes.priors import Prior, PriorSet
from ipsbayes.report.sections_map import conflict_section
from ipsbayes.report.style import Style
from ipsbayes.runner import check
from ipsbayes.sampling import sample
from ipsbayes.simulate import simulate

MIXTURE = {"dist": "NormalMixture", "w": [0.8, 0.2], "sigma": [0.15, 3.0], "labels": ["historical", "robust"]}


def test_tail_probabilities_are_mid_p() -> None:
    replicated = np.array([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0])
    tails = tail_probabilities(replicated, 0.0)
    assert tails["p_upper"] == pytest.approx(0.5) and tails["p_two_sided"] == pytest.approx(1.0)
    assert tail_probabilities(replicated, 5.0)["p_two_sided"] == 0.0


def test_robust_weight_follows_the_posterior_draws() -> None:
    prior = Prior("NormalMixture", {"w": (0.8, 0.2), "mu": (1.0, 1.0), "sigma": (0.2, 3.0)}, "t", ("map", "robust"))
    priors = PriorSet("test", "", {"treatment_effect": prior})
    near = xr.Dataset({"treatment_effect": (("chain", "draw"), np.full((1, 50), 1.0))})
    far = xr.Dataset({"treatment_effect": (("chain", "draw"), np.full((1, 50), -2.0))})
    assert (
        robust_weights(near, priors)["treatment_effect"][1] < 0.2 < robust_weights(far, priors)["treatment_effect"][1]
    )


@pytest.mark.sampling
def test_conflicting_data_move_weight_to_the_robust_component(make_config, tmp_path: Path) -> None:
    """Data from a trial with log OR 1.1: a prior at -1.5 conflicts (small p, robust weight up), one at 1.1 does not."""
    data = tmp_path / "rij"
    simulate("rij", seed=3, out=data, options={"n_participants": 200})
    results = {}
    for label, centre in (("conflict", -1.5), ("agreement", 1.1)):
        entry = {**MIXTURE, "mu": [centre, centre]}
        plan = check(make_config("rij_cace", data=data, **{"priors.overrides": {"treatment_effect": entry}}))
        config = plan.config.with_overrides(profile="ci")
        fit = sample(plan.model, config.sampler, 1, predictive=False, log_likelihood=False, reuse_compiled=True)
        results[label] = prior_data_conflict(plan.model, plan.data, plan.priors, fit.datatree, seed=1, draws=1000)
    weight = {k: float(v["robust_posterior_weight"].sel(parameter="treatment_effect")) for k, v in results.items()}
    assert weight["conflict"] > 0.8 and weight["agreement"] < 0.2
    # the robust component predicts almost anything: the mixture's own p stays moderate, the historical part's does not
    assert float(results["conflict"]["p_two_sided_informative"]) < 0.01 < float(results["conflict"]["p_two_sided"])
    assert float(results["agreement"]["p_two_sided_informative"]) > 0.1
    tree = xr.DataTree.from_dict({"prior_data_conflict": results["conflict"]})
    text = conflict_section(xr.Dataset(), tree, None, Style("eti", 0.9))
    assert "conflict with the prior" in text and "towards the vague component" in text
    norsk = conflict_section(xr.Dataset(), tree, None, Style("eti", 0.9), language="nb")
    assert "strider mot prioren" in norsk
