"""Priors on the scale users think in: translated with the Jacobian, or rejected naming the parameter's scale."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from ipsbayes.errors import ConfigError
from ipsbayes.runner import check, describe_priors, validate_config
from ipsbayes.testing import edit_config, expect_error, load_raw_config

from .conftest import REPO

VITAMIN_A = REPO / "examples" / "vitamin_a" / "vitamin_a.toml"
SEEDS = REPO / "examples" / "seeds" / "seeds.toml"


def _function(model, name: str):
    """The model's variable ``name`` as a function of a point of value variables."""
    (graph,) = model.replace_rvs_by_values([model[name]])
    return model.compile_fn(graph, inputs=model.value_vars, on_unused_input="ignore")


def _with_override(path, name: str, prior: dict) -> dict:
    raw = load_raw_config(path)
    overrides = dict(raw["priors"].get("overrides", {}))
    overrides[name] = prior
    return edit_config(raw, **{"priors.overrides": overrides})


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        ({"dist": "Beta", "alpha": 2.0, "beta": 2.0}, 'add on = "probability"'),
        ({"dist": "Uniform", "lower": 0.0, "upper": 1.0}, "lives on the log-odds scale"),
        ({"dist": "HalfNormal", "sigma": 1.0}, "lives on positive numbers"),
    ],
)
def test_probability_priors_on_a_log_odds_parameter_are_rejected(prior: dict, message: str) -> None:
    """The silent 80-fold distortion: a Beta(2, 2) meant for a probability, put on a log-odds intercept."""
    error = expect_error(validate_config, _with_override(VITAMIN_A, "complier_control_intercept", prior))
    assert isinstance(error, ConfigError)
    assert "complier_control_intercept" in str(error) and message in str(error)


def test_a_real_line_prior_on_an_sd_is_rejected() -> None:
    error = expect_error(validate_config, _with_override(SEEDS, "sd_plate", {"dist": "Normal", "mu": 0, "sigma": 1}))
    assert "sd_plate" in str(error) and "positive distribution" in str(error)


def test_beta_on_the_probability_is_the_logit_beta_density_on_the_log_odds() -> None:
    """Beta(2, 2) on expit(intercept): the density of the log-odds is Beta(expit(x)) * expit(x) * (1 - expit(x))."""
    model = check(VITAMIN_A).model
    value_var = model.rvs_to_values[model["complier_control_intercept_probability"]]
    logp = model.compile_logp(vars=[model["complier_control_intercept_probability"]], jacobian=True)
    for x in (-3.0, -0.4, 0.0, 1.2, 5.0):
        point = model.initial_point() | {value_var.name: np.array(x)}
        p = expit(x)
        expected = stats.beta(2, 2).logpdf(p) + np.log(p * (1 - p))
        assert logp(point) == pytest.approx(expected, rel=1e-10)
    # the parameter the likelihood uses is the log-odds itself
    draws = _function(model, "complier_control_intercept")
    assert draws(model.initial_point() | {value_var.name: np.array(1.2)}) == pytest.approx(1.2)


def test_a_treatment_effect_on_the_probability_is_the_treated_compliers_probability() -> None:
    """Beta(2, 2) for the treated compliers' survival: tau = logit(p1) - a_c (the case study's eta_c1)."""
    model = check(VITAMIN_A).model
    names = ("complier_control_intercept_probability", "treatment_effect_probability")
    point = model.initial_point()
    point[model.rvs_to_values[model[names[0]]].name] = np.array(2.0)
    point[model.rvs_to_values[model[names[1]]].name] = np.array(3.5)
    tau = _function(model, "treatment_effect")(point)
    assert tau == pytest.approx(3.5 - 2.0)


def test_variance_priors_become_sd_parameters() -> None:
    """InverseGamma on a variance (BUGS's gamma on a precision): the model's SD is its square root."""
    model = check(REPO / "examples" / "rats" / "rats.toml").model
    value_var = model.rvs_to_values[model["sigma_variance"]]
    point = model.initial_point() | {value_var.name: np.array(np.log(36.0))}
    sigma = _function(model, "sigma")(point)
    assert sigma == pytest.approx(6.0)


def test_a_log_odds_prior_set_is_not_used_for_a_continuous_outcome() -> None:
    """weakly_informative is stated for log-odds (link = "logit"): a Gaussian model gets data-scaled defaults."""
    raw = edit_config(
        load_raw_config(REPO / "examples" / "sleepstudy" / "sleepstudy.toml"), **{"priors.set": "weakly_informative"}
    )
    plan = check(raw)
    intercept = plan.priors["intercept"]
    assert intercept.params["mu"] == pytest.approx(plan.data.arrays["y"].mean(), rel=1e-4)
    assert "scaled to the data" in intercept.source


def test_defaults_are_named_and_scaled_and_check_prints_the_implied_users_scale() -> None:
    plan = check(REPO / "examples" / "cbpp" / "cbpp.toml")
    assert plan.priors["sd_herd"].dist == "HalfStudentT" and "log-odds" in plan.priors["sd_herd"].source
    lines = describe_priors(plan, draws=100)
    text = "\n".join(lines)
    assert "sd_herd: HalfStudentT(nu=3, sigma=2.5)" in text
    assert "implied priors on the users' scale" in text and "outcome_rate (%)" in text
