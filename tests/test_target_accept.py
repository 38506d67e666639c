"""target_accept per profile, raised only when a fit diverges (issue 15: fewer leapfrog steps)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from ipsbayes.config import DiagnosticsConfig, SamplerConfig
from ipsbayes.diagnostics import Check, diagnose
from ipsbayes.diagnostics_text import check_text
from ipsbayes.sampling import (
    PROFILES,
    RAISED_TARGET_ACCEPT,
    resolve_settings,
    sample,
    sample_with_ladder,
    target_ladder,
)


def fake_fit(divergent: int, target: float, chains: int = 2, draws: int = 50) -> xr.DataTree:
    """A DataTree with ``divergent`` divergent transitions, marked with the rate it was drawn at."""
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging.flat[:divergent] = True
    rng = np.random.default_rng(0)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset(
        {"mu": (("chain", "draw"), rng.normal(size=(chains, draws)))}, coords=coords, attrs={"drawn_at": target}
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=coords)
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def test_profiles_start_low_and_raise_only_their_own_rate():
    assert PROFILES["ci"]["target_accept"] == PROFILES["default"]["target_accept"] == 0.8
    assert target_ladder(SamplerConfig(profile="default")) == [0.8, RAISED_TARGET_ACCEPT["default"]]
    assert target_ladder(SamplerConfig(profile="final")) == [0.9, 0.99]
    # a rate the user set is used as given
    assert target_ladder(SamplerConfig(profile="default", target_accept=0.85)) == [0.85]
    assert resolve_settings(SamplerConfig(profile="ci", target_accept=0.99))["target_ladder"] == [0.99]


@pytest.mark.parametrize(
    ("divergences", "expected_rates", "final_rate"),
    [
        ([0], [0.8], 0.8),  # no divergences: one fit at the profile's rate
        ([7, 0], [0.8, 0.95], 0.95),  # divergences: sampled again at the raised rate
        ([7, 2], [0.8, 0.95], 0.95),  # still divergent: the last rung is kept and reported
    ],
)
def test_the_ladder_samples_again_only_after_divergences(divergences, expected_rates, final_rate):
    settings = resolve_settings(SamplerConfig(profile="default"))
    asked: list[float] = []

    def sample_once(target: float) -> xr.DataTree:
        asked.append(target)
        return fake_fit(divergences[len(asked) - 1], target)

    timings: dict[str, float] = {}
    tree = sample_with_ladder(sample_once, settings, timings, "sampling")
    assert asked == expected_rates
    assert settings["target_accept"] == final_rate
    assert [a["divergences"] for a in settings["target_accept_attempts"]] == divergences
    assert tree["posterior"].attrs["drawn_at"] == final_rate  # the fit kept is the last one drawn
    attrs = tree["sample_stats"].attrs
    assert attrs["target_accept"] == final_rate
    assert ("target_accept_raised_from" in attrs) == (len(expected_rates) > 1)
    assert "sampling" in timings


def test_an_explicit_rate_is_never_raised():
    settings = resolve_settings(SamplerConfig(profile="default", target_accept=0.85))
    asked: list[float] = []
    tree = sample_with_ladder(lambda t: (asked.append(t), fake_fit(5, t))[1], settings, {}, "sampling")
    assert asked == [0.85] and settings["target_accept"] == 0.85
    assert "target_accept_raised_from" not in tree["sample_stats"].attrs


def test_diagnostics_say_that_the_rate_was_raised_in_both_languages():
    tree = sample_with_ladder(
        lambda t: fake_fit(9 if t < 0.9 else 3, t),
        resolve_settings(SamplerConfig(profile="ci")),
        {},
        "sampling",
    )
    result = diagnose(tree, DiagnosticsConfig())
    check = next(c for c in result.checks if c.name == "divergences")
    assert check.value == 3
    assert "sampled at target_accept 0.95 after 9 divergent transitions at 0.8" in check.message
    assert "samplet med target_accept 0,95 etter 9 divergente overganger med 0,8" in check_text(check, "nb")
    # read back from diagnostics.json
    again = type(result).from_dict(result.to_dict())
    assert again.checks[[c.name for c in again.checks].index("divergences")].note == check.note
    # a fit that was not raised says nothing about it
    plain = diagnose(fake_fit(0, 0.8), DiagnosticsConfig())
    assert "target_accept" not in next(c for c in plain.checks if c.name == "divergences").message
    assert check_text(Check("divergences", "fail", 2, "fail if > 0", "2 of 100"), "nb").startswith("divergences: 2")


@pytest.mark.sampling
def test_a_divergent_posterior_is_sampled_again_at_the_raised_rate():
    """Centred eight schools diverges at 0.8: the fit is drawn again at 0.95 with the same compiled model."""
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    with pm.Model(coords={"school": range(8)}) as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        theta = pm.Normal("theta", mu, tau, dims="school")
        pm.Normal("y", theta, sigma, observed=y, dims="school")
    fit = sample(model, SamplerConfig(profile="ci"), seed=3, predictive=False, log_likelihood=False)
    attempts = fit.settings["target_accept_attempts"]
    assert attempts[0] == {"target_accept": 0.8, "divergences": attempts[0]["divergences"]}
    assert attempts[0]["divergences"] > 0
    assert [a["target_accept"] for a in attempts] == [0.8, 0.95]
    assert fit.settings["target_accept"] == 0.95
    assert fit.datatree["sample_stats"].attrs["target_accept_raised_from"] == 0.8
    assert fit.datatree["posterior"].sizes["draw"] == 400
