"""Simulators: reproducible, IPS ung-shaped defaults, truth recorded, bundled data regenerate exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ipsbayes.cli import main
from ipsbayes.errors import ConfigError
from ipsbayes.simulate import simulate

from .conftest import REPO


def test_same_seed_same_tables_different_seed_different_tables() -> None:
    a, _ = simulate("ipsung", seed=3, options={"n_participants": 300, "n_services": 10, "n_specialists": 20})
    b, _ = simulate("ipsung", seed=3, options={"n_participants": 300, "n_services": 10, "n_specialists": 20})
    c, _ = simulate("ipsung", seed=4, options={"n_participants": 300, "n_services": 10, "n_specialists": 20})
    pd.testing.assert_frame_equal(a["participants"], b["participants"])
    assert not a["participants"].equals(c["participants"])


def test_ipsung_defaults_mirror_the_trial() -> None:
    tables, truth = simulate("ipsung", seed=11)
    people, services, reviews = tables["participants"], tables["services"], tables["reviews"]
    assert len(services) == 43 and people["service"].nunique() == 43
    assert people["specialist"].nunique() <= 113 and people["specialist"].nunique() >= 100
    assert people["age"].between(16, 30).all()
    sizes = people.groupby("service").size()
    assert sizes.min() <= 5 and sizes.max() >= 5 * sizes.min()  # uneven, some very small services
    assert services["ips25"].between(25, 125).all()
    assert reviews.groupby("service").size().between(1, 3).all()
    assert set(people["outcome_12m"]) == {"none", "work", "apprenticeship", "education"}
    any_outcome = people[["work_12m", "apprenticeship_12m", "education_12m"]].sum(axis=1)
    assert (any_outcome == people["work_or_education_12m"]).all()
    assert truth["work_or_education_12m"]["sd_service"] == 0.45
    # specialists are nested in services
    assert (people.groupby("specialist")["service"].nunique() == 1).all()


def test_bundled_data_are_the_simulators_output(tmp_path: Path) -> None:
    """data/ipsung is what `ipsbayes simulate ipsung --seed 2` writes, byte for byte."""
    assert main(["simulate", "ipsung", "--seed", "2", "--out", str(tmp_path)]) == 0
    for name in ("participants.csv", "services.csv", "reviews.csv", "monthly_status.csv", "truth.json"):
        assert (tmp_path / name).read_bytes() == (REPO / "data" / "ipsung" / name).read_bytes(), name


def test_truth_json_is_written(tmp_path: Path) -> None:
    simulate("ipsung", seed=1, out=tmp_path, options={"n_participants": 200, "n_services": 10, "n_specialists": 15})
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 1 and truth["settings"]["n_services"] == 10
    assert np.isclose(truth["work_or_education_12m"]["fidelity_slope_per_10"], 0.25)


def test_bad_options_are_named() -> None:
    with pytest.raises(ConfigError, match="did you mean 'n_services'"):
        simulate("ipsung", seed=1, options={"n_service": 3})
    with pytest.raises(ConfigError, match="valid: ipsung"):
        simulate("ipsungg", seed=1)


def test_impossible_design_values_are_one_error_and_write_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rij"
    code = main(
        ["simulate", "rij", "--out", str(out), "--option", "n_participants=3", "--option", "treatment_share=1.5"]
    )
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "2 problems" in err and "treatment_share = 1.5" in err and "each arm needs at least 2" in err
    with pytest.raises(ConfigError) as caught:
        simulate(
            "ipsung",
            seed=1,
            options={"n_participants": 10, "n_specialists": 5, "service_correlation": (0.9, 0.9, -0.9)},
        )
    problems = "\n".join(caught.value.problems)
    assert "min_service_size x n_services = 86" in problems
    assert "at least n_services = 43" in problems and "positive semi-definite" in problems
