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


def test_cached_envelope_is_stored_once_and_read_back(tmp_path, monkeypatch) -> None:
    from ipsbayes.report import envelope

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    first = envelope.cached_envelope(120, 0.99)
    stored = list((tmp_path / envelope.CACHE_SUBDIR).glob("*.npy"))
    assert len(stored) == 1 and not list((tmp_path / envelope.CACHE_SUBDIR).glob(".tmp-*"))

    def not_again(*args, **kwargs):
        raise AssertionError("computed again although it was stored")

    monkeypatch.setattr(envelope, "simultaneous_envelope", not_again)
    second = envelope.cached_envelope(120, 0.99)
    points, _, lower, upper = ecdf_pit(np.linspace(0, 1, 120), 0.99, 1000)
    for a, b, arviz in zip(first, second, (points, lower, upper), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, arviz)


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"not an array"),
        lambda path: np.save(path, np.zeros((3, 5))),  # another length
        lambda path: np.save(path, np.full((3, 121), 0.5)),  # the right shape, but not an envelope of 120 draws
    ],
)
def test_a_damaged_cache_file_is_computed_again(tmp_path, monkeypatch, damage) -> None:
    from ipsbayes.report import envelope

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    expected = envelope.simultaneous_envelope(120, 0.9)
    envelope.cached_envelope(120, 0.9)
    (path,) = (tmp_path / envelope.CACHE_SUBDIR).glob("*.npy")
    damage(path)
    for mine, theirs in zip(envelope.cached_envelope(120, 0.9), expected, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(np.load(path), np.stack(expected))  # replaced by the computed one


def test_cache_off_stores_nothing_and_keys_differ(tmp_path, monkeypatch) -> None:
    from ipsbayes.report import envelope

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", "off")
    for mine, theirs in zip(envelope.cached_envelope(50, 0.99), envelope.simultaneous_envelope(50, 0.99), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert envelope._cache_folder() is None and not list(tmp_path.iterdir())
    keys = {envelope._key(*args) for args in [(50, 0.99, 1000), (51, 0.99, 1000), (50, 0.9, 1000), (50, 0.99, 7)]}
    assert len(keys) == 4
