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


def _key_path(tmp_path, envelope, n: int, prob: float):
    folder = tmp_path / envelope.CACHE_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{envelope._key(n, prob, envelope.SIMULATIONS)}.npy"


@pytest.mark.parametrize(
    "plant",
    [
        lambda path: np.savez(path.with_suffix(""), a=np.zeros(3)) or path.with_suffix(".npz").rename(path),
        lambda path: path.write_bytes(b"PK\x03\x04" + b"\x00" * 64),  # looks like a zip archive
        lambda path: path.write_bytes(  # a header that declares a terabyte of numbers
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
            + b" " * 50
            + b"\n"
        ),
        lambda path: np.save(path, np.stack([np.linspace(0, 1, 121), np.zeros(121), np.ones(121)])),  # no envelope
        lambda path: np.save(path, np.array([1, 2, 3], dtype=object), allow_pickle=True),
    ],
)
def test_foreign_files_in_the_cache_are_misses_not_errors(tmp_path, monkeypatch, plant) -> None:
    """An outside review planted archives, a huge header and a well-formed non-envelope: runs failed or read them."""
    from ipsbayes.report import envelope

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    path = _key_path(tmp_path, envelope, 120, 0.99)
    plant(path)
    for mine, theirs in zip(
        envelope.cached_envelope(120, 0.99), envelope.simultaneous_envelope(120, 0.99), strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)


def test_a_pipe_or_link_at_the_key_is_neither_read_nor_replaced(tmp_path, monkeypatch) -> None:
    import os

    from ipsbayes.report import envelope

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    pipe = _key_path(tmp_path, envelope, 60, 0.99)
    os.mkfifo(pipe)  # reading it would block for ever
    expected = envelope.simultaneous_envelope(60, 0.99)
    for mine, theirs in zip(envelope.cached_envelope(60, 0.99), expected, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert pipe.is_fifo()
    users = tmp_path / "users_file.txt"
    users.write_text("mine")
    link = _key_path(tmp_path, envelope, 61, 0.99)
    link.symlink_to(users)
    envelope.cached_envelope(61, 0.99)
    assert link.is_symlink() and users.read_text() == "mine"


def test_every_genuine_envelope_reads_back(tmp_path, monkeypatch) -> None:
    from ipsbayes.report import envelope

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    for n in [*range(2, 40), 137, 500, 1000, 1001]:
        for prob in (0.99, 0.5):
            path = _key_path(tmp_path, envelope, n, prob)
            np.save(path, np.stack(envelope.simultaneous_envelope(n, prob)))
            assert envelope._read(path, n) is not None, (n, prob)
