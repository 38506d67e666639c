"""IPS ung questions 1-3: competing outcomes, drivers of education, fidelity measured with error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipsbayes
from ipsbayes.errors import DataError
from ipsbayes.runner import check
from ipsbayes.simulate import simulate
from ipsbayes.testing import assert_covers, assert_recovers, expect_error, quick_fit


def edit(folder: Path, table: str, change) -> None:
    """Rewrite ``folder/table.csv`` through ``change``, which edits the frame in place or returns a new one."""
    frame = pd.read_csv(folder / f"{table}.csv")
    changed = change(frame)
    (frame if changed is None else changed).to_csv(folder / f"{table}.csv", index=False)


def test_review_score_outside_scale(make_config, data_copy: Path) -> None:
    edit(data_copy, "reviews", lambda f: f.__setitem__("ips25_total", f["ips25_total"].where(f.index != 2, 130)))
    error = expect_error(check, make_config("ipsung_fidelity", data=data_copy))
    assert isinstance(error, DataError)
    assert "'ips25_total' must lie in 25-125 (IPS-25)" in str(error) and "row 3" in str(error)
    assert "reviews table" in str(error)


def test_review_for_unknown_service(make_config, data_copy: Path) -> None:
    edit(data_copy, "reviews", lambda f: f.__setitem__("service", f["service"].where(f.index != 0, "S99")))
    text = str(expect_error(check, make_config("ipsung_fidelity", data=data_copy)))
    assert "review(s) for unknown service(s) S99" in text and "row 1" in text


def test_missing_reviews_table_is_named(make_config, data_copy: Path) -> None:
    config = make_config("ipsung_fidelity", data=data_copy)
    raw = config.read_text().replace(f'reviews = "{data_copy / "reviews.csv"}"\n', "")
    config.write_text(raw)
    assert "needs a reviews table" in str(expect_error(check, config))


def test_plug_in_needs_every_service_reviewed(make_config, data_copy: Path) -> None:
    edit(data_copy, "reviews", lambda f: f.query("service != 'S01'"))
    config = make_config("ipsung_fidelity", data=data_copy, **{"model.fidelity.measurement_error": False})
    assert "S01 have no review" in str(expect_error(check, config))
    # the shipped config's plug-in sensitivity variants need every score too: named before anything is sampled
    text = str(expect_error(check, make_config("ipsung_fidelity", data=data_copy)))
    assert "sensitivity.variants.naive_plug_in" in text and "S01 have no review" in text
    plan = check(make_config("ipsung_fidelity", data=data_copy, **{"sensitivity.variants": {}}))
    assert any("without a review" in note for note in plan.data.notes)  # the latent model copes


def test_category_label_not_in_outcome_set(make_config, data_copy: Path) -> None:
    edit(
        data_copy,
        "participants",
        lambda f: f.__setitem__("outcome_12m", f["outcome_12m"].where(f.index != 4, "military_service")),
    )
    text = str(expect_error(check, make_config("ipsung_outcomes", data=data_copy)))
    assert "label(s) military_service not in the declared outcome set" in text and "row 5" in text


def test_shrinkage_option_shares_one_scale_per_equation(make_config) -> None:
    plan = check(make_config("ipsung_outcomes", **{"model.shrinkage": True}))
    model = plan.model
    assert {"coef_scale", "z_beta"} <= set(model.named_vars) and "coef_scale" in plan.priors
    assert model.named_vars_to_dims["coef_scale"] == ("equation",)
    assert all(np.isfinite(v) for v in model.point_logps().values())


@pytest.mark.sampling
def test_competing_outcomes_recover_service_sds_and_education_drivers(make_config, tmp_path: Path) -> None:
    # one fixed simulated data set (a smoke check of recovery; calibration over many is `ipsbayes validate`)
    data = tmp_path / "data"
    simulate("ipsung", seed=11, out=data, options={"n_participants": 2000, "n_services": 60, "n_specialists": 150})
    truth = json.loads((data / "truth.json").read_text())
    categorical = truth["categorical_12m"]
    estimands = quick_fit(make_config("ipsung_outcomes", data=data, **{"model.shrinkage": False}))
    assert_recovers(
        estimands,
        {
            "service_sd[reach]": categorical["sd_service"][0],
            "service_sd[education_vs_work]": categorical["sd_service"][2],
        },
        prob=0.9,
    )
    coefficients = estimands["log_odds_per_unit"]
    for equation, term, value in (
        ("education_vs_work", "education_collaboration", categorical["education_vs_work"]["education_collaboration"]),
        ("education_vs_work", "age", categorical["education_vs_work"]["age"]),
        ("reach", "months_outside", truth["work_or_education_12m"]["coefficients_per_unit"]["months_outside"]),
    ):
        assert_covers(coefficients.sel(equation=equation, term=term), value, 0.9, f"{equation}: {term}")
    shares = estimands["category_share"].median(["chain", "draw"])
    for category, observed in categorical["observed_shares"].items():
        assert abs(float(shares.sel(category=category)) - 100 * observed) < 3.0


@pytest.mark.sampling
def test_outcomes_report_answers_questions_one_and_two(shipped: dict[str, Path]) -> None:
    run = ipsbayes.load_run(shipped["ipsung_outcomes"])  # the session's ci-profile run of the shipped config
    md = run.report_md.read_text()
    assert "What drives transitions to education" in md and "Who reaches work" in md
    section = md.split("## What drives transitions to education", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(row[0].strip("| ")) for row in rows] == list(range(1, len(rows) + 1))
    relevant = [_probability(row[4]) for row in rows]  # P(change > 5 pp) in the direction of each median
    assert relevant == sorted(relevant, reverse=True)  # ranked by practical relevance, never by signed median
    assert "education collaboration: yes vs no" in [row[1] for row in rows]
    assert all(row[4].endswith(("(rise)", "(fall)")) for row in rows) and "P(> 5)" not in section
    assert {"outcome_shares", "focus_drivers", "service_correlations"} <= set(run.figures)
    assert "focus_ame" in set(run.summary["estimand"]) and (run.summary["threshold"] == 5.0).any()


def _probability(cell: str) -> float:
    """``0.61 (fall)`` -> 0.61; ``< 0.01 (rise)`` -> 0.005; ``> 0.99 (fall)`` -> 0.995."""
    text = cell.split(" (")[0].strip()
    if text.startswith("<"):
        return 0.005
    if text.startswith(">"):
        return 0.995
    return float(text)


@pytest.mark.sampling
def test_measurement_error_model_recovers_slope_and_review_error(make_config, tmp_path: Path) -> None:
    data = tmp_path / "data"
    simulate("ipsung", seed=303, out=data, options={"n_services": 60, "n_specialists": 140, "n_participants": 2400})
    truth = json.loads((data / "truth.json").read_text())
    estimands = quick_fit(make_config("ipsung_fidelity", data=data))
    assert_recovers(
        estimands,
        {
            "fidelity_slope": truth["work_or_education_12m"]["fidelity_slope_per_10"],
            "review_error_sd": truth["fidelity"]["review_error_sd"],
            "sd_service": truth["work_or_education_12m"]["sd_service"],
        },
        prob=0.9,
    )


@pytest.mark.sampling
def test_fidelity_report_sets_latent_slope_beside_plug_in_and_aggregate(shipped: dict[str, Path]) -> None:
    run = ipsbayes.load_run(shipped["ipsung_fidelity"])  # the session's ci-profile run of the shipped config
    analyses = [str(a) for a in run.datatree["sensitivity"]["analysis"].values]
    assert analyses == ["main (weakly_informative)", "variant: naive_plug_in", "variant: service_level_aggregate"]
    md = run.report_md.read_text()
    assert "Fidelity measured with error" in md and "regression dilution" in md
    assert "Reliability of a single review" in md
