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


_LOOPS: dict[str, Callable[..., None]] = {"curve": _logistic_curve_loops, "shifted": _logistic_shifted_loops}


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
    if name == "curve":
        kernel(one, one, np.ones(1), np.empty((1, 1)))
    else:
        kernel(one, one, np.zeros(1, dtype=np.intp), np.ones(1), np.empty(1))


def compiled_kernel(name: str) -> Any:
    """Kernel ``name``'s numba dispatcher (``"curve"`` or ``"shifted"``), compiled or loaded on first use.

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


def logistic_curve(exp_base: np.ndarray, factors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sums of ``1 / (1 + exp_base[s, i] * factors[s, j])`` over the rows ``i``.

    Parameters
    ----------
    exp_base : ndarray (draws, rows)
        ``exp(-eta)`` of each draw and row without the varied term; may hold ``inf``.
    factors : ndarray (draws, values)
        ``exp(-term)`` of each draw and value of the varied term.
    weights : ndarray (rows,)
        Row weights (summing to one for a mean).

    Returns
    -------
    ndarray (draws, values)
        ``sum_i weights[i] * expit(eta_i + term_j)`` for each draw.
    """
    exp_base, factors, weights = _float64(exp_base), _float64(factors), _float64(weights)
    out = np.empty((exp_base.shape[0], factors.shape[1]))
    kernel = compiled_kernel("curve")
    (logistic_curve_numpy if kernel is None else kernel)(exp_base, factors, weights, out)
    return out


def logistic_shifted(exp_neg: np.ndarray, factors: np.ndarray, kind: np.ndarray, weights: np.ndarray) -> np.ndarray:
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

    Returns
    -------
    ndarray (draws,)
        ``sum_i weights[i] * expit(eta_i + shift_{kind_i})`` for each draw.
    """
    exp_neg, factors, weights = _float64(exp_neg), _float64(factors), _float64(weights)
    kind = np.ascontiguousarray(kind, dtype=np.intp)
    out = np.empty(exp_neg.shape[0])
    kernel = compiled_kernel("shifted")
    (logistic_shifted_numpy if kernel is None else kernel)(exp_neg, factors, kind, weights, out)
    return out


__all__ = [
    "compiled_kernel",
    "logistic_curve",
    "logistic_curve_numpy",
    "logistic_shifted",
    "logistic_shifted_numpy",
]
