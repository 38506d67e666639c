"""Flip the truth, and the words must flip with it: small simulated data, ci-profile fits, both languages.

Each scenario simulates data whose truth points one way (never-takers better or worse
than compliers; IPS helping or harming; fidelity slope positive, zero or negative; a
characteristic raising or lowering the outcome), fits it through the common pipeline
and checks the sentences the report would print. The fits of one design share a
compiled model (same structure and sizes), so each costs seconds after the first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ipsbayes.models.cace_report import answer as cace_answer
from ipsbayes.models.cace_report import cace_section
from ipsbayes.models.hierarchical_logistic_report import answer as logistic_answer
from ipsbayes.models.hierarchical_logistic_report import fidelity_sentence
from ipsbayes.pipeline import fit
from ipsbayes.present import ReportContext, Style
from ipsbayes.present.common import effect_rows, effects_section
from ipsbayes.report.tables import summarise
from ipsbayes.runner import check
from ipsbayes.simulate import simulate
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

pytestmark = pytest.mark.sampling


def fitted_context(config: dict, languages: tuple[str, ...] = ("en", "nb")) -> dict[str, ReportContext]:
    """Fit ``config`` at the ci profile and build a report context per language (no report written)."""
    plan = check(config)
    fitted = fit(plan.family, plan.spec, plan.priors, plan.config, data=plan.data, model=plan.model,
                 reuse_compiled=True, progress=False)  # fmt: skip
    assert fitted.diagnostics.status in {"pass", "warn"}, fitted.diagnostics.messages
    estimands = fitted.estimands
    tree = xr.DataTree.from_dict({"estimands": estimands, "posterior": fitted.posterior})
    thresholds = dict(plan.config.report.thresholds)
    summary = summarise(estimands, "eti", 0.9, thresholds)
    return {
        language: ReportContext(estimands, tree, summary, Style("eti", 0.9, language), thresholds=thresholds)
        for language in languages
    }


def rij_config(folder: Path) -> dict:
    raw = load_raw_config(REPO / "models" / "rij_cace.toml")
    raw["data"]["participants"] = str(folder / "participants.csv")
    return edit_config(raw, **{"sampler.profile": "ci", "sensitivity.prior_sets": [], "sensitivity.variants": {}})


#: never-takers better than compliers and IPS harmful, or never-takers worse and IPS helpful
RIJ = {
    "never_takers_better": {
        "never_taker_intercept": 0.6, "treatment_effect": -1.6, "complier_per_norwegian_level": -1.2,
    },
    "never_takers_worse": {
        "never_taker_intercept": -3.0, "treatment_effect": 1.6, "complier_per_norwegian_level": 1.2,
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def rij_fits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, ReportContext]]:
    out = {}
    for name, options in RIJ.items():
        folder = tmp_path_factory.mktemp(name)
        simulate("rij", seed=5, out=folder, options={"n_participants": 300, **options})
        out[name] = fitted_context(rij_config(folder))
    return out


def test_cace_words_flip_with_the_strata_and_the_effect(rij_fits) -> None:
    better, worse = rij_fits["never_takers_better"], rij_fits["never_takers_worse"]
    text = cace_section(better["en"])
    assert "Never-takers do better than compliers would without IPS" in text
    assert "understates the CACE" in text and "overstates" not in text
    assert "participants with higher values are less likely to be compliers" in text
    assert "lowered ordinary employment" in cace_answer(better["en"])[0]
    text = cace_section(worse["en"])
    assert "Never-takers do worse than compliers would without IPS" in text
    assert "overstates the CACE" in text and "understates" not in text
    assert "participants with higher values are more likely to be compliers" in text
    assert "raised ordinary employment" in cace_answer(worse["en"])[0]


def test_cace_words_flip_in_norwegian(rij_fits) -> None:
    better, worse = rij_fits["never_takers_better"]["nb"], rij_fits["never_takers_worse"]["nb"]
    assert "klarer seg bedre" in cace_section(better) and "undervurderer" in cace_section(better)
    assert "reduserte det å motta IPS" in cace_answer(better)[0]
    assert "klarer seg dårligere" in cace_section(worse) and "overvurderer" in cace_section(worse)
    assert "økte det å motta IPS" in cace_answer(worse)[0]
    lines = cace_answer(worse)
    assert "prosentpoeng" in lines[0] and "Sannsynligheten for at IPS øker" in lines[1]


def ipsung_config(folder: Path) -> dict:
    raw = load_raw_config(REPO / "models" / "ipsung_employment.toml")
    for key in ("participants", "services"):
        raw["data"][key] = str(folder / f"{key}.csv")
    raw["sampler"] = {"profile": "ci"}  # the shipped config pins tune/draws for its default profile
    return edit_config(
        raw,
        **{
            "sampler.profile": "ci",
            "model.formula": "work_or_education_12m ~ gender + ips25 + (1 | service)",
            "model.collapse": "never",
            "report.thresholds": {"fidelity_contrast": 5.0, "ame": 5.0},
        },
    )


#: fidelity slope per 10 IPS-25 points and the effect of male gender (log-odds), flipped
IPSUNG = {"positive": (0.9, 0.9), "zero": (0.0, 0.0), "negative": (-0.9, -0.9)}


@pytest.fixture(scope="module")
def ipsung_fits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, ReportContext]]:
    out = {}
    for name, (slope, male) in IPSUNG.items():
        folder = tmp_path_factory.mktemp(f"ipsung_{name}")
        options = {"n_participants": 500, "n_services": 24, "n_specialists": 24, "fidelity_slope_per_10": slope,
                   "reach_male": male, "review_error_sd": 0.0, "sd_specialist": 0.0}  # fmt: skip
        simulate("ipsung", seed=11, out=folder, options=options)
        out[name] = fitted_context(ipsung_config(folder))
    return out


def test_fidelity_words_follow_a_positive_zero_and_negative_slope(ipsung_fits) -> None:
    positive, zero, negative = (ipsung_fits[k] for k in ("positive", "zero", "negative"))
    sentence = fidelity_sentence(positive["en"], positive["en"].effect("fidelity_contrast"))
    assert "higher than services at 74 (fair)" in sentence and "lower" not in sentence
    sentence = fidelity_sentence(negative["en"], negative["en"].effect("fidelity_contrast"))
    assert "lower than services at 74 (fair)" in sentence and "higher" not in sentence
    assert "høyere enn tjenester med 74" in fidelity_sentence(
        positive["nb"], positive["nb"].effect("fidelity_contrast")
    )
    assert "lavere enn tjenester med 74" in fidelity_sentence(
        negative["nb"], negative["nb"].effect("fidelity_contrast")
    )
    flat = zero["en"].effect("fidelity_contrast")
    assert flat.lower < 0 < flat.upper  # the truth is zero: the interval must not exclude it here
    sentence = fidelity_sentence(zero["en"], flat)
    assert "are expected to have a rate" not in sentence  # never the confident form
    assert ("cannot tell" in sentence) or ("probably" in sentence and "still includes no difference" in sentence)
    assert "lower rate" in logistic_answer(negative["en"])[1] and "higher rate" in logistic_answer(positive["en"])[1]


def test_effects_in_both_directions_are_ranked_by_size_and_worded_by_sign(ipsung_fits) -> None:
    for name, word, norwegian in (("positive", "(rise)", "(økning)"), ("negative", "(fall)", "(nedgang)")):
        ctx = ipsung_fits[name]["en"]
        rows = {row["contrast"]: row for row in effect_rows(ctx)}
        gender = next(row for key, row in rows.items() if key.startswith("gender"))
        assert np.sign(gender["effect"].median) == (1 if name == "positive" else -1)
        line = next(line for line in effects_section(ctx).splitlines() if "gender" in line)
        assert word in line and "P(> 5)" not in line
        assert norwegian in next(
            line for line in effects_section(ipsung_fits[name]["nb"]).splitlines() if "gender" in line
        )
        ranked = [abs(row["effect"].median) for row in effect_rows(ctx)]
        probabilities = [row["p_relevant"] for row in effect_rows(ctx)]
        assert probabilities == sorted(probabilities, reverse=True) or ranked == sorted(ranked, reverse=True)


def test_effects_are_ranked_by_the_probability_the_table_prints() -> None:
    """A small rise with wide tails both ways must not outrank a clear rise by its invisible lower tail."""
    rng = np.random.default_rng(5)
    wide = rng.normal(0.3, 5.0, 8000)  # P(> 5) ~ 0.17, P(< -5) ~ 0.15: the two tails add to ~0.32
    clear = rng.normal(4.0, 1.2, 8000)  # P(> 5) ~ 0.20, nothing below -5
    ame = xr.DataArray(
        np.stack([wide, clear]).reshape(2, 2, 4000), dims=("contrast", "chain", "draw"),
        coords={"contrast": ["wide", "clear"]}, attrs={"unit": "pp"},
    )  # fmt: skip
    estimands = xr.Dataset({"ame": ame})
    tree = xr.DataTree.from_dict({"estimands": estimands})
    ctx = ReportContext(estimands, tree, None, Style("eti", 0.9, "en"), thresholds={"ame": 5.0})
    rows = effect_rows(ctx)
    shown = [row["effect"].p_beyond(5.0) for row in rows]
    assert shown == sorted(shown, reverse=True) and rows[0]["contrast"] == "clear"
    either = {row["contrast"]: row["effect"].p_either_beyond(5.0) for row in rows}
    assert either["wide"] > either["clear"]  # the old key (both tails) would have put "wide" first
    table = [line for line in effects_section(ctx).splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert [line.split(" | ")[1] for line in table] == [row["label"] for row in rows]
