"""Sensitivity refits side by side in forked children where the cores allow (issue 15): the same numbers."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
import xarray as xr

import ipsbayes
from ipsbayes import forked, progress, sensitivity
from ipsbayes.config import SamplerConfig

needs_fork = pytest.mark.skipif(not forked.available(), reason="fork needs Linux and two usable cores")


def test_run_all_returns_results_in_order_here_and_in_children() -> None:
    works = [lambda k=k: (k, os.getpid()) for k in range(5)]
    here = forked.run_all(works, 1)
    assert [k for k, _ in here] == list(range(5)) and {pid for _, pid in here} == {os.getpid()}
    if forked.available():
        apart = forked.run_all(works, 2)
        assert [k for k, _ in apart] == list(range(5))
        assert os.getpid() not in {pid for _, pid in apart} and len({pid for _, pid in apart}) == 5


@needs_fork
def test_run_all_runs_a_batch_side_by_side() -> None:
    started = time.perf_counter()
    forked.run_all([lambda: time.sleep(0.6)] * 2, 2)
    assert time.perf_counter() - started < 1.1  # both slept at once (one after another: 1.2 s)


@needs_fork
def test_run_all_raises_a_childs_error_here() -> None:
    def broken() -> None:
        raise ValueError("refit failed")

    with pytest.raises(ValueError, match="refit failed"):
        forked.run_all([lambda: 1, broken, lambda: 3], 2)


def test_parallel_refits_fills_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "available", lambda: True)
    for usable, cores, refits, width in [(2, 2, 3, 1), (8, 4, 3, 2), (16, 4, 3, 3), (2, 1, 2, 2), (16, 4, 1, 1)]:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, usable=usable: set(range(usable)))
        config = SimpleNamespace(sampler=SamplerConfig(cores=cores))
        assert sensitivity.parallel_refits(config, refits) == width, (usable, cores, refits)
    monkeypatch.setattr(forked, "available", lambda: False)
    assert sensitivity.parallel_refits(SimpleNamespace(sampler=SamplerConfig(cores=1)), 3) == 1


@pytest.mark.sampling
@needs_fork
def test_refits_side_by_side_give_the_numbers_of_refits_one_after_another(make_config, monkeypatch) -> None:
    path = make_config(
        "rij_cace",
        **{"sampler.profile": "ci", "sampler.draws": 150, "sampler.tune": 150},  # two prior sets and a variant
    )
    trees, lines = {}, {1: [], 2: []}
    for width in (1, 2):
        monkeypatch.setattr(sensitivity, "parallel_refits", lambda config, refits, width=width: width)
        with progress.reporting(lines[width].append):
            trees[width] = ipsbayes.run(path, out=path.parent / f"run{width}", progress=False).datatree
    one, two = trees[1]["sensitivity"].to_dataset(), trees[2]["sensitivity"].to_dataset()
    assert one.sizes["analysis"] == 4  # the main fit and three refits: a batch of two, then one
    xr.testing.assert_identical(one, two)
    refit_lines = {width: [line.split("  ")[0] for line in lines[width] if line.startswith("refit")] for width in lines}
    assert refit_lines[1] == [f"refit, {label}" for label in list(one["analysis"].values[1:])]
    first, second = (str(label) for label in one["analysis"].values[1:3])
    assert refit_lines[2] == [f"refits side by side: {first}, {second}", f"refit, {one['analysis'].values[3]}"]
