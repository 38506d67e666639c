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
    assert "Never-takers' outcome is higher than compliers' would be without IPS" in text
    assert "lies below the CACE" in text and "lies above" not in text
    assert "participants with higher values are less likely to be compliers" in text
    assert "lowered ordinary employment" in cace_answer(better["en"])[0]
    text = cace_section(worse["en"])
    assert "Never-takers' outcome is lower than compliers' would be without IPS" in text
    assert "lies above the CACE" in text and "lies below" not in text
    assert "participants with higher values are more likely to be compliers" in text
    assert "raised ordinary employment" in cace_answer(worse["en"])[0]


def test_cace_words_flip_in_norwegian(rij_fits) -> None:
    better, worse = rij_fits["never_takers_better"]["nb"], rij_fits["never_takers_worse"]["nb"]
    assert "har høyere utfall" in cace_section(better) and "kontrasten (" in cace_section(better)
    assert "under CACE (" in cace_section(better)
    assert "reduserte det å motta IPS" in cace_answer(better)[0]
    assert "har lavere utfall" in cace_section(worse) and "over CACE (" in cace_section(worse)
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
    # and the words name that probability (they said "in either direction": an outside review)
    text = " ".join(effects_section(ctx).split())
    assert "ranked by the probability of a change larger than 5 pp in the direction of its median" in text
    assert "either direction" not in text


def test_a_decrease_is_stated_as_its_size_after_the_verb(rij_fits) -> None:
    """'lowered employment by an estimated 12.7 pp', never 'lowered ... by -12.7 pp' (en and nb)."""
    import re

    for language, verb, by in (("en", "lowered", "by an estimated"), ("nb", "reduserte", "med anslagsvis")):
        ctx = rij_fits["never_takers_better"][language]
        cace = ctx.effect("cace")
        assert cace.median < 0
        first = cace_answer(ctx)[0]
        assert verb in first and re.search(rf"{by} \d", first), first
        assert f"{by} -" not in first
        assert ctx.number(-cace.median, "pp").split(" ")[0] in first  # the size, positive
    rising = cace_answer(rij_fits["never_takers_worse"]["en"])[0]
    assert "raised" in rising and re.search(r"by an estimated \d", rising)


def test_strata_figure_never_draws_an_observed_rate_of_a_small_cell(rij_fits) -> None:
    """With the small-cell limit above the arms' sizes, neither observed cross is drawn and the caption says why."""
    import dataclasses

    from ipsbayes.models.cace_report import strata_rates

    for language, said in (("en", "is not shown: it rests on fewer than 1000"), ("nb", "vises ikke: den bygger på")):
        ctx = dataclasses.replace(rij_fits["never_takers_worse"][language], min_cell=1000)
        fig, caption = strata_rates(ctx)
        markers = [line for ax in fig.axes for line in ax.get_lines() if line.get_marker() in ("x", "+")]
        assert not markers and said in caption
        fig.clf()
    # 300 participants, but 1 of the 53 assigned to IPS who did not receive it is employed: the arm's rate
    # (57 of 150) beside the received rate (56 of 97) would give that one away, so only the control cross is drawn
    fig, caption = strata_rates(rij_fits["never_takers_worse"]["en"])
    assert [line.get_marker() for line in fig.axes[0].get_lines() if line.get_marker() in ("x", "+")] == ["x"]
    assert "what it leaves for those assigned to IPS who did not receive it, rests on fewer than 5" in caption
    fig, caption = strata_rates(rij_fits["never_takers_better"]["en"])  # no such cell: both crosses drawn
    assert len([line for line in fig.axes[0].get_lines() if line.get_marker() in ("x", "+")]) == 2
    assert "not shown" not in caption


def test_itt_is_about_the_product_when_the_report_prints_the_same_number(rij_fits) -> None:
    from ipsbayes.models.cace_report import why_itt_is_diluted
    from ipsbayes.present.phrases import Effect

    ctx = rij_fits["never_takers_worse"]["en"]
    rng = np.random.default_rng(3)

    def effect(mean: float, sd: float, unit: str) -> Effect:
        return Effect.from_draws(rng.normal(mean, sd, 4000), ctx.style, unit)

    # ITT 0.26 pp; CACE 5.9 pp x 5.6% = 0.33 pp: more than 10% apart, both printed as 0.3 pp
    text = why_itt_is_diluted(ctx, effect(5.9, 0.01, "pp"), effect(0.26, 0.001, "pp"), effect(5.6, 0.001, "%"))
    assert "0.3 pp" in text and "is about the CACE times" in text
    text = why_itt_is_diluted(ctx, effect(20.0, 0.01, "pp"), effect(2.0, 0.001, "pp"), effect(50.0, 0.001, "%"))
    assert "smaller than the CACE times" in text  # 2.0 against 10.0


def test_the_answer_always_says_how_much_it_depends_on_the_priors(rij_fits) -> None:
    """No refits and no power-scaling: the first screen says it was not checked; with power-scaling, its reading."""
    import dataclasses

    from ipsbayes.present.answers import prior_dependence_line

    ctx = rij_fits["never_takers_worse"]["en"]
    assert "was not checked in this run" in cace_answer(ctx)[-1]
    cases = (
        (0.001, 0.1, "cace", "insensitive to the priors and sensitive to the data: the data, not the priors, decide"),
        (0.000001, 0.0045, "cace", "hardly moved by the data either (prior sensitivity < 0.001"),
        (0.04996, 0.1, "cace", "prior sensitivity 0.04996;"),  # not "0.050" beside "0.05 or more flags it"
        (0.2, 0.1, "cace", "sensitive to the priors ("),
        (0.001, 0.1, "itt", "was not checked"),  # another estimand's numbers do not answer for the CACE
    )
    for prior, likelihood, scaled, words in cases:
        power = xr.Dataset(
            {
                "prior": ("estimand", [prior]),
                "likelihood": ("estimand", [likelihood]),
                "diagnosis": ("estimand", ["✓"]),
            },
            coords={"estimand": [scaled]},
            attrs={"threshold": 0.05},
        )
        tree = xr.DataTree.from_dict({**{k: ctx.datatree[k].to_dataset() for k in ctx.datatree.children},
                                      "power_scaling": power})  # fmt: skip
        for language in ("en", "nb"):
            local = dataclasses.replace(rij_fits["never_takers_worse"][language], datatree=tree)
            line = prior_dependence_line(local, "cace", ("the CACE", "CACE"))
            if scaled != "cace":
                assert ("was not checked" if language == "en" else "ble ikke undersøkt") in line
                assert "0.001" not in line and "0,001" not in line
            elif language == "en":
                assert words in line and "0.05 or more flags it" in line
                assert ("the data, not the priors" in line) == (prior < 0.05 and likelihood >= 0.05)
            else:
                assert ("ikke påvirkes av priorene" in line) == (prior < 0.05) and "0,05 eller mer" in line
                assert ("dataene, ikke priorene" in line) == (prior < 0.05 and likelihood >= 0.05)


def test_raw_estimates_hidden_as_small_cells_are_not_quoted_in_the_text(rij_fits) -> None:
    """The table says 'suppressed (a cell under ...)'; the answer and small-sample section never print the number."""
    import dataclasses

    from ipsbayes.models.cace_small import small_sample_section

    for language, raw in (("en", "raw Wald estimate"), ("nb", "rå Wald-anslaget")):
        ctx = rij_fits["never_takers_worse"][language]
        closed = dataclasses.replace(ctx, min_cell=100000)
        assert any(raw in line for line in cace_answer(ctx)) and not any(raw in line for line in cace_answer(closed))
        value = ctx.number(float(ctx.estimands["observed_wald_cace"]), "pp")
        assert value not in " ".join(cace_answer(closed)) and value not in small_sample_section(closed)


def test_cace_sentences_count_the_studys_own_units(rij_fits, tmp_path) -> None:
    """A config's units ('workers', 'arbeidstakere') replace 'participants' in the answer and the description."""
    import dataclasses

    from ipsbayes.models.cace_text import describe_cace

    english = dataclasses.replace(rij_fits["never_takers_worse"]["en"], labels={"units": "workers"})
    assert cace_answer(english)[0].startswith("For workers who would take up IPS")
    norwegian = dataclasses.replace(rij_fits["never_takers_worse"]["nb"], labels={"units_nb": "arbeidstakere"})
    assert cace_answer(norwegian)[0].startswith("For arbeidstakere som ville")
    assert cace_answer(rij_fits["never_takers_worse"]["nb"])[0].startswith("For deltakere som ville")
    folder = tmp_path / "rij"
    simulate("rij", seed=5, out=folder, options={"n_participants": 60})
    raw = rij_config(folder)
    raw["model"]["vocabulary"] = {**raw["model"].get("vocabulary", {}), "units": "workers"}
    plan = check(raw)
    assert "workers assigned to" in describe_cace(plan.spec, plan.data)


def test_the_answer_names_a_flagged_estimand_of_the_same_effect(rij_fits) -> None:
    """The fidelity difference at 0.0455 read 'the data, not the priors, decide it' while the banner flagged the
    fidelity slope (0.0516) and odds ratio (0.0593): the first screen now says so too (outside review)."""
    import dataclasses

    from ipsbayes.present.answers import prior_dependence_line

    base = rij_fits["never_takers_worse"]["en"]
    estimands = base.estimands.copy()
    for name, en, nb in (("itt", "Fidelity slope (IPS-25)", "Stigningstall"), ("cace", "Contrast", "Kontrast")):
        estimands[name].attrs.update({"label": en, "label_nb": nb})
    power = xr.Dataset(
        {
            "prior": ("estimand", [0.0455, 0.0516]),
            "likelihood": ("estimand", [0.2, 0.2]),
            "diagnosis": ("estimand", ["✓", "?"]),
        },
        coords={"estimand": ["cace", "itt"]},
        attrs={"threshold": 0.05},
    )
    tree = xr.DataTree.from_dict({**{k: base.datatree[k].to_dataset() for k in base.datatree.children},
                                  "power_scaling": power})  # fmt: skip
    for language, words in (("en", "But it flags fidelity slope (IPS-25) (prior sensitivity 0.052)"),
                            ("nb", "Men den markerer stigningstall (følsomhet for prioren 0,052)")):  # fmt: skip
        ctx = dataclasses.replace(rij_fits["never_takers_worse"][language], datatree=tree, estimands=estimands)
        line = prior_dependence_line(ctx, "cace", ("the contrast", "kontrasten"), related=("itt",))
        assert words in line, line
        alone = prior_dependence_line(ctx, "cace", ("the contrast", "kontrasten"))
        assert "But it flags" not in alone and "Men den markerer" not in alone
