"""``ipsbayes design``: config checks, the trial simulator, Monte Carlo summaries, and assurance at the extremes.

The sampling tests use a cheap configuration (one size, 8-30 simulated trials, the ci profile);
``ipsbayes design models/rij_cace.toml`` runs the full curve (README, 'Planning the next trial').
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ipsbayes.assurance import DesignSpec, TrialJob, parse_design, shift_uptake, simulate_trial, summarise
from ipsbayes.cli import main
from ipsbayes.errors import ConfigError
from ipsbayes.runner import check, validate_config

CHEAP = {"sampler.profile": "ci", "sensitivity.prior_sets": [], "sensitivity.variants": {}}


def plan_with(make_config, **design):
    return check(make_config("rij_cace", **CHEAP, design=design))


def spec_with(make_config, **design):
    """Config, family and spec of the rij config with ``design``, without ``check`` (which refuses a bad [design])."""
    config, family, spec, _ = validate_config(make_config("rij_cace", **CHEAP, design=design))
    return SimpleNamespace(config=config, family=family, spec=spec)


@pytest.mark.parametrize(
    ("design", "message"),
    [
        ({}, "no [design] table"),
        ({"sizes": [66, 4]}, "at least 8 participants"),
        ({"trails": 10}, "unknown key 'design.trails'"),
        ({"success": {"estimand": "caec"}}, "did you mean 'cace'"),
        ({"fixed": {"treatment_efect": 0.0}}, "did you mean 'treatment_effect'"),
        ({"design_prior": "no_such_set"}, "no prior set named 'no_such_set'"),
        ({"posterior_run": "nowhere"}, "no posterior.nc"),
        ({"uptake": {"mean": 0.5, "sd": 0.6}}, "too large"),
        # a ratio's no-effect value is 1: the default threshold 0 made every simulated trial a success
        ({"success": {"estimand": "cace_ratio"}}, "key 'design.success.threshold' is needed for 'cace_ratio'"),
        ({"success": {"estimand": "complier_share"}}, "it is a share"),
        # no one assigned to the intervention: every simulated analysis failed, and the command exited 0
        ({"sizes": [8], "allocation": 0.05}, "leaves an arm of the 8-participant trial empty"),
    ],
)
def test_design_table_problems_are_named(make_config, design: dict, message: str) -> None:
    plan = spec_with(make_config, **design)
    with pytest.raises(ConfigError) as info:
        parse_design(plan.config, plan.family, plan.spec, "rij.toml")
    assert message in str(info.value)
    if design and "posterior_run" not in design:  # `ipsbayes check` refuses it too (the run folder may come later)
        with pytest.raises(ConfigError) as info:
            plan_with(make_config, **design)
        assert message in str(info.value)


def test_unknown_parameter_names_are_named_beside_a_value_that_is_not_a_number(make_config) -> None:
    """Every problem of [design.fixed] in one run: a bad value no longer hides the names that are not parameters."""
    plan = spec_with(make_config, fixed={"treatment_effect": "big", "treatment_efect": 0.1, "sd_x": 2.0})
    with pytest.raises(ConfigError) as info:
        parse_design(plan.config, plan.family, plan.spec, "rij.toml")
    text = str(info.value)
    assert "key 'design.fixed.treatment_effect': must be a number" in text
    assert "'treatment_efect' is not a parameter of this model (did you mean 'treatment_effect'?)" in text
    assert "'sd_x' is not a parameter of this model" in text
    assert "(3 problems)" in text


def test_cli_errors_exit_2(make_config, capsys, tmp_path: Path) -> None:
    config = make_config("rij_cace", **CHEAP, design={})
    assert main(["design", str(config), "--workers", "0", "--out", str(tmp_path / "design")]) == 2
    assert "no [design] table" in capsys.readouterr().err
    assert main(["design", str(config), "--sizes", "66,lots"]) == 2
    assert "sizes must be whole numbers" in capsys.readouterr().err
    assert main(["design", str(config), "--trials", "0"]) == 2
    assert "--trials must be between 1" in capsys.readouterr().err
    assert main(["map-prior", "no/such/config.toml"]) == 2
    assert "not found" in capsys.readouterr().err


def test_design_and_map_prior_refuse_a_folder_of_other_files_before_any_work(make_config, tmp_path: Path, capsys):
    """Output safety: a folder ipsbayes did not write is refused (exit 2, no traceback) and left as it was."""
    from .conftest import REPO

    config = make_config("rij_cace", **CHEAP, design={"sizes": [66], "trials": 2})
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    for argv in (
        ["design", str(config), "--workers", "0", "--out", str(mine)],
        ["map-prior", str(REPO / "priors" / "map" / "ips_map.toml"), "--out", str(mine)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Refusing to write" in err and "--force" in err and "Traceback" not in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_simulated_trial_has_the_planned_design(make_config) -> None:
    plan = plan_with(make_config, sizes=[40], allocation=0.25)
    design = parse_design(plan.config, plan.family, plan.spec, "t")
    draw = xr.Dataset(
        {
            "compliance_intercept": (("chain", "draw"), [[0.0]]),
            "compliance_beta": (("chain", "draw", "compliance_term"), [[[0.0, 0.0, 0.0]]]),
            "complier_control_intercept": (("chain", "draw"), [[-1.0]]),
            "treatment_effect": (("chain", "draw"), [[1.0]]),
            "never_taker_intercept": (("chain", "draw"), [[-2.0]]),
            "outcome_beta": (("chain", "draw", "outcome_term"), [[[0.0]]]),
        }
    )
    arrays = {k: plan.data.arrays[k] for k in ("W", "X")}
    frame = plan.bundle.participants.frame
    job = TrialJob(40, 0, 1, plan.config, plan.spec, plan.priors, design, draw, frame, arrays)
    simulated, truth = simulate_trial(job, plan.family, np.random.default_rng(2))
    assert len(simulated) == 40 and simulated["assigned_ips"].sum() == 10
    assert (simulated.loc[simulated["assigned_ips"] == 0, "received_ips"] == 0).all()
    assert set(simulated["employed_12m"]) <= {0, 1}
    assert truth.arrays["W"].shape == (40, 3)


def test_uptake_shift_hits_the_planned_share(make_config) -> None:
    plan = plan_with(make_config)
    w = plan.data.arrays["W"]
    draws = xr.Dataset(
        {
            "compliance_intercept": (("chain", "draw"), np.zeros((1, 200))),
            "compliance_beta": (("chain", "draw", "compliance_term"), np.full((1, 200, 3), 0.8)),
        }
    )
    spec = DesignSpec.model_validate({"uptake": {"mean": 0.85, "sd": 0.03}}).uptake
    shifted = shift_uptake(draws, w, spec, np.random.default_rng(0))
    linear = shifted["compliance_intercept"].values.reshape(-1, 1) + 0.8 * w.sum(axis=1)
    shares = 1 / (1 + np.exp(-linear))
    assert shares.mean(axis=1).mean() == pytest.approx(0.85, abs=0.01)
    assert shares.mean(axis=1).std() == pytest.approx(0.03, abs=0.01)


def test_summary_gives_binomial_monte_carlo_errors() -> None:
    rows = pd.DataFrame(
        {
            "size": [100] * 5,
            "ok": [True, True, True, True, False],
            "success": [True, True, False, True, None],
            "interval_width": [20.0, 22.0, 24.0, 26.0, None],
            "posterior_mean": [10.0] * 5,
            "true_value": [12.0] * 5,
            "divergences": [0, 0, 1, 0, 0],
        }
    )
    row = summarise(rows).iloc[0]
    assert row["trials"] == 4 and row["failed"] == 1 and row["assurance"] == 0.75
    assert row["assurance_mcse"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert row["interval_width_mcse"] == pytest.approx(np.std([20, 22, 24, 26], ddof=1) / 2)


@pytest.mark.sampling
@pytest.mark.slow  # make test-slow
def test_null_effect_succeeds_about_as_often_as_the_type_one_level(make_config, tmp_path: Path) -> None:
    """treatment_effect pinned at 0: P(CACE > 0) > 0.95 should happen about 5% of the time (24 trials here)."""
    config = make_config("rij_cace", **CHEAP, design={"sizes": [120], "trials": 24, "fixed": {"treatment_effect": 0.0}})
    from ipsbayes.assurance import design

    out = design(config, workers=0, out=tmp_path / "null")
    curve = pd.read_csv(out / "assurance.csv")
    assert curve["trials"].iloc[0] == 24 and curve["failed"].iloc[0] == 0
    assert curve["assurance"].iloc[0] <= 0.2  # 0.05 expected; 5 or more of 24 has probability 0.7% under 5%
    assert abs(pd.read_csv(out / "trials.csv")["true_value"]).max() < 1e-9


@pytest.mark.sampling
def test_huge_effect_has_assurance_near_one_on_a_dask_cluster(make_config, tmp_path: Path, capsys) -> None:
    fixed = {"treatment_effect": 3.0, "complier_control_intercept": -1.5}
    config = make_config("rij_cace", **CHEAP, design={"sizes": [100], "trials": 6, "fixed": fixed})
    code = main(["design", str(config), "--workers", "1", "--out", str(tmp_path / "huge"), "--language", "nb"])
    assert code == 0 and capsys.readouterr().out.strip().endswith("report.html")
    curve = pd.read_csv(tmp_path / "huge" / "assurance.csv")
    assert curve["assurance"].iloc[0] >= 0.85
    report = (tmp_path / "huge" / "report.md").read_text()
    assert "| 100 | " in report and "for suksess når 80" in report  # 6 trials: "cannot tell", in nb
    assert (tmp_path / "huge" / "figures" / "assurance_curve.png").is_file()
    assert (tmp_path / "huge" / ".ipsbayes-manifest.json").is_file()


def test_design_prior_from_the_map_prior_set_and_pinned_parameters(make_config) -> None:
    """design_prior = 'ips_map' redraws the effect and control rate from the MAP mixtures; fixed pins others."""
    from ipsbayes.assurance import design_draws
    from ipsbayes.priors import default_search_dirs, resolve_prior_set

    from .conftest import REPO

    plan = plan_with(make_config)
    names = plan.family.prior_names_for(plan.spec)
    rng = np.random.default_rng(4)
    posterior = xr.Dataset(
        {
            name: (("chain", "draw"), rng.normal(size=(2, 2000)))
            for name in names
            if name not in ("compliance_beta", "outcome_beta")
        }
        | {"compliance_beta": (("chain", "draw", "compliance_term"), rng.normal(size=(2, 2000, 3)))}
    )
    spec = DesignSpec.model_validate({"design_prior": "ips_map", "fixed": {"never_taker_intercept": -2.0}})
    draws = design_draws(posterior, spec, default_search_dirs(REPO / "models"), names, seed=3)
    mixture = resolve_prior_set("ips_map", names, search_dirs=[REPO / "priors"])[0]["treatment_effect"].mixture()
    effect = draws["treatment_effect"].values.ravel()
    assert draws.sizes["draw"] == 4000 and effect.mean() == pytest.approx(mixture.mean(), abs=0.1)
    assert effect.std() == pytest.approx(mixture.sd(), rel=0.1)
    assert (draws["never_taker_intercept"] == -2.0).all()
    assert np.array_equal(
        draws["compliance_intercept"].values.ravel(), posterior["compliance_intercept"].values.ravel()
    )


def test_cli_sizes_too_small_are_named_once(capsys) -> None:
    assert main(["design", "models/rij_cace.toml", "--sizes", "0,66"]) == 2
    err = capsys.readouterr().err
    assert "too small: 0\n" in err and "[0" not in err and "got" not in err


def test_a_design_prior_stated_on_another_scale_is_refused(make_config, monkeypatch, tmp_path: Path) -> None:
    """Beta draws of a rate were used as the logit intercept: a 19% control rate became 55%."""
    from .conftest import REPO

    folder = tmp_path / "design_priors"
    folder.mkdir()
    text = (REPO / "priors" / "ips_map.toml").read_text()
    start = text.index("[complier_control_intercept]")
    end = text.index("\n[", start + 1)
    scaled = '[complier_control_intercept]\ndist = "Beta"\nalpha = 4.0\nbeta = 16.0\non = "probability"\nsource = "t"\n'
    (folder / "onprob.toml").write_text(text[:start] + scaled + text[end:])
    monkeypatch.setenv("IPSBAYES_PRIORS", str(folder))
    plan = spec_with(make_config, design_prior="onprob")
    with pytest.raises(ConfigError) as info:
        parse_design(plan.config, plan.family, plan.spec, "rij.toml")
    assert "prior 'complier_control_intercept' of 'onprob' is stated on the probability scale" in str(info.value)
    assert parse_design(spec_with(make_config, design_prior="ips_map").config, plan.family, plan.spec, "t")


def test_a_pinned_vector_parameter_keeps_its_dims(make_config) -> None:
    """[design.fixed] compliance_beta = 0 crashed every simulated analysis (a matmul of 3 terms against 800)."""
    from ipsbayes.assurance import design_draws

    plan = plan_with(make_config)
    names = plan.family.prior_names_for(plan.spec)
    rng = np.random.default_rng(1)
    posterior = xr.Dataset(
        {"compliance_intercept": (("chain", "draw"), rng.normal(size=(2, 50)))}
        | {"compliance_beta": (("chain", "draw", "compliance_term"), rng.normal(size=(2, 50, 3)))}
    )
    spec = DesignSpec.model_validate({"fixed": {"compliance_beta": 0.0}})
    draws = design_draws(posterior, spec, [], names, seed=1)
    assert draws["compliance_beta"].dims == ("chain", "draw", "compliance_term")
    assert (draws["compliance_beta"] == 0.0).all() and draws["compliance_beta"].shape == (1, 100, 3)
