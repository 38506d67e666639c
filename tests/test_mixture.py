"""Mixture priors: EM fits, robustification, ESS and conjugate updates, checked against RBesT's published numbers."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from scipy import stats

from ipsbayes.ess import ess, postmix_binomial, postmix_normal, prob_difference_above
from ipsbayes.mixture import Mixture, automixfit, fit_mixture

from .conftest import REPO

REFERENCE = tomllib.loads((REPO / "examples" / "rbest_as" / "rbest_reference.toml").read_text())


def rbest_map() -> Mixture:
    mix = REFERENCE["mixture"]
    w = np.asarray(mix["w"]) / np.sum(mix["w"])  # printed weights are rounded
    return Mixture("beta", w, mix["a"], mix["b"])


def test_summary_ess_and_robust_posterior_match_rbest_for_its_own_mixture() -> None:
    """RBesT's printed AS mixture gives RBesT's printed summary, ESS and trial analysis (no Monte Carlo here)."""
    mix = rbest_map()
    summary, expected = mix.summary(), REFERENCE["mixture"]
    for key, ours in (("mean", "mean"), ("sd", "sd"), ("q025", "q0.025"), ("median", "q0.5"), ("q975", "q0.975")):
        assert summary[ours] == pytest.approx(expected[key], abs=5e-5)  # printed parameters are rounded
    assert round(ess(mix, "elir")) == REFERENCE["ess"]["elir"]
    assert round(ess(mix, "moment")) == REFERENCE["ess"]["moment"]
    robust = mix.robustify(REFERENCE["trial"]["robust_weight"], mean=0.5)
    assert robust.labels[-1] == "robust" and robust.a[-1] == robust.b[-1] == 1.0
    assert round(ess(robust, "elir")) == REFERENCE["ess"]["robust_elir"]
    trial = REFERENCE["trial"]
    placebo = postmix_binomial(robust, trial["r_placebo"], trial["n_placebo"])
    w, a, b = trial["treat_prior"]
    treat = postmix_binomial(Mixture("beta", [w], [a], [b]), trial["r_treat"], trial["n_treat"])
    assert prob_difference_above(treat, placebo) == pytest.approx(trial["prob_difference_above_0"], abs=1e-6)


def test_rbest_1_8_2_mixture_gives_its_printed_ess_and_posterior() -> None:
    """The 2-component mixture RBesT 1.8-2 printed for the same example (another MCMC run)."""
    release = REFERENCE["release_1_8_2"]
    mix = Mixture("beta", release["w"], release["a"], release["b"])
    assert mix.mean() == pytest.approx(release["mixture_mean"], abs=1e-6)
    assert mix.sd() == pytest.approx(release["mixture_sd"], abs=1e-6)
    assert round(ess(mix, "elir")) == release["ess_elir"] and round(ess(mix, "moment")) == release["ess_moment"]
    robust = mix.robustify(0.2, mean=0.5)
    assert round(ess(robust, "elir")) == release["robust_elir"]
    trial = REFERENCE["trial"]
    placebo = postmix_binomial(robust, trial["r_placebo"], trial["n_placebo"])
    w, a, b = trial["treat_prior"]
    treat = postmix_binomial(Mixture("beta", [w], [a], [b]), trial["r_treat"], trial["n_treat"])
    assert prob_difference_above(treat, placebo) == pytest.approx(release["prob_difference_above_0"], abs=1e-6)


def test_ess_of_conjugate_priors_is_their_sample_size() -> None:
    assert ess(Mixture("beta", [1.0], [5.0], [15.0]), "elir") == pytest.approx(20.0, rel=1e-6)
    assert ess(Mixture("beta", [1.0], [5.0], [15.0]), "moment") == pytest.approx(20.0, rel=1e-9)
    normal = Mixture("normal", [1.0], [0.3], [0.5])
    assert ess(normal, "elir", "gaussian", sigma=2.0) == pytest.approx(16.0, rel=1e-6)
    assert ess(normal, "moment", "gaussian", sigma=2.0) == pytest.approx(16.0, rel=1e-9)


def test_robust_component_lowers_ess_and_postmix_normal_is_conjugate() -> None:
    mix = Mixture("normal", [1.0], [1.0], [0.25])
    robust = mix.robustify(0.2, sigma=3.0)
    assert robust.a[-1] == pytest.approx(1.0) and robust.b[-1] == pytest.approx(3.0) and robust.w[-1] == 0.2
    assert ess(robust, "elir", "gaussian", 3.0) < ess(mix, "elir", "gaussian", 3.0)
    post = postmix_normal(mix, mean=0.0, se=0.25)
    assert post.a[0] == pytest.approx(0.5) and post.b[0] == pytest.approx(0.25 / np.sqrt(2))
    far = postmix_normal(robust, mean=-4.0, se=0.3)  # data in conflict with the informative component
    assert far.w[-1] > 0.9


def test_em_recovers_a_known_normal_mixture_and_aic_prefers_one_component_for_normal_draws() -> None:
    rng = np.random.default_rng(3)
    truth = Mixture("normal", [0.7, 0.3], [0.0, 3.0], [0.5, 1.0])
    fitted, _ = fit_mixture(truth.sample(6000, rng), 2, "normal", seed=1)
    assert fitted.w == pytest.approx(truth.w, abs=0.03)
    assert fitted.a == pytest.approx(truth.a, abs=0.08) and fitted.b == pytest.approx(truth.b, abs=0.08)
    single = automixfit(rng.normal(1.0, 0.4, 3000), "normal", max_components=3)
    assert single.mixture.size == 1 and [row["components"] for row in single.table] == [1, 2, 3]


def test_beta_em_matches_the_density_it_was_drawn_from() -> None:
    rng = np.random.default_rng(5)
    draws = rbest_map().sample(3000, rng)
    fit = automixfit(draws, "beta", max_components=3)
    grid = np.linspace(0.05, 0.6, 50)
    assert np.max(np.abs(fit.mixture.cdf(grid) - rbest_map().cdf(grid))) < 0.03
    assert fit.mixture.mean() == pytest.approx(float(draws.mean()), abs=2e-3)


def test_invalid_mixtures_are_rejected() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        Mixture("normal", [0.5, 0.6], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="same non-zero length"):
        Mixture("normal", [1.0], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="must be > 0"):
        Mixture("normal", [1.0], [0], [0])
    with pytest.raises(ValueError, match="robust weight"):
        Mixture("normal", [1.0], [0], [1]).robustify(1.0)


def test_mixture_density_matches_scipy() -> None:
    mix = Mixture("normal", [0.25, 0.75], [0.0, 1.0], [1.0, 0.5])
    x = np.array([-1.0, 0.3, 2.0])
    expected = 0.25 * stats.norm.pdf(x, 0, 1) + 0.75 * stats.norm.pdf(x, 1, 0.5)
    assert mix.pdf(x) == pytest.approx(expected)
    assert mix.quantile(0.5) == pytest.approx(
        float(np.interp(0.5, mix.cdf(np.linspace(-3, 3, 20001)), np.linspace(-3, 3, 20001))), abs=1e-3
    )
