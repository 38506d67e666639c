"""Sensitivity refits side by side in forked children where the cores allow (issue 15): the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    def span() -> tuple[float, float]:
        began = time.time()
        time.sleep(0.5)
        return began, time.time()

    (first_began, first_ended), (second_began, second_ended) = forked.run_all([span, span], 2)
    assert second_began < first_ended and first_began < second_ended  # their times overlap


@needs_fork
def test_run_all_raises_a_childs_error_here() -> None:
    def broken() -> None:
        raise ValueError("refit failed")

    with pytest.raises(ValueError, match="refit failed"):
        forked.run_all([lambda: 1, broken, lambda: 3], 2)


@needs_fork
def test_when_several_fail_the_first_works_error_is_raised_as_one_after_another() -> None:
    def late_first() -> None:
        time.sleep(0.4)  # fails after the second has failed
        raise KeyError("the first refit")

    def early_second() -> None:
        raise ValueError("the second refit")

    with pytest.raises(KeyError, match="the first refit"):
        forked.run_all([late_first, early_second], 2)
    with pytest.raises(KeyError, match="the first refit"):
        forked.run_all([late_first, early_second], 1)


#: the scenario runs in a process of its own: a forked child and a signal are kept away from pytest's workers
INTERRUPT_SCENARIO = """
import json, os, signal, sys, threading, time
from pathlib import Path
from ipsbayes import forked

folder = Path(sys.argv[1])

def long(k):
    (folder / f"{k}.part").write_text(str(os.getpid()))
    os.replace(folder / f"{k}.part", folder / f"{k}.pid")
    time.sleep(60)

def interrupt_soon():
    while len(list(folder.glob("*.pid"))) < 2:
        time.sleep(0.01)
    signal.raise_signal(signal.SIGINT)  # this process only, as `kill -INT <pid>` would

if sys.argv[2] == "while waiting":
    threading.Thread(target=interrupt_soon, daemon=True).start()
else:  # the signal arrives in the parent just after a fork, before the child's pid is kept
    fork = os.fork

    def fork_then_interrupt():
        pid = fork()
        if pid:
            time.sleep(0.2)  # the child writes its pid file
            signal.raise_signal(signal.SIGINT)
        return pid

    os.fork = fork_then_interrupt
began = time.perf_counter()
try:
    forked.run_all([lambda: long(1), lambda: long(2)], 2)
    outcome = "returned"
except KeyboardInterrupt:
    outcome = "KeyboardInterrupt"
seconds = time.perf_counter() - began
left = []
for pid_file in folder.glob("*.pid"):
    try:
        os.waitpid(int(pid_file.read_text()), os.WNOHANG)
        left.append(pid_file.name)  # still our child: not reaped
    except ChildProcessError:
        pass  # killed and reaped
print(json.dumps({"outcome": outcome, "seconds": seconds, "left": left}))
"""


@needs_fork
@pytest.mark.parametrize("moment", ["while waiting", "just after a fork"])
def test_an_interrupt_ends_the_wait_at_once_and_leaves_no_child(tmp_path, moment: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_SCENARIO, str(tmp_path), moment], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "KeyboardInterrupt"
    assert result["seconds"] < 10
    assert result["left"] == []
    assert len(list(tmp_path.glob("*.pid"))) == (2 if moment == "while waiting" else 1)  # the children that started


def test_parallel_refits_fills_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "available", lambda: True)
    monkeypatch.setattr(sensitivity, "available_memory", lambda: 64 << 30)
    monkeypatch.setattr(sensitivity, "resident_memory", lambda: 1 << 30)
    for usable, cores, refits, width in [(2, 2, 3, 1), (8, 4, 3, 2), (16, 4, 3, 3), (2, 1, 2, 2), (16, 4, 1, 1)]:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, usable=usable: set(range(usable)))
        config = SimpleNamespace(sampler=SamplerConfig(cores=cores))
        assert sensitivity.parallel_refits(config, refits) == width, (usable, cores, refits)
    monkeypatch.setattr(sensitivity, "available_memory", lambda: 2_500 << 20)  # room for two copies of 1 GB
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert sensitivity.parallel_refits(SimpleNamespace(sampler=SamplerConfig(cores=1)), 6) == 2
    monkeypatch.setattr(sensitivity, "available_memory", lambda: 512 << 20)  # not even one copy: one at a time
    assert sensitivity.parallel_refits(SimpleNamespace(sampler=SamplerConfig(cores=1)), 6) == 1
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
