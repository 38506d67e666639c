"""Small cells, round 5b: the rule of round 5 in the generic multilevel report, competing outcomes and the share check.

Round 5 (:mod:`tests.test_small_cells_round5`) made one function decide which observed share is
published (``present.common.publishable_shares``): a share is withheld when its group has 1 to
min_cell - 1 members, or 1 to min_cell - 1 with the outcome, or as few without it (zero stays). It was
applied to the hierarchical logistic and time-to-event reports only; the generic multilevel report
(observed group rates), the competing-outcomes figure (observed shares per service and outcome) and the
outcome families' share check (``families.figures.proportions``) still withheld by group size alone and
published 6.7% = 2 of 30, 96.3% = 26 of 27 and 3 of 20 trials. Here each applies the same function, says
how many it withholds for each reason, and publishes nothing resting on a small cell. A continuous
outcome's group mean counts no one with an outcome: there only the group size rule applies.

Built on hand-made estimands and data trees (no sampling): every count is known.
"""

from __future__ import annotations

import json
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ipsbayes.present import ReportContext
from ipsbayes.present.cells import too_small
from ipsbayes.present.style import Style

from .wording import context, draws

matplotlib.use("Agg")

GROUPS = ["H1", "H2", "H3", "H4", "H5", "H6", "H7"]
#: rows (or trials) and those with the outcome per herd, as in round 5: H1 is small, H2 rests on 2 with the
#: outcome, H3 on 1 without it, H7 on 3 with it (4 withheld: 1 for its size, 3 for the counts behind it)
N = np.array([3.0, 30.0, 27.0, 40.0, 20.0, 50.0, 12.0])
EVENTS = np.array([1.0, 2.0, 26.0, 12.0, 0.0, 25.0, 3.0])
RISKY = ("6.7", "96.3", "25.0", "33.3")  # observed rates (%) resting on a small cell


def safe(values: np.ndarray, n: np.ndarray, events: np.ndarray, min_cell: int) -> None:
    """No published value rests on 1 to min_cell - 1 members, with the outcome, or without it."""
    shown = np.isfinite(values)
    assert not (shown & (too_small(n, min_cell) | too_small(events, min_cell) | too_small(n - events, min_cell))).any()


def no_risky_number(text: str, numbers=RISKY) -> None:
    for share in numbers:
        assert not re.search(rf"(?<![\d.,]){share.replace('.', '[.,]')}\s?%", text), (share, text)


# ------------------------------------------------------------------ the generic multilevel report


def multilevel_estimands(noun: str, raw: np.ndarray, n: np.ndarray = N) -> xr.Dataset:
    unit = "%" if noun == "rate" else "kg"
    centres = np.linspace(20.0, 60.0, len(GROUPS))
    pooled = draws(0.0, 2.0, 1, shape=(len(GROUPS),)) + centres
    return xr.Dataset(
        {
            f"herd_{noun}": xr.DataArray(pooled, dims=("chain", "draw", "herd"), attrs={"unit": unit}),
            f"herd_raw_{noun}": ("herd", raw, {"unit": unit}),
            "herd_n": ("herd", n),
        },
        coords={"herd": GROUPS},
        attrs={
            "vocabulary": json.dumps({"herd": "herd", "units": "animals"}),
            "outcome_family": "binomial" if noun == "rate" else "gaussian",
        },
    )


def observed_circles(fig) -> np.ndarray:
    """x of the open red circles (observed values) the figure draws, one per group, NaN where none is."""
    found = [
        c
        for ax in fig.axes
        for c in ax.collections
        if len(c.get_offsets()) == len(GROUPS) and np.allclose(c.get_edgecolor()[0][:3], (0.839, 0.153, 0.157), 0.01)
    ]
    assert len(found) == 1, found
    return np.ma.filled(np.ma.asarray(found[0].get_offsets(), dtype=float), np.nan)[:, 0]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_generic_rates_rest_on_no_small_count_with_or_without_the_outcome(language: str) -> None:
    """Binomial herds (trials as the denominator): 2 of 30, 26 of 27 and 3 of 12 were published; no longer."""
    from ipsbayes.models.multilevel_report import groups_section

    ctx = context(multilevel_estimands("rate", 100 * EVENTS / N), language, min_cell=5)
    text = groups_section(ctx).replace("\\_", "_")  # Markdown escapes the underscore
    no_risky_number(text)
    if language == "en":
        assert "Among the 3 herds whose observed rate rests on no cell under 5" in text
        assert "from 0.0% to 50.0%" in text
        assert (
            "(4 herds; report.min_cell = 5): 1 herd with fewer than 5 animals and 3 herds whose rates rest on" in text
        )
        assert "fewer than 5 animals with the outcome or fewer than 5 without it" in text
    else:
        assert "Blant de 3 gruppene" in text
        assert "(4 herder; report.min_cell = 5): 1 herd med færre enn 5 animals og 3 herder der observert andel" in text
    from ipsbayes.models.multilevel_report import group_shares

    shares = group_shares(ctx, "herd", "rate")  # what the text and the figure publish
    safe(shares.values, N, EVENTS, 5)
    assert shares.shown.tolist() == [False, False, False, True, True, True, False]
    assert shares.values[4] == 0.0  # 0 of 20 identifies no one


def test_generic_caterpillar_draws_no_small_cell_and_its_caption_counts_the_reasons() -> None:
    from ipsbayes.models.multilevel_report import groups_caterpillar

    ctx = context(multilevel_estimands("rate", 100 * EVENTS / N), "en", min_cell=5)
    fig, caption = groups_caterpillar(ctx)
    x = observed_circles(fig)
    plt.close(fig)
    ordered = np.sort(100 * EVENTS[[3, 4, 5]] / N[[3, 4, 5]])
    np.testing.assert_allclose(np.sort(x[np.isfinite(x)]), ordered)
    assert int((~np.isfinite(x)).sum()) == 4
    assert "(4 groups; report.min_cell = 5): 1 group with fewer than 5 animals and 3 groups whose values" in caption


def test_review_case_min_cell_ten_in_the_generic_report() -> None:
    """At min_cell 10 the 12-animal herd with 3 events and the 27 with 26 stay withheld; 0 of 20 stays."""
    from ipsbayes.models.multilevel_report import groups_caterpillar

    fig, caption = groups_caterpillar(context(multilevel_estimands("rate", 100 * EVENTS / N), min_cell=10))
    x = observed_circles(fig)
    plt.close(fig)
    assert int(np.isfinite(x).sum()) == 3 and "1 group with fewer than 10 animals and 3 groups" in caption


@pytest.mark.parametrize("language", ["en", "nb"])
def test_generic_means_follow_the_group_size_rule_only(language: str) -> None:
    """A weight in kg counts no one with an outcome: every herd of at least min_cell animals is shown."""
    from ipsbayes.models.multilevel_report import groups_section

    n = N.copy()
    n[4] = 0.0  # a herd without rows has no observed mean (was shown as 0 kg)
    means = np.array([501.0, 502.0, 503.0, 504.0, 0.0, 506.0, 507.0])
    ctx = context(multilevel_estimands("mean", means, n), language, min_cell=5)
    text = groups_section(ctx).replace("\\_", "_")
    assert "501" not in text and "with the outcome" not in text and "med utfallet" not in text
    if language == "en":
        assert "Among the 5 herds with at least 5 animals" in text
        assert "(1 herd with fewer than 5 animals; report.min_cell = 5)" in text
    else:
        assert "(1 herd med færre enn 5 animals; report.min_cell = 5)" in text
    from ipsbayes.models.multilevel_report import group_shares

    shares = group_shares(ctx, "herd", "mean")
    assert shares.shown.tolist() == [False, True, True, True, False, True, True]
    assert shares.hidden == 1 and not shares.few_outcomes.any()


# ------------------------------------------------------------------ competing outcomes

SERVICES = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"]
CATEGORIES = ["job", "education", "none"]
#: participants per service and outcome. S1 is small; S2 has 2 in a job (and 13 in education would give it
#: away: 30 - 15 - 13); S3 has 26 in a job and 1 in education (26 of 27 leaves 1 outside); S7 3 and 4
COUNTS = np.array(
    [[1, 1, 1], [2, 13, 15], [26, 1, 0], [12, 14, 14], [0, 10, 10], [25, 20, 5], [3, 4, 5]],
    dtype=float,
)


def competing_estimands() -> xr.Dataset:
    n = COUNTS.sum(axis=1)
    pooled = draws(0.0, 2.0, 2, shape=(len(SERVICES), len(CATEGORIES))) + np.linspace(10, 60, 3)
    return xr.Dataset(
        {
            "service_share": xr.DataArray(pooled, dims=("chain", "draw", "service", "category"), attrs={"unit": "%"}),
            "category_share": xr.DataArray(
                draws(0.0, 1.0, 3, shape=(len(CATEGORIES),)) + np.array([30.0, 30.0, 40.0]),
                dims=("chain", "draw", "category"),
                attrs={"unit": "%"},
            ),
            "service_observed_share": (("service", "category"), 100 * COUNTS / n[:, None]),
            "service_n": ("service", n),
        },
        coords={"service": SERVICES, "category": CATEGORIES},
    )


def competing_points(fig) -> np.ndarray:
    """Observed shares the figure draws (service x category), NaN where none is drawn."""
    out = []
    for ax in fig.axes[: len(CATEGORIES)]:
        found = [c for c in ax.collections if len(c.get_offsets()) == len(SERVICES) and not len(c.get_facecolor())]
        assert len(found) == 1, ax.collections
        out.append(np.ma.filled(np.ma.asarray(found[0].get_offsets(), dtype=float), np.nan)[:, 0])
    return np.column_stack(out)


def withheld_total_safe(values: np.ndarray, counts: np.ndarray, min_cell: int) -> None:
    """What is withheld from a service (its total known) is 0 or at least min_cell together, unless all is."""
    for row, count in zip(values, counts, strict=True):
        hidden = ~np.isfinite(row)
        if hidden.all():
            continue
        together = count[hidden].sum()
        assert together == 0 or together >= min_cell, (row, count)


@pytest.mark.parametrize("language", ["en", "nb"])
def test_competing_outcome_shares_withhold_small_categories_and_say_why(language: str) -> None:
    from ipsbayes.models.competing_outcomes_report import outcome_shares

    ctx = context(competing_estimands(), language, min_cell=5)
    fig, caption = outcome_shares(ctx)
    values = competing_points(fig)
    plt.close(fig)
    n = COUNTS.sum(axis=1)
    for k in range(len(CATEGORIES)):
        safe(values[:, k], n, COUNTS[:, k], 5)
    withheld_total_safe(values, COUNTS, 5)
    assert np.isnan(values[1, 1])  # 13 of 30 in education: with the 15 shown it would give the 2 away
    assert values[2, 2] == 0.0 and values[4, 0] == 0.0  # none in an outcome identifies no one
    assert np.isfinite(values[6, 2])  # 5 of 12: the withheld 3 and 4 hold 7 together
    if language == "en":
        assert (
            "1 service with fewer than 5 participants and 3 services whose shares rest on fewer than 5 participants"
            in caption
        )
        assert (
            "in an outcome or fewer than 5 in the others" in caption and "(4 services; report.min_cell = 5)" in caption
        )
        assert "would give a withheld one away" in caption
    else:
        assert "1 tjeneste med færre enn 5 deltakere og 3 tjenester der andelene bygger på færre enn 5" in caption
    from ipsbayes.models.competing_outcomes_report import category_shares

    published, withheld = category_shares(ctx)
    np.testing.assert_allclose(published, values)  # the figure draws exactly these, the caption counts them
    assert withheld.hidden == 4 and int(withheld.few_units.sum()) == 1


def test_competing_outcome_shares_of_large_cells_are_all_drawn() -> None:
    from ipsbayes.models.competing_outcomes_report import outcome_shares

    ctx = context(competing_estimands().isel(service=[3, 5]), "en", min_cell=5)
    fig, caption = outcome_shares(ctx)
    plt.close(fig)
    assert "not shown" not in caption and "withheld" not in caption


# ------------------------------------------------------------------ the outcome families' share check


def share_tree(successes: np.ndarray, trials: np.ndarray) -> xr.DataTree:
    rng = np.random.default_rng(2)
    predicted = rng.binomial(trials.astype(int), 0.4, size=(1, 40, trials.size))
    return xr.DataTree.from_dict(
        {
            "observed_data": xr.Dataset({"y": ("obs", successes)}),
            "posterior_predictive": xr.Dataset({"y": (("chain", "draw", "obs"), predicted)}),
            "constant_data": xr.Dataset({"trials": ("obs", trials)}),
        }
    )


def share_context(tree: xr.DataTree, language: str, min_cell: int = 5) -> ReportContext:
    estimands = xr.Dataset(attrs={"vocabulary": "{}", "response": "y"})
    return ReportContext(estimands, tree, pd.DataFrame(), Style("eti", 0.9, language), min_cell=min_cell)


@pytest.mark.parametrize("language", ["en", "nb"])
def test_share_check_withholds_rows_of_a_few_successes_or_failures(language: str) -> None:
    from ipsbayes.families.figures import proportions

    successes = np.array([1, 2, 18, 0, 15, 20, 7])
    trials = np.array([3, 20, 20, 20, 30, 20, 20])
    fig, caption = proportions(share_context(share_tree(successes, trials), language))
    dots = next(line for line in fig.axes[0].get_lines() if line.get_marker() == "o")
    plt.close(fig)
    drawn = np.asarray(dots.get_ydata(), float)
    assert sorted(np.round(drawn[np.isfinite(drawn)], 6).tolist()) == [0.0, 35.0, 50.0, 100.0]
    if language == "en":
        assert (
            "Observed shares of 3 rows are not drawn (report.min_cell = 5): 1 row with fewer than 5 trials and "
            "2 rows resting on fewer than 5 trials with the outcome or fewer than 5 without it." in caption
        )
    else:
        assert "Observerte andeler for 3 rader er ikke tegnet (report.min_cell = 5): 1 rad med færre enn 5" in caption
