"""Time-to-event family with sampling (ci profile): recovery, numpy vs graph, agreement with the binary model, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import tomli_w

from ipsbayes.models.hazard_predict import HazardPredictor, median_time
from ipsbayes.runner import check
from ipsbayes.sampling import sample
from ipsbayes.simulate import simulate
from ipsbayes.testing import assert_covers, edit_config, load_raw_config

from .conftest import REPO, ipsbayes_command
from .test_panel import tte_config

pytestmark = pytest.mark.sampling
OPTIONS = {"n_participants": 600, "n_services": 20, "n_specialists": 40, "review_error_sd": 0.0}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """600 participants in 20 services, fidelity measured without error (as the model assumes)."""
    folder = tmp_path_factory.mktemp("tte_sim")
    _, truth = simulate("ipsung", seed=5, out=folder, options=OPTIONS)
    return folder, truth


@pytest.fixture(scope="module")
def fitted(simulated, tmp_path_factory: pytest.TempPathFactory):
    """The shipped model over the first 12 months (everyone, including those followed for less), ci profile."""
    folder, _ = simulated
    path = tte_config(folder, tmp_path_factory.mktemp("tte_cfg"), **{"model.horizon": 12, "model.horizons": [6, 12]})
    plan = check(path)
    fit = sample(plan.model, plan.config.sampler, 3, predictive=False, log_likelihood=False, progress=False)
    posterior = fit.datatree["posterior"].to_dataset()
    assert int(fit.datatree["sample_stats"]["diverging"].sum()) == 0
    return plan, posterior, plan.family.estimands(posterior, plan.data, plan.spec, plan.config)


def test_recovers_cumulative_incidence_fidelity_effect_and_median(simulated, fitted) -> None:
    _, truth = simulated
    truth = truth["time_to_event"]
    _, _, estimands = fitted
    curve = np.array([truth["cumulative_incidence_percent"]["any"][str(m)] for m in range(1, 13)])
    for month in (6, 12):
        assert_covers(
            estimands["incidence_any"].sel(horizon=f"{month} months"),
            truth["cumulative_incidence_percent"]["any"][str(month)],
            name=f"incidence by month {month}",
        )
    assert_covers(
        estimands["incidence"].sel(target="education", horizon="12 months"),
        truth["cumulative_incidence_percent"]["education"]["12"],
        name="education by month 12",
    )
    assert_covers(
        estimands["fidelity_incidence_contrast_any"].sel(horizon="12 months"),
        truth["fidelity_contrast_pp"]["any"]["12"],
        name="fidelity contrast at 12 months",
    )
    assert_covers(estimands["median_time_any"], float(median_time(curve[None])[0]), name="median month (horizon 12)")


def test_numpy_estimands_equal_the_graph_at_posterior_draws(fitted) -> None:
    """Cumulative incidence computed in PyTensor from the model's own hazard inputs, draw by draw."""
    plan, posterior, estimands = fitted
    model = plan.family.build(plan.data, plan.spec, plan.priors)  # a fresh graph to add the check to
    baseline, linear = model["events"].owner.inputs[-2:]  # (1, T, K) and (P, 1, K) log-odds
    weights = plan.data.info["pattern_weights"]
    with model:
        odds = pt.exp(baseline + linear)
        hazard = odds / (1.0 + odds.sum(axis=-1, keepdims=True))
        surviving = pt.cumprod(1.0 - hazard.sum(axis=-1), axis=1)
        before = pt.concatenate([pt.ones_like(surviving[:, :1]), surviving[:, :-1]], axis=1)
        incidence = pt.cumsum(before[:, :, None] * hazard, axis=1)
        average = 100 * pt.tensordot(pt.as_tensor(weights / weights.sum()), incidence, axes=[[0], [0]])
        pm.Deterministic("graph_incidence", average, dims=("month", "target"))
    graph = pm.compute_deterministics(posterior, var_names=["graph_incidence"], model=model, progressbar=False)
    numpy = estimands["incidence_curve"].transpose("chain", "draw", "month", "target").values
    np.testing.assert_allclose(numpy, graph["graph_incidence"].values, rtol=1e-9, atol=1e-9)


@pytest.mark.reproduce  # `make reproduce`: a second (binary) model fitted, ~15 s on 2 cores
def test_agrees_with_the_binary_model_at_12_months(simulated, fitted, tmp_path: Path) -> None:
    """Cumulative incidence by month 12 of participants followed 12 months equals the binary model's rate.

    The outcome of the binary model is defined from the same monthly table: a first target state by month 12,
    for the participants followed at least 12 months. The hazard model is fitted to everyone (those followed
    for less count for the months they were followed).
    """
    folder, _ = simulated
    plan, posterior, _ = fitted
    panel = pd.read_csv(folder / "monthly_status.csv")
    last = panel.groupby("participant_id")["month"].max()
    reached = panel[panel["status"].isin(["work", "apprenticeship", "education"]) & (panel["month"] <= 12)]
    people = pd.read_csv(folder / "participants.csv")
    people["reached_12m"] = people["participant_id"].isin(set(reached["participant_id"])).astype(int)
    followed = people[people["participant_id"].map(last) >= 12]
    followed.to_csv(tmp_path / "participants.csv", index=False)
    raw = load_raw_config(REPO / "models" / "ipsung_employment.toml")
    raw["data"] = {"participants": str(tmp_path / "participants.csv"), "services": str(folder / "services.csv")}
    for key in ("chains", "tune", "draws", "target_accept"):  # tuned for the default profile; ci draws here
        raw.get("sampler", {}).pop(key, None)
    formula = "reached_12m ~ age + gender + months_outside + diagnosis + ips25 + (1 | service)"
    raw = edit_config(raw, **{"sampler.profile": "ci", "model.formula": formula})
    (tmp_path / "binary.toml").write_text(tomli_w.dumps(raw))
    binary = check(tmp_path / "binary.toml")
    fit = sample(binary.model, binary.config.sampler, 3, predictive=False, log_likelihood=False, progress=False)
    rate = binary.family.estimands(fit.datatree["posterior"].to_dataset(), binary.data, binary.spec, binary.config)
    binary_draws = rate["outcome_rate"].values

    predictor = HazardPredictor.from_posterior(posterior, plan.data)
    ids = plan.data.info["frame"]["participant_id"].astype(str)
    mine = (ids.map(last) >= 12).to_numpy()
    predictor.weights = np.bincount(plan.data.info["pattern_of"][mine], minlength=len(predictor.weights)).astype(float)
    curve, _ = predictor.incidence()
    hazard_draws = 100 * curve[:, 11, :].sum(axis=-1).reshape(binary_draws.shape)

    def mean_and_mcse(draws: np.ndarray) -> tuple[float, float]:
        return float(draws.mean()), float(draws.std() / np.sqrt(float(az.ess(draws))))

    (a, se_a), (b, se_b) = mean_and_mcse(hazard_draws), mean_and_mcse(binary_draws)
    assert len(followed) < 600  # some were followed for less than 12 months
    assert abs(a - b) <= 3 * np.hypot(se_a, se_b), (
        f"hazard model {a:.2f} vs binary {b:.2f} (MC SE {se_a:.2f}, {se_b:.2f})"
    )


def test_shipped_config_runs_end_to_end_and_writes_a_report(shipped: dict[str, Path], tmp_path: Path) -> None:
    """The shared CLI run of models/ipsung_time_to_job.toml (conftest ``shipped``), then a re-render of a copy."""
    out = tmp_path / "run"
    shutil.copytree(shipped["ipsung_time_to_job"], out)
    for figure in ("incidence_curves", "service_incidence", "fidelity_over_time", "hazard_by_month"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    for title in ("How soon participants reach a target", "Fidelity and time to a first transition"):
        assert f"## {title}" in report
    assert "By month 12, an expected" in report and "by month 24, an expected" in report
    assert "The priors alone allow a share by month 24" in report and "90% equal-tailed interval" in report
    summary = pd.read_csv(out / "summary.csv", comment="#")
    assert {"incidence_any", "fidelity_incidence_contrast_any", "median_time_any"} <= set(summary["estimand"])
    provenance = json.loads((out / "provenance.json").read_text())
    assert "monthly status" in provenance["data"]
    env = {**os.environ, "CI": "true"}
    again = subprocess.run([*ipsbayes_command(), "report", str(out)], capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "## How soon participants reach a target" in (out / "report.md").read_text()
