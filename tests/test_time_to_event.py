"""The time-to-event family without sampling: exact collapsing, the baseline basis, SBC replicates, person-periods."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ipsbayes.models.person_months import month_trend, rw_basis
from ipsbayes.models.time_to_event import person_month_frame
from ipsbayes.runner import check

from .conftest import REPO
from .test_panel import tte_config

TARGETS = ("work", "apprenticeship", "education")


def jittered_point(model, seed: int) -> dict:
    """The initial point with every free value moved at random (a point away from the prior's centre)."""
    rng = np.random.default_rng(seed)
    return {k: v + rng.normal(0.0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}


def person_month_log_likelihood(plan, point: dict, panel: pd.DataFrame) -> float:
    """Log-likelihood summed over person-month rows built here from the raw monthly table (no collapsing code)."""
    model = plan.model
    names = ["baseline_logit", "service_effect", "beta", "fidelity_slope"]
    graphs = model.replace_rvs_by_values([model[name] for name in names])
    function = model.compile_fn(graphs, inputs=model.value_vars, on_unused_input="ignore", point_fn=True)
    baseline, service, beta, slope = function(point)
    frame, info = plan.data.info["frame"], plan.data.info
    design = info["design"].matrix()
    services = plan.data.coords["service"]
    service_idx = pd.Categorical(frame["service"].astype(str), categories=services).codes
    linear = design @ beta + service[service_idx] + plan.data.arrays["fidelity"][service_idx, None] * slope[None, :]
    row_of = {pid: i for i, pid in enumerate(frame["participant_id"].astype(str))}
    total = 0.0
    for pid, months in panel.groupby("participant_id", sort=False):
        i = row_of[pid]
        for month, status in zip(months["month"], months["status"], strict=True):
            eta = baseline[month - 1] + linear[i]
            log_none = -np.log1p(np.exp(eta).sum())
            if status in TARGETS:
                total += eta[TARGETS.index(status)] + log_none
                break
            total += log_none
    return float(total)


def test_collapsed_log_likelihood_equals_person_month_rows(small_ipsung: Path, tmp_path: Path) -> None:
    collapsed = check(tte_config(small_ipsung, tmp_path))
    rows = check(tte_config(small_ipsung, tmp_path, **{"model.collapse": "never"}))
    panel = pd.read_csv(small_ipsung / "monthly_status.csv")
    for seed in (1, 2):
        point = jittered_point(collapsed.model, seed)
        logp_collapsed = collapsed.model.compile_logp(vars=collapsed.model.observed_RVs)(point)
        logp_rows = rows.model.compile_logp(vars=rows.model.observed_RVs)(point)
        by_hand = person_month_log_likelihood(collapsed, point, panel)
        assert logp_collapsed == pytest.approx(by_hand, rel=1e-10, abs=1e-8)
        assert logp_rows == pytest.approx(by_hand, rel=1e-10, abs=1e-8)
        # and the whole posterior density (priors are the same free variables)
        assert collapsed.model.compile_logp()(point) == pytest.approx(rows.model.compile_logp()(point), rel=1e-10)
    assert rows.data.info["person_months"] == collapsed.data.info["person_months"]
    assert collapsed.data.info["patterns"] <= rows.data.info["patterns"] == 400
    assert len(rows.data.info["pattern_weights"]) == 512 and rows.data.arrays["trials"][400:].sum() == 0  # padding


def test_rw_basis_is_the_scaled_random_walk() -> None:
    for order, months in ((2, 24), (1, 12), (2, 6)):
        basis = rw_basis(months, order)
        assert basis.shape == (months, months - order)
        variance = np.sum(basis**2, axis=1)
        assert np.exp(np.mean(np.log(variance))) == pytest.approx(1.0)  # Sørbye & Rue scaling
        difference = np.diff(np.eye(months), n=order, axis=0)
        precision = difference.T @ difference
        covariance = basis @ basis.T
        np.testing.assert_allclose(
            covariance / covariance[0, 0], np.linalg.pinv(precision) / np.linalg.pinv(precision)[0, 0], atol=1e-8
        )
        assert np.allclose(basis.sum(axis=0), 0.0)  # orthogonal to the constant ...
        if order == 2:
            assert np.allclose(month_trend(months) @ basis, 0.0)  # ... and to the straight line


def test_sbc_replicate_follows_the_survival_process(small_ipsung: Path, tmp_path: Path) -> None:
    from ipsbayes.sampling import sample_prior_predictive

    plan = check(tte_config(small_ipsung, tmp_path))
    tree = sample_prior_predictive(plan.model, draws=1, seed=5)
    replaced = plan.family.replicate_data(
        plan.spec,
        tree["prior"].to_dataset(),
        tree["prior_predictive"].to_dataset(),
        plan.data,
        np.random.default_rng(5),
    )
    trials, events = replaced["trials"], replaced["y"]
    assert trials.shape == plan.data.arrays["trials"].shape and events.shape == plan.data.arrays["y"].shape
    assert trials[:, 0].sum() == 400  # everyone starts at risk
    leaving = trials[:, :-1] - events[:, :-1].sum(axis=2) - trials[:, 1:]  # censored at the end of each month
    assert leaving.min() >= 0
    # censoring as observed: nobody is at risk after the month their follow-up ended
    followed = plan.data.info["followed"]
    at_risk_max = np.zeros_like(trials)
    np.add.at(at_risk_max, plan.data.info["pattern_of"], (np.arange(24)[None, :] < followed[:, None]).astype(float))
    assert np.all(trials <= at_risk_max)
    refit = plan.family.build(
        dataclasses.replace(plan.data, arrays={**plan.data.arrays, **replaced}), plan.spec, plan.priors
    )
    assert np.isfinite(refit.compile_logp()(refit.initial_point()))


def test_person_periods_reproduce_the_reference_file() -> None:
    """Singer & Willett's first-sex data: ipsbayes builds the book's 822 person-period rows itself."""
    folder = REPO / "examples" / "alda_first_sex"
    plan = check(folder / "first_sex_model_d.toml")
    rows = person_month_frame(plan.data)
    ids = plan.data.info["frame"]["id"].to_numpy()
    ours = pd.DataFrame(
        {"id": ids[rows["participant"]], "period": rows["month"] + 7, "event": (rows["outcome"] >= 0).astype(int)}
    )
    reference = pd.read_csv(folder / "person_period_reference.csv")[["id", "period", "event"]]
    reference["id"] = reference["id"].astype(str)  # ids are read as text, exactly as written
    pd.testing.assert_frame_equal(
        ours.sort_values(["id", "period"]).reset_index(drop=True),
        reference.sort_values(["id", "period"]).reset_index(drop=True),
        check_dtype=False,
    )
    assert len(ours) == 822 and ours["event"].sum() == 126
    assert plan.data.info["person_months"] == 822 and plan.data.info["cells"] == 822  # pas is continuous


def test_describe_states_rows_before_and_after_collapsing(small_ipsung: Path, tmp_path: Path) -> None:
    plan = check(
        tte_config(small_ipsung, tmp_path, **{"model.formula": "~ gender + diagnosis + ips25 + (1 | service)"})
    )
    info = plan.data.info
    text = plan.family.describe(plan.spec, plan.data)
    assert f"Person-months at risk: {info['person_months']:,}" in text
    assert info["cells"] < info["person_months"] / 2  # discrete predictors: participants share patterns
    assert any("collapsed into" in note for note in plan.data.notes)


def test_describe_in_norwegian_follows_the_spec(small_ipsung: Path, tmp_path: Path) -> None:
    from ipsbayes.pipeline import descriptions

    plan = check(tte_config(small_ipsung, tmp_path, **{"model.baseline": "rw1"}))
    info = plan.data.info
    text = descriptions(plan.family, plan.spec, plan.data)["model_description_nb"]
    assert text.startswith(
        f"Diskret-tids hasardmodell for første måned i en måltilstand for {plan.data.n_rows} deltakere"
    )
    assert f"i {len(plan.data.coords['service'])} tjenester" in text
    assert "tilfeldig gange (random walk) av første orden" in text and "gjennomsnittet" in text
    assert f"Personmåneder under risiko: {info['person_months']:,}".replace(",", "\N{THIN SPACE}") in text
    assert (
        "måneder)." in text
        and "Modelltrofasthet: `ips25`" in text
        and "Participants" not in text
        and "Service effects" not in text
    )
    english = plan.family.describe(plan.spec, plan.data)
    assert "random walk of first order" in english and "Diskret" not in english


def test_prior_estimands_skip_the_counts_without_changing_the_draws(
    small_ipsung: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xarray as xr

    from ipsbayes.priors_alone import prior_estimands

    plan = check(tte_config(small_ipsung, tmp_path))
    assert plan.family.prior_draws_only
    fast = prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config, draws=20)
    monkeypatch.setattr(type(plan.family), "prior_draws_only", False)
    full = prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config, draws=20)
    xr.testing.assert_identical(fast, full)  # same seed, same parameter draws


def test_default_priors_leave_the_share_by_the_horizon_wide_and_centred() -> None:
    """Prior-only share with a first transition by month 24 (shipped config and data): 90% ETI spans 15-85%
    and contains 50%, and the prior median month does not pile up in the first month (review finding)."""
    from ipsbayes.sampling import sample_prior_predictive

    plan = check(REPO / "models" / "ipsung_time_to_job.toml")
    prior = sample_prior_predictive(plan.model, draws=400, seed=11)["prior"].to_dataset()
    estimands = plan.family.estimands(prior, plan.data, plan.spec, plan.config)
    share = estimands["incidence_any"].sel(horizon="24 months").values.ravel()
    lower, upper = np.quantile(share, [0.05, 0.95])
    assert lower <= 15.0 and upper >= 85.0 and lower < 50.0 < upper, (lower, upper)
    assert 35.0 < np.median(share) < 65.0
    months = estimands["median_time_any"].values.ravel()
    assert np.mean(months[np.isfinite(months)] <= 1.0) < 0.1
