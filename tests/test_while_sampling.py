"""Work that needs no posterior draws, done while nutpie's chains sample (issue 15).

The sampler's wait runs it on the main thread while nutpie samples on its own threads: the
priors' own estimands (and the prior draws the conflict check shares) and the deterministics'
C function. The numbers must be those computed after sampling, an error in that work must
surface where the run asks for its result (not as a sampling failure), and Ctrl-C during it
must still stop the sampler.
"""

from __future__ import annotations

import numpy as np
import pytest

import ipsbayes
from ipsbayes import priors_alone
from ipsbayes.priors_alone import PriorsAlone
from ipsbayes.runner import check
from ipsbayes.sampling import wait_for


class _Sampler:
    """nutpie's background sampler as ``wait_for`` sees it: ``wait`` times out ``busy`` times, then returns."""

    def __init__(self, busy: int = 2) -> None:
        self.busy, self.cancelled, self.waits = busy, False, 0

    def wait(self, timeout: float) -> str:
        self.waits += 1
        if self.waits <= self.busy:
            raise TimeoutError
        return "draws"

    def cancel(self) -> None:
        self.cancelled = True


def test_wait_runs_the_work_first_and_returns_the_draws() -> None:
    sampler, done = _Sampler(), []
    assert wait_for(sampler, poll=0.0, while_waiting=lambda: done.append(sampler.waits)) == "draws"
    assert done == [0]  # before the first poll
    assert not sampler.cancelled


def test_an_interrupt_in_the_work_stops_the_sampler() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    sampler = _Sampler()
    with pytest.raises(KeyboardInterrupt):
        wait_for(sampler, poll=0.0, while_waiting=interrupted)
    assert sampler.cancelled


def _plan(make_config, small_ipsung):
    path = make_config(
        "ipsung_employment",
        data=small_ipsung,
        **{"sampler.profile": "ci", "sampler.draws": 100, "sampler.tune": 100, "sensitivity.power_scaling": False},
    )
    return path, check(path)


def test_priors_alone_keeps_errors_for_the_result(make_config, small_ipsung, monkeypatch) -> None:
    """An error while the chains sample is raised where the run reads the result, not inside the sampler."""
    _, plan = _plan(make_config, small_ipsung)

    def broken(*args, **kwargs):
        raise ValueError("a bug in the estimands")

    monkeypatch.setattr(priors_alone, "prior_estimands", broken)
    alone = PriorsAlone(plan.family, plan.model, plan.data, plan.spec, plan.config)
    alone.during_sampling()  # does not raise
    assert alone.while_sampling and alone.seconds is not None
    with pytest.raises(ValueError, match="a bug in the estimands"):
        alone.result(threads=2)

    def vague(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(priors_alone, "prior_estimands", vague)
    alone = PriorsAlone(plan.family, plan.model, plan.data, plan.spec, plan.config)
    assert alone.result().failure == "ZeroDivisionError"  # not raised: the run notes it
    assert not alone.while_sampling  # computed when asked, not beside the chains


def test_priors_alone_is_computed_once(make_config, small_ipsung, monkeypatch) -> None:
    _, plan = _plan(make_config, small_ipsung)
    calls = []
    real = priors_alone.prior_estimands

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(priors_alone, "prior_estimands", counted)
    alone = PriorsAlone(plan.family, plan.model, plan.data, plan.spec, plan.config)
    alone.during_sampling()
    first = alone.estimands
    alone.during_sampling()
    assert alone.result(threads=2).estimands is first
    assert len(calls) == 1
    assert alone.while_sampling


@pytest.mark.sampling
def test_a_run_computes_the_priors_estimands_while_sampling_with_the_same_numbers(make_config, small_ipsung) -> None:
    path, plan = _plan(make_config, small_ipsung)
    run = ipsbayes.run(path, out=path.parent / "run", progress=False)
    timings = run.provenance["timings_seconds"]
    assert timings["prior_estimands_while_sampling"] > 0  # nutpie's wait ran it
    shared = None
    if priors_alone.has_assignment(plan.data):  # the draws the conflict check shares
        shared = ipsbayes.sampling.sample_prior_predictive(plan.model, priors_alone.CONFLICT_DRAWS, plan.config.seed)
    after = priors_alone.prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config, prior_draws=shared)
    stored = run.datatree["prior_estimands"].to_dataset()
    assert set(stored.data_vars) == set(after.data_vars)
    for name in after.data_vars:
        np.testing.assert_array_equal(stored[name].values, after[name].values)
