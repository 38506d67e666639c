"""Every comparative word follows the numbers: sentence builders on synthetic estimands, both languages, no sampling."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr

from ipsbayes.models.cace_report import answer as cace_answer
from ipsbayes.models.cace_report import cace_section
from ipsbayes.models.cace_small import small_sample_section
from ipsbayes.models.hierarchical_logistic_report import fidelity_sentence, measurement_section
from ipsbayes.present.common import effect_rows, effects_section, services_section
from ipsbayes.present.phrases import Effect, amount, direction, readable, term_of_contrast
from ipsbayes.present.style import Style
from ipsbayes.present.text import escape_md, format_probability
from ipsbayes.report.tables import sentence, summarise
from ipsbayes.report.verdict import verdict

from .wording import cace_estimands, context, draws, fidelity_estimands, variable

STYLE = Style("eti", 0.9)


@pytest.mark.parametrize(
    ("p_up", "p_down", "expected"),
    [
        (0.99, 0.01, "up"),
        (0.9, 0.1, "probably_up"),
        (0.6, 0.4, "unclear"),
        (0.15, 0.85, "probably_down"),
        (0.0, 1.0, "down"),
    ],
)
def test_direction_follows_the_probability(p_up: float, p_down: float, expected: str) -> None:
    assert direction(p_up, p_down, 0.9) == expected


def test_numbers_carry_units_and_never_false_certainty() -> None:
    assert amount(16.74, "pp") == "16.7 pp" and amount(16.74, "pp", "nb") == "16,7 prosentpoeng"
    assert amount(24.1, "%") == "24.1%" and amount(24.1, "%", "nb") == "24,1 %"
    assert amount(1.25, "months") == "1.2 months" and amount(1.25, "months", "nb") == "1,2 måneder"
    assert format_probability(1.0) == "> 0.99" and format_probability(0.0, language="nb") == "< 0,01"


def test_threshold_probability_uses_the_direction_of_the_median() -> None:
    effect = Effect.from_draws(draws(-8.0, 2.0), STYLE, "pp")
    assert effect.sign == -1 and effect.p_beyond(5.0) > 0.9  # P(< -5), not P(> 5) = 0.00
    row = summarise(xr.Dataset({"ame": variable(-8.0, 2.0, "Effect", "pp")}), "eti", 0.9, {"ame": 5.0}).iloc[0]
    text = sentence(row.to_dict(), 0.9, "eti")
    # the probability the config asks for is stated, and beside it the one in the direction of the estimate
    assert "P(< 0) > 0.99" in text and "P(> 5) < 0.01; P(< -5) = 0.9" in text


def test_labels_are_humanised_and_terms_mapped() -> None:
    assert readable("diagnosis: psychosis vs anxiety_depression") == "diagnosis: psychosis vs anxiety depression"
    assert readable("gender[male]", {"gender": "Gender"}) == "Gender: male"
    assert readable("months_outside: +1 SD (11.6)", language="nb") == "months outside: +1 SD (11,6)"
    assert term_of_contrast("gender: male vs female") == "gender[male]"
    assert term_of_contrast("age: +1 SD (4.39)") == "age"
    assert escape_md("a*b_[x](y) <script>") == "a\\*b\\_\\[x\\](y) &lt;script>"


@pytest.mark.parametrize("language", ["en", "nb"])
@pytest.mark.parametrize(
    ("never", "usual", "strata", "bias"),
    [
        (24.1, 17.1, ("outcome is higher", "har høyere utfall"), ("lies below the CACE", ") under CACE (")),
        (5.0, 29.0, ("outcome is lower", "har lavere utfall"), ("lies above the CACE", ") over CACE (")),
    ],
)
def test_never_takers_and_per_protocol_words_follow_the_strata(language, never, usual, strata, bias) -> None:
    ctx = context(cace_estimands(cace=7.4, never=never, usual=usual), language)
    text = cace_section(ctx)
    index = 1 if language == "nb" else 0
    assert strata[index] in text and bias[index] in text
    assert "little Norwegian" not in text and "exceeds the CACE by -" not in text


@pytest.mark.parametrize(
    ("cace", "en", "nb"),
    [
        (20.0, "receiving IPS raised employment", "økte det å motta IPS employment"),
        (-20.0, "receiving IPS lowered employment", "reduserte det å motta IPS employment"),
        (6.0, "receiving IPS probably raised employment", "økte det å motta IPS trolig employment"),
        (0.5, "the data cannot tell whether", "kan dataene ikke avgjøre om"),
    ],
)
def test_cace_answer_direction_in_both_languages(cace: float, en: str, nb: str) -> None:
    for language, expected in (("en", en), ("nb", nb)):
        lines = cace_answer(context(cace_estimands(cace, 10.0, 20.0, sd=5.0), language, {"cace": 10.0}))
        assert 2 <= len(lines) <= 4 and expected in lines[0]
        if cace < 0:
            assert ("lowers" if language == "en" else "reduserer") in lines[1]
            assert ("fall of more than 10 pp" if language == "en" else "nedgang på mer enn 10 prosentpoeng") in lines[1]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_per_protocol_words_hold_for_a_harmful_cace(language) -> None:
    """A negative CACE: per-protocol above it is closer to zero; "overstates" read the opposite of the truth."""
    ctx = context(cace_estimands(cace=-11.1, never=5.0, usual=29.0), language)
    text = cace_section(ctx)
    assert ("lies above the CACE" if language == "en" else ") over CACE (") in text
    for wrong in ("overstates", "understates", "overvurderer", "undervurderer", "do better", "do worse", "klarer seg"):
        assert wrong not in text
    assert "do not receive the offer" not in text and "ikke mottar tilbudet" not in text


def test_pull_towards_zero_is_computed_not_assumed() -> None:
    estimands = cace_estimands(10.0, 10.0, 20.0)
    prior = xr.Dataset({"cace": variable(0.0, 15.0, "CACE", "pp"), "itt": variable(0.0, 8.0, "ITT", "pp")})
    text = small_sample_section(context(estimands, groups={"prior_estimands": prior}))
    assert re.search(r"3\d% of the way from the raw estimate towards zero", text) and "15.0 pp" in text
    # the pull is described, not blamed on the prior alone (the covariates and the mixture move it too)
    assert "too few to overwhelm" not in text and "the rest of the model" in text
    estimands["observed_wald_cace"] = xr.DataArray(5.0, attrs={"unit": "pp", "participants": 20})
    text = small_sample_section(context(estimands, groups={"prior_estimands": prior}))
    assert "further from zero than the raw Wald estimate" in text and "towards zero" not in text.split("**ITT")[0]


def test_calibration_from_a_validation_run_is_quoted() -> None:
    calibration = {
        "path": "runs/rij_cace-validation",
        "n_participants": 66,
        "quantities": {"cace": {"nominal": 0.9, "coverage": 0.884, "mcse": 0.014, "datasets": 500,
                                "mean_truth": 23.0, "mean_posterior_mean": 14.4}},
    }  # fmt: skip
    text = small_sample_section(context(cace_estimands(10.0, 10.0, 20.0), calibration=calibration))
    assert "500 simulated trials of 66 participants" in text and "covered the truth in 88.4% of trials" in text
    assert "37.4% closer to zero than the truth" in text
    text = small_sample_section(context(cace_estimands(10.0, 10.0, 20.0), "nb", calibration=calibration))
    assert "88,4 % av forsøkene" in text and "nærmere null enn sannheten" in text


@pytest.mark.parametrize(
    ("contrast", "en", "nb"),
    [
        (10.0, r"rate \d+\.\d pp higher than", r"\d+,\d prosentpoeng høyere enn"),
        (-10.0, r"rate \d+\.\d pp lower than", r"\d+,\d prosentpoeng lavere enn"),
        (0.3, "cannot tell whether", "kan ikke avgjøre om"),
    ],
)
def test_fidelity_words_follow_the_contrast(contrast: float, en: str, nb: str) -> None:
    estimands = fidelity_estimands(contrast, sd=3.0)
    effect = Effect.from_draws(estimands["fidelity_contrast"], STYLE, "pp")
    assert re.search(en, fidelity_sentence(context(estimands), effect))
    ctx = context(estimands, "nb")
    assert re.search(nb, fidelity_sentence(ctx, ctx.effect("fidelity_contrast")))
    assert "per step" not in fidelity_sentence(ctx, ctx.effect("fidelity_contrast"))


@pytest.mark.parametrize(
    ("plug_in", "word"),
    [(0.10, "closer to zero"), (0.40, "further from zero"), (-0.20, "opposite sign"), (0.201, "about the same")],
)
def test_plug_in_slope_comparison_is_computed(plug_in: float, word: str) -> None:
    estimands = fidelity_estimands(10.0)
    for name, (mean, unit) in {"review_error_sd": (6.0, "points"), "fidelity_sd": (12.0, "points"),
                               "fidelity_reliability": (0.8, "share")}.items():  # fmt: skip
        estimands[name] = variable(mean, 0.5, name, unit, null=None)
    estimands["fidelity_slope"] = variable(0.20, 0.05, "Fidelity slope", "log-odds per 10 IPS-25 points")
    analyses = ["main (weakly_informative)", "variant: naive_plug_in"]
    slope = xr.DataArray(
        np.stack([draws(0.20, 0.05, 1), draws(plug_in, 0.03, 2)]),
        dims=("analysis", "chain", "draw"),
        coords={"analysis": analyses},
        attrs={"unit": "log-odds per 10 IPS-25 points", "null": 0.0},
    )
    sensitivity = xr.Dataset(
        {"fidelity_slope": slope}, attrs={"gates": json.dumps({a: {"status": "pass"} for a in analyses})}
    )
    text = measurement_section(context(estimands, groups={"sensitivity": sensitivity}))
    assert word in text and "narrower" in text


def test_drivers_ranked_by_size_not_signed_median_and_conditional_beside() -> None:
    contrasts = ["ips25: +1 SD (12)", "gender: male vs female", "age: +1 SD (4.39)"]
    values = np.stack([draws(1.4, 2.0, 1), draws(-5.5, 1.5, 2), draws(3.0, 1.0, 3)], axis=-1)
    estimands = xr.Dataset(
        {
            "ame": xr.DataArray(values, dims=("chain", "draw", "contrast"), coords={"contrast": contrasts},
                                attrs={"label": "AME", "unit": "pp", "null": 0.0}),
            "odds_ratio": xr.DataArray(np.exp(values / 20), dims=("chain", "draw", "term"),
                                       coords={"term": ["ips25", "gender[male]", "age"]},
                                       attrs={"label": "OR", "unit": "OR", "null": 1.0}),
        }
    )  # fmt: skip
    rows = effect_rows(context(estimands))  # by absolute median
    assert [r["contrast"] for r in rows] == ["gender: male vs female", "age: +1 SD (4.39)", "ips25: +1 SD (12)"]
    assert rows[0]["conditional"] is not None and rows[0]["conditional"].median < 1
    ctx = context(estimands, thresholds={"ame": 5.0}, labels={"gender": "Gender"})
    assert effect_rows(ctx)[0]["contrast"] == "gender: male vs female"  # by P(|effect| > 5 pp)
    table = effects_section(ctx)
    assert "Gender: male vs female" in table and "(fall)" in table and "P(> 5)" not in table


def test_small_cells_are_suppressed_in_the_services_section() -> None:
    services = ["S1", "S2", "S3*"]
    estimands = xr.Dataset(
        {
            "service_rate": xr.DataArray(draws(40, 3, shape=(3,)), dims=("chain", "draw", "service"),
                                         coords={"service": services}, attrs={"unit": "%"}),
            "service_raw_rate": xr.DataArray([0.0, 45.0, 30.0], dims="service", coords={"service": services}),
            "service_n": xr.DataArray([3, 40, 60], dims="service", coords={"service": services}),
        }
    )  # fmt: skip
    text = services_section(context(estimands))
    assert "from 30.0% to 45.0%" in text and not re.search(r"\b0\.0%", text) and "1 service with fewer than 5" in text
    assert "Blant de 2 tjenestene" in services_section(context(estimands, "nb"))


def _tree(gates: dict | None = None, diagnosis: list[str] | None = None) -> xr.DataTree:
    groups: dict = {"estimands": xr.Dataset({"cace": variable(5.0, 1.0, "CACE: effect", "pp")})}
    if gates is not None:
        groups["sensitivity"] = xr.Dataset(attrs={"gates": json.dumps(gates)})
    if diagnosis is not None:
        groups["power_scaling"] = xr.Dataset(
            {"diagnosis": xr.DataArray(diagnosis, dims="estimand", coords={"estimand": ["cace"] * len(diagnosis)})}
        )
    return xr.DataTree.from_dict(groups)


@pytest.mark.parametrize(
    ("gate", "gates", "diagnosis", "status"),
    [
        ("pass", {"main (w)": {"status": "pass"}, "prior set: s": {"status": "pass"}}, ["✓"], "pass"),
        ("pass", {"prior set: s": {"status": "warn", "messages": ["r_hat: 1.02"]}}, ["✓"], "warn"),
        ("pass", {"prior set: s": {"status": "fail", "messages": []}}, None, "warn"),
        ("pass", None, ["potential prior-data conflict"], "warn"),
        ("pass", None, ["potential strong prior / weak likelihood"], "warn"),
        ("warn", None, None, "warn"),
        ("fail", {"prior set: s": {"status": "pass"}}, ["✓"], "fail"),
    ],
)
def test_verdict_is_never_pass_while_anything_warns(gate, gates, diagnosis, status) -> None:
    for language in ("en", "nb"):
        result = verdict(
            gate, ["r_hat: largest R-hat 1.02"] if gate != "pass" else [], _tree(gates, diagnosis), language
        )
        assert result["status"] == status
        assert bool(result["reasons"]) == (status != "pass") and result["headline"]
    conflict = verdict("pass", [], _tree(None, ["potential prior-data conflict"]), "en")
    assert "prior-data conflict for CACE" in conflict["reasons"][0]
    refit = verdict("pass", [], _tree({"prior set: sceptical": {"status": "fail", "messages": []}}), "nb")
    assert "priorsettet skeptisk" in refit["reasons"][0] and "feilet" in refit["reasons"][0]


def test_verdict_calls_a_warning_a_warning_when_another_check_fails() -> None:
    findings = [("warn", "r_hat: R-hat above 1.01 for 3 of 40"), ("fail", "ess_bulk: bulk ESS below 200 for 2 of 40")]
    english = verdict("fail", findings, None, "en")
    assert english["status"] == "fail"
    assert english["reasons"][0].startswith("The main fit's diagnostics gate warned: r_hat")
    assert english["reasons"][1].startswith("The main fit's diagnostics gate failed: ess_bulk")
    norwegian = verdict("fail", findings, None, "nb")["reasons"]
    assert "ga advarsel: r_hat" in norwegian[0] and "feilet: ess_bulk" in norwegian[1]


def test_validation_run_is_found_and_read(tmp_path) -> None:
    from ipsbayes.report.calibration import find_validation, load_calibration

    folder = tmp_path / "runs" / "rij_cace-validation"
    folder.mkdir(parents=True)
    (folder / "coverage.csv").write_text(
        "study,quantity,nominal,coverage,mcse,datasets,mean_truth,mean_posterior_mean\n"
        "coverage,cace,0.8,0.78,0.02,500,23.0,14.4\ncoverage,cace,0.9,0.884,0.014,500,23.0,14.4\n"
        "sbc,cace,0.9,0.9,0.01,500,0.0,0.0\n"
    )
    (folder / "provenance.json").write_text(
        json.dumps({"config": "models/rij_cace.toml", "model": "cace", "design": "rij", "options": {}})
    )
    assert find_validation("rij_cace", "cace", [tmp_path]) == folder
    assert find_validation("rij_cace", "hierarchical_logistic", [tmp_path]) is None
    assert find_validation("rij_cace_months", "cace", [tmp_path]) is None
    calibration = load_calibration(folder, 0.9)
    assert calibration["n_participants"] == 66 and calibration["quantities"]["cace"]["coverage"] == 0.884


@pytest.mark.parametrize("language", ["en", "nb"])
@pytest.mark.parametrize(
    ("term", "meaning", "en", "nb", "wrong"),
    [
        (
            "norwegian_cefr[B1]",
            {"kind": "level", "variable": "norwegian_cefr", "level": "B1", "reference": "A0"},
            "with B1 are more likely to be compliers than those with A0",
            "med B1 er oftere compliers enn de med A0",
            ("higher values", "per SD", "høyere verdier"),
        ),
        (
            "has_car",
            {"kind": "binary"},
            "with has car = 1 are more likely to be compliers than those with 0",
            "er oftere compliers enn de med 0",
            ("higher values", "per SD", "høyere verdier"),
        ),
        (
            "age",
            {"kind": "numeric", "per": "unit"},
            "with higher values are more likely to be compliers (odds ratio per unit",
            "med høyere verdier er oftere compliers (oddsforhold per enhet",
            ("per SD",),
        ),
    ],
)
def test_compliance_sentence_says_what_the_covariate_is(language, term, meaning, en, nb, wrong) -> None:
    """A category's level is compared with its reference level, not called "higher values" with an odds ratio per SD."""
    from ipsbayes.models.cace_report import compliance_sentence

    estimands = cace_estimands(cace=7.4, never=5.0, usual=29.0)
    estimands.attrs["compliance_terms"] = json.dumps({term: meaning})
    beta = xr.DataArray(
        np.random.default_rng(3).normal(1.5, 0.3, (2, 500, 1)),
        dims=("chain", "draw", "compliance_term"),
        coords={"compliance_term": [term]},
    )
    ctx = context(estimands, language, groups={"posterior": xr.Dataset({"compliance_beta": beta})})
    text = compliance_sentence(ctx)
    assert (en if language == "en" else nb) in text
    for word in wrong:
        assert word not in text


def test_direction_follows_the_hdi_that_is_printed() -> None:
    """With an HDI the verb is chosen from the interval shown, not from the equal-tailed rule it may contradict."""
    from ipsbayes.present.phrases import Effect
    from ipsbayes.present.style import Style

    rng = np.random.default_rng(0)
    tail = np.concatenate([rng.normal(10.0, 1.0, 9_400), rng.uniform(-30.0, -0.1, 600)])  # 6% below zero
    near_zero = rng.exponential(1.0, 10_000) - 0.02  # 98% above zero, but the densest 90% starts below it
    for values, eti, hdi in ((tail, "probably_up", "up"), (near_zero, "up", "probably_up")):
        for kind, expected in (("eti", eti), ("hdi", hdi)):
            effect = Effect.from_draws(values, Style(kind, 0.9, "en"), "pp")
            assert effect.direction(0.9) == expected
            assert effect.excludes_null() == (expected == "up")


@pytest.mark.parametrize(
    ("coverage", "words"),
    [
        (1.0, "above its nominal level: intervals too wide"),  # was "consistent": the SE at 100% was 1e-7
        (0.62, "below its nominal level"),
        (0.8, "consistent with its nominal level"),
    ],
)
def test_calibration_verdict_is_two_sided_against_the_nominal_se(coverage: float, words: str) -> None:
    from ipsbayes.validation import agresti_coull_se

    found = {"nominal": 0.8, "coverage": coverage, "mcse": agresti_coull_se(coverage, 100), "datasets": 100,
             "mean_truth": 0.2, "mean_posterior_mean": 0.2}  # fmt: skip
    text = small_sample_section(context(cace_estimands(10.0, 10.0, 20.0), calibration={"quantities": {"cace": found}}))
    assert words in text
    assert agresti_coull_se(1.0, 100) > 0.01 and agresti_coull_se(0.0, 100) > 0.01


def test_sbc_figure_takes_quantities_with_uneven_numbers_of_fits() -> None:
    """A quantity skipped in some fits (no spread there) made the PIT Dataset's lengths clash: the report crashed."""
    import pandas as pd

    from ipsbayes.report.validation_report import pit_tree

    rows = pd.DataFrame(
        {"ok": True, "study": "sbc", "quantity": ["a", "a", "b"], "dataset": [0, 1, 0], "pit": [0.2, 0.7, 0.4]}
    )
    tree = pit_tree(rows, "sbc")
    assert list(tree["prior_sbc"].data_vars) == ["a"] and tree["prior_sbc"]["a"].shape == (1, 2)


def test_slope_comparison_clauses_are_sentences() -> None:
    """Clauses joined after a full stop started in lower case ("... narrower. under the variant ...")."""
    from ipsbayes.models.hierarchical_logistic_report import _slope_difference
    from ipsbayes.present.phrases import Effect
    from ipsbayes.present.style import Style

    rng = np.random.default_rng(2)
    main = Effect.from_draws(rng.normal(-0.45, 0.07, 4000), Style("eti", 0.9, "en"), "log-odds")
    other = Effect.from_draws(rng.normal(-0.33, 0.06, 4000), Style("eti", 0.9, "en"), "log-odds")
    for language, start in (("en", "Under the plug-in, the slope is"), ("nb", "Med the plug-in er stigningstallet")):
        text = _slope_difference(context(cace_estimands(1.0, 1.0, 1.0), language), "the plug-in", other, main)
        assert text.startswith(start) and ("closer to zero" in text or "nærmere null" in text)


@pytest.mark.parametrize(
    ("ratio", "verdict", "share"),
    [
        (0.9, "rests largely on the priors", "19%"),
        (0.504, "the priors still matter", "75%"),
        (0.251, "the priors still matter", "94%"),
        (0.194, "the data, not the priors, decide", "96%"),
    ],
)
def test_one_reading_of_interval_widths_for_every_report(ratio: float, verdict: str, share: str) -> None:
    """A posterior half as wide as the prior read 'the data add little' in the CACE report while the
    time-to-event report called a quarter 'the data decide' (outside review): one function, the share stated."""
    from ipsbayes.present.prior_weight import prior_weight_words

    english, norwegian = prior_weight_words(ratio)
    assert verdict in english and f"about {share} of the information" in english
    assert share.replace("%", " %") in norwegian
    for wrong in ("add little", "dominate"):
        assert wrong not in english


def test_the_small_sample_section_never_contradicts_itself() -> None:
    """The width sentence and the pull sentence of one section: no 'add little' beside 'data dominate'."""
    estimands = cace_estimands(10.0, 10.0, 20.0)
    prior = xr.Dataset({"cace": variable(0.0, 15.0, "CACE", "pp"), "itt": variable(0.0, 8.0, "ITT", "pp")})
    estimands["observed_wald_cace"] = xr.DataArray(10.0, attrs={"unit": "pp", "participants": 20})
    text = small_sample_section(context(estimands, groups={"prior_estimands": prior}))
    assert "as wide as the prior's, so" in text and "of the information" in text
    for claim in ("add little", "data dominate", "too few to overwhelm"):
        assert claim not in text


@pytest.mark.parametrize(("family", "as_often"), [("bernoulli", True), ("beta_binomial", False), ("binomial", False)])
def test_the_cace_ratio_is_a_ratio_of_means_for_counts(family: str, as_often: bool) -> None:
    """Months in work out of 12 (beta-binomial): 'reach the outcome 3.41 times as often' (outside review)."""
    estimands = cace_estimands(10.0, 10.0, 20.0)
    estimands.attrs["outcome_family"] = family
    for language, often, means in (
        ("en", "times as often", "times that of"),
        ("nb", "ganger så ofte", "ganger det for"),
    ):
        text = cace_section(context(estimands, language))
        assert (often in text) == as_often and (means in text) != as_often, text


def test_the_service_word_is_norwegian_in_a_norwegian_report() -> None:
    """'SD for serviceeffektene': the family's English default word in a Norwegian sentence (outside review)."""
    services = ["S1", "S2"]
    estimands = xr.Dataset(
        {
            "service_rate": xr.DataArray(draws(40, 3, shape=(2,)), dims=("chain", "draw", "service"),
                                         coords={"service": services}, attrs={"unit": "%"}),
            "service_raw_rate": xr.DataArray([50.0, 45.0], dims="service", coords={"service": services}),
            "service_n": xr.DataArray([40, 40], dims="service", coords={"service": services}),
            "sd_service": variable(0.7, 0.1, "SD of service effects", "SD (log-odds)"),
        },
        attrs={"vocabulary": json.dumps({"service": "service"})},
    )  # fmt: skip
    text = services_section(context(estimands, "nb"))
    assert "SD for tjenesteeffektene" in text and "serviceeffekt" not in text
    assert "The SD of service effects" in services_section(context(estimands))


@pytest.mark.parametrize("language", ["en", "nb"])
def test_an_unclear_effect_gives_both_tails_beyond_the_threshold(language: str) -> None:
    """A median just above zero said 'of a rise of more than 5 pp, 0.10' and left out a fall beyond 5 pp (0.106)."""
    from ipsbayes.present.answers import probability_sentence

    ctx = context(cace_estimands(10.0, 10.0, 20.0), language)
    effect = Effect.from_draws(np.random.default_rng(1).normal(0.1, 4.0, 4000), STYLE, "pp")
    text = probability_sentence(
        ctx, effect, 5.0, ("it {verb}", "den {verb}"), ("rises|rise", "øker|økning"), ("falls|fall", "faller|nedgang")
    )
    fall = ctx.probability(float(np.mean(effect.draws < -5.0)))
    assert (f"of a fall of more than 5 pp, {fall}" if language == "en" else "for en nedgang på mer enn 5") in text
    clear = Effect.from_draws(np.random.default_rng(1).normal(10.0, 2.0, 4000), STYLE, "pp")
    text = probability_sentence(
        ctx, clear, 5.0, ("it {verb}", "den {verb}"), ("rises|rise", "øker|økning"), ("falls|fall", "faller|nedgang")
    )
    assert "fall" not in text and "nedgang" not in text


def test_a_configs_own_word_is_kept_in_a_norwegian_report() -> None:
    """vocabulary sample = "specialist" became 'Jobbspesialist' (an IPS default) in Norwegian; the family's own
    default word for its key still gets its bokmål form."""
    estimands = cace_estimands(10.0, 10.0, 20.0)
    estimands.attrs["vocabulary"] = json.dumps({"sample": "specialist", "service": "service", "units": "trials"})
    nb = context(estimands, "nb")
    assert nb.label("sample") == "specialist"
    assert nb.label("service") == "tjeneste"
    assert nb.label("units") == "trials"
    assert context(estimands, "en").label("service") == "service"


def test_narrow_posteriors_are_not_said_to_be_decided_by_the_data_when_power_scaling_flags_them() -> None:
    """A CACE report said 'the data, not the priors, decide the estimate' beside a power-scaling flag (review)."""
    from ipsbayes.present.prior_weight import prior_weight_words

    plain_en, plain_nb = prior_weight_words(0.15)
    assert "the data, not the priors, decide" in plain_en and "dataene, ikke priorene" in plain_nb
    flagged_en, flagged_nb = prior_weight_words(0.15, prior_sensitivity=0.06)
    assert "decide" not in flagged_en and "avgjør" not in flagged_nb
    assert "sensitive to the priors (prior sensitivity 0.060)" in flagged_en and "about 98%" in flagged_en
    assert "følsomhet for prioren 0,060" in flagged_nb
