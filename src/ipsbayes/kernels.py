"""Fused numba kernels for the estimands' innermost loops, cached on disk (issue 15).

The population-averaged estimands of a logit model are weighted means of ``expit(eta_i + c)`` over
every row, for every posterior and prior draw: the fidelity curve at about 33 values ``c`` and each
counterfactual contrast at a shift ``c`` per kind of row. At 150,000 rows and 4,000 draws that is
2e10 logistic terms for the curve alone, most of the work after sampling. With ``a_i = exp(-eta_i)``
each term is ``w_i / (1 + a_i f)`` with ``f = exp(-c)``, so no exponential is needed per row and
value. numpy computes it in four or five passes over the rows (gather, multiply, add one,
reciprocal, weighted sum); the kernels here compute it in one, with the sum reassociated so that it
vectorises (and, for the curve, one block of rows at a time so that it stays in the core's cache).
``benchmarks/fidelity_curve.py`` measures both ways. The results agree to about 1e-14 (the order of
the additions differs); a row whose ``a_i`` overflowed to infinity adds nothing in both.

Division is what bounds these loops, so where no product can overflow the kernels add the rows in
pairs with one division per pair: ``w_1 / d_1 + w_2 / d_2 = (w_1 d_2 + w_2 d_1) / (d_1 d_2)`` with
``d = 1 + a f`` (``_pairs`` kernels: the curve's loop alone takes 0.17 against 0.32 ns per term, the
estimands' sweep at 15,000 rows 0.88 against 1.00 s, ``benchmarks/results/estimand_kernels.md``).
Every ``d`` is at least 1, so the sum of positive terms keeps its relative rounding of a few units
in the last place. The pairs are taken only when the
largest ``a f`` is below :data:`PAIRS_BELOW`, so ``d_1 d_2`` stays finite; otherwise (a draw far in
a prior's tail, an overflowed row) the one-division kernels run.

The kernels release the GIL, so :func:`ipsbayes.chunks.for_each_chunk` runs them on the sampler's
cores. numba compiles them once per machine (about 0.2 s each) and keeps the machine code beside
the compiled models (:func:`ipsbayes.compile_cache.cache_dir`, folder ``kernels``), never inside the
package or a run folder; with that cache switched off they compile once per process. Where numba is
missing or fails, the same numbers come from numpy (:func:`logistic_curve_numpy`,
:func:`logistic_shifted_numpy`). ``tests/test_kernels.py`` checks both ways against the logistic
function written out, and ``tests/test_predict_averages.py`` the estimands against
:meth:`~ipsbayes.models.predict.Predictor.mean`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

logger = logging.getLogger("ipsbayes")

#: folder under the compile cache where numba keeps the kernels' machine code
CACHE_SUBDIR = "kernels"
#: rows per block in the curve kernel: a block of ``exp_base`` and ``weights`` (64 KiB) stays in the
#: core's cache while every value is summed over it
ROW_BLOCK = 4096
#: the rows are added in pairs (one division per pair) only when every ``a f`` is below this: then a
#: pair's product of denominators ``(1 + a_1 f)(1 + a_2 f)`` is below 1e301, inside the double range
PAIRS_BELOW = 1e150

_LOCK = threading.Lock()
_KERNEL: dict[str, Any] = {}


def _logistic_curve_loops(exp_base: np.ndarray, factors: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """``out[s, j] = sum_i weights[i] / (1 + exp_base[s, i] * factors[s, j])``: numba compiles this."""
    n_draws, n_rows = exp_base.shape
    n_values = factors.shape[1]
    for s in range(n_draws):
        row = exp_base[s]
        for j in range(n_values):
            out[s, j] = 0.0
        for start in range(0, n_rows, ROW_BLOCK):
            block = row[start : start + ROW_BLOCK]  # one-dimensional slices: the loop below vectorises
            block_weights = weights[start : start + ROW_BLOCK]
            for j in range(n_values):
                factor = factors[s, j]
                total = 0.0
                for i in range(block.shape[0]):
                    total += block_weights[i] / (1.0 + block[i] * factor)
                out[s, j] += total


def _logistic_shifted_loops(
    exp_neg: np.ndarray, factors: np.ndarray, kind: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """``out[s] = sum_i weights[i] / (1 + exp_neg[s, i] * factors[s, kind[i]])``: numba compiles this."""
    n_draws, n_rows = exp_neg.shape
    for s in range(n_draws):
        row = exp_neg[s]
        row_factors = factors[s]
        total = 0.0
        for i in range(n_rows):
            total += weights[i] / (1.0 + row[i] * row_factors[kind[i]])
        out[s] = total


def _logistic_curve_pairs_loops(
    exp_base: np.ndarray, factors: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """:func:`_logistic_curve_loops` with a block's first and second halves added in pairs, one division per pair.

    Only for ``exp_base * factors`` below :data:`PAIRS_BELOW` (no ``inf``): ``d_1 d_2`` must not overflow.
    """
    n_draws, n_rows = exp_base.shape
    n_values = factors.shape[1]
    for s in range(n_draws):
        row = exp_base[s]
        for j in range(n_values):
            out[s, j] = 0.0
        for start in range(0, n_rows, ROW_BLOCK):
            block = row[start : start + ROW_BLOCK]
            block_weights = weights[start : start + ROW_BLOCK]
            size = block.shape[0]
            half = size // 2
            first, second = block[:half], block[half : 2 * half]  # contiguous halves: the loop vectorises
            first_weights, second_weights = block_weights[:half], block_weights[half : 2 * half]
            for j in range(n_values):
                factor = factors[s, j]
                total = 0.0
                for i in range(half):
                    d1 = 1.0 + first[i] * factor
                    d2 = 1.0 + second[i] * factor
                    total += (first_weights[i] * d2 + second_weights[i] * d1) / (d1 * d2)
                if size % 2:  # the block's odd last row
                    total += block_weights[size - 1] / (1.0 + block[size - 1] * factor)
                out[s, j] += total


def _logistic_shifted_pairs_loops(
    exp_neg: np.ndarray, factors: np.ndarray, kind: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """:func:`_logistic_shifted_loops` with the rows' first and second halves added in pairs, one division per pair.

    Only for ``exp_neg * factors`` below :data:`PAIRS_BELOW` (no ``inf``): ``d_1 d_2`` must not overflow.
    """
    n_draws, n_rows = exp_neg.shape
    half = n_rows // 2
    first_kind, second_kind = kind[:half], kind[half : 2 * half]
    first_weights, second_weights = weights[:half], weights[half : 2 * half]
    for s in range(n_draws):
        row = exp_neg[s]
        row_factors = factors[s]
        first, second = row[:half], row[half : 2 * half]
        total = 0.0
        for i in range(half):
            d1 = 1.0 + first[i] * row_factors[first_kind[i]]
            d2 = 1.0 + second[i] * row_factors[second_kind[i]]
            total += (first_weights[i] * d2 + second_weights[i] * d1) / (d1 * d2)
        if n_rows % 2:  # the odd last row
            total += weights[n_rows - 1] / (1.0 + row[n_rows - 1] * row_factors[kind[n_rows - 1]])
        out[s] = total


def logistic_curve_numpy(exp_base: np.ndarray, factors: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """The curve kernel's sums in numpy (four passes over the rows per value)."""
    scratch = np.empty_like(exp_base)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for j in range(factors.shape[1]):
            np.multiply(exp_base, factors[:, j, None], out=scratch)
            scratch += 1.0
            np.reciprocal(scratch, out=scratch)
            out[:, j] = scratch @ weights


def logistic_shifted_numpy(
    exp_neg: np.ndarray, factors: np.ndarray, kind: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """The shifted-mean kernel's sums in numpy (gather, multiply, add one, reciprocal, weighted sum)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        scratch = factors[:, kind]
        np.multiply(exp_neg, scratch, out=scratch)
        scratch += 1.0
        out[:] = np.reciprocal(scratch, out=scratch) @ weights


_LOOPS: dict[str, Callable[..., None]] = {
    "curve": _logistic_curve_loops,
    "shifted": _logistic_shifted_loops,
    "curve_pairs": _logistic_curve_pairs_loops,
    "shifted_pairs": _logistic_shifted_pairs_loops,
}


def _cache_folder() -> str | None:
    """The writable folder numba caches the kernels in, or None (cache off or not writable)."""
    from ipsbayes.compile_cache import writable_subfolder

    folder = writable_subfolder(CACHE_SUBDIR)
    return None if folder is None else str(folder)


def _compile(name: str, cache: bool = True) -> Any:
    """The numba dispatcher of kernel ``name``, cached in :func:`_cache_folder` if ``cache`` (None without numba)."""
    try:
        import numba
        from numba.core import config
    except ImportError:  # pragma: no cover - numba comes with nutpie
        return None
    from ipsbayes.compile_cache import _LOCK as NUMBA_CONFIG_LOCK

    # error_model="numpy": no ZeroDivisionError check per division, which kept LLVM from vectorising the loops
    # (1.35 against 0.31 ns per term); "reassoc" lets it split the sums over the vector lanes
    kernel = numba.njit(nogil=True, fastmath={"reassoc"}, error_model="numpy")(_LOOPS[name])
    folder = _cache_folder() if cache else None
    if folder is not None:
        # numba takes its cache folder from its config when caching is enabled; the compile cache
        # changes the same setting under the same lock
        with NUMBA_CONFIG_LOCK:
            saved = config.CACHE_DIR
            config.CACHE_DIR = folder
            try:
                kernel.enable_caching()
            except Exception as exc:  # numba found no usable cache location: compile in memory
                logger.debug("kernels: numba cannot cache kernel %s in %s (%s)", name, folder, exc)
            finally:
                config.CACHE_DIR = saved
    return kernel


def _warm(name: str, kernel: Any) -> None:
    """Compile (or load) the kernel's one signature, before threads call it."""
    one = np.ones((1, 1))
    if name.startswith("curve"):
        kernel(one, one, np.ones(1), np.empty((1, 1)))
    else:
        kernel(one, one, np.zeros(1, dtype=np.intp), np.ones(1), np.empty(1))


def compiled_kernel(name: str) -> Any:
    """Kernel ``name``'s numba dispatcher, compiled or loaded on first use.

    ``name`` is ``"curve"``, ``"shifted"``, or either with ``"_pairs"`` (rows added in pairs).

    Returns None where numba is missing or fails to compile it; callers then use numpy.
    """
    with _LOCK:
        if name not in _KERNEL:
            kernel = None
            for cache in (True, False):  # a cache entry that cannot be loaded (corrupt, foreign): compile in memory
                try:
                    kernel = _compile(name, cache)
                    if kernel is not None:
                        _warm(name, kernel)
                    break
                except Exception as exc:  # any numba failure: numpy computes the same numbers
                    logger.debug("kernels: numba failed on %s (cache %s; %s: %s)", name, cache, type(exc).__name__, exc)
                    kernel = None
            _KERNEL[name] = kernel
        return _KERNEL[name]


def _float64(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)


def _in_pairs(largest: float | None, values: np.ndarray, factors: np.ndarray, weights: np.ndarray) -> bool:
    """Whether every ``values * factors`` is below :data:`PAIRS_BELOW` (``largest``: a bound on ``values``).

    ``values`` are exponentials (never negative); the weights must lie in [0, 1], as a mean's do, so a
    pair's numerator stays finite too.
    """
    if values.size == 0 or factors.size == 0 or weights.size == 0:
        return False
    if not (float(weights.min()) >= 0.0 and float(weights.max()) <= 1.0):
        return False
    bound = float(values.max()) if largest is None else float(largest)
    return bool(bound * float(factors.max()) < PAIRS_BELOW)  # False for inf and nan


def logistic_curve(
    exp_base: np.ndarray, factors: np.ndarray, weights: np.ndarray, largest: float | None = None
) -> np.ndarray:
    """Weighted sums of ``1 / (1 + exp_base[s, i] * factors[s, j])`` over the rows ``i``.

    Parameters
    ----------
    exp_base : ndarray (draws, rows)
        ``exp(-eta)`` of each draw and row without the varied term; may hold ``inf``.
    factors : ndarray (draws, values)
        ``exp(-term)`` of each draw and value of the varied term.
    weights : ndarray (rows,)
        Row weights (summing to one for a mean).
    largest : float, optional
        An upper bound on ``exp_base`` that the caller already knows (else its maximum is taken):
        below :data:`PAIRS_BELOW` over the largest factor, the rows are added in pairs.

    Returns
    -------
    ndarray (draws, values)
        ``sum_i weights[i] * expit(eta_i + term_j)`` for each draw.
    """
    exp_base, factors, weights = _float64(exp_base), _float64(factors), _float64(weights)
    out = np.empty((exp_base.shape[0], factors.shape[1]))
    kernel = compiled_kernel("curve_pairs" if _in_pairs(largest, exp_base, factors, weights) else "curve")
    (logistic_curve_numpy if kernel is None else kernel)(exp_base, factors, weights, out)
    return out


def logistic_shifted(
    exp_neg: np.ndarray, factors: np.ndarray, kind: np.ndarray, weights: np.ndarray, largest: float | None = None
) -> np.ndarray:
    """Weighted sums of ``1 / (1 + exp_neg[s, i] * factors[s, kind[i]])`` over the rows ``i``.

    Parameters
    ----------
    exp_neg : ndarray (draws, rows)
        ``exp(-eta)`` of each draw and row; may hold ``inf``.
    factors : ndarray (draws, kinds)
        ``exp(-shift)`` of each draw and kind of row.
    kind : ndarray of int (rows,)
        Each row's kind, an index into ``factors``' columns.
    weights : ndarray (rows,)
        Row weights (summing to one for a mean).
    largest : float, optional
        An upper bound on ``exp_neg`` that the caller already knows (else its maximum is taken):
        below :data:`PAIRS_BELOW` over the largest factor, the rows are added in pairs.

    Returns
    -------
    ndarray (draws,)
        ``sum_i weights[i] * expit(eta_i + shift_{kind_i})`` for each draw.
    """
    exp_neg, factors, weights = _float64(exp_neg), _float64(factors), _float64(weights)
    kind = np.ascontiguousarray(kind, dtype=np.intp)
    out = np.empty(exp_neg.shape[0])
    kernel = compiled_kernel("shifted_pairs" if _in_pairs(largest, exp_neg, factors, weights) else "shifted")
    (logistic_shifted_numpy if kernel is None else kernel)(exp_neg, factors, kind, weights, out)
    return out


__all__ = [
    "PAIRS_BELOW",
    "compiled_kernel",
    "logistic_curve",
    "logistic_curve_numpy",
    "logistic_shifted",
    "logistic_shifted_numpy",
]
