"""Data too large to store the pointwise log-likelihood: totals, subsampled LOO and thinned predictive draws.

Above ``loo_policy.MAX_POINTWISE_ROWS`` rows a run does not keep draws x rows of log-likelihood. It keeps
each draw's total (power-scaling), the pointwise values of a random subsample of rows and a point
approximation for every row (subsampled PSIS-LOO, Magnusson et al. 2019), and predictive draws from
a few hundred evenly spaced posterior draws. Each shortcut must give the numbers of the plain
computation: the totals and the subsample equal the pointwise group summed and indexed, the
subsampled LOO equals ArviZ's ``loo_subsample`` and, with every row in the subsample, exact PSIS-LOO.
"""

from __future__ import annotations

import functools
import json
import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp

from ipsbayes import loo_policy
from ipsbayes.cli import main
from ipsbayes.family_groups import add_likelihood_summary, add_predictive
from ipsbayes.loo import psis_loo, relative_efficiency, subsampled_loo
from ipsbayes.models.pointwise import likelihood_summary, pointwise_log_likelihood
from ipsbayes.models.predict import Predictor
from ipsbayes.prior_density import likelihood_totals, prior_densities
from ipsbayes.rundir import load_run
from ipsbayes.runner import check

from .conftest import REPO, prior_as_posterior
from .test_loo import _tree as normal_tree


@pytest.fixture(scope="module")
def plan():
    return check(REPO / "models" / "ipsung_employment.toml")


def test_totals_and_subsample_are_the_pointwise_values_summed_and_indexed(plan) -> None:
    tree = prior_as_posterior(plan, draws=40, seed=3)  # prior draws: log-odds far into the tails
    outcome = plan.family.outcome_family(plan.spec)
    predictor = Predictor.from_posterior(tree["posterior"].to_dataset(), plan.data, outcome)
    full = pointwise_log_likelihood(predictor, plan.data)
    rows = np.sort(np.random.default_rng(0).choice(full.shape[1], 97, replace=False))
    total, subsample = likelihood_summary(predictor, plan.data, rows)
    np.testing.assert_array_equal(total, full.sum(axis=1))  # bit for bit
    np.testing.assert_array_equal(subsample, full[:, rows])


def test_the_groups_a_large_fit_keeps(plan) -> None:
    tree = prior_as_posterior(plan, draws=40, seed=3)
    compute = functools.partial(plan.family.log_likelihood_summary, data=plan.data, spec=plan.spec)
    assert add_likelihood_summary(tree, plan.model, compute, rows=150, seed=11, cores=2)
    name = plan.data.info["response"]
    subsample = tree["loo_subsample"][name]
    rows = subsample[f"{name}_loo_row"].values
    assert subsample.dims == ("chain", "draw", f"{name}_loo_row") and len(rows) == 150
    assert np.all(np.diff(rows) > 0) and rows.max() < plan.data.n_rows
    again = prior_as_posterior(plan, draws=40, seed=3)
    add_likelihood_summary(again, plan.model, compute, rows=150, seed=11, cores=1)
    np.testing.assert_array_equal(again["loo_subsample"][name].values, subsample.values)  # seeded, any threads
    approximation = tree["loo_approximation"][name]
    assert approximation.dims == tree["observed_data"][name].dims
    posterior = tree["posterior"].to_dataset()
    mean = posterior.mean(("chain", "draw")).expand_dims(chain=[0], draw=[0])
    at_mean = Predictor.from_posterior(mean, plan.data, plan.family.outcome_family(plan.spec))
    expected = pointwise_log_likelihood(at_mean, plan.data)[0]
    np.testing.assert_allclose(approximation.values, expected, rtol=1e-12)
    assert tree["log_likelihood_total"][name].dims == ("chain", "draw")


def test_families_without_a_summary_add_nothing() -> None:
    fidelity = check(REPO / "models" / "ipsung_fidelity.toml")  # also observes review scores
    tree = prior_as_posterior(fidelity, draws=6)
    compute = functools.partial(fidelity.family.log_likelihood_summary, data=fidelity.data, spec=fidelity.spec)
    assert not add_likelihood_summary(tree, fidelity.model, compute, rows=50, seed=1, cores=1)
    assert not {"log_likelihood_total", "loo_subsample"} & set(tree.children)


def _lpd(log_lik: xr.DataArray) -> np.ndarray:
    values = log_lik.transpose("chain", "draw", ...).values
    flat = values.reshape(-1, values.shape[-1])
    return logsumexp(flat, axis=0) - np.log(flat.shape[0])


def test_subsampled_loo_equals_arviz_loo_subsample() -> None:
    tree = normal_tree(4, 500, 400, seed=2)
    log_lik = tree["log_likelihood"]["y"]
    rows = np.sort(np.random.default_rng(5).choice(400, 120, replace=False))
    r_eff = relative_efficiency(tree["posterior"].to_dataset())
    ours = subsampled_loo(log_lik.isel(obs=rows).assign_coords(obs=rows), _lpd(log_lik), r_eff)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.loo_subsample(tree, observations=rows, var_name="y", method="lpd", pointwise=True, reff=r_eff)
    assert ours.elpd == pytest.approx(float(reference.elpd), rel=1e-10)
    assert ours.se == pytest.approx(float(reference.se), rel=1e-8)
    assert ours.subsampling_se == pytest.approx(float(reference.subsampling_se), rel=1e-8)
    assert ours.p == pytest.approx(float(reference.p), rel=1e-8)
    assert ours.n_rows == 400 and ours.subsampling_se > 0


def test_with_every_row_subsampled_it_is_exact_psis_loo() -> None:
    tree = normal_tree(4, 300, 150, seed=4)
    log_lik = tree["log_likelihood"]["y"].assign_coords(obs=np.arange(150))
    r_eff = relative_efficiency(tree["posterior"].to_dataset())
    exact = psis_loo(log_lik, r_eff)
    whole = subsampled_loo(log_lik, np.zeros(150), r_eff)  # any approximation: every row is exact
    assert whole.elpd == pytest.approx(exact.elpd, rel=1e-12)
    assert whole.p == pytest.approx(exact.p, rel=1e-10)
    assert whole.subsampling_se == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_array_equal(whole.pareto_k, exact.pareto_k)


@pytest.mark.sampling
def test_a_run_above_the_pointwise_limit_keeps_totals_subsample_and_thinned_draws(
    make_config, small_ipsung, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(loo_policy, "LOO_SUBSAMPLE_ROWS", 120)
    monkeypatch.setattr(loo_policy, "LARGE_DATA_PREDICTIVE_DRAWS", 40)
    config = make_config(  # the 400 participants handled as large data, as "auto" does above 10,000 rows
        data=small_ipsung,
        **{"sampler.profile": "ci", "sensitivity.power_scaling": True, "diagnostics.loo": "subsample"},
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    run = load_run(out)
    tree = run.datatree
    assert "log_likelihood" not in tree.children
    assert {"log_likelihood_total", "loo_subsample", "loo_approximation", "power_scaling"} <= set(tree.children)
    predicted = tree["posterior_predictive"].to_dataset()
    posterior = tree["posterior"].to_dataset()
    assert predicted.sizes["chain"] * predicted.sizes["draw"] <= 40 < posterior.sizes["chain"] * posterior.sizes["draw"]

    # the kept numbers are those of the whole pointwise group, computed afresh here
    plan = check(config)
    predictor = Predictor.from_posterior(posterior, plan.data, plan.family.outcome_family(plan.spec))
    full = pointwise_log_likelihood(predictor, plan.data)
    name = plan.data.info["response"]
    total = tree["log_likelihood_total"][name].values.ravel()
    np.testing.assert_allclose(total, full.sum(axis=1), rtol=1e-10)
    # taken from nutpie's log density (logp - log prior - log-Jacobian), not summed over rows again
    densities = prior_densities(plan.model, posterior)
    np.testing.assert_array_equal(total, likelihood_totals(tree, plan.model, densities)[name])
    subsample = tree["loo_subsample"][name]
    rows = subsample[f"{name}_loo_row"].values
    np.testing.assert_allclose(subsample.values.reshape(len(full), -1), full[:, rows], rtol=1e-12, atol=1e-12)

    # the subsampled elpd agrees with exact PSIS-LOO on every row within its subsampling error
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    log_lik = xr.DataArray(full.reshape(chains, draws, -1), dims=("chain", "draw", "row"))
    r_eff = relative_efficiency(posterior)
    exact = psis_loo(log_lik, r_eff)
    estimate = subsampled_loo(subsample, tree["loo_approximation"][name].values, r_eff)
    assert abs(estimate.elpd - exact.elpd) < 4 * estimate.subsampling_se + 1e-6
    (check_k,) = [c for c in run.diagnostics.checks if c.name == "pareto_k"]
    assert check_k.status in {"pass", "warn"} and f"of {len(rows):,} subsampled observations" in check_k.message
    assert f"elpd_loo {estimate.elpd:.1f}" in check_k.message

    notes = json.loads(tree["estimands"].attrs["notes"])
    assert any("400 likelihood rows with loo = 'subsample'" in n for n in notes)
    assert any(f"subsample of {len(rows):,} rows" in n for n in notes)
    assert "Predictive checks use 40 evenly spaced posterior draws." in notes
    report = (out / "report.md").read_text()
    assert f"subsample of {len(rows):,} rows" in report and "from 40 evenly spaced posterior predictive draws" in report


def test_thinned_predictive_draws_only_from_a_numpy_form(plan) -> None:
    compute = functools.partial(plan.family.posterior_predictive, data=plan.data, spec=plan.spec, seed=1)
    tree = prior_as_posterior(plan, draws=40, seed=3)  # 2 chains x 20 draws
    add_predictive(tree, plan.model, compute, seed=1, cores=1, draws=10)
    predicted = tree["posterior_predictive"].to_dataset()
    assert (predicted.sizes["chain"], predicted.sizes["draw"], predicted.attrs["thinning"]) == (2, 5, 4)
    np.testing.assert_array_equal(predicted["draw"].values, tree["posterior"]["draw"].values[::4])
    bare = prior_as_posterior(plan, draws=40, seed=3)
    add_predictive(bare, plan.model, None, seed=1, cores=1, draws=10)  # no numpy form: no per-draw PyMC loop
    assert "posterior_predictive" not in bare.children


def test_the_large_data_notes_say_what_the_fit_kept_in_both_languages(plan) -> None:
    from ipsbayes.present.notes import translate_note

    tree = prior_as_posterior(plan, draws=40, seed=3)
    bare = loo_policy.large_data_notes(tree, 123_456)
    assert "123,456 likelihood rows" in bare[0]
    assert "LOO and power-scaling of the likelihood were skipped" in bare[1]
    assert bare[2] == "Posterior predictive draws were skipped."
    compute = functools.partial(plan.family.log_likelihood_summary, data=plan.data, spec=plan.spec)
    add_likelihood_summary(tree, plan.model, compute, rows=77, seed=2, cores=1)
    predictive = functools.partial(plan.family.posterior_predictive, data=plan.data, spec=plan.spec, seed=1)
    add_predictive(tree, plan.model, predictive, seed=1, cores=1, draws=10)
    kept = loo_policy.large_data_notes(tree, 123_456)
    assert "simple random subsample of 77 rows" in kept[1] and kept[2].startswith("Predictive checks use 10 evenly")
    assert not any("skipped" in note for note in kept)
    for note in bare + kept:  # every variant has its Norwegian text, with the numbers carried over
        norwegian = translate_note(note, "nb")
        assert norwegian != note and "skipped" not in norwegian and "rows" not in norwegian
    assert "123\u2009456 rader" in translate_note(kept[0], "nb")
    assert "utvalg på 77 rader" in translate_note(kept[1], "nb") and "bruker 10 jevnt" in translate_note(kept[2], "nb")


def test_which_runs_keep_every_rows_log_likelihood(plan) -> None:
    """``[diagnostics] loo``: "auto" subsamples above EXACT_LOO_ROWS only where the model can."""
    from types import SimpleNamespace

    from ipsbayes.models import REGISTRY

    tte = REGISTRY["time_to_event"]
    fidelity = check(REPO / "models" / "ipsung_fidelity.toml")  # review scores observed beside the outcome
    assert plan.family.subsamples_log_likelihood(plan.data, plan.spec) and not tte.sums_large_log_likelihood
    assert not fidelity.family.subsamples_log_likelihood(fidelity.data, fidelity.spec)

    def keeps(loo: str, model, rows: int) -> bool:
        config = SimpleNamespace(diagnostics=SimpleNamespace(loo=loo))
        data = SimpleNamespace(arrays={**model.data.arrays, "y": np.zeros(rows)})
        return loo_policy.keeps_pointwise(config, model.family, data, model.spec)

    exact, limit = loo_policy.EXACT_LOO_ROWS, loo_policy.MAX_POINTWISE_ROWS
    assert keeps("auto", plan, exact) and not keeps("auto", plan, exact + 1)
    assert keeps("auto", fidelity, exact + 1) and keeps("auto", fidelity, limit)  # would lose LOO altogether
    assert not keeps("auto", fidelity, limit + 1) and not keeps("auto", plan, limit + 1)
    assert keeps("exact", plan, 10 * limit) and not keeps("subsample", plan, loo_policy.LOO_SUBSAMPLE_ROWS + 1)
    assert keeps("subsample", plan, loo_policy.LOO_SUBSAMPLE_ROWS)  # a subsample of every row: exact LOO, said so
    # the note names the rule that applied
    tree = xr.DataTree()
    assert "15,000 likelihood rows (more than 10,000)" in loo_policy.large_data_notes(tree, 15_000)[0]
    assert "60,000 likelihood rows (more than 50,000)" in loo_policy.large_data_notes(tree, 60_000)[0]
    assert "loo = 'exact' under [diagnostics] keeps it" in loo_policy.large_data_notes(tree, 15_000)[0]
    assert "300 likelihood rows with loo = 'subsample'" in loo_policy.large_data_notes(tree, 300, asked=True)[0]


@pytest.mark.parametrize("name", ["ipsung_time_to_job", "ipsung_fidelity"])
def test_check_refuses_a_subsample_the_model_cannot_take(tmp_path, name: str) -> None:
    import tomli_w

    from ipsbayes.errors import ConfigError
    from ipsbayes.testing import edit_config, load_raw_config

    raw = load_raw_config(REPO / "models" / f"{name}.toml")
    for key, value in raw["data"].items():
        if isinstance(value, str) and value.endswith((".csv", ".parquet")):
            raw["data"][key] = str((REPO / "models" / value).resolve())
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(edit_config(raw, **{"diagnostics.loo": "subsample"})))
    with pytest.raises(ConfigError) as error:
        check(path)
    assert "diagnostics.loo" in str(error.value) and 'loo = "exact"' in str(error.value)
