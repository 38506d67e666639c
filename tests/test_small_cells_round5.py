"""Small cells, round 5: observed service shares rest on no cell under ``report.min_cell``, and the words say so.

Outside review: (F3) the time-to-event service figure's caption counted only the services with fewer
than min_cell participants (2) while the figure hid 13, the other 11 because their share rests on 1 to
min_cell - 1 first transitions, and the text gave every one of the 13 the first reason; (F4) the
hierarchical logistic report published observed service rates resting on 1 to min_cell - 1 participants
with the outcome or without it (6.7% = 2 of 30, 96.3% = 26 of 27) in its text and figure points.

The rule now: an observed share is published only when the service's participants, those with the
outcome and those without it each number zero or at least min_cell; one function decides, and the
figure's points, the caption's count and reasons, and the text all come from it. Model-based estimates
stay for every service. Built on hand-made estimands (no sampling): every count here is known.
"""

from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from ipsbayes.present.cells import too_small

from .wording import context, draws

matplotlib.use("Agg")

SERVICES = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"]
#: participants, and those with the outcome (first transition by the month); S1 is small, S2 rests on 2 with the
#: outcome, S3 on 1 without it, S7 on 3 with it: 4 withheld, 1 for its size and 3 for the counts behind it
N = np.array([3.0, 30.0, 27.0, 40.0, 20.0, 50.0, 12.0])
EVENTS = np.array([1.0, 2.0, 26.0, 12.0, 0.0, 25.0, 3.0])
RISKY = {"S2": "6.7", "S3": "96.3", "S7": "25.0"}  # observed shares (%) that rest on small counts


def _service_draws(seed: int = 0) -> xr.DataArray:
    centres = np.linspace(20.0, 60.0, len(SERVICES))
    values = draws(0.0, 2.0, seed, shape=(len(SERVICES),)) + centres
    return xr.DataArray(values, dims=("chain", "draw", "service"), coords={"service": SERVICES}, attrs={"unit": "%"})


def tte_estimands() -> xr.Dataset:
    months = np.arange(1, 25)
    curve = np.clip(draws(0.0, 1.0, 3, shape=(months.size,)) + 2.0 * months, 0, 100)
    return xr.Dataset(
        {
            "service_incidence_any": _service_draws().assign_attrs(month=12),
            "incidence_curve_any": xr.DataArray(curve, dims=("chain", "draw", "month"), coords={"month": months}),
            "service_observed_incidence_any": ("service", 100 * EVENTS / N),
            "service_observed_events_any": ("service", EVENTS),
            "service_n": ("service", N),
        },
        coords={"service": SERVICES},
    )


def logistic_estimands() -> xr.Dataset:
    grid = np.linspace(40.0, 100.0, 31)
    curve = draws(0.0, 1.0, 5, shape=(grid.size,)) + 20.0 + 0.3 * grid
    return xr.Dataset(
        {
            "service_rate": _service_draws(1),
            "service_raw_rate": ("service", 100 * EVENTS / N),
            "service_n": ("service", N),
            "outcome_rate": xr.DataArray(draws(40.0, 2.0, 2), dims=("chain", "draw")),
            "service_fidelity": ("service", np.linspace(50.0, 95.0, len(SERVICES))),
            "fidelity_curve": xr.DataArray(
                curve,
                dims=("chain", "draw", "fidelity_score"),
                coords={"fidelity_score": grid},
                attrs={"label": "Expected rate by IPS-25 score"},
            ),
        },
        coords={"service": SERVICES},
    )


def observed_points(fig) -> np.ndarray:
    """x of the observed (open red) circles each service row of the figure draws, NaN where none is drawn."""
    found = [
        c
        for ax in fig.axes
        for c in ax.collections
        if "observ" in str(c.get_label()) and len(c.get_offsets()) == len(SERVICES)
    ]
    assert len(found) == 1, [c.get_label() for ax in fig.axes for c in ax.collections]
    offsets = np.ma.filled(np.ma.asarray(found[0].get_offsets(), dtype=float), np.nan)
    return offsets[:, 0]


def safe(values: np.ndarray, n: np.ndarray, events: np.ndarray, min_cell: int) -> None:
    """No published value rests on 1 to min_cell - 1 participants, with the outcome, or without it."""
    shown = np.isfinite(values)
    assert not (shown & (too_small(n, min_cell) | too_small(events, min_cell) | too_small(n - events, min_cell))).any()


def counted(caption: str, number: int, word: str = "services?") -> bool:
    return re.search(rf"(?<![\d.]){number} {word}\b", caption) is not None


# ------------------------------------------------------------------ the one rule


def test_the_rule_withholds_small_counts_with_and_without_the_outcome_and_says_why() -> None:
    from ipsbayes.present.cells import publishable_shares

    shares = publishable_shares(100 * EVENTS / N, N, EVENTS, 5)
    np.testing.assert_array_equal(shares.shown, [False, False, False, True, True, True, False])
    assert shares.values[4] == 0.0  # zero with the outcome identifies nobody and stays
    assert shares.few_units.tolist() == [True] + [False] * 6
    assert shares.few_outcomes.tolist() == [False, True, True, False, False, False, True]
    assert shares.hidden == 4
    assert publishable_shares(100 * EVENTS / N, N, None, 5).hidden == 7  # counts not kept: nothing shown
    rng = np.random.default_rng(0)
    for _ in range(50):  # whatever the counts, nothing shown rests on a small cell and every hidden one is counted
        n = rng.integers(0, 40, size=30).astype(float)
        events = np.floor(rng.uniform(0, 1, size=30) * (n + 1))
        min_cell = int(rng.integers(2, 12))
        shares = publishable_shares(100 * events / np.where(n > 0, n, 1), n, events, min_cell)
        safe(shares.values, n, events, min_cell)
        assert shares.hidden == int((~shares.shown & (n > 0)).sum())


# ------------------------------------------------------------------ F3: time to event


@pytest.mark.parametrize("language", ["en", "nb"])
def test_time_to_event_caption_counts_what_the_figure_hides_with_both_reasons(language: str) -> None:
    from ipsbayes.models.time_to_event_figures import service_incidence

    ctx = context(tte_estimands(), language, min_cell=5)
    fig, caption = service_incidence(ctx)
    x = observed_points(fig)
    plt.close(fig)
    safe(x, N, EVENTS, 5)
    hidden = int((~np.isfinite(x)).sum())
    assert hidden == 4
    services = "services?" if language == "en" else "tjenester?"
    assert counted(caption, hidden, services), caption  # the total withheld, as the figure withholds it
    assert counted(caption, 1, services) and counted(caption, 3, services), caption  # each reason with its count
    if language == "en":
        assert "1 service with fewer than 5 participants" in caption
        assert "3 services whose shares rest on fewer than 5 participants with a first transition" in caption
    else:
        assert "1 tjeneste med færre enn 5 deltakere" in caption
        assert "3 tjenester der andelene bygger på færre enn 5 deltakere med første overgang" in caption


@pytest.mark.parametrize("language", ["en", "nb"])
def test_time_to_event_text_gives_the_true_reasons(language: str) -> None:
    from ipsbayes.models.time_to_event_report import services_section

    text = services_section(context(tte_estimands(), language, min_cell=5))
    # the old note put every withheld share down to "fewer than 5 participants" ("4 suppressed")
    assert "Observed values based on fewer than" not in text and "Observerte verdier basert på" not in text
    if language == "en":
        assert "1 service with fewer than 5 participants and 3 services whose shares rest on" in text
        assert "across the 3 services" in text
    else:
        assert "1 tjeneste med færre enn 5 deltakere og 3 tjenester der andelene bygger på" in text
        assert "mellom de 3 tjenestene" in text
    for share in RISKY.values():
        assert not re.search(rf"(?<![\d.,]){share.replace('.', '[.,]')}\s?%", text), share


def test_time_to_event_hides_a_share_resting_on_a_few_participants_without_a_transition() -> None:
    """96.3% of 27 is 1 person without a first transition: withheld, as the text and caption now say."""
    from ipsbayes.models.time_to_event_figures import publishable_service_observed

    shown = publishable_service_observed(context(tte_estimands(), min_cell=5))
    assert np.isnan(shown[SERVICES.index("S3")])
    safe(shown, N, EVENTS, 5)


# ------------------------------------------------------------------ F4: hierarchical logistic


@pytest.mark.parametrize("language", ["en", "nb"])
def test_logistic_text_publishes_no_rate_of_a_few_people(language: str) -> None:
    from ipsbayes.present.common import services_section

    text = services_section(context(logistic_estimands(), language, min_cell=5))
    for share in RISKY.values():  # 6.7% (2 of 30), 96.3% (1 of 27 without it), 25.0% (3 of 12)
        assert not re.search(rf"(?<![\d.,]){share.replace('.', '[.,]')}\s?%", text), (share, text)
    shown = [100 * e / n for e, n in zip(EVENTS, N, strict=True)][3:6]
    low, high = f"{min(shown):.1f}", f"{max(shown):.1f}"
    if language == "en":
        assert f"from {low}% to {high}%" in text and "Among the 3 services" in text
        assert "1 service with fewer than 5 participants and 3 services whose rates rest on fewer than 5" in text
        assert "Model-based rates are shown for every service" in text
    else:
        assert "Blant de 3 tjenestene" in text
        assert "1 tjeneste med færre enn 5 deltakere og 3 tjenester der andelene bygger på færre enn 5" in text


@pytest.mark.parametrize("language", ["en", "nb"])
def test_logistic_caterpillar_draws_no_small_cell_and_its_caption_counts_the_hidden(language: str) -> None:
    from ipsbayes.present.common import service_caterpillar

    fig, caption = service_caterpillar(context(logistic_estimands(), language, min_cell=5))
    x = observed_points(fig)
    plt.close(fig)
    safe(x, N, EVENTS, 5)
    hidden = int((~np.isfinite(x)).sum())
    services = "services?" if language == "en" else "tjenester?"
    assert hidden == 4 and counted(caption, hidden, services), caption
    assert counted(caption, 1, services) and counted(caption, 3, services), caption


def test_logistic_fidelity_curve_draws_no_small_cell_and_says_so() -> None:
    from ipsbayes.models.hierarchical_logistic_report import fidelity_curve

    fig, caption = fidelity_curve(context(logistic_estimands(), "en", min_cell=5))
    found = [c for ax in fig.axes for c in ax.collections if "observ" in str(c.get_label())]
    assert len(found) == 1
    y = np.ma.filled(np.ma.asarray(found[0].get_offsets(), dtype=float), np.nan)[:, 1]
    plt.close(fig)
    safe(y, N, EVENTS, 5)
    assert int((~np.isfinite(y)).sum()) == 4 and counted(caption, 4), caption


def test_review_case_min_cell_ten() -> None:
    """The review's run with min_cell = 10: 2 of 30 (6.7%) and 26 of 27 (96.3%) were published; no longer."""
    from ipsbayes.present.common import service_caterpillar, services_section

    ctx = context(logistic_estimands(), "en", min_cell=10)
    text = services_section(ctx)
    fig, caption = service_caterpillar(ctx)
    x = observed_points(fig)
    plt.close(fig)
    safe(x, N, EVENTS, 10)
    assert "6.7%" not in text and "96.3%" not in text
    # S1 (3) and S7 (12 with 3 of them) and S2, S3: 1 for size, 3 for counts; S5 (0 of 20) and S4, S6 stay
    assert counted(caption, 4) and "1 service with fewer than 10 participants" in caption
    assert int(np.isfinite(x).sum()) == 3
