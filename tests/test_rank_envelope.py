"""The rank plots' envelope is ArviZ's simulated envelope, the same numbers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from arviz_stats.ecdf_utils import ecdf_pit

from ipsbayes.report.envelope import simultaneous_envelope


@pytest.mark.parametrize("n", [2, 3, 9, 137, 500, 1000])
@pytest.mark.parametrize("prob", [0.99, 0.9, 0.5])
def test_envelope_equals_arviz(n: int, prob: float) -> None:
    points, _, lower, upper = ecdf_pit(np.linspace(0, 1, n), prob, 1000)
    ours = simultaneous_envelope(n, prob)
    for mine, theirs in zip(ours, (points, lower, upper), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_envelope_with_few_simulations_equals_arviz() -> None:
    # few simulations: a quantile between two simulated levels, and counts of zero in many of them
    points, _, lower, upper = ecdf_pit(np.linspace(0, 1, 40), 0.95, 7)
    for mine, theirs in zip(simultaneous_envelope(40, 0.95, simulations=7), (points, lower, upper), strict=True):
        np.testing.assert_array_equal(mine, theirs)
