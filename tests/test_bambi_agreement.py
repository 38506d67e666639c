"""Where Bambi can express a model, ipsbayes's hand-written graph is the same model: equal log densities.

Bambi 0.21 is the reference implementation here (a test dependency, not a runtime one): the
graph ipsbayes builds for a random-intercept logistic model and for a Gaussian model with
uncorrelated varying slopes must give Bambi's log density at any parameter value. Why
ipsbayes does not use Bambi's graph at runtime: ``benchmarks/bambi_graph.py`` and the README.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

#: compiles Bambi models (~10 s): run by `make test-slow`
pytestmark = pytest.mark.slow

bmb = pytest.importorskip("bambi")


def _compare(plan, bambi_model, mapping) -> None:
    """Map ipsbayes's value variables onto Bambi's and compare the two log densities at random points."""
    ours, theirs = plan.model, bambi_model.backend.model
    rng = np.random.default_rng(4)
    for _ in range(4):
        point = {k: rng.normal(0.0, 0.5, size=np.shape(v)) for k, v in sorted(ours.initial_point().items())}
        mapped = mapping(point)
        assert set(mapped) == set(theirs.initial_point()), (set(mapped), set(theirs.initial_point()))
        expected = theirs.compile_logp()(pm.model.Point(mapped, model=theirs))
        assert ours.compile_logp()(point) == pytest.approx(expected, rel=1e-10)


def test_random_intercept_logistic_model_is_bambis(make_config, small_ipsung) -> None:
    formula = "work_or_education_12m ~ age + gender + (1 | service)"
    overrides = {
        "intercept": {"dist": "Normal", "mu": 0.0, "sigma": 1.5},
        "beta": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
        "sd_service": {"dist": "HalfNormal", "sigma": 1.0},
    }
    raw = load_raw_config(make_config(data=small_ipsung))
    raw = edit_config(
        raw,
        **{
            "model": {"kind": "multilevel", "formula": formula, "collapse": "never", "parameterisation": "noncentred"},
            "priors": {"set": "defaults", "overrides": overrides},
            "report": {},
            "sensitivity": {},
            "validation": {},
        },
    )
    plan = check(raw)
    data = plan.data.info["design"].transform(plan.data.info["frame"])
    priors = {
        "Intercept": bmb.Prior("Normal", mu=0.0, sigma=1.5),
        "common": bmb.Prior("Normal", mu=0.0, sigma=1.0),
        "1|service": bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=1.0)),
    }
    model = bmb.Model(formula, data, family="bernoulli", priors=priors, center_predictors=False)
    model.build()

    def mapping(point):
        return {
            "Intercept": point["intercept"],
            "age": point["beta"][0],
            "gender": point["beta"][1:2],
            "1|service_sigma_log__": point["sd_service_log__"],
            "1|service_offset": point["z_service"],
        }

    _compare(plan, model, mapping)


def test_gaussian_uncorrelated_slopes_model_is_bambis() -> None:
    formula = "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"
    overrides = {
        "intercept": {"dist": "Normal", "mu": 250.0, "sigma": 100.0},
        "beta": {"dist": "Normal", "mu": 0.0, "sigma": 50.0},
        "sd_Subject": {"dist": "HalfNormal", "sigma": 50.0},
        "sd_Subject_Days": {"dist": "HalfNormal", "sigma": 10.0},
        "sigma": {"dist": "HalfNormal", "sigma": 50.0},
    }
    raw = edit_config(
        load_raw_config(REPO / "examples" / "sleepstudy" / "sleepstudy.toml"),
        **{"model.formula": formula, "model.parameterisation": "noncentred", "priors.overrides": overrides},
    )
    plan = check(raw)
    priors = {
        "Intercept": bmb.Prior("Normal", mu=250.0, sigma=100.0),
        "Days": bmb.Prior("Normal", mu=0.0, sigma=50.0),
        "1|Subject": bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=50.0)),
        "Days|Subject": bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=10.0)),
        "sigma": bmb.Prior("HalfNormal", sigma=50.0),
    }
    frame = plan.data.info["frame"].astype({"Subject": str})
    model = bmb.Model(formula, frame, family="gaussian", priors=priors, center_predictors=False)
    model.build()

    def mapping(point):
        return {
            "Intercept": point["intercept"],
            "Days": point["beta"][0],
            "1|Subject_sigma_log__": point["sd_Subject_log__"],
            "1|Subject_offset": point["z_Subject"],
            "Days|Subject_sigma_log__": point["sd_Subject_Days_log__"],
            "Days|Subject_offset": point["z_Subject_Days"],
            "sigma_log__": point["sigma_log__"],
        }

    _compare(plan, model, mapping)
