"""One contract over every registered model family (scikit-learn's estimator checks, for models).

For each family there is a runnable config in models/; its graph builds, its
log-probability is finite at the initial point, every non-scalar variable has
named dims, and its estimands carry labels and units.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib

import numpy as np
import pymc as pm
import pytest
from pytensor.graph.traversal import ancestors

from ipsbayes.models import REGISTRY
from ipsbayes.runner import check
from ipsbayes.sampling import sample_prior_predictive

from .conftest import REPO

#: every shipped config: the IPS analyses in models/ and the published analyses in examples/
PATHS = {
    path.stem: path
    for path in [*sorted((REPO / "models").glob("*.toml")), *sorted(REPO.glob("examples/*/*.toml"))]
    if "kind" in tomllib.loads(path.read_text()).get("model", {})  # run configs (not examples/rbest_as)
}
CONFIGS = {name: tomllib.loads(path.read_text())["model"]["kind"] for name, path in PATHS.items()}
#: the published examples' configs cost ~55 s more here: checked by `make test-slow`, the IPS configs always
CASES = [
    pytest.param(name, marks=pytest.mark.slow) if PATHS[name].parent.parent.name == "examples" else name
    for name in sorted(CONFIGS)
]


#: English words that mark a label as English text (study words from a config may be in either language)
ENGLISH_WORD = re.compile(r"\b(of|the|per|by|with|share|effect|ratio|expected|between|within|and|to)\b", re.I)


def vague(plan) -> bool:
    """The config uses a source's vague priors (scales of 100 or more, Gamma/InverseGamma shapes below 0.01).

    Prior draws then reach values whose odds ratios overflow and whose simulated data are degenerate, so
    they cannot stand in for a posterior here; such configs reproduce published analyses (examples/) and are
    not calibrated by SBC (``ipsbayes validate`` needs a proper, informative prior).
    """
    for prior in plan.priors.priors.values():
        scales = [v for k, v in prior.params.items() if k in ("sigma", "upper", "beta") and prior.dist != "Beta"]
        wide = any(np.max(v) >= 100 for v in scales)  # a mixture's sigma is a tuple
        if wide or (prior.dist in ("Gamma", "InverseGamma") and prior.params["alpha"] < 0.01):
            return True
    return False


def test_every_family_has_a_runnable_config() -> None:
    assert set(REGISTRY) <= set(CONFIGS.values()), f"families without a config: {set(REGISTRY) - set(CONFIGS.values())}"


@pytest.mark.parametrize("name", CASES)
def test_family_contract(name: str) -> None:
    plan = check(PATHS[name])
    model = plan.model
    logps = model.point_logps()
    assert all(np.isfinite(v) for v in logps.values()), logps
    for var in model.free_RVs + model.deterministics + model.observed_RVs:
        if var.ndim > 0:
            assert model.named_vars_to_dims.get(var.name), f"{name}: variable {var.name} has no named dims"
    for prior_name in plan.family.prior_names_for(plan.spec):
        assert prior_name in plan.priors
    assert plan.family.describe(plan.spec, plan.data)
    if vague(plan):  # prior draws overflow (e.g. InverseGamma(0.001, 0.001)): examples/ checks their estimands
        return
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
        # Norwegian reports show label_nb: every label has one, and it is not the English text left as is
        assert attrs.get("label_nb"), f"{name}: estimand {var_name} lacks label_nb"
        if ENGLISH_WORD.search(attrs["label"]):
            assert attrs["label_nb"] != attrs["label"], f"{name}: label_nb of {var_name} is the English label"
        finite = np.isfinite(estimands[var_name].values).all()
        assert finite or vague(plan), f"{name}: estimand {var_name} not finite"
    assert plan.family.describe(plan.spec, plan.data)


@pytest.mark.parametrize("name", CASES)
def test_sbc_replicates_every_observed_variable(name: str) -> None:
    """`ipsbayes validate` refits data drawn from the model: every observed variable's data must be replaced."""
    plan = check(PATHS[name])
    if vague(plan):
        pytest.skip("a source's vague priors: SBC needs a proper, informative prior")
    model = plan.model
    data_names = {var.name for var in model.data_vars}
    observed = {
        rv.name: [v.name for v in ancestors([model.rvs_to_values[rv]]) if v.name in data_names]
        for rv in model.observed_RVs
    }
    tree = sample_prior_predictive(model, draws=1, seed=3)
    rng = np.random.default_rng(3)
    prior, predictive = tree["prior"].to_dataset(), tree["prior_predictive"].to_dataset()
    replaced = plan.family.replicate_data(plan.spec, prior, predictive, plan.data, rng)
    for rv_name, sources in observed.items():
        assert len(sources) == 1, f"{name}: {rv_name} observes {sources}"
        key = sources[0]
        assert key in replaced, f"{name}: SBC does not replace the data of {rv_name} ('{key}')"
        assert replaced[key].shape == plan.data.arrays[key].shape
        assert not np.array_equal(replaced[key], plan.data.arrays[key]), f"{name}: '{key}' was not redrawn"
    refit = plan.family.build(
        dataclasses.replace(plan.data, arrays={**plan.data.arrays, **replaced}), plan.spec, plan.priors
    )
    assert all(np.isfinite(v) for v in refit.point_logps().values())
