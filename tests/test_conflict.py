"""Prior-data conflict: tail probabilities, robust-component weights, and the report section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ipsbayes.conflict import prior_data_conflict, robust_weights, tail_probabilities
from ipsbayes.models.cace_conflict import conflict_line, conflict_section
from ipsbayes.models.cace_report import PRESENTATION
from ipsbayes.present import ReportContext, Style
from ipsbayes.priors import Prior, PriorSet
from ipsbayes.runner import check
from ipsbayes.sampling import sample
from ipsbayes.simulate import simulate

MIXTURE = {"dist": "NormalMixture", "w": [0.8, 0.2], "sigma": [0.15, 3.0], "labels": ["historical", "robust"]}


def test_tail_probabilities_are_mid_p() -> None:
    replicated = np.array([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0])
    tails = tail_probabilities(replicated, 0.0)
    assert tails["p_upper"] == pytest.approx(0.5) and tails["p_two_sided"] == pytest.approx(1.0)
    assert tail_probabilities(replicated, 5.0)["p_two_sided"] == 0.0


def test_robust_weight_follows_the_posterior_draws() -> None:
    prior = Prior(
        "NormalMixture", {"w": (0.8, 0.2), "mu": (1.0, 1.0), "sigma": (0.2, 3.0)}, "t", labels=("map", "robust")
    )
    priors = PriorSet("test", "", {"treatment_effect": prior})
    near = xr.Dataset({"treatment_effect": (("chain", "draw"), np.full((1, 50), 1.0))})
    far = xr.Dataset({"treatment_effect": (("chain", "draw"), np.full((1, 50), -2.0))})
    assert (
        robust_weights(near, priors)["treatment_effect"][1] < 0.2 < robust_weights(far, priors)["treatment_effect"][1]
    )


@pytest.mark.sampling
@pytest.mark.slow  # make test-slow
def test_conflicting_data_move_weight_to_the_robust_component(make_config, tmp_path: Path) -> None:
    """Data from a trial with log OR 1.1: a prior at -1.5 conflicts (small p, robust weight up), one at 1.1 does not."""
    data = tmp_path / "rij"
    simulate("rij", seed=3, out=data, options={"n_participants": 200})
    results = {}
    for label, centre in (("conflict", -1.5), ("agreement", 1.1)):
        entry = {**MIXTURE, "mu": [centre, centre]}
        edits = {
            "priors.overrides": {"treatment_effect": entry},
            "sampler.profile": "ci",
            "sampler.draws": 300,
            "sampler.tune": 300,
        }
        plan = check(make_config("rij_cace", data=data, **edits))
        config = plan.config
        fit = sample(plan.model, config.sampler, 1, predictive=False, log_likelihood=False, reuse_compiled=True)
        results[label] = prior_data_conflict(plan.model, plan.data, plan.priors, fit.datatree, seed=1, draws=1000)
    weight = {k: float(v["robust_posterior_weight"].sel(parameter="treatment_effect")) for k, v in results.items()}
    assert weight["conflict"] > 0.8 and weight["agreement"] < 0.2
    # the robust component predicts almost anything: the mixture's own p stays moderate, the historical part's does not
    assert float(results["conflict"]["p_two_sided_informative"]) < 0.01 < float(results["conflict"]["p_two_sided"])
    assert float(results["agreement"]["p_two_sided_informative"]) > 0.1
    for label, says in (("conflict", True), ("agreement", False)):  # the sentences flip with the data
        tree = xr.DataTree.from_dict({"prior_data_conflict": results[label]})
        text, norsk = conflict_section(context(tree, "en")), conflict_section(context(tree, "nb"))
        assert ("towards the vague component" in text) is says and ("mot den vage komponenten" in norsk) is says
        assert ("favour the informative" in text) is not says


def context(tree: xr.DataTree, language: str) -> ReportContext:
    return ReportContext(xr.Dataset(), tree, None, Style("eti", 0.9, language))


def fake_group(observed: float, p: float, robust_after: float) -> xr.Dataset:
    """A prior_data_conflict group with chosen numbers (what the runner writes, without fitting)."""
    replicated = np.linspace(-10, 30, 2001)
    below = float(np.mean(replicated < observed))
    return xr.Dataset(
        {
            "itt_observed": xr.DataArray(observed),
            "itt_prior_predictive": xr.DataArray(replicated, dims="predictive_draw"),
            "p_lower": xr.DataArray(below),
            "p_upper": xr.DataArray(1 - below),
            "p_two_sided": xr.DataArray(p),
            "robust_prior_weight": xr.DataArray([0.2], dims="parameter"),
            "robust_posterior_weight": xr.DataArray([robust_after], dims="parameter"),
        },
        coords={"parameter": ["treatment_effect"]},
        attrs={"unit": "pp", "prior_set": "ips_map", "draws": 2001},
    )


@pytest.mark.parametrize("language", ["en", "nb"])
def test_conflict_sentences_flip_with_the_numbers(language: str) -> None:
    """Flipped truth: conflicting and agreeing data give opposite verdicts, in both languages, from the numbers."""
    words = {
        "en": ("the data conflict with the prior", "no sign of conflict", "towards the vague component",
               "favour the informative", "some tension"),
        "nb": ("dataene strider mot prioren", "ingen tegn til konflikt", "mot den vage komponenten",
               "støtter de informative", "noe spenning"),
    }[language]  # fmt: skip
    conflict, agree, up, down, tension = words
    clash = context(xr.DataTree.from_dict({"prior_data_conflict": fake_group(-8.0, 0.012, 0.93)}), language)
    fits = context(xr.DataTree.from_dict({"prior_data_conflict": fake_group(11.0, 0.64, 0.08)}), language)
    middle = context(xr.DataTree.from_dict({"prior_data_conflict": fake_group(25.0, 0.07, 0.21)}), language)
    text_clash, text_fits = conflict_section(clash), conflict_section(fits)
    assert conflict in text_clash and up in text_clash and agree not in text_clash and down not in text_clash
    assert agree in text_fits and down in text_fits and conflict not in text_fits and up not in text_fits
    assert tension in conflict_section(middle)
    decimal = "," if language == "nb" else "."
    assert f"0{decimal}012" in text_clash and f"0{decimal}93" in text_clash and f"0{decimal}64" in text_fits
    # the answer block warns only when the data disagree with the prior
    assert conflict_line(clash) and conflict_line(middle) and conflict_line(fits) is None


def test_conflict_section_belongs_to_the_cace_presentation() -> None:
    section = next(s for s in PRESENTATION.sections if s.key == "prior_data_conflict")
    with_check = context(xr.DataTree.from_dict({"prior_data_conflict": fake_group(-8.0, 0.012, 0.93)}), "en")
    without = context(xr.DataTree(), "en")
    assert section.applies(with_check) and not section.applies(without)
    assert section.title(context(xr.DataTree(), "nb")) == "Konflikt mellom prior og data"


def power_scaling(diagnosis: str) -> xr.Dataset:
    return xr.Dataset({"diagnosis": ("estimand", [diagnosis, "-"])}, coords={"estimand": ["cace", "itt"]})


@pytest.mark.parametrize("language", ["en", "nb"])
def test_conflict_section_reconciles_power_scaling_when_they_disagree(language: str) -> None:
    """Flipped truth: a power-scaling conflict with p = 0.885 gets the reconciling sentence; agreement gets none."""
    en = language == "en"
    both_flag, only_scaling, only_check = (
        ("different things", "verdict above reports potential", "finds no prior-data conflict although")
        if en
        else ("ulike ting", "melder mulig konflikt", "finner ingen konflikt mellom prior og data, selv om")
    )

    def section(p: float, diagnosis: str) -> str:
        tree = {"prior_data_conflict": fake_group(11.0, p, 0.08), "power_scaling": power_scaling(diagnosis)}
        return conflict_section(context(xr.DataTree.from_dict(tree), language))

    disagree = section(0.885, "potential prior-data conflict")
    assert only_scaling in disagree and "cace" in disagree and both_flag in disagree
    assert ("(it is)" if en else "(det er den)") in disagree
    reverse = section(0.012, "-")
    assert only_check in reverse and only_scaling not in reverse
    for agree in (section(0.885, "-"), section(0.012, "potential prior-data conflict")):
        assert both_flag not in agree
    no_scaling = conflict_section(
        context(xr.DataTree.from_dict({"prior_data_conflict": fake_group(-8, 0.012, 0.9)}), language)
    )
    assert both_flag not in no_scaling


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_observed_itt_is_withheld_when_an_arm_is_a_small_cell(language: str) -> None:
    """An outside reviewer's case: min_cell = 40 with arms of 33; the raw table hid the rates, this section did not."""
    tree = xr.DataTree.from_dict({"prior_data_conflict": fake_group(15.2, 0.3, 0.2)})
    arms = xr.Dataset(
        {
            name: xr.DataArray(rate, attrs={"participants": 33})
            for name, rate in (("observed_rate_treatment_arm", 30.3), ("observed_rate_control_arm", 15.2))
        }
    )
    hidden = ReportContext(arms, tree, None, Style("eti", 0.9, language), min_cell=40)
    shown = ReportContext(arms, tree, None, Style("eti", 0.9, language), min_cell=30)
    decimal = "," if language == "nb" else "."
    assert f"15{decimal}2" not in conflict_section(hidden) and "40" in conflict_section(hidden)
    assert f"15{decimal}2" in conflict_section(shown)


@pytest.mark.parametrize(
    ("language", "shown"),
    [("en", "intercept of compliers under control"), ("nb", "konstantledd for compliers i kontroll")],
)
def test_the_robust_weights_name_the_parameter_in_the_reports_language(language: str, shown: str) -> None:
    """A Norwegian report said 'Robust blandingsprior for complier control intercept' (the raw name, in English)."""
    group = fake_group(11.0, 0.64, 0.08).assign_coords(parameter=["complier_control_intercept"])
    text = conflict_section(context(xr.DataTree.from_dict({"prior_data_conflict": group}), language))
    assert f"for {shown}:" in text and "complier control intercept" not in text
