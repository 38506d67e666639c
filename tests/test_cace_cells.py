"""CACE reports: the trial's size as it was, and no group of fewer than min_cell given away (outside review)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ipsbayes
from ipsbayes.simulate import simulate

pytestmark = pytest.mark.sampling

NO_SENSITIVITY = {"sensitivity.prior_sets": [], "sensitivity.variants": {}, "sensitivity.power_scaling": False}


def _run(make_config, tmp_path: Path, options: dict, language: str = "en") -> Path:
    data = tmp_path / "data"
    simulate("rij", seed=5, out=data, options=options)
    config = make_config(
        "rij_cace", data=data, **{"sampler.profile": "ci", "report.language": language, **NO_SENSITIVITY}
    )
    ipsbayes.run(config, out=tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_the_small_sample_sentence_counts_every_participant(make_config, tmp_path) -> None:
    """It said "With 17 participants" for 66: the sum of the arms' smallest cells, not of the arms."""
    run = _run(make_config, tmp_path, {"n_participants": 120})
    text = " ".join((run / "report.md").read_text().split())
    assert "With 120 participants, the posterior interval of the CACE" in text


def test_a_handful_who_did_not_take_up_the_treatment_are_not_given_away(make_config, tmp_path) -> None:
    """149 of 150 received it: the count, and the arm's rate beside the received rate, gave one person away."""
    import pandas as pd

    options = {"n_participants": 300, "complier_intercept": 6, "complier_per_norwegian_level": 0.2}
    run = _run(make_config, tmp_path, options)
    frame = pd.read_csv(tmp_path / "data" / "participants.csv")
    arm = frame[frame["assigned_ips"] == 1]
    received, missed = int(arm["received_ips"].sum()), int(len(arm) - arm["received_ips"].sum())
    assert 0 < missed < 5, "the simulated trial should leave a handful without the treatment"
    text = " ".join((run / "report.md").read_text().split())
    assert f"({received} received it)" not in text
    assert "(all but fewer than 5 received it)" in text
    estimands = ipsbayes.load_run(run).estimands
    for name in ("observed_per_protocol", "observed_rate_received", "observed_wald_cace"):
        assert 0 < estimands[name].attrs["participants"] < 5, name  # the reports' small-cell rule hides them
    assert estimands["observed_rate_treatment_arm"].attrs["group_size"] == len(arm)


def test_the_withheld_itt_gives_its_true_reason(make_config, tmp_path) -> None:
    """Arms of 10 with 1 and 3 employed: the report said 'an arm has fewer than 5 participants' (outside review)."""
    import pandas as pd

    run = _run(make_config, tmp_path, {"n_participants": 20})
    frame = pd.read_csv(tmp_path / "data" / "participants.csv")
    sizes = frame.groupby("assigned_ips")["employed_12m"].agg(["size", "sum"])
    assert (sizes["size"] >= 5).all() and ((sizes["sum"] < 5) | (sizes["size"] - sizes["sum"] < 5)).any()
    text = " ".join((run / "report.md").read_text().split())
    assert "The observed ITT difference is not shown: an arm's rate rests on fewer than 5 participants" in text
    assert "an arm has fewer than" not in text


def test_a_probable_compliance_association_is_worded_as_probable(make_config, tmp_path) -> None:
    """An odds ratio of 2.62 (90% ETI 0.90 to 7.50) was told as sure: 'are more likely to be compliers'."""
    run = _run(make_config, tmp_path, {"n_participants": 20})
    beta = ipsbayes.load_run(run).datatree["posterior"]["compliance_beta"]
    draws = beta.isel({beta.dims[-1]: 0}).values.ravel()
    share_up = float((draws > 0).mean())
    lower, upper = np.quantile(draws, [0.05, 0.95])
    assert lower < 0 < upper and max(share_up, 1 - share_up) >= 0.8, "the simulated association should be probable"
    text = " ".join((run / "report.md").read_text().split())
    assert "are probably more likely to be compliers" in text or "are probably less likely to be compliers" in text
    assert "so never-takers probably tend to have" in text
