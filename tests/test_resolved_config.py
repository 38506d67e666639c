"""A run folder's config.toml, fed back to ``ipsbayes run``, fits what the run fitted (outside review, round 5).

The recorded config expanded the main prior set into ``priors.overrides``; the sensitivity refits
apply the overrides to their own prior sets, so every alternative set became the main one again and
was skipped as "the same priors" (rij_cace: 4 analyses, fed back 2). The main table's key was
written as ``participants`` for a ``[data] main`` config.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from ipsbayes.rundir import write_toml
from ipsbayes.runner import check, resolved_config
from ipsbayes.sensitivity import config_priors

from .conftest import REPO


def _as_dicts(prior_set) -> dict:
    return {name: prior.as_dict() for name, prior in prior_set.priors.items()}


def _fed_back(source: Path, tmp_path: Path):
    plan = check(source)
    path = tmp_path / "config.toml"
    write_toml(path, resolved_config(plan.config, plan.priors))
    return plan, check(path), tomllib.loads(path.read_text())


@pytest.mark.parametrize("name", ["rij_cace", "rij_cace_months", "ipsung_employment"])
def test_the_recorded_config_gives_the_same_priors_to_every_analysis(tmp_path: Path, name: str) -> None:
    plan, again, recorded = _fed_back(REPO / "models" / f"{name}.toml", tmp_path)
    assert _as_dicts(again.priors) == _as_dicts(plan.priors)  # the main fit's priors, as run
    assert recorded["priors"]["expanded"] == _as_dicts(plan.priors)
    assert recorded["priors"]["overrides"] == plan.config.priors.overrides  # the user's own only
    search = [REPO / "priors"]
    for alternative in plan.config.sensitivity.prior_sets:
        original, _ = config_priors(plan.config, plan.family, plan.spec, search, alternative)
        fed, _ = config_priors(again.config, again.family, again.spec, search, alternative)
        assert _as_dicts(fed) == _as_dicts(original), alternative
        assert _as_dicts(fed) != _as_dicts(plan.priors) or alternative == plan.config.priors.set


def test_user_overrides_still_reach_every_prior_set(tmp_path: Path) -> None:
    raw = tomllib.loads((REPO / "models" / "rij_cace.toml").read_text())
    raw["data"]["participants"] = str(REPO / "data" / "rij" / "participants.csv")
    first = next(iter(check(REPO / "models" / "rij_cace.toml").priors.priors))
    raw.setdefault("priors", {})["overrides"] = {first: {"dist": "Normal", "mu": 0.0, "sigma": 0.123}}
    source = tmp_path / "source.toml"
    source.write_text(tomli_w.dumps(raw))
    plan, again, recorded = _fed_back(source, tmp_path)
    assert recorded["priors"]["overrides"] == {first: {"dist": "Normal", "mu": 0.0, "sigma": 0.123}}
    for alternative in plan.config.sensitivity.prior_sets:
        fed, _ = config_priors(again.config, again.family, again.spec, [REPO / "priors"], alternative)
        assert fed.priors[first].params["sigma"] == 0.123


def test_a_generic_configs_main_table_keeps_its_key(tmp_path: Path) -> None:
    _, again, recorded = _fed_back(REPO / "examples" / "cbpp" / "cbpp.toml", tmp_path)
    assert "main" in recorded["data"] and "participants" not in recorded["data"]
    assert Path(recorded["data"]["main"]).is_absolute()
    assert again.config.data.main_key == "main"


def test_a_fed_back_config_with_another_set_fits_that_set_and_says_so(tmp_path: Path) -> None:
    """Fed back with priors.set edited to "sceptical", the recorded priors were fitted under the new name."""
    plan, _, recorded = _fed_back(REPO / "models" / "rij_cace.toml", tmp_path)
    recorded["priors"]["set"] = "sceptical"
    edited = tmp_path / "edited.toml"
    edited.write_text(tomli_w.dumps(recorded))
    with pytest.warns(UserWarning, match="differ from those config.toml records as run"):
        again = check(edited)
    sceptical, _ = config_priors(plan.config, plan.family, plan.spec, [REPO / "priors"], "sceptical")
    assert _as_dicts(again.priors) == _as_dicts(sceptical) != _as_dicts(plan.priors)
    assert any("priors.expanded" in note for note in again.data.notes)


def test_a_fed_back_config_with_other_data_scales_its_default_priors_to_them(tmp_path: Path) -> None:
    """Outcome in seconds instead of ms: the default intercept prior kept the old data's mean (298.5)."""
    import pandas as pd

    plan, _, recorded = _fed_back(REPO / "examples" / "sleepstudy" / "sleepstudy.toml", tmp_path)
    frame = pd.read_csv(recorded["data"]["main"])
    frame["Reaction"] = frame["Reaction"] / 1000
    frame.to_csv(tmp_path / "seconds.csv", index=False)
    recorded["data"]["main"] = str(tmp_path / "seconds.csv")
    edited = tmp_path / "seconds.toml"
    edited.write_text(tomli_w.dumps(recorded))
    with pytest.warns(UserWarning, match="differ from those config.toml records"):
        again = check(edited)
    assert _as_dicts(again.priors) != _as_dicts(plan.priors)


def test_a_reworded_prior_source_is_not_a_different_prior(tmp_path: Path) -> None:
    """A run folder written before the default prior's description changed warned 'priors differ' though its
    numbers were the same (review of this round): only the prior itself is compared."""
    from ipsbayes.sensitivity import expanded_differences

    _, again, recorded = _fed_back(REPO / "examples" / "sleepstudy" / "sleepstudy.toml", tmp_path)
    reworded = {name: {**entry, "source": "an older wording"} for name, entry in recorded["priors"]["expanded"].items()}
    config = again.config.model_copy(update={"priors": again.config.priors.model_copy(update={"expanded": reworded})})
    assert expanded_differences(config, again.priors) == []
    changed = {**reworded, "sigma": {**reworded["sigma"], "sigma": 123.0}} if "sigma" in reworded else None
    if changed is not None:
        config = again.config.model_copy(
            update={"priors": again.config.priors.model_copy(update={"expanded": changed})}
        )
        assert expanded_differences(config, again.priors) == ["sigma"]
