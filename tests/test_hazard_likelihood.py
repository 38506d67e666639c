"""The hazard likelihood's sparse transition term equals the dense one, cell by cell and in its gradient."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt

from ipsbayes.models.hazard_likelihood import event_logp, transition_cells
from ipsbayes.runner import check

from .test_panel import tte_config
from .test_time_to_event import jittered_point


def random_counts(rng: np.random.Generator, patterns: int = 40, months: int = 7, targets: int = 3):
    """Counts with many empty cells and pattern-months where several targets share the month (repeated cells)."""
    trials = rng.integers(0, 6, size=(patterns, months)).astype(float)
    trials[rng.random(trials.shape) < 0.4] = 0.0
    events = np.zeros((patterns, months, targets))
    for p, t in zip(*np.nonzero(trials), strict=True):
        events[p, t] = rng.multinomial(int(trials[p, t]), [0.15, 0.1, 0.05, 0.7])[:targets]
    assert (np.count_nonzero(events, axis=2) > 1).any()  # the repeated-cell case is exercised
    return trials, events


def dense_and_sparse(trials: np.ndarray, events: np.ndarray):
    """Compiled cell-wise log-likelihood and gradient (w.r.t. baseline and linear) of both forms."""
    baseline, linear = pt.tensor3("baseline"), pt.tensor3("linear")
    cells = tuple(pt.as_tensor(index) for index in transition_cells(events).values())
    value, at_risk = pt.as_tensor(events), pt.as_tensor(trials)
    functions = []
    for form in (None, cells):
        cellwise = event_logp(value, at_risk, baseline, linear, events.shape[2], cells=form)
        gradient = pytensor.grad(cellwise.sum(), [baseline, linear])
        functions.append(pytensor.function([baseline, linear], [cellwise, *gradient]))
    return functions


def test_sparse_transitions_equal_the_dense_form_cell_by_cell_and_in_the_gradient() -> None:
    rng = np.random.default_rng(3)
    trials, events = random_counts(rng)
    dense, sparse = dense_and_sparse(trials, events)
    for _ in range(3):
        baseline = rng.normal(-2.0, 1.0, size=(1, trials.shape[1], events.shape[2]))
        linear = rng.normal(0.0, 1.5, size=(trials.shape[0], 1, events.shape[2]))
        for expected, got in zip(dense(baseline, linear), sparse(baseline, linear), strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # and the dense form is the multinomial kernel, computed here from its definition
    eta = baseline + linear
    log_none = -np.log1p(np.exp(eta).sum(axis=2))
    by_hand = trials * log_none + (events * eta).sum(axis=2)
    np.testing.assert_allclose(dense(baseline, linear)[0], by_hand, rtol=1e-12, atol=1e-12)


def test_transition_cells_list_every_nonzero_count_once() -> None:
    _, events = random_counts(np.random.default_rng(4))
    cells = transition_cells(events)
    assert len(cells["transition_pattern"]) == np.count_nonzero(events)
    rebuilt = np.zeros_like(events)
    index = (cells["transition_pattern"], cells["transition_month"], cells["transition_target"])
    rebuilt[index] = events[index]
    np.testing.assert_array_equal(rebuilt, events)


def dense_by_hand(model, point: dict, arrays: dict, trials: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Cell-wise multinomial kernel from the model's parameters at ``point``, in numpy."""
    names = ["baseline_logit", "service_effect", "beta", "fidelity_slope"]
    graphs = model.replace_rvs_by_values([model[name] for name in names])
    function = model.compile_fn(graphs, inputs=model.value_vars, on_unused_input="ignore", point_fn=True)
    baseline, service, beta, slope = function(point)
    service_idx = arrays["service_idx"]
    linear = service[service_idx] + arrays["fidelity"][service_idx, None] * slope[None, :] + arrays["X"] @ beta
    eta = baseline[None, :, :] + linear[:, None, :]
    return trials * -np.log1p(np.exp(eta).sum(axis=2)) + (events * eta).sum(axis=2)


def observed_cellwise(model, point: dict) -> np.ndarray:
    """The observed variable's cell-wise log-likelihood, as ``pm.compute_log_likelihood`` (LOO) reads it."""
    return model.compile_fn(model.logp(vars=model.observed_RVs, sum=False)[0], point_fn=True)(point)


def test_model_pointwise_log_likelihood_is_the_dense_form(small_ipsung: Path, tmp_path: Path) -> None:
    """What LOO reads (the observed variable's cell-wise log-likelihood) is unchanged by the sparse term."""
    plan = check(tte_config(small_ipsung, tmp_path))
    arrays = plan.data.arrays
    for seed in (7, 8):
        point = jittered_point(plan.model, seed)
        expected = dense_by_hand(plan.model, point, arrays, arrays["trials"], arrays["y"])
        np.testing.assert_allclose(observed_cellwise(plan.model, point), expected, rtol=1e-10, atol=1e-10)


def test_a_refit_on_replicated_counts_uses_their_own_transition_cells(small_ipsung: Path, tmp_path: Path) -> None:
    """SBC swaps in new counts: the model built on them must not keep the old data's transition cells."""
    from ipsbayes.sampling import sample_prior_predictive

    plan = check(tte_config(small_ipsung, tmp_path))
    tree = sample_prior_predictive(plan.model, draws=1, seed=11)
    prior, predictive = tree["prior"].to_dataset(), tree["prior_predictive"].to_dataset()
    replaced = plan.family.replicate_data(plan.spec, prior, predictive, plan.data, np.random.default_rng(1))
    assert not np.array_equal(replaced["y"], plan.data.arrays["y"])
    refit = plan.family.build(
        dataclasses.replace(plan.data, arrays={**plan.data.arrays, **replaced}), plan.spec, plan.priors
    )
    point = jittered_point(refit, 2)
    expected = dense_by_hand(refit, point, plan.data.arrays, replaced["trials"], replaced["y"])
    np.testing.assert_allclose(observed_cellwise(refit, point), expected, rtol=1e-10, atol=1e-10)
