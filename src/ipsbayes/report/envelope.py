"""The simultaneous ECDF envelope of the rank plots: ArviZ's simulation with each binomial CDF computed once.

``arviz_stats.ecdf_utils.ecdf_pit`` finds the pointwise level whose band holds a whole uniform ECDF
with the stated probability by simulating 1,000 uniform samples one at a time, each costing two
binomial CDFs per evaluation point (about 0.6 s for 1,000 draws, paid by every run's rank plot).
This module draws the same uniforms from the same seeded generator and evaluates the same
expressions, but each binomial CDF once per (count, point) pair that occurs rather than once per
simulation and point (the counts at a point span a few dozen values): about 15 times fewer CDFs
at 1,000 draws. It returns the same numbers, bit for bit (``tests/test_rank_envelope.py`` compares
them with ArviZ's).

The envelope depends only on the chain length, the probability and the simulations, and a run's
rank plots need one or two lengths (draws thinned to their effective sample size), so
:func:`cached_envelope` keeps each computed envelope in the compile cache's folder
(:func:`ipsbayes.compile_cache.cache_dir`, folder ``envelopes``): a later run reads it in a
millisecond instead of computing it again (about 0.08 s of CPU per length at 1,000 draws).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import scipy
from scipy.special import bdtr, bdtrik

#: ArviZ's seed for the envelope simulation (``ecdf_pit``'s default generator)
ARVIZ_SEED = 214
#: simulations ArviZ uses for the envelope
SIMULATIONS = 1000


def simultaneous_envelope(
    n: int, prob: float, simulations: int = SIMULATIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluation points, lower and upper bound of the ``prob`` simultaneous band of a uniform ECDF.

    The same numbers as ``arviz_stats.ecdf_utils.ecdf_pit(np.linspace(0, 1, n), prob, simulations)``
    (one chain) returns for its points and bounds.

    Parameters
    ----------
    n : int
        Draws in the chain (at least 2).
    prob : float
        Simultaneous coverage of the band.
    simulations : int
        Uniform samples simulated to calibrate the pointwise level.

    Returns
    -------
    points, lower, upper : ndarray
        ``n + 1`` points from 0 to 1 and the band's bounds there.
    """
    eval_points = np.arange(1, n) / n
    uniforms = np.random.default_rng(ARVIZ_SEED).uniform(0, 1, size=(simulations, n))  # ArviZ's draws, in order
    ordered = np.sort(uniforms, axis=1)
    counts = np.empty((simulations, len(eval_points)), dtype=np.intp)
    for row, sample in enumerate(ordered):
        counts[row] = np.searchsorted(sample, eval_points, side="right")
    counts = (counts / n * n).astype(int)  # ArviZ's (ecdf * n_draws).astype(int), rounding included
    # ArviZ evaluates bdtr(count, n, point) and bdtr(count - 1, n, point) for every simulation and point; the
    # counts at a point span a few dozen values, so each (count, point) pair is evaluated once, in a table
    lowest = counts.min(axis=0) - 1
    table = bdtr(lowest[None, :] + np.arange(int((counts - lowest).max()) + 1)[:, None], n, eval_points[None, :])
    points = np.arange(len(eval_points))[None, :]
    lower_tail = np.min(table[counts - lowest, points], axis=1)
    upper_tail = np.min(1 - table[counts - 1 - lowest, points], axis=1)
    # Python's min(lower, upper) as ArviZ takes it: the upper tail only where it is smaller, so a NaN upper
    # tail (a count of 0 gives bdtr(-1, ...) = NaN) leaves the lower one
    gamma = 1 - 2 * np.where(upper_tail < lower_tail, upper_tail, lower_tail)
    pointwise = np.quantile(gamma, prob)
    tail = (1 - pointwise) / 2
    lower = np.ceil(bdtrik(tail, n, eval_points)) / n
    upper = np.ceil(bdtrik(1 - tail, n, eval_points)) / n
    return (
        np.concatenate(([0.0], eval_points, [1.0])),
        np.concatenate(([0.0], lower, [1.0])),
        np.concatenate(([0.0], upper, [1.0])),
    )


#: folder of stored envelopes inside the compile cache's folder
CACHE_SUBDIR = "envelopes"


def cached_envelope(n: int, prob: float, simulations: int = SIMULATIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`simultaneous_envelope`, read from the cache folder when a run has computed it before.

    The file is named by everything the numbers depend on (``n``, ``prob``, ``simulations``,
    ArviZ's seed, the numpy and scipy versions that draw the uniforms and evaluate the binomial
    CDFs). A file that cannot be read, or whose numbers cannot be an envelope of ``n`` draws
    (:func:`_read`), is computed again and replaced; with the cache off (``IPSBAYES_CACHE_DIR=off``) or not writable
    the envelope is computed each time. The numbers are those :func:`simultaneous_envelope`
    returns (``tests/test_rank_envelope.py``).
    """
    folder = _cache_folder()
    path = None if folder is None else folder / f"{_key(n, prob, simulations)}.npy"
    if path is not None and (stored := _read(path, n)) is not None:
        return stored
    computed = simultaneous_envelope(n, prob, simulations)
    if path is not None:
        _write(path, np.stack(computed))
    return computed


def _key(n: int, prob: float, simulations: int) -> str:
    """A file name for the envelope's arguments and the versions of the code that computes it."""
    text = f"{n}|{float(prob)!r}|{simulations}|{ARVIZ_SEED}|numpy {np.__version__}|scipy {scipy.__version__}|v1"
    return f"n{n}-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _cache_folder() -> Path | None:
    """The writable envelope folder in the compile cache's folder, or None (cache off or not writable)."""
    from ipsbayes.compile_cache import writable_subfolder

    return writable_subfolder(CACHE_SUBDIR)


def _read(path: Path, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The stored envelope at ``path`` if it is one for ``n`` draws, else None (a miss, computed again).

    Only a regular file of the size such an array takes is opened (not a pipe, a device or a
    file that would fill the memory); anything ``np.load`` cannot read as one float array of
    shape (3, n + 1), or whose numbers cannot be an envelope of ``n`` draws (the points ``k / n``;
    bounds that are multiples of ``1 / n``, never fall and run from 0 to 1), is a miss. The folder
    is trusted as the compile cache beside it is: a planted file that passes these checks is read
    as ipsbayes wrote it.
    """
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode) or status.st_size > 3 * (n + 1) * 8 + 4096:
            return None
        with path.open("rb") as file:
            stored = np.load(file, allow_pickle=False)
    except Exception:  # any file that is not our array is a miss, never an error
        return None
    if not isinstance(stored, np.ndarray) or stored.shape != (3, n + 1) or stored.dtype != np.float64:
        return None
    points, lower, upper = np.asarray(stored)
    expected = np.concatenate(([0.0], np.arange(1, n) / n, [1.0]))
    with np.errstate(invalid="ignore"):
        whole = all(np.allclose(bound * n, np.round(bound * n), rtol=0, atol=1e-6) for bound in (lower, upper))
        plausible = (
            np.array_equal(points, expected)
            and whole
            and bool(np.all(np.diff(lower) >= 0) and np.all(np.diff(upper) >= 0))
            and lower[0] == upper[0] == 0.0
            and lower[-1] == upper[-1] == 1.0
        )
    return (points, lower, upper) if plausible else None


def _write(path: Path, values: np.ndarray) -> None:
    """Store ``values`` at ``path`` through a temporary file in the same folder: readers never see half a file.

    Only a missing entry or a regular file (a damaged envelope) is replaced: a link, pipe or folder
    at the path is left as it is, and the envelope is computed again next time.
    """
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, values, allow_pickle=False)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


__all__ = ["CACHE_SUBDIR", "cached_envelope", "simultaneous_envelope"]
