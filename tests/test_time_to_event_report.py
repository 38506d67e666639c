"""The time-to-event family's presentation without sampling: sentences computed from the numbers in English
and Norwegian, words that flip with the truth, the priors' weight measured, figures that meet the profile."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from ipsbayes.models.time_to_event_report import (
    PRESENTATION,
    answer,
    fidelity_section,
    fidelity_sentence,
    prior_sentence,
)
from ipsbayes.present.style import MIN_FONT_PT
from ipsbayes.report.layout import all_text, layout_problems
from ipsbayes.runner import check
from ipsbayes.sampling import sample_prior_predictive

from .test_figures import RAW_NAMES, STATES_AN_INTERVAL
from .test_panel import tte_config
from .wording import context

THRESHOLD = {"fidelity_incidence_contrast_any": 5.0}


@pytest.fixture(scope="module")
def prior_estimands(small_ipsung: Path, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """Estimands of the shipped model at 200 prior draws on the small data set: the real shapes and attrs."""
    plan = check(tte_config(small_ipsung, tmp_path_factory.mktemp("tte_report")))
    prior = sample_prior_predictive(plan.model, draws=200, seed=2)["prior"].to_dataset()
    estimands = plan.family.estimands(prior, plan.data, plan.spec, plan.config)
    estimands.attrs["model_kind"] = "time_to_event"
    return estimands


def narrowed(estimands: xr.Dataset, name: str, centre: float, sd: float, seed: int = 0) -> xr.Dataset:
    """``estimands`` with ``name`` replaced by normal draws around ``centre`` (same dims and attrs)."""
    out = estimands.copy()
    values = estimands[name]
    draws = np.random.default_rng(seed).normal(centre, sd, size=values.shape)
    out[name] = values.copy(data=draws)
    return out


def posterior_like(estimands: xr.Dataset, incidence: float = 40.0, contrast: float = 8.0) -> xr.Dataset:
    """A posterior: incidence by every horizon near ``incidence`` (%), fidelity contrast near ``contrast`` (pp)."""
    out = narrowed(estimands, "incidence_any", incidence, 1.0, seed=1)
    return narrowed(out, "fidelity_incidence_contrast_any", contrast, 1.5, seed=2)


def test_answer_states_incidence_by_12_and_24_months_with_interval(prior_estimands) -> None:
    estimands = posterior_like(prior_estimands)
    groups = {"prior_estimands": prior_estimands}
    en = context(estimands, "en", THRESHOLD, groups)
    nb = context(estimands, "nb", THRESHOLD, groups)
    english, norwegian = answer(en), answer(nb)
    assert 3 <= len(english) <= 4 and len(norwegian) == len(english)
    for month in ("12 months", "24 months"):
        row = en.row("incidence_any", month)
        number = f"{row['median']:.1f}%"
        assert f"by month {month.split()[0]}, an expected {number}".lower() in english[0].lower(), english[0]
        assert f"{row['lower']:.1f} to {row['upper']:.1f}%" in english[0]
        assert number.replace(".", ",").replace("%", " %") in norwegian[0]
    assert not re.search(r"(?<![\d.,])6 months", english[0]) and "by month 6" not in english[0]  # 12 and 24 answer
    assert "90% ETI" in english[0] and "90 % ETI" in norwegian[0] and "innen måned 24" in norwegian[0]
    assert "half have it by month" in english[0] and "halvparten" in norwegian[0]


def test_prior_weight_is_measured_not_assumed(prior_estimands) -> None:
    """Narrow posterior against wide priors: the data decide; a posterior as wide as the prior: the priors do."""
    groups = {"prior_estimands": prior_estimands}
    data_decide = posterior_like(prior_estimands)
    en = prior_sentence(context(data_decide, "en", THRESHOLD, groups))
    assert "the data, not the priors, decide" in en and "The priors alone allow a share by month 24" in en
    assert "dataene, ikke priorene" in prior_sentence(context(data_decide, "nb", THRESHOLD, groups))
    prior_like = prior_estimands.copy()
    prior_like["incidence_any"] = prior_estimands["incidence_any"].copy(
        data=prior_estimands["incidence_any"].values[:, ::-1]
    )
    assert "rests largely on the priors" in prior_sentence(context(prior_like, "en", THRESHOLD, groups))
    assert "i stor grad på priorene" in prior_sentence(context(prior_like, "nb", THRESHOLD, groups))
    observed = float(prior_estimands["observed_incidence_curve"].sum("target").sel(month=24))
    way = "below" if observed < 40.0 else "above"
    assert f"{observed:.1f}%" in en and way in en
    without = prior_sentence(context(data_decide, "en", THRESHOLD))
    assert "was not computed" in without


@pytest.mark.parametrize(("sensitivity", "flagged"), [(0.12, True), (0.01, False)])
def test_prior_weight_follows_power_scaling_where_it_flags_the_share(prior_estimands, sensitivity, flagged) -> None:
    """Narrow intervals say the data decide, unless power-scaling finds the share sensitive to the priors."""
    from ipsbayes.compared import element_key
    from ipsbayes.models.time_to_event_report import answer_horizons

    data_decide = posterior_like(prior_estimands)
    horizon = answer_horizons(context(data_decide, "en", THRESHOLD, {"prior_estimands": prior_estimands}))[-1]
    power = xr.Dataset(
        {"prior": ("estimand", [sensitivity]), "likelihood": ("estimand", [0.3])},
        coords={"estimand": [element_key("incidence_any", {"horizon": horizon})]},
        attrs={"threshold": 0.05},
    )
    groups = {"prior_estimands": prior_estimands, "power_scaling": power}
    en = prior_sentence(context(data_decide, "en", THRESHOLD, groups))
    nb = prior_sentence(context(data_decide, "nb", THRESHOLD, groups))
    if flagged:
        assert "yet power-scaling finds the estimate sensitive to the priors (prior sensitivity 0.120)" in en
        assert "the data, not the priors, decide" not in en
        assert "følsomhet for prioren 0,120" in nb and "dataene, ikke priorene" not in nb
    else:
        assert "the data, not the priors, decide" in en and "power-scaling" not in en
        assert "dataene, ikke priorene" in nb


@pytest.mark.parametrize(("offset", "en", "nb"), [(5.0, "below", "under"), (-5.0, "above", "over")])
def test_observed_share_is_placed_against_the_model_median(prior_estimands, offset, en, nb) -> None:
    """The observed share is the subject: below the model's median when it is smaller, above when larger."""
    observed = float(prior_estimands["observed_incidence_curve"].sum("target").sel(month=24))
    estimands = narrowed(prior_estimands, "incidence_any", observed + offset, 0.2, seed=4)
    groups = {"prior_estimands": prior_estimands}
    english = prior_sentence(context(estimands, "en", THRESHOLD, groups))
    norwegian = prior_sentence(context(estimands, "nb", THRESHOLD, groups))
    assert f"{observed:.1f}%" in english and f"pp {en} the model's median" in english, english
    assert f"{en} the model's median" in english and f"prosentpoeng {nb} modellens median" in norwegian, norwegian
    wrong = {"below": "above", "above": "below"}[en]
    assert f"{wrong} the model's median" not in english


@pytest.mark.parametrize(("centre", "sd"), [(1.0, 0.05), (0.0, 0.4)])
def test_hazard_odds_ratio_probability_never_reads_equals_greater(prior_estimands, centre, sd) -> None:
    """'P(> 1) > 0.99' at the resolution limit, 'P(> 1) = 0.84' otherwise, never 'P(> 1) = > 0.99'."""
    log_or = narrowed(prior_estimands, "hazard_fidelity_odds_ratio", centre, sd, seed=5)
    log_or["hazard_fidelity_odds_ratio"] = np.exp(log_or["hazard_fidelity_odds_ratio"])
    log_or["hazard_fidelity_odds_ratio"].attrs = prior_estimands["hazard_fidelity_odds_ratio"].attrs
    for language, limit in (("en", "P(> 1) > 0.99"), ("nb", "P(> 1) > 0,99")):
        text = fidelity_section(context(log_or, language, THRESHOLD))
        assert "= >" not in text and "= <" not in text, text
        if centre:
            assert limit in text, text
        else:
            assert "P(> 1) = 0" in text, text


@pytest.mark.parametrize(
    ("contrast", "sd", "en", "nb"),
    [
        (8.0, 1.5, "is higher by", "måned 12 høyere med"),
        (-8.0, 1.5, "is lower by", "måned 12 lavere med"),
        (1.6, 1.5, "is probably higher", "måned 12 trolig høyere"),
        (0.0, 6.0, "cannot tell whether", "kan ikke avgjøre"),
    ],
)
def test_fidelity_words_flip_with_the_truth(prior_estimands, contrast, sd, en, nb) -> None:
    estimands = narrowed(prior_estimands, "fidelity_incidence_contrast_any", contrast, sd, seed=3)
    english = fidelity_sentence(context(estimands, "en", THRESHOLD), "12 months")
    norwegian = fidelity_sentence(context(estimands, "nb", THRESHOLD), "12 months")
    assert en in english and nb in norwegian, (english, norwegian)
    row = context(estimands, "en", THRESHOLD).row("fidelity_incidence_contrast_any", "12 months")
    assert f"{abs(row['median']):.1f}" in english
    lines = answer(context(estimands, "en", THRESHOLD))
    if contrast < 0:
        assert (
            "lowers" not in lines[-1]
            and "lower share" in lines[-1]
            and "of a fall of more than 5 pp" in lines[-1]  # a fall, and the rise in brackets
            and "(of a rise of more than 5 pp" in lines[-1]
        )
    assert "not a randomised comparison" in lines[-1]


def test_sections_render_in_both_languages_with_small_services_suppressed(prior_estimands) -> None:
    for language in ("en", "nb"):
        ctx = context(prior_estimands, language, THRESHOLD, min_cell=30)
        texts = {s.key: s.build(ctx) for s in PRESENTATION.sections if s.applies(ctx)}
        assert set(texts) == {"incidence", "fidelity_time", "services_time", "hazard_odds_ratios"}
        assert all(texts.values())
        n, events = prior_estimands["service_n"].values, prior_estimands["service_observed_events_any"].values
        small = int(np.sum((n > 0) & ((n < 30) | ((events >= 1) & (events < 30)))))  # participants or transitions
        assert small and f"({small} " in texts["services_time"]  # the suppression note counts them
    assert "| 24 | " in texts["incidence"] and "%" in texts["incidence"]


def test_figures_meet_the_profile_in_both_languages(prior_estimands) -> None:
    """Width, fonts >= 8 pt, no overlaps, the interval stated in the figure, no raw variable names."""
    for language in ("en", "nb"):
        ctx = context(prior_estimands, language, THRESHOLD)
        with matplotlib.rc_context(ctx.style.rc()):
            for spec in PRESENTATION.figures:
                assert spec.applies(ctx), spec.name
                fig, caption = spec.draw(ctx)
                text = all_text(fig)
                assert not layout_problems(fig, MIN_FONT_PT), (spec.name, layout_problems(fig, MIN_FONT_PT))
                assert STATES_AN_INTERVAL.search(text), spec.name
                assert not RAW_NAMES.findall(text), (spec.name, RAW_NAMES.findall(text))
                assert fig.get_size_inches()[0] == pytest.approx(ctx.style.width)
                assert caption and "ETI" in caption
                plt.close(fig)


def test_targets_and_titles_speak_the_report_language(prior_estimands) -> None:
    """Target names go through [report.labels] and, in Norwegian, the usual targets are Norwegian words;
    every figure title is in the report's language (the per-service one named its month only in English)."""
    sections = {}
    for language in ("en", "nb"):
        ctx = context(prior_estimands, language, THRESHOLD)
        sections[language] = "\n".join(s.build(ctx) for s in PRESENTATION.sections if s.applies(ctx))
    assert "arbeid" in sections["nb"] and "læreplass" in sections["nb"] and "utdanning" in sections["nb"]
    assert "| work |" not in sections["nb"] and "| apprenticeship |" not in sections["nb"]
    assert "| work |" in sections["en"] and "| apprenticeship |" in sections["en"]
    relabelled = context(prior_estimands, "nb", THRESHOLD, labels={"work": "lønnet arbeid"})
    assert "| lønnet arbeid |" in "\n".join(s.build(relabelled) for s in PRESENTATION.sections if s.applies(relabelled))
    en, nb = context(prior_estimands, "en", THRESHOLD), context(prior_estimands, "nb", THRESHOLD)
    for spec in PRESENTATION.figures:
        assert spec.title(en) != spec.title(nb), spec.name
    month = prior_estimands["service_incidence_any"].attrs["month"]
    titles = {spec.name: spec.title(nb) for spec in PRESENTATION.figures}
    assert titles["service_incidence"] == f"Tjenester: andel med første overgang innen måned {month}"
    with matplotlib.rc_context(nb.style.rc()):
        fig, _ = next(spec for spec in PRESENTATION.figures if spec.name == "incidence_curves").draw(nb)
        assert "arbeid" in all_text(fig) and "work" not in all_text(fig)
        plt.close(fig)


@pytest.mark.parametrize("module", ["time_to_event_figures", "time_to_event_report"])
def test_each_presentation_module_imports_first(module: str) -> None:
    # the report imports the figures and their labels; neither may need the other half-imported
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import ipsbayes.models.{module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]


def test_observed_shares_resting_on_small_cells_are_withheld(prior_estimands) -> None:
    """Aalen-Johansen shares are counts in disguise: a cohort or first-transition count below min_cell hides them."""
    import dataclasses

    from ipsbayes.models.time_to_event_figures import incidence_curves, publishable_observed
    from ipsbayes.models.time_to_event_report import incidence_section, observed_by

    base = context(prior_estimands, "en")
    cohort = prior_estimands["observed_incidence_curve"].attrs["participants"]
    events = prior_estimands["observed_events_curve"]
    assert events.dims == ("target", "month") and float(events.sum("target").max()) <= cohort
    open_ = dataclasses.replace(base, min_cell=1)
    assert np.isfinite(publishable_observed(open_).values).all() and observed_by(open_, 12) is not None
    for language in ("en", "nb"):
        closed = dataclasses.replace(context(prior_estimands, language), min_cell=int(cohort) + 1)
        assert not np.isfinite(publishable_observed(closed).values).any() and observed_by(closed, 12) is None
        text = incidence_section(closed)
        assert ("are not shown" in text) if language == "en" else ("vises ikke" in text)
        fig, caption = incidence_curves(closed)
        dashed = [line for ax in fig.axes for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert all(not np.isfinite(line.get_ydata()).any() for line in dashed)
        assert str(int(cohort) + 1) in caption
        fig.clf()
    # a month where one target has 1 to min_cell - 1 first transitions: every target's share of it is withheld
    first = events.isel(month=slice(0, None))
    small = int(max(1, float(first.min())) + 1)
    partial = publishable_observed(dataclasses.replace(base, min_cell=small))
    risky = ((events > 0) & (events < small)).any("target")
    assert not np.isfinite(partial.where(risky).values).any()


def test_prior_weight_of_the_fidelity_contrast_is_measured(prior_estimands) -> None:
    """The fidelity contrast gets its own measure of the priors' weight, and the words follow the widths."""
    from ipsbayes.models.time_to_event_report import fidelity_prior_sentence

    groups = {"prior_estimands": prior_estimands}
    values = prior_estimands["fidelity_incidence_contrast_any"]
    horizon = str(values["horizon"].values[-1])
    month = horizon.split()[0]
    decided = posterior_like(prior_estimands)  # the contrast's posterior: 1.5 pp wide draws against the priors'
    en = fidelity_prior_sentence(context(decided, "en", THRESHOLD, groups), horizon)
    nb = fidelity_prior_sentence(context(decided, "nb", THRESHOLD, groups), horizon)
    assert f"For this difference by month {month} the priors alone allow" in en and " pp (90% ETI)" in en
    assert "the data, not the priors, decide" in en and "dataene, ikke priorene" in nb
    as_wide = prior_estimands.copy()  # the priors' own draws, shuffled: a posterior as wide as the prior
    order = np.random.default_rng(5).permutation(values.sizes[values.dims[0]])
    as_wide["fidelity_incidence_contrast_any"] = values.copy(data=values.values[order])
    en = fidelity_prior_sentence(context(as_wide, "en", THRESHOLD, groups), horizon)
    assert "rests largely on the priors" in en and "the data, not the priors" not in en
    assert "i stor grad på priorene" in fidelity_prior_sentence(context(as_wide, "nb", THRESHOLD, groups), horizon)
    assert fidelity_prior_sentence(context(decided, "en", THRESHOLD), horizon) == ""  # no prior draws: not claimed
    assert any("For this difference by month" in line for line in answer(context(decided, "en", THRESHOLD, groups)))


def test_service_shares_resting_on_a_few_transitions_are_withheld() -> None:
    """80% of a service of five is four people: withheld as the overall curve withholds such shares."""
    from ipsbayes.models.time_to_event_figures import publishable_service_observed

    from .wording import context, variable

    services = {"service": ["S1", "S2", "S3", "S4"]}
    estimands = xr.Dataset(
        {
            "any": variable(40.0, 3.0, "share", "%"),
            "service_observed_incidence_any": ("service", [80.0, 0.0, 35.0, 50.0]),
            "service_n": ("service", [5.0, 12.0, 20.0, 3.0]),
            "service_observed_events_any": ("service", [4.0, 0.0, 7.0, 2.0]),
        },
        coords=services,
    )
    shown = publishable_service_observed(context(estimands, min_cell=5))
    np.testing.assert_array_equal(np.isnan(shown), [True, False, False, True])  # 4 transitions; 3 participants
    assert shown[2] == 35.0 and shown[1] == 0.0
    older = estimands.drop_vars("service_observed_events_any")  # a run folder from before the counts were kept
    assert np.isnan(publishable_service_observed(context(older, min_cell=5))).all()


def test_observed_incidence_is_not_carried_past_the_last_month_anyone_is_followed() -> None:
    from ipsbayes.models.hazard_predict import observed_incidence

    trials = np.array([10.0, 8.0, 0.0, 0.0])
    events = np.array([[2.0], [2.0], [0.0], [0.0]])
    curve = observed_incidence(trials, events)[:, 0]
    np.testing.assert_allclose(curve[:2], [0.2, 0.4])
    assert np.isnan(curve[2:]).all()  # it printed 40% "observed" by months nobody reached
