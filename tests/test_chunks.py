"""Post-fit chunks run in threads give the same numbers, bit for bit, as the serial loop.

``ipsbayes.chunks.for_each_chunk`` runs the chunks of the population-averaged predictions
(``Predictor.averages``) and of PSIS-LOO (``psis_loo``) in a thread pool when the run allows more
than one thread. Each chunk writes only its own slice, so the outputs must be identical to the
serial loop's, not merely close.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from ipsbayes import loo
from ipsbayes.chunks import allowed_threads, for_each_chunk, in_background, threads
from ipsbayes.loo import psis_loo
from ipsbayes.models import predict
from ipsbayes.models.predict import Predictor
from ipsbayes.runner import check

from .conftest import REPO
from .test_predict_averages import _inputs


def test_every_item_once_in_threads_and_worker_threads_stay_serial() -> None:
    seen = np.zeros(103, dtype=int)
    inner: list[int] = []
    names: set[str] = set()

    def work(chunk: slice) -> None:
        seen[chunk] += 1
        inner.append(allowed_threads())
        names.add(threading.current_thread().name)

    with threads(3):
        assert allowed_threads() == 3
        for_each_chunk(work, 103, 10)
    assert allowed_threads() == 1  # reset on leaving the block
    assert (seen == 1).all()
    assert set(inner) == {1}, "a chunk may not start a pool of its own"
    assert all(name.startswith("ipsbayes-chunk") for name in names)


def test_serial_outside_a_threads_block() -> None:
    names: list[str] = []
    for_each_chunk(lambda chunk: names.append(threading.current_thread().name), 50, 7)
    assert set(names) == {threading.current_thread().name}


def test_the_first_error_reaches_the_caller() -> None:
    def work(chunk: slice) -> None:
        if chunk.start == 20:
            raise ValueError("chunk 20 failed")

    with threads(2), pytest.raises(ValueError, match="chunk 20"):
        for_each_chunk(work, 100, 10)


def test_numpy_error_state_holds_in_the_worker_threads() -> None:
    out = np.empty(40)

    def work(chunk: slice) -> None:
        out[chunk] = np.log(np.zeros(chunk.stop - chunk.start))

    with threads(2), np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        for_each_chunk(work, 40, 5)
    with threads(2), np.errstate(divide="ignore"):
        for_each_chunk(work, 40, 5)  # no warning, no error: the caller's state was carried over
    assert np.isneginf(out).all()


# ----------------------------------------------------------------------------- in_background


def _slow(done: list[str], seconds: float = 0.3) -> None:
    time.sleep(seconds)
    done.append(threading.current_thread().name)


def test_background_work_runs_beside_the_block_and_is_finished_when_it_ends() -> None:
    done: list[str] = []
    with in_background(lambda: _slow(done)) as work:
        assert done == []  # still running: the block did not wait for it
    assert len(done) == 1 and done[0] != threading.current_thread().name
    assert work.seconds >= 0.3


def test_background_error_reaches_the_caller_after_the_block() -> None:
    def fails() -> None:
        raise OSError("disk full")

    body_ran = []
    with pytest.raises(OSError, match="disk full"), in_background(fails):
        body_ran.append(True)
    assert body_ran == [True]


@pytest.mark.parametrize("error", [ValueError("report failed"), KeyboardInterrupt()])
def test_an_error_in_the_block_waits_for_the_background_work_and_wins(error: BaseException) -> None:
    done: list[str] = []

    def slow_then_fails() -> None:
        _slow(done)
        raise OSError("not this one")

    with pytest.raises(type(error)):  # the block's error, not the background one
        with in_background(slow_then_fails):
            raise error
    assert len(done) == 1  # finished before the error left the block (a staging folder is removed only then)


def test_without_a_thread_the_work_is_done_before_the_block() -> None:
    done: list[str] = []
    with in_background(lambda: _slow(done, 0.05), thread=False) as work:
        assert done == [threading.current_thread().name]  # here, already finished
    assert work.seconds >= 0.05

    def fails() -> None:
        raise OSError("disk full")

    body_ran = []
    with pytest.raises(OSError, match="disk full"), in_background(fails, thread=False):
        body_ran.append(True)
    assert body_ran == []  # the failure stops the block before it starts


@pytest.mark.parametrize("thread", [True, False])
def test_background_work_runs_its_chunks_serially(thread: bool) -> None:
    seen = []
    with threads(2), in_background(lambda: seen.append(allowed_threads()), thread=thread):
        assert allowed_threads() == 2  # the caller keeps its threads
    assert seen == [1]


@pytest.fixture(scope="module")
def plan():
    return check(REPO / "models" / "ipsung_fidelity.toml")


def test_averages_in_threads_equal_the_serial_ones(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    with plan.model:
        prior = pm.sample_prior_predictive(draws=90, random_seed=5)["prior"].to_dataset()
    predictor = Predictor.from_posterior(prior, plan.data, plan.family.outcome_family(plan.spec))
    designs, groups, values = _inputs(plan, predictor)
    monkeypatch.setattr(predict, "_CACHE_CELLS", 7 * len(predictor.weights))  # 13 chunks of 7 draws
    fresh = Predictor.from_posterior(prior, plan.data, plan.family.outcome_family(plan.spec))
    with threads(4):  # a predictor whose cached arrays (X by column, fidelity by row) are first made in threads
        first_in_threads = fresh.averages(designs, groups, values)
    serial = predictor.averages(designs, groups, values)
    with threads(4):
        threaded = predictor.averages(designs, groups, values)
    np.testing.assert_array_equal(first_in_threads.fidelity, serial.fidelity)
    np.testing.assert_array_equal(first_in_threads.overall, serial.overall)
    np.testing.assert_array_equal(threaded.overall, serial.overall)
    np.testing.assert_array_equal(threaded.fidelity, serial.fidelity)
    for a, b in zip(threaded.groups + threaded.counterfactuals, serial.groups + serial.counterfactuals, strict=True):
        np.testing.assert_array_equal(a, b)


def test_loo_in_threads_equals_the_serial_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    log_lik = xr.DataArray(rng.normal(-1.0, 0.5, size=(4, 200, 301)) ** 3 / 4, dims=("chain", "draw", "obs"))
    monkeypatch.setattr(loo, "_BLOCK_CELLS", 800 * 20)  # 16 blocks of 20 observations
    serial = psis_loo(log_lik, 0.9)
    with threads(3):
        threaded = psis_loo(log_lik, 0.9)
    for name in ("pareto_k", "elpd_i"):
        np.testing.assert_array_equal(getattr(threaded, name), getattr(serial, name))
    assert (threaded.elpd, threaded.se, threaded.p) == (serial.elpd, serial.se, serial.p)


def test_loo_blocks_run_in_the_pool_inside_a_threads_block(monkeypatch: pytest.MonkeyPatch) -> None:
    names: set[str] = set()
    block = loo._block

    def recording(*args):
        names.add(threading.current_thread().name)
        return block(*args)

    monkeypatch.setattr(loo, "_block", recording)
    monkeypatch.setattr(loo, "_BLOCK_CELLS", 400 * 10)
    log_lik = xr.DataArray(np.random.default_rng(1).normal(size=(2, 200, 60)), dims=("chain", "draw", "obs"))
    with threads(2):
        psis_loo(log_lik, 1.0)
    assert names and all(name.startswith("ipsbayes-chunk") for name in names)


def test_diagnostic_summary_in_threads_equals_the_serial_one() -> None:
    from ipsbayes.convergence import diagnostic_summary

    rng = np.random.default_rng(3)
    walk = rng.normal(size=(4, 300, 37)).cumsum(axis=1) * 0.1 + rng.normal(size=(4, 300, 37))
    posterior = xr.Dataset(
        {
            "theta": (("chain", "draw", "school"), walk),
            "tau": (("chain", "draw"), np.exp(rng.normal(size=(4, 300)))),
            "constant": (("chain", "draw", "k"), np.ones((4, 300, 2))),
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # the constant variable: R-hat and MCSE of the SD are NaN
        serial = diagnostic_summary(posterior)
        with threads(3):
            threaded = diagnostic_summary(posterior)
    pd.testing.assert_frame_equal(threaded, serial, check_exact=True)
