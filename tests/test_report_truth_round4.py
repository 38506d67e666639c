"""Report sentences an outside review (round 4) found untrue to their numbers, fixed at the mechanism.

No sampling: every test builds estimands from normal draws (``tests/wording.py``).

#3  a threshold sentence names a fall and a rise with two words, and a decrease by its size after "lower";
#5  a refit (or main analysis) whose gate only warned is "to be used with care", never "not to be relied on";
#6  the CACE family names the study's units (pupils / elever) wherever it speaks of the people it counts;
#7  ``[report.labels] outcome`` replaces the fitted outcome word in key results, tables and figure titles;
#10 counts of services, months and participants are singular for one, in both languages;
#11 numbers a sentence compares get enough decimals to differ, an estimate and its bounds one rounding,
    and no "-0.0" anywhere.
"""

from __future__ import annotations

import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from ipsbayes.models.cace_text import describe_cace
from ipsbayes.models.hierarchical_logistic_report import _fidelity_probability
from ipsbayes.models.time_to_event_report import fidelity_probability, fidelity_sentence
from ipsbayes.present.answers import robustness_line
from ipsbayes.present.common import services_counted, units_counted, withheld_months_note
from ipsbayes.present.phrases import Effect, estimate
from ipsbayes.present.prior_weight import pull_sentence
from ipsbayes.present.style import Style
from ipsbayes.present.text import format_number, format_numbers, relabelled
from ipsbayes.report.render import presentation_of
from ipsbayes.report.sections import sensitivity_section
from ipsbayes.report.tables import labelled, sentence
from ipsbayes.report.verdict import short_name

from .wording import CHAINS, DRAWS, cace_estimands, context, draws, fidelity_estimands, variable

STYLE = Style("eti", 0.9, "en")


# ------------------------------------------------------------------------------------------- #3 threshold words
def _tte_estimands(contrast: float) -> xr.Dataset:
    """A time-to-event fidelity contrast by month 6, 12 and 24 (pp), IPS-25 100 against 74."""
    horizons = ["6 months", "12 months", "24 months"]
    values = xr.DataArray(
        draws(contrast, 7.0, 3, (3,)), dims=("chain", "draw", "horizon"), coords={"horizon": horizons}
    )
    out = xr.Dataset()
    out["fidelity_incidence_contrast_any"] = values.assign_attrs(
        label="Fidelity contrast", unit="pp", null=0.0, scale="IPS-25", low=74.0, high=100.0
    )
    out.attrs["model_kind"] = "time_to_event"
    return out


@pytest.mark.parametrize("language", ["en", "nb"])
def test_time_to_event_threshold_sentence_names_a_fall_and_a_rise(language: str) -> None:
    """P(fall > 5) and P(rise > 5) are two probabilities: two different nouns, the fall first for a decrease."""
    ctx = context(_tte_estimands(-24.8), language, thresholds={"fidelity_incidence_contrast_any": 5.0})
    text = fidelity_probability(ctx, "12 months")
    fall, rise = ("fall", "rise") if language == "en" else ("nedgang", "økning")
    assert f" {fall} " in text and f" {rise} " in text, text
    assert text.index(fall) < text.index(rise), text  # the median's direction first, the stated one in brackets
    assert "difference" not in text and "forskjell" not in text, text


@pytest.mark.parametrize("language", ["en", "nb"])
def test_time_to_event_decrease_is_given_by_its_size(language: str) -> None:
    """ "lower by 24.8 pp (90% ETI 13.2 to 36.7 pp)", never "lower: -24.8 pp"."""
    ctx = context(_tte_estimands(-24.8), language)
    text = fidelity_sentence(ctx, "12 months")
    word = "lower" if language == "en" else "lavere"
    assert word in text, text
    after = text.split(word, 1)[1]
    assert not re.search(r"-\d", after), text  # neither the median nor a bound is negative after "lower"


@pytest.mark.parametrize("language", ["en", "nb"])
def test_hierarchical_logistic_threshold_sentence_names_a_fall_and_a_rise(language: str) -> None:
    """The same mechanism in the hierarchical logistic (and multilevel) fidelity sentence."""
    estimands = fidelity_estimands(-12.0, sd=3.0)
    ctx = context(estimands, language, thresholds={"fidelity_contrast": 5.0})
    text = _fidelity_probability(ctx, ctx.effect("fidelity_contrast"))
    fall, rise = ("fall", "rise") if language == "en" else ("nedgang", "økning")
    assert f" {fall} " in text and f" {rise} " in text, text


# ------------------------------------------------------------------------------------------- #5 warn is not fail
def _sensitivity(statuses: dict[str, str], medians: dict[str, float], unit: str = "pp") -> xr.Dataset:
    analyses = list(statuses)
    values = np.stack([draws(medians[a], 1.0, i) for i, a in enumerate(analyses)], axis=-1)
    cace = xr.DataArray(values, dims=("chain", "draw", "analysis"), coords={"analysis": analyses})
    group = xr.Dataset({"cace": cace.assign_attrs(label="CACE", unit=unit, null=0.0)})
    group.attrs["gates"] = json.dumps({a: {"status": s, "messages": []} for a, s in statuses.items()})
    return group


@pytest.mark.parametrize("language", ["en", "nb"])
def test_a_warned_gate_reads_use_with_care_and_only_a_failed_one_not_to_be_relied_on(language: str) -> None:
    """The vitamin A example: the main analysis warned (Pareto k), so it is 'used with care', not distrusted."""
    group = _sensitivity({"main": "warn", "sceptical": "pass"}, {"main": 3.0, "sceptical": 2.0})
    ctx = context(cace_estimands(3.0, 20.0, 30.0), language, groups={"sensitivity": group})
    line = robustness_line(ctx, "cace", ("the CACE", "CACE"))
    assert line is not None
    assert "not to be relied on" not in line and "ikke til å stole på" not in line, line
    assert ("with care" if language == "en" else "forsiktighet") in line, line
    table = sensitivity_section(ctx)
    assert "do not rely" not in table and "ikke stol på" not in table, table
    assert ("warned: use with care" if language == "en" else "advarsel: bruk med forsiktighet") in table

    failed = _sensitivity({"main": "pass", "sceptical": "fail"}, {"main": 3.0, "sceptical": 2.0})
    ctx = context(cace_estimands(3.0, 20.0, 30.0), language, groups={"sensitivity": failed})
    line = robustness_line(ctx, "cace", ("the CACE", "CACE"))
    assert ("not to be relied on" if language == "en" else "ikke til å stole på") in line, line
    assert "with care" not in line and "forsiktighet" not in line, line


# ------------------------------------------------------------------------------------------- #6 the unit word
PUPILS = {"unit": "pupil", "units": "pupils", "unit_nb": "elev", "units_nb": "elever"}


def _pupil_cace() -> xr.Dataset:
    estimands = cace_estimands(-8.0, 20.0, 30.0)
    words = {**json.loads(estimands.attrs["vocabulary"]), **PUPILS}
    estimands.attrs["vocabulary"] = json.dumps(words)
    # a compliance covariate, so the "who takes it up" sentence is written
    estimands["compliance_odds_ratio"] = xr.DataArray(
        draws(0.7, 0.2, 5, (1,)), dims=("chain", "draw", "term"), coords={"term": ["age"]}
    ).assign_attrs(label="compliance log-odds per SD", unit="log-odds per SD", null=0.0)
    return estimands


@pytest.mark.parametrize("language", ["en", "nb"])
def test_cace_report_names_the_studys_units(language: str) -> None:
    """No 'participants' / 'deltakere' in a CACE report about pupils: the complier share, the covariates, all."""
    estimands = _pupil_cace()
    ctx = context(estimands, language, min_cell=50)
    presentation = presentation_of(estimands)
    text = " ".join(presentation.answer(ctx))
    for spec in presentation.sections:
        if spec.applies(ctx):
            text += " " + spec.build(ctx)
    for spec in presentation.figures:
        if spec.applies(ctx):
            fig, caption = spec.draw(ctx)
            plt.close(fig)
            text += " " + caption
    wrong = ("participant", "deltaker")
    assert not any(word in text.lower() for word in wrong), [w for w in wrong if w in text.lower()]
    assert ("pupils" if language == "en" else "elever") in text


class _Spec:
    """The few fields :func:`describe_cace` reads."""

    def __init__(self) -> None:
        self.outcome, self.outcome_family, self.is_count, self.trials, self.weights = (
            "passed",
            "bernoulli",
            False,
            1,
            "n",
        )
        self.compliance_covariates, self.outcome_covariates, self.exclusion_restriction = ["age"], [], True
        self.words = {"treatment": "mentoring", "control": "usual teaching", "outcome": "passed", **PUPILS}
        self.vocabulary = self.words


class _Data:
    def __init__(self) -> None:
        self.info = {"observed": {"n_treatment_arm": 75, "n_received": 9, "n_control_arm": 75}, "min_cell": 5}


@pytest.mark.parametrize("language", ["en", "nb"])
def test_cace_model_description_names_the_studys_units(language: str) -> None:
    """'Estimands average over the study's pupils', 'hver rad står for så mange elever'."""
    text = describe_cace(_Spec(), _Data(), language)
    assert "participant" not in text and "deltaker" not in text, text
    assert text.count("pupils" if language == "en" else "elever") >= 3, text


# ------------------------------------------------------------------------------------------- #7 outcome label
def _multilevel(outcome: str = "passed") -> xr.Dataset:
    out = xr.Dataset()
    out["outcome_rate"] = variable(
        35.8, 1.5, f"Expected share with {outcome}", "%", null=None, label_nb=f"Forventet andel med {outcome}",
        headline=True,
    )  # fmt: skip
    out["ame"] = variable(
        -11.7, 3.0, f"Average marginal effect on the expected {outcome}", "pp",
        label_nb=f"Gjennomsnittlig marginal effekt på forventet verdi av {outcome}", headline=True,
    )  # fmt: skip
    out.attrs["vocabulary"] = json.dumps({"outcome": outcome, "service": "school", "service_nb": "skole"})
    out.attrs["model_kind"] = "multilevel"
    return out


@pytest.mark.parametrize(("language", "label"), [("en", "passed the exam"), ("nb", "bestått")])
def test_outcome_label_reaches_key_results_tables_and_titles(language: str, label: str) -> None:
    """The words the estimands were fitted with give way to [report.labels] outcome, as in the answer."""
    estimands = _multilevel()
    ctx = context(estimands, language, labels={"outcome": label})
    table = labelled(ctx.summary, ctx.estimands, language)
    assert all(label in str(text) for text in table["label"]), list(table["label"])
    assert not any(re.search(r"\bpassed$", str(text)) for text in table["label"]), list(table["label"])
    rows = table.to_dict("records")
    lines = [sentence({**row, "element": ""}, 0.9, "eti", language) for row in rows]
    assert all(label in line for line in lines), lines
    # the power-scaling and sensitivity tables name estimands through short_name
    assert label in short_name("outcome_rate", ctx.datatree, ctx.labels, language)
    # figure titles read the context's estimands
    key = "label" if language == "en" else "label_nb"
    assert label in ctx.estimands["outcome_rate"].attrs[key]
    assert estimands["outcome_rate"].attrs[key].endswith("passed")  # the caller's estimands are not changed


def test_relabelled_replaces_whole_words_of_the_report_language_only() -> None:
    words = {"outcome": "passed the exam"}
    text = "CACE: effekt av å motta mentorordning på passed the exam for compliers"
    assert relabelled(text, words, {"outcome": "bestått eksamen"}, "nb").endswith("på bestått eksamen for compliers")
    assert relabelled("unsurpassed", {"outcome": "passed"}, {"outcome": "x"}, "en") == "unsurpassed"
    assert relabelled(text, words, {}, "nb") == text


@pytest.mark.parametrize("language", ["en", "nb"])
def test_cace_key_result_uses_the_outcome_label(language: str) -> None:
    estimands = cace_estimands(-8.0, 20.0, 30.0, outcome="passed the exam")
    estimands["cace"].attrs["label"] = "CACE: effect of receiving mentoring on passed the exam for compliers"
    estimands["cace"].attrs["label_nb"] = "CACE: effekt av å motta mentorordning på passed the exam for compliers"
    label = "bestått eksamen" if language == "nb" else "exam passed"
    ctx = context(estimands, language, labels={"outcome": label})
    row = labelled(ctx.summary, ctx.estimands, language).set_index("estimand").loc["cace"]
    assert label in row["label"] and "passed the exam" not in row["label"], row["label"]


# ------------------------------------------------------------------------------------------- #10 plurals
@pytest.mark.parametrize(
    ("language", "vocabulary", "one", "two", "units"),
    [
        ("en", {}, "1 service", "2 services", "10 participants"),
        ("nb", {}, "1 tjeneste", "2 tjenester", "10 deltakere"),
        ("en", {"service": "school", **PUPILS}, "1 school", "2 schools", "10 pupils"),
        ("nb", {"service": "school", "service_nb": "skole", **PUPILS}, "1 skole", "2 skoler", "10 elever"),
    ],
)
def test_counts_are_singular_for_one_in_the_studys_words(language, vocabulary, one, two, units) -> None:
    estimands = xr.Dataset({"x": variable(1.0, 1.0, "x", "")}, attrs={"vocabulary": json.dumps(vocabulary)})
    ctx = context(estimands, language)
    assert services_counted(ctx, 1) == one
    assert services_counted(ctx, 2) == two
    assert units_counted(ctx, 10) == units


@pytest.mark.parametrize(
    ("language", "one", "two"), [("en", "1 month ", "2 months "), ("nb", "1 måned ", "2 måneder ")]
)
def test_withheld_months_are_counted_in_words(language: str, one: str, two: str) -> None:
    """'Observerte andeler for 2 måneder vises ikke', never 'måned(er)'."""
    ctx = context(xr.Dataset({"x": variable(1.0, 1.0, "x", "")}), language, min_cell=10)
    raw = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])  # months x targets
    note = withheld_months_note(ctx, raw, np.where([[True, True], [False, True], [True, True]], raw, np.nan))
    assert one in note and "(er)" not in note and "(s)" not in note, note
    note = withheld_months_note(ctx, raw, np.where([[False, True], [False, False], [True, True]], raw, np.nan))
    assert two in note, note
    assert withheld_months_note(ctx, raw, raw) == ""


# ------------------------------------------------------------------------------------------- #11 rounding
@pytest.mark.parametrize("language", ["en", "nb"])
@pytest.mark.parametrize("unit", ["pp", "%", "months", "ratio", "OR", "", "SD (log-odds)"])
def test_no_negative_zero(unit: str, language: str) -> None:
    for value in (-0.04, -0.0004, -1e-9, -0.0):
        text = format_number(value, unit, language)
        assert not re.fullmatch(r"-0([.,]0*)?", text), (value, unit, text)
    assert format_number(-0.04, "pp") == "0.0"


def _effect(median: float, lower: float, upper: float, unit: str, null: float = 0.0) -> Effect:
    values = np.array([lower, median, upper])
    return Effect(median, lower, upper, unit, null, 0.9, 0.1, values)


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        (_effect(1.003, 1.001, 1.006, "ratio", 1.0), "1.003 (90% ETI 1.001 to 1.006)"),
        (_effect(0.318, -0.04, 0.6, "pp"), "0.3 pp (90% ETI 0.0 to 0.6 pp)"),
        (_effect(16.72, 3.21, 30.05, "pp"), "16.7 pp (90% ETI 3.2 to 30.1 pp)"),
        (_effect(1.49, 0.12, 238.0, "OR", 1.0), "1.49 (90% ETI 0.12 to 238.00)"),
    ],
)
def test_an_estimate_and_its_bounds_have_one_rounding(effect: Effect, expected: str) -> None:
    assert estimate(effect, STYLE, "en") == expected


def test_key_result_bounds_have_the_medians_decimals() -> None:
    row = {
        "label": "CACE as a ratio", "element": "", "unit": "ratio", "median": 1.003, "lower": 1.0012,
        "upper": 1.0061, "null": 1.0, "p_above_null": 0.995, "threshold": None,
    }  # fmt: skip
    assert sentence(row, 0.9, "eti", "en").startswith("CACE as a ratio: 1.003 (90% ETI 1.001 to 1.006)")


def test_numbers_a_sentence_compares_are_told_apart() -> None:
    assert format_numbers([0.318, 0.262], "pp") == ["0.32", "0.26"]
    assert format_numbers([0.31, 0.31], "pp") == ["0.3", "0.3"]  # equal values stay alike
    assert format_numbers([16.7, 20.1], "pp") == ["16.7", "20.1"]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_robustness_range_and_pull_sentence_tell_their_numbers_apart(language: str) -> None:
    """'the CACE ranges from 0.28 pp to 0.32 pp', 'the posterior median (0.322 pp) ... Wald estimate (0.323 pp)'."""
    group = _sensitivity({"main": "pass", "variant": "pass"}, {"main": 0.32, "variant": 0.28})
    group["cace"].values[..., 0] = draws(0.32, 0.01, 1)
    group["cace"].values[..., 1] = draws(0.28, 0.01, 2)
    ctx = context(cace_estimands(0.3, 20.0, 30.0), language, groups={"sensitivity": group})
    line = robustness_line(ctx, "cace", ("the CACE", "CACE"))
    numbers = re.findall(r"(\d+[.,]\d+) (?:pp|prosentpoeng)", line)[:2]
    assert len(numbers) == 2 and numbers[0] != numbers[1], line

    prior = Effect.from_draws(np.random.default_rng(0).normal(0, 30, CHAINS * DRAWS), STYLE, "pp")
    text = pull_sentence(ctx, 0.3222, 0.3231, prior, "pp", ("the raw Wald estimate", "det rå Wald-anslaget"))
    numbers = re.findall(r"\((\d+[.,]\d+) (?:pp|prosentpoeng)\)", text)
    assert len(numbers) == 2 and numbers[0] != numbers[1], text


@pytest.mark.parametrize("language", ["en", "nb"])
def test_analyses_that_agree_to_every_digit_are_said_to_agree(language: str) -> None:
    """'ranges from -0.6 pp to -0.6 pp' and 'from 0.71 to 0.71' (a prior set that changes none of the priors)."""
    group = _sensitivity({"main": "pass", "sceptical": "pass"}, {"main": 3.0, "sceptical": 3.0})
    group["cace"].values[..., 1] = group["cace"].values[..., 0]  # the refit drew the same draws
    ctx = context(cace_estimands(3.0, 20.0, 30.0), language, groups={"sensitivity": group})
    line = robustness_line(ctx, "cace", ("the CACE", "CACE"))
    assert ("stays at" if language == "en" else "i alle analysene") in line, line
    assert ("in each" if language == "en" else "i hver av dem") in line, line
    assert "ranges from" not in line and "varierer fra" not in line, line


@pytest.mark.parametrize("language", ["en", "nb"])
def test_medians_apart_by_a_sliver_of_the_interval_are_not_printed_to_four_decimals(language: str) -> None:
    """'fra 5,9486 til 5,9487 måneder': a median month that moves by 0.0001 in an interval months wide."""
    group = _sensitivity({"main": "pass", "sceptical": "pass"}, {"main": 5.9486, "sceptical": 5.9486})
    group["cace"].values[..., 1] = group["cace"].values[..., 0] + 0.0001
    ctx = context(cace_estimands(3.0, 20.0, 30.0), language, groups={"sensitivity": group})
    line = robustness_line(ctx, "cace", ("the CACE", "CACE"))
    assert ("stays at about" if language == "en" else "omtrent") in line, line
    assert "5.9486" not in line and "5,9486" not in line and "5,9487" not in line, line


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_analyses_whose_interval_excludes_the_null_are_listed_with_and(language: str) -> None:
    """'only under the main analysis (weakly informative), the variant without the exclusion restriction does
    the interval lie entirely below zero' lacked its 'and' (outside review)."""
    group = _sensitivity(
        {"main": "pass", "prior set: sceptical": "pass", "variant: no_exclusion_restriction": "pass"},
        {"main": -5.0, "prior set: sceptical": -0.5, "variant: no_exclusion_restriction": -5.0},
    )
    ctx = context(cace_estimands(-5.0, 20.0, 30.0), language, groups={"sensitivity": group})
    line = robustness_line(ctx, "cace", ("the CACE", "CACE"))
    joint = " and the variant without" if language == "en" else " og varianten uten"
    assert joint in line, line
