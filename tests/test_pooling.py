"""Per-group centring of group intercepts: the choice rule and an exact equivalence of densities."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ipsbayes.models.pooling import choose_centred, group_information, split_arrays
from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config


def test_information_is_participants_times_binomial_variance() -> None:
    idx = np.array([0, 0, 0, 0, 1, 1])
    info = group_information(idx, np.ones(6), np.array([1, 0, 1, 0, 1, 0]), size=3)
    assert np.allclose(info, [1.0, 0.5, 0.0])  # p = 0.5: 4 x 0.25, 2 x 0.25, an empty group
    collapsed = group_information(np.array([0, 1]), np.array([4.0, 2.0]), np.array([2, 1]), size=2)
    assert np.allclose(collapsed, [1.0, 0.5])  # binomial rows count their trials


def test_choice_rule() -> None:
    info = np.array([5.0, 30.0, 400.0])
    assert choose_centred(info, "auto", 25.0).tolist() == [False, True, True]
    assert not choose_centred(info, "noncentred", 25.0).any() and choose_centred(info, "centred", 25.0).all()


def test_auto_centres_large_services_only_with_one_grouping_factor(make_config, small_ipsung: Path) -> None:
    services_only = _formula().replace(" + (1 | service:specialist)", "")
    plan = check(make_config(data=small_ipsung, **{"model.formula": services_only, "model.centre_above": 3.0}))
    assert 0 < plan.data.info["centred_groups"]["service"] < 20
    assert "centred form" in plan.family.describe(plan.spec, plan.data)
    nested = check(make_config(data=small_ipsung, **{"model.formula": _formula(), "model.centre_above": 3.0}))
    assert nested.data.info["centred_groups"] == {"service": 0, "specialist": 0}
    assert "'auto' keeps every group non-centred" in nested.family.describe(nested.spec, nested.data)


def test_split_arrays_name_both_sides_and_skip_empty_ones() -> None:
    labels = ["S1", "S2", "S3"]
    assert split_arrays("service", labels, np.zeros(3, bool)) == ({}, {})
    arrays, coords = split_arrays("service", labels, np.array([True, False, True]))
    assert arrays["service_centred_idx"].tolist() == [0, 2] and arrays["service_noncentred_idx"].tolist() == [1]
    assert coords == {"centred_service": ["S1", "S3"], "noncentred_service": ["S2"]}
    arrays, coords = split_arrays("service", labels, np.ones(3, bool))
    assert "service_noncentred_idx" not in arrays and "noncentred_service" not in coords


@pytest.mark.parametrize(
    ("fidelity_source", "parameterisation"), [("column", "mixed"), ("reviews", "mixed"), ("column", "centred")]
)
def test_centring_is_the_same_density(
    make_config, small_ipsung: Path, fidelity_source: str, parameterisation: str
) -> None:
    """Centred groups change the coordinates, not the model: log densities differ by the Jacobian only.

    For the same group effects, the model with some groups centred has log density equal to the
    non-centred one minus log(sd) for each centred group (the Jacobian of theta = mean + sd * z); the
    effects agree exactly. Services (the anchor factor) are centred on intercept + slope * fidelity,
    specialists on zero. 'mixed' centres every other group of both factors (built by hand to test
    the index maps); 'centred' centres all of them.
    """
    changes = {"model.formula": _formula(), "model.fidelity.source": fidelity_source}
    if fidelity_source == "reviews":
        changes |= {"data.reviews": str(small_ipsung / "reviews.csv"), "model.fidelity.measurement_error": True}
    base = make_config(data=small_ipsung, **changes, **{"model.parameterisation": "noncentred"})
    plain = check(base).model
    mixed_plan = _mixed_plan(make_config(data=small_ipsung, **changes), parameterisation)
    mixed, centred = mixed_plan.model, mixed_plan.data.info["centred_groups"]
    assert 0 < centred["service"] and 0 < centred["specialist"]

    rng = np.random.default_rng(3)
    point = {name: rng.normal(0.0, 0.7, size=np.shape(v)) for name, v in sorted(plain.initial_point().items())}
    outputs = [plain["service_effect"], plain["specialist_effect"], *_means(plain)]
    compiled = plain.compile_fn(plain.replace_rvs_by_values(outputs), inputs=plain.value_vars, on_unused_input="ignore")
    service_effect, specialist_effect, service_theta = compiled(point)
    sd_service, sd_specialist = np.exp(point["sd_service_log__"]), np.exp(point["sd_specialist_log__"])

    mixed_point = {k: v for k, v in point.items() if k not in {"z_service", "z_specialist"}}
    coords = mixed.coords
    position = {dim: {label: j for j, label in enumerate(coords[dim])} for dim in ("service", "specialist")}
    c_s = [position["service"][s] for s in coords["centred_service"]]
    nc_s = [position["service"][s] for s in coords.get("noncentred_service", [])]
    c_k = [position["specialist"][k] for k in coords["centred_specialist"]]
    nc_k = [position["specialist"][k] for k in coords.get("noncentred_specialist", [])]
    mixed_point |= {"service_centred": service_theta[c_s], "specialist_centred": specialist_effect[c_k]}
    if nc_s:
        mixed_point["z_service"] = point["z_service"][nc_s]
    if nc_k:
        mixed_point["z_specialist"] = point["z_specialist"][nc_k]
    logp_plain = plain.compile_logp(jacobian=True)(point)
    logp_mixed = mixed.compile_logp(jacobian=True)(mixed_point)
    jacobian = len(c_s) * np.log(sd_service) + len(c_k) * np.log(sd_specialist)
    assert logp_mixed == pytest.approx(logp_plain - jacobian, rel=1e-9, abs=1e-6)
    again = mixed.compile_fn(
        mixed.replace_rvs_by_values([mixed["service_effect"], mixed["specialist_effect"]]),
        inputs=mixed.value_vars,
        on_unused_input="ignore",
    )(mixed_point)
    assert np.allclose(again[0], service_effect) and np.allclose(again[1], specialist_effect)


def _mixed_plan(config: Path, parameterisation: str):
    """Everything centred, or every other service and specialist centred."""
    if parameterisation == "centred":
        return check(edit_config(load_raw_config(config), **{"model.parameterisation": "centred"}))
    plan = check(edit_config(load_raw_config(config), **{"model.parameterisation": "noncentred"}))
    data = plan.data
    arrays = {k: v for k, v in data.arrays.items() if "centred_idx" not in k}
    coords = {k: v for k, v in data.coords.items() if "centred_" not in k}
    info = dict(data.info, centred_groups={})
    for dim in ("service", "specialist"):
        mask = np.arange(len(coords[dim])) % 2 == 0
        split, split_coords = split_arrays(dim, list(coords[dim]), mask)
        arrays |= split
        coords |= split_coords
        info["centred_groups"][dim] = int(mask.sum())
    data = dataclasses.replace(data, arrays=arrays, coords=coords, info=info)
    return dataclasses.replace(plan, data=data, model=plan.family.build(data, plan.spec, plan.priors))


def _formula() -> str:
    return (
        "work_or_education_12m ~ age + gender + months_outside + diagnosis + ips25 "
        "+ (1 | service) + (1 | service:specialist)"
    )


def _means(model) -> list:
    """The non-centred model's service intercepts theta = intercept + slope * fidelity + effect."""
    import pytensor.tensor as pt

    fidelity = model["fidelity_latent"] if "fidelity_latent" in model.named_vars else model["fidelity"]
    return [model["intercept"] + model["fidelity_slope"] * fidelity + model["service_effect"] + pt.zeros(())]
