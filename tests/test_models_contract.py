"""One contract over every registered model family (scikit-learn's estimator checks, for models).

For each family there is a runnable config in models/; its graph builds, its
log-probability is finite at the initial point, every non-scalar variable has
named dims, and its estimands carry labels and units.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pymc as pm
import pytest

from ipsbayes.models import REGISTRY
from ipsbayes.runner import check

from .conftest import REPO

CONFIGS = {
    path.stem: tomllib.loads(path.read_text())["model"]["kind"] for path in sorted((REPO / "models").glob("*.toml"))
}


def test_every_family_has_a_runnable_config() -> None:
    assert set(REGISTRY) <= set(CONFIGS.values()), f"families without a config: {set(REGISTRY) - set(CONFIGS.values())}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_family_contract(name: str) -> None:
    plan = check(REPO / "models" / f"{name}.toml")
    model = plan.model
    logps = model.point_logps()
    assert all(np.isfinite(v) for v in logps.values()), logps
    for var in model.free_RVs + model.deterministics + model.observed_RVs:
        if var.ndim > 0:
            assert model.named_vars_to_dims.get(var.name), f"{name}: variable {var.name} has no named dims"
    for prior_name in plan.family.prior_names_for(plan.spec):
        assert prior_name in plan.priors
    # estimands from prior draws standing in for a posterior: same shapes, no MCMC
    with model:
        prior = pm.sample_prior_predictive(draws=30, random_seed=1)["prior"].to_dataset()
    posterior = prior.expand_dims("chain") if "chain" not in prior.dims else prior
    estimands = plan.family.estimands(posterior, plan.data, plan.spec, plan.config)
    assert len(estimands.data_vars) > 0
    sampled = [n for n, v in estimands.data_vars.items() if {"chain", "draw"} <= set(v.dims)]
    assert sampled, "a family must produce sampled estimands"
    for var_name in sampled:
        attrs = estimands[var_name].attrs
        assert attrs.get("label") and attrs.get("unit"), f"{name}: estimand {var_name} lacks label/unit"
        assert np.isfinite(estimands[var_name].values).all(), f"{name}: estimand {var_name} not finite"
    assert plan.family.describe(plan.spec, plan.data)
