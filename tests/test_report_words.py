"""Report text and figures of non-IPS runs use the study's words and only the sentences that apply
(review of the cbpp example): unit words in the count check, suppressed cells visibly marked,
no group-level sentence without group-level predictors, generic sampler advice, no layout warning."""

from __future__ import annotations

import json
import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.diagnostics_text import ADVICE
from ipsbayes.families.figures import proportions
from ipsbayes.models.multilevel_report import has_group_predictors
from ipsbayes.present import ReportContext
from ipsbayes.present.style import Style
from ipsbayes.report.figures import ppc_counts

matplotlib.use("Agg")


def count_tree(trials: bool) -> xr.DataTree:
    rng = np.random.default_rng(1)
    observed = np.array([0] * 20 + [1] * 12 + [2] * 3 + [3] * 9 + [7] * 2)
    predicted = rng.poisson(1.5, size=(1, 40, observed.size))
    groups = {
        "observed_data": xr.Dataset({"y": ("obs", observed)}),
        "posterior_predictive": xr.Dataset({"y": (("chain", "draw", "obs"), predicted)}),
    }
    if trials:
        groups["constant_data"] = xr.Dataset({"trials": ("obs", np.full(observed.size, 20))})
    return xr.DataTree.from_dict(groups)


def context(tree: xr.DataTree, vocabulary: dict[str, str], language: str = "en", **attrs) -> ReportContext:
    estimands = xr.Dataset(attrs={"vocabulary": json.dumps(vocabulary), "response": "y", **attrs})
    return ReportContext(estimands, tree, pd.DataFrame(), Style("eti", 0.9, language))


def test_count_check_uses_the_study_units_and_marks_suppressed_cells() -> None:
    ctx = context(count_tree(trials=False), {"unit": "animal", "units": "animals"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, caption = ppc_counts(ctx)
    ax = fig.axes[0]
    assert "participants" not in caption.lower()
    assert "animals" in caption and ax.get_ylabel() == "Animals"
    # the values 2 and 7 rest on 3 and 2 rows: drawn as a suppressed range, not a dot at zero
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("not shown" in t for t in legend)
    dots = ax.lines[0].get_ydata()
    assert np.all(np.asarray(dots)[[2, 7]] != 0)
    assert "(2 values" in caption


def test_count_check_of_aggregated_rows_counts_rows() -> None:
    ctx = context(count_tree(trials=True), {"unit": "animal", "units": "animals"}, language="nb")
    fig, caption = ppc_counts(ctx)
    assert "rader" in caption and "deltakere" not in caption
    assert fig.axes[0].get_ylabel() == "Rader"


def test_ips_runs_keep_participants() -> None:
    _, caption = ppc_counts(context(count_tree(trials=False), {}))
    assert "participants" in caption


def test_share_figure_raises_no_layout_warning() -> None:
    tree = count_tree(trials=True)
    ctx = context(tree, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with matplotlib.rc_context(ctx.style.rc()):
            fig, _ = proportions(ctx)
    assert fig.get_layout_engine() is not None


def test_share_figure_never_draws_a_row_below_the_small_cell_limit() -> None:
    """Each row's observed share rests on its trials (e.g. 4 cows) and on those with and without the outcome.

    Below report.min_cell on any of the three it is not drawn. The rows here have 20 trials each with 0, 1,
    2, 3 or 7 of them with the outcome: at min_cell 5 the shares of 1, 2 or 3 of 20 (5%, 10%, 15%) are
    withheld too (they were drawn before the rule covered the number with the outcome, round 5), while
    0 of 20 (identifies no one) and 7 of 20 are drawn; the caption counts the 24 rows by that reason.
    """
    import dataclasses

    tree = count_tree(trials=True)  # 20 trials per row
    for language, words in (("en", "rows with fewer than 30 trials are not drawn"), ("nb", "er ikke tegnet")):
        ctx = dataclasses.replace(context(tree, {}, language=language), min_cell=30)
        fig, caption = proportions(ctx)
        dots = next(line for line in fig.axes[0].get_lines() if line.get_marker() == "o")
        assert not np.isfinite(np.asarray(dots.get_ydata(), float)).any() and words in caption
    fig, caption = proportions(context(tree, {}))  # min_cell 5 < 20 trials, but 1-3 with the outcome
    dots = next(line for line in fig.axes[0].get_lines() if line.get_marker() == "o")
    drawn = np.asarray(dots.get_ydata(), float)
    assert sorted(set(np.round(drawn[np.isfinite(drawn)], 6))) == [0.0, 35.0]  # 0 and 7 of 20
    assert int(np.isfinite(drawn).sum()) == 22
    assert "24 rows resting on fewer than 5 trials with the outcome or fewer than 5 without it" in caption
    assert "with fewer than 5 trials" not in caption  # no row is small itself


def test_group_level_sentence_only_with_group_level_predictors() -> None:
    tree = count_tree(trials=False)
    assert not has_group_predictors(context(tree, {}, group_predictors="[]"))
    assert has_group_predictors(context(tree, {}, group_predictors='["fidelity"]'))
    assert has_group_predictors(context(tree, {}))  # older runs keep the cautious sentence


def test_sampler_advice_does_not_name_one_model_kind() -> None:
    for en, nb in ADVICE.values():
        assert "hierarchical logistic" not in en and "hierarkisk logistisk" not in nb


def test_code_spans_show_values_exactly() -> None:
    import markdown

    from ipsbayes.textutil import code_span

    assert code_span("ips_map") == "`ips_map`"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    html = markdown.markdown(f"prior set {code_span('ips_map')}")
    assert "<code>ips_map</code>" in html


def test_prior_set_heading_has_no_backslash() -> None:
    from ipsbayes.report.render import markdown_environment

    template = markdown_environment().from_string("### Priors: {{ prior_set | code }}")
    assert template.render(prior_set="ips_map") == "### Priors: `ips_map`"


def test_package_paths_in_code_spans_survive_neutralising() -> None:
    from ipsbayes.models.cace_small import calibration_text
    from ipsbayes.report.render import safe_html
    from ipsbayes.textutil import neutralize_markdown

    for language in ("en", "nb"):
        ctx = context(count_tree(trials=False), {}, language=language)
        text = calibration_text(ctx)
        assert "&lt;" not in neutralize_markdown(text)
        assert "&amp;lt;" not in str(safe_html(text))
        assert "-validation/</code>" in str(safe_html(text))


def test_norwegian_diagnostics_use_decimal_commas() -> None:
    from ipsbayes.diagnostics import Check
    from ipsbayes.diagnostics_text import check_text

    rhat = Check("r_hat", "warn", 1.0213, "warn > 1.01, fail > 1.05", "", ["intercept"], "x")
    ess = Check("ess_bulk", "warn", 83.2, "warn < 200, fail < 50 (2 chains)", "", [], "x")
    text = check_text(rhat, "nb") + " " + check_text(ess, "nb")
    assert "1,021" in text and "1,01; " in text and "83,2" in text
    assert not re.search(r"\d\.\d", text)


def test_all_estimates_table_and_thresholds_follow_the_language() -> None:
    from ipsbayes.report.render import _p_threshold

    row = {
        "p_above_threshold": 0.995,
        "p_beyond_threshold": 0.995,
        "threshold": 2.5,
        "threshold_direction": "above",
        "null": 0.0,
    }
    assert _p_threshold(row, "nb") == "> 0,99 (> 2,5)"
    assert _p_threshold(row) == "> 0.99 (> 2.5)"
    # an estimate below its null: P(> threshold) as asked, then the same distance on the estimate's side
    below = {**row, "p_above_threshold": 0.0, "p_beyond_threshold": 0.731, "threshold_direction": "below"}
    assert _p_threshold(below) == "< 0.01 (> 2.5); 0.73 (< -2.5)"
    assert _p_threshold(below, "nb") == "< 0,01 (> 2,5); 0,73 (< -2,5)"


def test_a_threshold_on_a_level_without_a_null_is_reported() -> None:
    """An expected rate has no null: its threshold is P(> threshold), in the table and the key results."""
    from ipsbayes.report.render import _p_threshold
    from ipsbayes.report.tables import sentence, summarise

    rate = xr.DataArray(
        np.random.default_rng(1).normal(42.1, 1.1, (2, 4000)), dims=("chain", "draw"), attrs={"unit": "%"}
    )
    row = summarise(xr.Dataset({"outcome_rate": rate}), "eti", 0.9, {"outcome_rate": 42.0}).iloc[0].to_dict()
    assert row["null"] is None and 0.45 < row["p_beyond_threshold"] < 0.65
    assert _p_threshold(row) == f"{row['p_above_threshold']:.2f} (> 42)"
    assert f"P(> 42) = {row['p_above_threshold']:.2f}" in sentence(row, 0.9, "eti")


def test_norwegian_summary_has_norwegian_headers_and_reader_text() -> None:
    from ipsbayes.report.tables import COLUMNS, csv_nb

    table = pd.DataFrame(
        {
            "estimand": ["x"],
            "element": ["6 months"],
            "interval": ["90% equal-tailed interval (ETI)"],
            "threshold_direction": ["above"],
            "p_beyond_threshold": [0.25],
            "headline": [True],
        }
    )
    text = csv_nb(table).decode("utf-8-sig")
    header, values = text.splitlines()[:2]
    assert "threshold_direction" not in header and "p_beyond_threshold" not in header
    assert set(table.columns) <= set(COLUMNS)
    assert values == "x;6 måneder;90 % likehalet intervall (ETI);over;0,25;ja"


def test_analysis_names_are_humanised_and_labelled() -> None:
    from ipsbayes.present.answers import analysis_name

    assert analysis_name("prior set: weakly_informative", {}, "nb") == "priorsettet svakt informativt"
    assert "ips map" not in analysis_name("main (ips_map)", {}, "nb")
    assert analysis_name("main (ips_map)", {"ips_map": "MAP-prioren"}, "nb") == "hovedanalysen (MAP-prioren)"
    assert analysis_name("prior set: my_set", {}, "en") == "the my set prior set"


def test_norwegian_summary_uses_label_nb_and_summary_csv_keeps_english() -> None:
    from ipsbayes.models.base import estimand
    from ipsbayes.present.text import label_of
    from ipsbayes.report.tables import csv_nb, labelled, sentence, summarise

    draws = xr.DataArray(np.random.default_rng(2).normal(5, 1, (1, 200)), dims=("chain", "draw"))
    estimands = xr.Dataset(
        {
            "complier_share": estimand(draws, "Share of compliers", "%", null=None, label_nb="Andel compliers"),
            "old_run": estimand(draws, "Residual SD", "points", null=None),  # written before label_nb existed
        }
    )
    summary = summarise(estimands, "eti", 0.9)
    assert list(summary["label"]) == ["Share of compliers", "Residual SD"]  # summary.csv stays English
    norsk = labelled(summary, estimands, "nb")
    assert list(norsk["label"]) == ["Andel compliers", "Residual SD"]  # falls back to English without label_nb
    assert list(labelled(summary, estimands, "en")["label"]) == list(summary["label"])
    assert "Andel compliers" in csv_nb(norsk).decode("utf-8-sig")
    row = {**norsk.iloc[0].to_dict(), "element": ""}
    assert sentence(row, 0.9, "eti", "nb").startswith("Andel compliers: ")
    assert label_of(estimands["complier_share"].attrs, "en") == "Share of compliers"
    assert label_of(estimands["old_run"].attrs, "nb") == "Residual SD"


def test_norwegian_ratios_and_shipped_variants_read_in_norwegian() -> None:
    """A ratio has no unit word in either language; the shipped variant has a Norwegian name."""
    from ipsbayes.present.answers import analysis_name
    from ipsbayes.present.phrases import amount
    from ipsbayes.present.text import unit_of

    unit = unit_of({"unit": "ratio"}, "nb")
    assert amount(0.438, unit, "nb") == amount(0.438, "ratio", "nb") == "0,438"
    assert analysis_name("variant: no_exclusion_restriction", {}, "nb") == "varianten uten eksklusjonsrestriksjonen"


def test_the_shipped_ips_ung_configs_name_their_outcome_in_norwegian() -> None:
    """A Norwegian report said "oppnår work, apprenticeship or education at 12 months"."""
    from ipsbayes.runner import check

    from .conftest import REPO

    for name in ("ipsung_employment", "ipsung_fidelity"):
        plan = check(REPO / "models" / f"{name}.toml")
        words = plan.family.vocabulary(plan.spec, plan.data)
        assert words["outcome_nb"] == "arbeid, læreplass eller utdanning etter 12 måneder"
        assert words["outcome"] == "work, apprenticeship or education at 12 months"


def test_a_hidden_count_cannot_be_worked_out_from_the_published_total() -> None:
    """none 879, work 413, apprenticeship 205, education 3 of 1,500: hiding the 3 alone left it as 1,500 - 1,497."""
    import numpy as np

    from ipsbayes.present.cells import suppress_counts_of_a_known_total

    shown, secondary = suppress_counts_of_a_known_total([879, 413, 205, 3], 5)
    np.testing.assert_array_equal(np.isnan(shown), [False, False, True, True])
    np.testing.assert_array_equal(secondary, [False, False, True, False])
    shown, secondary = suppress_counts_of_a_known_total([879, 0, 2, 3], 5)  # the two small ones hold 5 together
    np.testing.assert_array_equal(np.isnan(shown), [False, False, True, True])
    assert not secondary.any()
    shown, secondary = suppress_counts_of_a_known_total([879, 413, 0], 5)
    assert not np.isnan(shown).any() and not secondary.any()
