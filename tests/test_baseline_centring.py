"""Baseline walk coordinates sampled centred where the data pin them down: the same model, another geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipsbayes.models.person_months import baseline_information, baseline_split, rw_basis
from ipsbayes.runner import check

from .test_panel import tte_config
from .test_time_to_event import jittered_point


def split_point(noncentred_point: dict, plan) -> dict:
    """The split model's point for a non-centred one: ``w = sd * z`` where centred, ``z`` elsewhere."""
    arrays = plan.data.arrays
    sd = np.exp(noncentred_point["baseline_sd_log__"])
    z = noncentred_point["z_baseline"].ravel()  # basis-major, as the coefficients are flattened
    w = z * sd[arrays["baseline_coef_target"]]
    point = {k: v for k, v in noncentred_point.items() if k != "z_baseline"}
    point["baseline_coef_centred"] = w[arrays["baseline_coef_centred_idx"]]
    if "baseline_coef_noncentred_idx" in arrays:
        point["z_baseline_coef"] = z[arrays["baseline_coef_noncentred_idx"]]
    return point


@pytest.mark.parametrize("mode", ["auto", "centred"])
def test_centred_coordinates_give_the_same_posterior_density(small_ipsung: Path, tmp_path: Path, mode: str) -> None:
    """Change of variables: log p_split(w) = log p_noncentred(z = w / sd) - sum of log sd over centred coordinates."""
    plain = check(tte_config(small_ipsung, tmp_path, **{"model.baseline_parameterisation": "noncentred"}))
    # 400 participants: below the default threshold, so a low one makes a split of centred and non-centred
    split = check(
        tte_config(small_ipsung, tmp_path, **{"model.baseline_parameterisation": mode, "model.centre_above": 25.0})
    )
    centred = split.data.arrays["baseline_coef_centred_idx"]
    assert split.data.info["baseline_centred"] == len(centred) > 0
    assert plain.data.info["baseline_centred"] == 0 and "baseline_coef_centred_idx" not in plain.data.arrays
    if mode == "centred":
        assert "baseline_coef_noncentred_idx" not in split.data.arrays
    plain_logp, split_logp = plain.model.compile_logp(), split.model.compile_logp()
    for seed in (1, 2, 3):
        point = jittered_point(plain.model, seed)
        sd = np.exp(point["baseline_sd_log__"])
        jacobian = np.log(sd[split.data.arrays["baseline_coef_target"][centred]]).sum()
        assert split_logp(split_point(point, split)) == pytest.approx(plain_logp(point) - jacobian, rel=1e-11)
        # and the baseline itself is the same function of the parameters
        curves = [curve(plan, p) for plan, p in ((plain, point), (split, split_point(point, split)))]
        np.testing.assert_allclose(curves[1], curves[0], rtol=1e-12, atol=1e-12)


def curve(plan, point: dict) -> np.ndarray:
    """``baseline_logit`` at a point of the model's free values."""
    model = plan.model
    graph = model.replace_rvs_by_values([model["baseline_logit"]])
    function = model.compile_fn(graph, inputs=model.value_vars, on_unused_input="ignore", point_fn=True)
    return function(point)[0]


def test_information_decides_which_coordinates_are_centred() -> None:
    """Smooth coordinates of a large study are centred, rough ones and small studies' are not."""
    basis = rw_basis(24, 2)
    targets = ["work", "education"]
    events = np.zeros((10, 24, 2))

    def split_for(at_risk: float, rate: float) -> int:
        trials = np.full((10, 24), at_risk)
        events[...] = 0.0
        events[:, :, 0] = events[:, :, 1] = at_risk * rate
        return baseline_split(trials, events, basis, targets, "auto", 25.0)[2]

    information = baseline_information(np.full((10, 24), 100.0), np.full((10, 24, 2), 1.0), basis)
    assert information.shape == (basis.shape[1], 2)
    assert np.all(np.diff(information[:, 0]) <= 1e-9)  # smoothest first: information falls along the basis
    large, small = split_for(100.0, 0.01), split_for(2.0, 0.01)
    assert large > 0 and small == 0
    assert split_for(1000.0, 0.01) > large  # more data, more coordinates pinned down
    arrays, coords, n = baseline_split(np.full((10, 24), 100.0), events, basis, targets, "auto", 25.0)
    assert n == len(arrays["baseline_coef_centred_idx"]) == len(coords["centred_baseline_coef"])
    assert set(arrays["baseline_coef_target"][arrays["baseline_coef_centred_idx"]]) == {0, 1}
    assert baseline_split(np.full((10, 24), 100.0), events, basis, targets, "noncentred", 25.0)[2] == 0


def test_description_says_which_coordinates_are_centred(small_ipsung: Path, tmp_path: Path) -> None:
    split = check(
        tte_config(small_ipsung, tmp_path, **{"model.baseline_parameterisation": "auto", "model.centre_above": 25.0})
    )
    n = split.data.info["baseline_centred"]
    assert n > 0
    assert f"{n} of the walk's" in split.family.describe(split.spec, split.data)
    assert f"{n} av gangens" in split.family.describe(split.spec, split.data, "nb")
    # the default (non-centred), and 'auto' at the default threshold: nothing centred at 400 participants
    plain = check(tte_config(small_ipsung, tmp_path, **{"model.baseline_parameterisation": "auto"}))
    assert plain.data.info["baseline_centred"] == 0
    assert "sampled centred" not in plain.family.describe(plain.spec, plain.data)
