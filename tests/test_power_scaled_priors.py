"""Power-scaling scales every prior the prior set names, including those held inside another variable.

The SDs and correlations of correlated group effects have no variable of their own: their densities
are inside one LKJ Cholesky variable (``chol_<g>``, ``service_chol``). An outside review found them
dropped without a word, so a model with real sensitivity to them was reported as insensitive.
"""

from __future__ import annotations

import pytest

from ipsbayes.pipeline import complete_priors
from ipsbayes.runner import check
from ipsbayes.sensitivity import prior_variables

from .conftest import REPO
from .test_prior_density import EXAMPLES, SHIPPED


@pytest.mark.parametrize("config", SHIPPED + EXAMPLES)
def test_every_named_prior_has_a_scaled_variable(config: str) -> None:
    plan = check(REPO / config)
    priors = complete_priors(plan.family, plan.spec, plan.data, plan.priors)
    named = [f"{name}_{prior.on}" if prior.on else name for name, prior in priors.priors.items()]  # as the runner
    variables, missing = prior_variables(named, [rv.name for rv in plan.model.free_RVs])
    assert missing == []
    assert variables and len(set(variables)) == len(variables)


def test_correlated_effects_scale_their_lkj_variable() -> None:
    plan = check(REPO / "examples/sleepstudy/sleepstudy.toml")
    available = [rv.name for rv in plan.model.free_RVs]
    assert "chol_Subject" in available and "sd_Subject" not in available
    variables, missing = prior_variables(["intercept", "sd_Subject", "corr_Subject", "sigma"], available)
    assert variables == ["intercept", "chol_Subject", "sigma"] and missing == []
    assert prior_variables(["sd_service", "corr_service"], ["service_chol", "beta"]) == (["service_chol"], [])
    assert prior_variables(["sd_nowhere", "tau"], ["beta"]) == ([], ["sd_nowhere", "tau"])
