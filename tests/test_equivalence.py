"""The speed tricks are proven, not assumed.

- Binomial collapsing: the log-likelihood of collapsed rows equals the sum over the rows they replace at any
  parameter value (exactly), and the posteriors agree within Monte Carlo error.
- A weighted or binomial row equals its repeated Bernoulli rows (binomial family: up to the binomial
  coefficients, a constant; CACE frequency weights: exactly).
- Every numpy estimand (models/predict.py, models/categorical_predict.py, the CACE strata draws) equals the
  same quantity computed from the PyMC graph at the same draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy.special import gammaln

from ipsbayes.models.base import data_name, draws_array
from ipsbayes.models.cace_strata import StrataDraws
from ipsbayes.models.categorical_predict import CategoricalPredictor
from ipsbayes.models.predict import Counterfactual, Predictor, group_weights
from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

DISCRETE = "work_or_education_12m ~ gender + diagnosis + ips25 + (1 | service)"


def _prior_draws(model: pm.Model, draws: int = 40, seed: int = 1) -> xr.Dataset:
    """Draws of every variable from the prior, shaped like a posterior (one chain)."""
    with model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)["prior"].to_dataset()
    return prior if "chain" in prior.dims else prior.expand_dims("chain")


def _graph_values(model: pm.Model, expressions: dict[str, pt.TensorVariable], draws: xr.Dataset) -> dict:
    """Evaluate graph expressions at each draw (added as deterministics, computed by PyMC)."""
    with model:
        for name, expression in expressions.items():
            pm.Deterministic(name, expression)
    computed = pm.compute_deterministics(draws, model=model, var_names=list(expressions), progressbar=False)
    return {
        name: computed[name].stack(sample=("chain", "draw")).transpose("sample", ...).values for name in expressions
    }


def _config(make_config, small_ipsung: Path, **changes) -> Path:
    return make_config(data=small_ipsung, **{"model.formula": DISCRETE, **changes})


def _random_point(model: pm.Model, seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0.0, 0.6, size=np.shape(v)) for name, v in sorted(model.initial_point().items())}


# ---------------------------------------------------------------------------------------------- collapsing
def test_collapsed_and_uncollapsed_log_likelihood_sums_match_exactly(make_config, small_ipsung: Path) -> None:
    rows = check(_config(make_config, small_ipsung, **{"model.collapse": "never"}))
    collapsed = check(_config(make_config, small_ipsung, **{"model.collapse": "always"}))
    assert len(collapsed.data.arrays["y"]) < len(rows.data.arrays["y"]) / 2
    assert collapsed.data.arrays["trials"].sum() == len(rows.data.arrays["y"])
    response = rows.data.info["response"]
    for seed in range(3):
        point = _random_point(rows.model, seed)
        full = rows.model.compile_logp(vars=[rows.model[response]], sum=True)(point)
        merged = collapsed.model.compile_logp(vars=[collapsed.model[response]], sum=True)(point)
        assert merged == pytest.approx(full, rel=1e-12, abs=1e-9)
        assert collapsed.model.compile_logp()(point) == pytest.approx(rows.model.compile_logp()(point), rel=1e-12)


@pytest.mark.sampling
@pytest.mark.slow  # two fits (~10 s): `make test-slow`; the exact log-likelihood sums above stay in CI
def test_collapsed_and_uncollapsed_posteriors_agree(make_config, small_ipsung: Path) -> None:
    """Same data, two likelihood layouts: posterior means agree within Monte Carlo error (4 combined MCSE)."""
    import arviz as az

    from ipsbayes.pipeline import fit

    fits = {}
    for mode in ("never", "always"):
        plan = check(_config(make_config, small_ipsung, **{"model.collapse": mode, "sampler.profile": "ci"}))
        fits[mode] = fit(plan.family, plan.spec, plan.priors, plan.config, data=plan.data, model=plan.model)
    for name in ("intercept", "sd_service", "beta", "fidelity_slope"):
        a, b = (fits[m].datatree["posterior"][name] for m in ("never", "always"))
        se = np.sqrt(az.mcse(a, method="mean").values ** 2 + az.mcse(b, method="mean").values ** 2)
        difference = np.abs(a.mean(("chain", "draw")).values - b.mean(("chain", "draw")).values)
        assert np.all(difference < 4 * se + 1e-3), (name, difference, se)
    # the users'-scale estimands of the two layouts agree too (same rows, same weights)
    rate = [float(fits[m].estimands["outcome_rate"].mean()) for m in ("never", "always")]
    assert abs(rate[0] - rate[1]) < 1.0


# ------------------------------------------------------------------------------ weighted and binomial rows
def _cbpp_bernoulli(tmp_path: Path) -> Path:
    """lme4's cbpp expanded to one row per animal (y = 1 for the incidence animals)."""
    frame = pd.read_csv(REPO / "examples" / "cbpp" / "cbpp.csv")
    rows = []
    for record in frame.itertuples(index=False):
        rows += [
            {"herd": record.herd, "period": record.period, "case": int(i < record.incidence)}
            for i in range(record.size)
        ]
    path = tmp_path / "cbpp_animals.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_binomial_row_equals_its_repeated_bernoulli_rows(tmp_path: Path) -> None:
    raw = load_raw_config(REPO / "examples" / "cbpp" / "cbpp.toml")
    counts = check(raw)
    animals = check(
        edit_config(
            raw,
            **{
                "data.participants": str(_cbpp_bernoulli(tmp_path)),
                "model.formula": "case ~ C(period) + (1 | herd)",
                "model.family": "bernoulli",
                "model.collapse": "never",
            },
        )
    )
    assert len(animals.data.arrays["y"]) == counts.data.arrays["trials"].sum() == 842
    y, n = counts.data.arrays["y"], counts.data.arrays["trials"]
    coefficients = float(np.sum(gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)))
    for seed in range(3):
        point = _random_point(counts.model, seed)
        binomial = counts.model.compile_logp(vars=[counts.model["incidence"]], sum=True)(point)
        bernoulli = animals.model.compile_logp(vars=[animals.model["case"]], sum=True)(point)
        assert binomial - coefficients == pytest.approx(bernoulli, rel=1e-12)


@pytest.mark.slow  # ~8 s: `make test-slow`
def test_cace_frequency_weights_equal_repeated_rows(tmp_path: Path) -> None:
    """The vitamin A trial as 6 weighted cells and as 23,682 infants: the same log-likelihood."""
    raw = load_raw_config(REPO / "examples" / "vitamin_a" / "vitamin_a.toml")
    cells = pd.read_csv(REPO / "examples" / "vitamin_a" / "vitamin_a.csv")
    infants = cells.loc[cells.index.repeat(cells["n"])].drop(columns="n")
    infants.to_csv(tmp_path / "infants.csv", index=False)
    weighted = check(raw)
    expanded = check(edit_config(raw, **{"data.participants": str(tmp_path / "infants.csv"), "model.weights": None}))
    assert weighted.data.n_rows == expanded.data.n_rows == 23_682
    for seed in range(3):
        point = _random_point(weighted.model, seed)
        assert weighted.model.compile_logp()(point) == pytest.approx(expanded.model.compile_logp()(point), rel=1e-10)


# -------------------------------------------------------------------- numpy estimands against the graph
@pytest.mark.parametrize(
    "config",
    ["models/ipsung_employment.toml", "models/ipsung_fidelity.toml", "examples/sleepstudy/sleepstudy.toml"],
)
def test_multilevel_estimands_equal_the_graph(config: str) -> None:
    """Outcome rate, average marginal effects and group means: numpy (predict.py) = PyMC graph at the same draws."""
    plan = check(REPO / config)
    data, model = plan.data, plan.model
    draws = _prior_draws(model)
    family = plan.family.outcome_family(plan.spec)
    predictor = Predictor.from_posterior(draws, data, family)
    eta = model.ipsbayes_eta
    weights = data.arrays.get("trials", np.ones(len(data.arrays["y"]))).astype(float)
    mean = family.mean_graph(eta)
    expressions = {"check_eta": eta, "check_mean": pt.sum(mean * weights) / weights.sum()}
    first = data.info["blocks"][0]
    idx = data.arrays[f"{first.dim}_idx"]
    matrix = group_weights(idx, weights, len(data.coords[first.dim])).toarray()
    expressions["check_groups"] = pt.dot(mean, matrix)
    graph = _graph_values(model, expressions, draws)
    everything = slice(None)
    assert np.allclose(predictor.eta(everything), graph["check_eta"], rtol=1e-10, atol=1e-10)
    assert np.allclose(predictor.mean(), graph["check_mean"], rtol=1e-10)
    assert np.allclose(predictor.mean(groups=group_weights(idx, weights, matrix.shape[1])), graph["check_groups"])
    design = data.info["design"]
    sloped = [(k, b) for k, b in enumerate(data.info["blocks"]) if b.x_key]
    for contrast in design.contrasts()[:3]:  # a counterfactual design swapped into the graph's data
        _, frame = design.counterfactual_frames(data.info["frame"], contrast)
        high = design.matrix(frame)
        # a predictor with a varying slope moves u_g x too: the slope's values are swapped into the graph as well
        slopes = {k: design.slope_values(frame, b.block) for k, b in sloped}
        swapped = {data_name(b.x_key): slopes[k] for k, b in sloped}
        with model:
            pm.set_data({data_name("X"): np.ascontiguousarray(high.T), **swapped})  # X is held transposed
        at_high = _graph_values(model, {f"check_high_{contrast.name}": expressions["check_mean"]}, draws)
        with model:
            pm.set_data(
                {data_name("X"): np.ascontiguousarray(data.arrays["X"].T)}
                | {data_name(b.x_key): data.arrays[b.x_key] for _, b in sloped}
            )
        counterfactual = Counterfactual(high, slopes)
        assert np.allclose(predictor.mean(X=counterfactual), at_high[f"check_high_{contrast.name}"], rtol=1e-10)
        averaged = predictor.averages([counterfactual]).counterfactuals[0]  # the fast sweep agrees
        assert np.allclose(averaged, at_high[f"check_high_{contrast.name}"], rtol=1e-10)
        if sloped:
            assert not np.allclose(predictor.mean(X=high), at_high[f"check_high_{contrast.name}"], rtol=1e-6)


def test_categorical_probabilities_equal_the_graph() -> None:
    """P(category) of models/categorical_predict.py = the Categorical's probabilities in the PyMC graph."""
    plan = check(REPO / "models" / "ipsung_outcomes.toml")
    model, data = plan.model, plan.data
    draws = _prior_draws(model, draws=10)
    log_probabilities = model[data.info["response"]].owner.inputs[-1]  # the CustomDist's normalised log_p
    graph = _graph_values(model, {"check_p": pt.exp(log_probabilities)}, draws)["check_p"]
    numpy = CategoricalPredictor.from_posterior(draws, data).probabilities(slice(None))
    assert np.allclose(numpy, graph, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("config", ["models/rij_cace.toml", "models/rij_cace_months.toml"])
def test_cace_strata_draws_equal_the_graph(config: str) -> None:
    """Compliance probabilities and stratum linear predictors of the CACE estimands = the graph's CustomDist inputs."""
    plan = check(REPO / config)
    model, data = plan.model, plan.data
    draws = _prior_draws(model)
    observed = model[plan.family.estimands(draws, data, plan.spec, plan.config).attrs["response"]]
    logit_pi, eta_c0, eta_c1, eta_n0, eta_n1 = observed.owner.inputs[2:7]
    graph = _graph_values(
        model,
        {
            "check_pi": pt.sigmoid(logit_pi),
            "check_c0": eta_c0,
            "check_c1": eta_c1,
            "check_n0": eta_n0,
            "check_n1": eta_n1,
        },
        draws,
    )
    strata = StrataDraws(draws, data, plan.spec.family)
    assert np.allclose(strata.pi, graph["check_pi"], rtol=1e-10)
    for key in ("c0", "c1", "n0", "n1"):
        assert np.allclose(strata.eta[key], graph[f"check_{key}"], rtol=1e-10, atol=1e-12)
    assert np.allclose(draws_array(draws, "treatment_effect"), (graph["check_c1"] - graph["check_c0"])[:, 0])


@pytest.mark.parametrize("formula", ["y ~ I(week > 2) + (1 | child)", "y ~ np.floor(week / 4) + treated + (1 | child)"])
def test_collapsed_rows_give_the_estimands_of_the_rows_they_replace(tmp_path: Path, formula: str) -> None:
    """The same draws give the same average marginal effects with rows collapsed or not.

    A term that maps several raw values to one (``I(week > 2)``: weeks 0 and 2) gives rows with one
    design row but other raw values; collapsing them kept the first row's week, so the "+1 week"
    counterfactual never crossed the threshold and the effect read exactly 0 (outside review).
    """
    rng = np.random.default_rng(4)
    weeks = [0, 2, 4, 6, 11]
    frame = pd.DataFrame(
        [
            {"child": f"c{c}", "week": w, "treated": c % 2, "y": int(rng.random() < 0.8 - 0.05 * w)}
            for c in range(30)
            for w in weeks
            for _ in range(3)  # three visits a week: rows to collapse
        ]
    )
    frame.to_csv(tmp_path / "visits.csv", index=False)
    estimands = {}
    for mode in ("never", "always"):
        raw = {
            "name": f"collapse_{mode}",
            "data": {"main": str(tmp_path / "visits.csv")},
            "model": {"kind": "multilevel", "formula": formula, "family": "bernoulli", "collapse": mode},
            "priors": {"set": "defaults"},
        }
        plan = check(raw)
        if mode == "always":
            assert len(plan.data.arrays["y"]) < len(frame)
        if mode == "never":
            draws = _prior_draws(plan.model, draws=30)
        estimands[mode] = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    assert float(np.abs(estimands["never"]["ame"]).max()) > 0.1  # the week effect is not 0 at these draws
    for name in ("ame", "outcome_rate", "child_rate"):
        np.testing.assert_allclose(
            estimands["always"][name].values, estimands["never"][name].values, rtol=1e-9, atol=1e-12
        )
