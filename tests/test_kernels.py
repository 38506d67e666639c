"""The fused estimand kernels give the plain numbers, and numba keeps them where the cache lives.

``ipsbayes.kernels.logistic_curve`` sums ``w_i / (1 + a_i f_j)`` and ``logistic_shifted`` sums
``w_i / (1 + a_i f_{kind_i})`` over the rows in one numba pass with the additions reassociated. The
reference is the logistic function written out, ``expit(eta_i + c)`` from scipy, summed with numpy;
the numpy fallbacks must agree too. The whole estimands path through the kernels is compared with
``Predictor.mean`` in ``tests/test_predict_averages.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from ipsbayes import kernels


def _case(seed: int, draws: int = 5, rows: int = 1_003, values: int = 9):
    rng = np.random.default_rng(seed)
    eta = rng.normal(0.0, 2.0, size=(draws, rows))
    terms = rng.normal(0.0, 1.5, size=(draws, values))
    weights = rng.uniform(0.5, 2.0, size=rows)
    return eta, terms, weights / weights.sum()


def _reference(eta: np.ndarray, terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.einsum("svn,n->sv", expit(eta[:, None, :] + terms[:, :, None]), weights)


@pytest.mark.parametrize(("seed", "rows"), [(0, 1_003), (1, kernels.ROW_BLOCK), (2, 2 * kernels.ROW_BLOCK + 17)])
def test_kernel_and_numpy_equal_the_logistic_mean(seed: int, rows: int) -> None:
    eta, terms, weights = _case(seed, rows=rows)
    expected = _reference(eta, terms, weights)
    exp_base, factors = np.exp(-eta), np.exp(-terms)
    fused = kernels.logistic_curve(exp_base, factors, weights)
    plain = np.empty_like(fused)
    kernels.logistic_curve_numpy(exp_base, factors, weights, plain)
    assert kernels.compiled_kernel("curve") is not None, "numba should compile the kernel here"
    np.testing.assert_allclose(fused, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(plain, expected, rtol=1e-12, atol=1e-15)
    # a wrong term (the sign of the factor's exponent flipped) is caught
    assert np.abs(kernels.logistic_curve(exp_base, 1.0 / factors, weights) - expected).max() > 1e-3


@pytest.mark.parametrize(
    "rows", [1, 2, 1_003, kernels.ROW_BLOCK, 2 * kernels.ROW_BLOCK + 17, 2 * kernels.ROW_BLOCK + 18]
)
def test_rows_added_in_pairs_give_the_logistic_mean(rows: int) -> None:
    """One division per pair of rows: the same means to rounding, odd blocks and odd last rows included."""
    eta, terms, weights = _case(rows, rows=rows)
    kind = np.random.default_rng(rows).integers(0, terms.shape[1], size=rows)
    exp_base, factors = np.exp(-eta), np.exp(-terms)
    curve, shifted = np.empty((eta.shape[0], terms.shape[1])), np.empty(eta.shape[0])
    kernels.compiled_kernel("curve_pairs")(exp_base, factors, weights, curve)
    kernels.compiled_kernel("shifted_pairs")(exp_base, factors, kind, weights, shifted)
    np.testing.assert_allclose(curve, _reference(eta, terms, weights), rtol=1e-13, atol=1e-15)
    expected = expit(eta + np.take_along_axis(terms, np.broadcast_to(kind, eta.shape), axis=1)) @ weights
    np.testing.assert_allclose(shifted, expected, rtol=1e-13, atol=1e-15)
    # and the wrappers take the pairs here (every a f is small)
    assert kernels._in_pairs(None, exp_base, factors, weights)
    np.testing.assert_array_equal(kernels.logistic_curve(exp_base, factors, weights), curve)
    np.testing.assert_array_equal(kernels.logistic_shifted(exp_base, factors, kind, weights), shifted)


def test_pairs_are_not_taken_where_a_denominator_is_huge_or_infinite() -> None:
    """Rows whose exp(-eta) overflowed (inf) would make inf / inf in a pair; near-overflow ones are kept out too."""
    eta, terms, weights = _case(8, draws=3, rows=41, values=4)
    eta[1, [5, 25]] = -800.0  # exp(800) is inf; rows 5 and 25 are a pair (41 // 2 = 20)
    eta[2, [6, 26]] = -400.0  # exp(400) is finite, but two such denominators multiplied are not
    with np.errstate(over="ignore"):
        exp_base = np.exp(-eta)
    factors = np.exp(-terms)
    kind = np.arange(41) % 4
    paired_curve, paired_shifted = np.empty((3, 4)), np.empty(3)
    kernels.compiled_kernel("curve_pairs")(exp_base, factors, weights, paired_curve)
    kernels.compiled_kernel("shifted_pairs")(exp_base, factors, kind, weights, paired_shifted)
    assert np.isnan(paired_curve[1]).all() and np.isnan(paired_shifted[1]), "inf / inf: why the bound is needed"
    assert not kernels._in_pairs(None, exp_base, factors, weights)
    assert not kernels._in_pairs(None, exp_base[2:], factors[2:], weights)
    assert not kernels._in_pairs(np.inf, exp_base, factors, weights)
    assert not kernels._in_pairs(np.nan, exp_base, factors, weights)
    assert not kernels._in_pairs(None, np.exp(-terms), factors, weights * 1e250)  # weights of no mean
    expected_curve = _reference(eta, terms, weights)
    np.testing.assert_allclose(
        kernels.logistic_curve(exp_base, factors, weights), expected_curve, rtol=1e-12, atol=1e-15
    )
    expected = expit(eta + np.take_along_axis(terms, np.broadcast_to(kind, eta.shape), axis=1)) @ weights
    np.testing.assert_allclose(kernels.logistic_shifted(exp_base, factors, kind, weights), expected, rtol=1e-12)
    # a caller's bound is used as given: the estimands pass the greatest exp(-eta) they already know
    np.testing.assert_allclose(
        kernels.logistic_curve(exp_base, factors, weights, largest=float(exp_base.max())),
        expected_curve,
        rtol=1e-12,
        atol=1e-15,
    )


def test_rows_whose_exponential_overflowed_add_nothing() -> None:
    eta, terms, weights = _case(4, draws=3, rows=50, values=4)
    eta[:, :7] = -800.0  # exp(800) is inf: expit(-800 + c) is 0 to double precision
    with np.errstate(over="ignore"):
        exp_base = np.exp(-eta)
    fused = kernels.logistic_curve(exp_base, np.exp(-terms), weights)
    assert np.all(np.isfinite(fused))
    np.testing.assert_allclose(fused, _reference(eta, terms, weights), rtol=1e-12, atol=1e-15)


def test_without_numba_numpy_gives_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    eta, terms, weights = _case(5)
    fused = kernels.logistic_curve(np.exp(-eta), np.exp(-terms), weights)
    kind = np.arange(eta.shape[1]) % terms.shape[1]
    shifted = kernels.logistic_shifted(np.exp(-eta), np.exp(-terms), kind, weights)
    for name in kernels._LOOPS:  # every kernel, paired or not
        monkeypatch.setitem(kernels._KERNEL, name, None)
    plain = kernels.logistic_curve(np.exp(-eta), np.exp(-terms), weights)
    np.testing.assert_allclose(plain, fused, rtol=1e-12, atol=1e-15)
    plain_shifted = kernels.logistic_shifted(np.exp(-eta), np.exp(-terms), kind, weights)
    np.testing.assert_allclose(plain_shifted, shifted, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kinds", [1, 2, 7])
def test_shifted_kernel_and_numpy_equal_the_logistic_mean(kinds: int) -> None:
    eta, shifts, weights = _case(kinds, rows=2_501, values=kinds)
    kind = np.random.default_rng(kinds).integers(0, kinds, size=eta.shape[1])
    eta[0, :3] = -800.0  # overflowed rows add nothing
    expected = expit(eta + np.take_along_axis(shifts, np.broadcast_to(kind, eta.shape), axis=1)) @ weights
    with np.errstate(over="ignore"):
        exp_neg = np.exp(-eta)
    fused = kernels.logistic_shifted(exp_neg, np.exp(-shifts), kind, weights)
    plain = np.empty_like(fused)
    kernels.logistic_shifted_numpy(exp_neg, np.exp(-shifts), kind, weights, plain)
    assert kernels.compiled_kernel("shifted") is not None
    np.testing.assert_allclose(fused, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(plain, expected, rtol=1e-12, atol=1e-15)
    if kinds > 1:  # rows given another kind's shift are caught
        wrong = kernels.logistic_shifted(exp_neg, np.exp(-shifts), (kind + 1) % kinds, weights)
        assert np.abs(wrong - expected).max() > 1e-4


@pytest.mark.parametrize("name", ["curve", "shifted", "curve_pairs", "shifted_pairs"])
def test_numba_caches_the_kernels_in_the_compile_cache(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path / "cache"))
    first = kernels._compile(name)
    kernels._warm(name, first)
    assert sum(first.stats.cache_misses.values()) == 1
    assert Path(first.stats.cache_path).is_relative_to(tmp_path / "cache" / kernels.CACHE_SUBDIR)
    assert any(Path(first.stats.cache_path).glob("*.nbc")), "numba wrote no machine code"
    second = kernels._compile(name)  # what a later process does: load the machine code, no compile
    kernels._warm(name, second)
    assert sum(second.stats.cache_hits.values()) == 1
    package = Path(kernels.__file__).parent
    assert not list(package.rglob("*_logistic_*_loops*.nbi")), "the kernels must not be cached in the package"


def test_with_the_cache_off_the_kernel_compiles_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", "off")
    kernel = kernels._compile("curve")
    kernels._warm("curve", kernel)
    assert not kernel.stats.cache_path
    eta, terms, weights = _case(6, draws=2, rows=20, values=3)
    out = np.empty((2, 3))
    kernel(np.exp(-eta), np.exp(-terms), weights, out)
    np.testing.assert_allclose(out, _reference(eta, terms, weights), rtol=1e-12)


def test_a_corrupt_cache_entry_falls_back_to_compiling_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path / "cache"))
    kernels._warm("curve", kernels._compile("curve"))  # writes the cache entry
    written = list((tmp_path / "cache" / kernels.CACHE_SUBDIR).rglob("*.nb[ic]"))
    assert written
    for path in written:
        path.write_text("garbage\n")
    monkeypatch.setattr(kernels, "_KERNEL", {})  # a new process
    kernel = kernels.compiled_kernel("curve")
    assert kernel is not None and not kernel.stats.cache_path
    eta, terms, weights = _case(7, draws=2, rows=30, values=3)
    np.testing.assert_allclose(
        kernels.logistic_curve(np.exp(-eta), np.exp(-terms), weights), _reference(eta, terms, weights), rtol=1e-12
    )
