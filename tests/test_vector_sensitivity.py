"""Sensitivity refits and power-scaling of vector estimands, element by element (every family).

A family whose headline estimands are vectors (a share per outcome, an effect per predictor, an
incidence per month or target) once got no refit comparison (``TypeError`` in the sensitivity
table after the refits had been sampled) and no power-scaling (skipped without a word, while the
answer advised setting ``sensitivity.power_scaling = true``, which was set). Each element is now
compared as a scalar ``name[coordinate]``, and what cannot be done is refused by ``check``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import tomli_w
import xarray as xr

import ipsbayes
from ipsbayes.compared import SLASH, compared_names, draws_of, element_key, flatten, resolve
from ipsbayes.errors import ConfigError
from ipsbayes.loo_policy import MAX_POINTWISE_ROWS
from ipsbayes.models import REGISTRY
from ipsbayes.present.answers import prior_dependence_line
from ipsbayes.report.figures_sensitivity import (
    MAX_PRIOR_POSTERIOR,
    compared_estimands,
    power_scaling_plot,
    prior_posterior,
    sensitivity_forest,
    title_of,
)
from ipsbayes.report.sections import sensitivity_section
from ipsbayes.report.tables import sensitivity_table
from ipsbayes.rundir import write_posterior
from ipsbayes.runner import check
from ipsbayes.sensitivity import power_scaling, power_scaling_problems
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO
from .wording import CHAINS, DRAWS, context

CATEGORIES = ["none", "work", "education"]
CONTRASTS = [
    "age: +1 SD (4.39)",
    "gender: male vs female",
    "months_outside: +1 SD (11.6)",
    "diagnosis: psychosis vs anxiety_depression",
    "ips25: +1 SD (14.6)",
    "education_collaboration: 1 vs 0",
    "region: north/west vs south",
    "dose: 2.5 vs 0",
]


def _mu(seed: int = 0, scale: float = 0.1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.3, scale, size=(CHAINS, DRAWS))


def vector_estimands(mu: np.ndarray, with_scalar: bool = False) -> xr.Dataset:
    """Competing-outcomes-like estimands, all vectors (as the family has), computed from draws of ``mu``."""
    sample = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)}
    logits = mu[..., None] * np.array([1.0, -0.5, 0.8])
    shares = 100 * np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    effects = mu[..., None] * np.linspace(-8, 10, len(CONTRASTS))
    out = xr.Dataset()
    out["category_share"] = xr.DataArray(
        shares,
        dims=("chain", "draw", "category"),
        coords={**sample, "category": CATEGORIES},
        attrs={"label": "Expected share reaching each outcome", "label_nb": "Forventet andel", "unit": "%"},
    )
    out["category_share"].attrs["headline"] = True
    out["focus_ame"] = xr.DataArray(
        effects,
        dims=("chain", "draw", "contrast"),
        coords={**sample, "contrast": CONTRASTS},
        attrs={"label": "Average marginal effect on education", "unit": "pp", "null": 0.0, "headline": True},
    )
    out["service_share"] = xr.DataArray(  # not a headline estimand: compared only when chosen
        np.repeat(shares[..., None, :], 2, axis=-2),
        dims=("chain", "draw", "service", "category"),
        coords={**sample, "service": ["S1", "S2"], "category": CATEGORIES},
        attrs={"label": "Share per service", "unit": "%"},
    )
    if with_scalar:
        out["rate"] = xr.DataArray(100 * mu, dims=("chain", "draw"), coords=sample, attrs={"unit": "%", "headline": 1})
    out.attrs["vocabulary"] = json.dumps({"education": "education", "education_nb": "utdanning"})
    return out


def test_vector_headline_estimands_are_compared_element_by_element() -> None:
    estimands = vector_estimands(_mu(), with_scalar=True)
    names = compared_names(estimands)
    assert names[:3] == ["category_share[none]", "category_share[work]", "category_share[education]"]
    assert names[3] == "focus_ame[age: +1 SD (4.39)]" and names[-1] == "rate"
    assert len(names) == len(CATEGORIES) + len(CONTRASTS) + 1  # service_share is no headline estimand
    # sensitivity.estimands naming a vector compares its elements; a scalar stays itself
    assert compared_names(estimands, ["focus_ame"]) == [f"focus_ame[{c.replace('/', SLASH)}]" for c in CONTRASTS]
    assert compared_names(estimands, ["rate"]) == ["rate"]
    assert compared_names(estimands, ["service_share"])[:2] == ["service_share[S1, none]", "service_share[S1, work]"]


def test_every_element_resolves_to_its_draws_and_is_writable(tmp_path: Path) -> None:
    estimands = vector_estimands(_mu())
    estimands["grid"] = xr.DataArray(  # decimal coordinates, and a dimension without coordinates
        np.zeros((CHAINS, DRAWS, 2, 3)),
        dims=("chain", "draw", "horizon", "bare"),
        coords={"horizon": [6.0, 12.123456]},
    )
    names = compared_names(estimands, ["category_share", "focus_ame", "service_share", "grid"])
    assert "grid[12.12, 2]" in names and f"focus_ame[region: north{SLASH}west vs south]" in names
    for key in names:
        name, selection = resolve(estimands, key)
        expected = estimands[name].isel({d: list(estimands[name][d].values).index(v) for d, v in selection.items()})
        np.testing.assert_array_equal(draws_of(estimands, key).values, expected.values)
        assert draws_of(estimands, key).dims == ("chain", "draw")
    assert resolve(estimands, "focus_ame[no such contrast]") is None and resolve(estimands, "nothing") is None
    scalars = flatten(estimands, names)
    assert list(scalars.data_vars) == names
    write_posterior(xr.DataTree.from_dict({"sensitivity": scalars}), tmp_path / "elements.nc")  # as a run writes it
    assert list(xr.open_datatree(tmp_path / "elements.nc", engine="h5netcdf")["sensitivity"].data_vars) == names


def test_elements_carry_their_estimand_attributes_and_the_study_words() -> None:
    estimands = vector_estimands(_mu())
    key = element_key("category_share", {"category": "education"})
    scalars = flatten(estimands, [key, "focus_ame[gender: male vs female]"], labels={"none": "no activity"})
    share = scalars[key]
    assert share.attrs["element_of"] == "category_share" and share.attrs["unit"] == "%"
    assert json.loads(share.attrs["element"]) == {"category": "education"}
    assert share.attrs["label"] == "Expected share reaching each outcome: education"
    assert share.attrs["label_nb"] == "Forventet andel: utdanning"  # the family's word in Norwegian
    labelled = flatten(estimands, ["category_share[none]"], labels={"none": "no activity"})
    assert labelled["category_share[none]"].attrs["label"].endswith(": no activity")  # [report.labels] first
    effect = scalars["focus_ame[gender: male vs female]"]
    assert effect.attrs["null"] == 0.0 and effect.attrs["headline"]
    assert effect.attrs["label"] == "Average marginal effect on education: gender: male vs female"


def _tree(estimands: xr.Dataset, mu: np.ndarray, seed: int = 2) -> xr.DataTree:
    """Log-prior and log-likelihood of ``mu`` (one observed variable), as a run stores them."""
    y = np.random.default_rng(seed).normal(0.3, 1.0, size=300)
    return xr.DataTree.from_dict(
        {
            "estimands": estimands,
            "log_prior": xr.Dataset({"mu": (("chain", "draw"), -0.5 * (mu / 0.2) ** 2)}),
            "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), -0.5 * (y - mu[..., None]) ** 2)}),
        }
    )


def test_power_scaling_gives_each_element_what_arviz_gives_and_one_row_per_vector() -> None:
    mu = _mu()
    estimands = vector_estimands(mu)
    names = compared_names(estimands)
    power = power_scaling(_tree(estimands, mu), estimands, names, ["mu"])
    rows = [str(e) for e in power["estimand"].values]
    assert rows == ["category_share", *names[:3], "focus_ame", *names[3:]]  # each vector's row before its elements
    assert json.loads(power.attrs["elements"]) == {"category_share": names[:3], "focus_ame": names[3:]}
    for vector, elements in json.loads(power.attrs["elements"]).items():
        for column in ("prior", "likelihood"):
            assert float(power[column].sel(estimand=vector)) == max(
                float(power[column].sel(estimand=e)) for e in elements
            )
        assert str(power["diagnosis"].sel(estimand=vector).values) == ""  # nothing flagged twice
    reference_tree = xr.DataTree.from_dict(
        {
            "posterior": estimands[["focus_ame"]],
            "log_prior": _tree(estimands, mu)["log_prior"].to_dataset(),
            "log_likelihood": _tree(estimands, mu)["log_likelihood"].to_dataset(),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = az.psense_summary(reference_tree, round_to=6)  # ArviZ on the vector itself
    ours = power.sel(estimand=names[3:])
    np.testing.assert_allclose(ours["prior"].values, reference["prior"].to_numpy(dtype=float), atol=1e-6)
    np.testing.assert_allclose(ours["likelihood"].values, reference["likelihood"].to_numpy(dtype=float), atol=1e-6)


def vector_context(language: str = "en", power: bool = True, refits: bool = True):
    """A report context of a run whose estimands are all vectors, with refits and power-scaling as a run stores them."""
    mu = _mu()
    estimands = vector_estimands(mu)
    estimands.attrs["model_kind"] = "competing_outcomes"
    names = compared_names(estimands)
    tree = _tree(estimands, mu)
    groups: dict[str, xr.Dataset] = {
        "prior_estimands": vector_estimands(_mu(seed=5, scale=1.0)),
        "log_prior": tree["log_prior"].to_dataset(),
        "log_likelihood": tree["log_likelihood"].to_dataset(),
    }
    if refits:
        analyses = {"main (weakly_informative)": estimands, "prior set: sceptical": vector_estimands(_mu(seed=9))}
        stacked = xr.concat(
            [flatten(e, names) for e in analyses.values()],
            dim=pd.Index(list(analyses), name="analysis"),
            combine_attrs="override",
        )
        stacked.attrs["gates"] = json.dumps({a: {"status": "pass", "messages": []} for a in analyses})
        groups["sensitivity"] = stacked
    if power:
        groups["power_scaling"] = power_scaling(tree, estimands, names, ["mu"])
    return context(estimands, language, groups=groups, labels={"education": "further education"}), names


@pytest.mark.parametrize("refits", [True, False])
@pytest.mark.parametrize("language", ["en", "nb"])
def test_figures_tables_and_answer_work_for_elements(language: str, refits: bool) -> None:
    ctx, names = vector_context(language, refits=refits)
    assert compared_estimands(ctx) == names  # the refitted ones, else the power-scaled ones (no summary rows)
    with matplotlib.rc_context(ctx.style.rc()):
        for draw in (prior_posterior, power_scaling_plot, *((sensitivity_forest,) if refits else ())):
            fig, caption = draw(ctx)
            titles = " ".join(ax.get_title() for ax in fig.get_axes()) + " ".join(
                sub._suptitle.get_text() for sub in fig.subfigs if sub._suptitle is not None
            )
            assert "[" not in titles and ("category_share" not in titles), titles  # readable, not raw names
            assert (f"of the {len(names)}" if language == "en" else f"av de {len(names)}") in caption, caption
            plt.close(fig)
    fig, _ = prior_posterior(ctx)
    assert len([ax for ax in fig.get_axes() if ax.get_title()]) == MAX_PRIOR_POSTERIOR
    plt.close(fig)
    title = title_of(ctx, "category_share[education]", 200)  # [report.labels] name the element
    assert title.endswith(": further education") and title.startswith(("Expected share", "Forventet andel"))
    line = prior_dependence_line(ctx, "focus_ame", ("the effect", "effekten"))
    assert "sensitivity.power_scaling" not in line and "sensitivity.prior_sets" not in line, line
    # refits first (with present/answers.py reading vector estimands' elements), else power-scaling
    assert any(w in line for w in ("Power-scaling", "Across prior sets", "På tvers av priorsett")), line
    section = sensitivity_section(ctx)
    assert section.count("| ") > len(names)
    if refits:
        table = sensitivity_table(ctx.datatree["sensitivity"].to_dataset(), "eti", 0.9, {})
        assert len(table) == 2 * len(names) and set(table["estimand"]) == set(names)
        assert table["lower"].notna().all() and (table["lower"] <= table["upper"]).all()


def test_check_refuses_power_scaling_that_the_data_size_rules_out(tmp_path: Path) -> None:
    tte, logistic = REGISTRY["time_to_event"], REGISTRY["hierarchical_logistic"]
    assert not tte.sums_large_log_likelihood and logistic.sums_large_log_likelihood
    on = SimpleNamespace(sensitivity=SimpleNamespace(power_scaling=True, model_fields_set={"power_scaling"}))
    off = SimpleNamespace(sensitivity=SimpleNamespace(power_scaling=False, model_fields_set={"power_scaling"}))
    default = SimpleNamespace(sensitivity=SimpleNamespace(power_scaling=True, model_fields_set=set()))
    large = SimpleNamespace(arrays={"y": np.zeros(MAX_POINTWISE_ROWS + 1)})
    small = SimpleNamespace(arrays={"y": np.zeros(10)})
    # (config, data, pointwise: every row kept, summable: the model sums its log-likelihood per draw)
    assert power_scaling_problems(off, large, False, False) == []
    assert power_scaling_problems(default, large, False, False) == []  # on by default: skipped, noted
    assert power_scaling_problems(on, small, True, False) == []
    assert power_scaling_problems(on, large, False, True) == []
    assert "power_scaling = false" in power_scaling_problems(on, large, False, False)[0]
    # the shipped time-to-event config (110,592 person-month rows) with power-scaling on: refused before sampling
    raw = load_raw_config(REPO / "models" / "ipsung_time_to_job.toml")
    for key in ("participants", "services", "monthly_status"):
        raw["data"][key] = str((REPO / "models" / raw["data"][key]).resolve())
    path = tmp_path / "tte.toml"
    path.write_text(tomli_w.dumps(edit_config(raw, **{"sensitivity.power_scaling": True})))
    with pytest.raises(ConfigError) as error:
        check(path)
    assert "sensitivity.power_scaling" in str(error.value) and "power_scaling = false" in str(error.value)
    del raw["sensitivity"]["power_scaling"]  # not asked for: the run skips it and its report says so
    path.write_text(tomli_w.dumps(raw))
    check(path)


@pytest.mark.sampling
def test_competing_outcomes_run_compares_prior_sets_and_power_scales_each_element(make_config, small_ipsung) -> None:
    """The reviewer's config: prior_sets and power_scaling on a family whose headline estimands are all vectors."""
    path = make_config(
        "ipsung_outcomes",
        data=small_ipsung,
        **{
            "sampler.profile": "ci",
            "sampler.draws": 150,
            "sampler.tune": 150,
            "sensitivity.prior_sets": ["ips_literature", "sceptical"],  # sceptical: the same priors here
            "sensitivity.power_scaling": True,
        },
    )
    check(path)
    run = ipsbayes.run(path, out=path.parent / "run", progress=False)
    tree = run.datatree
    estimands = tree["estimands"].to_dataset()
    names = compared_names(estimands)
    assert any(n.startswith("focus_ame[") for n in names) and any(n.startswith("category_share[") for n in names)
    sensitivity = tree["sensitivity"].to_dataset()
    assert list(sensitivity.data_vars) == names
    assert [str(a) for a in sensitivity["analysis"].values] == [
        "main (weakly_informative)",
        "prior set: ips_literature",
    ]
    assert "The prior set 'sceptical' gives this model the same priors" in run.report_md.read_text()
    assert all(set(sensitivity[n].dims) == {"analysis", "chain", "draw"} for n in names)
    power = tree["power_scaling"].to_dataset()
    assert {"focus_ame", "category_share", *names} <= {str(e) for e in power["estimand"].values}
    table = pd.read_csv(run.path / "tables" / "sensitivity.csv")
    assert len(table) == 2 * len(names) and table["median"].notna().all()
    assert len(pd.read_csv(run.path / "tables" / "power_scaling.csv")) == len(power["estimand"])
    for figure in ("prior_posterior", "sensitivity_forest", "power_scaling"):
        assert figure in run.figures, figure
    md = run.report_md.read_text()
    assert "power\\_scaling = true" not in md and "power_scaling = true" not in md  # never advises what is set
    assert "was not checked in this run" not in md
    assert "the one that moves most" in md  # refits come first; the answer names the element that moves most


@pytest.mark.parametrize("language", ["en", "nb"])
def test_answer_with_refits_only_speaks_of_the_element_that_moves_most(language: str) -> None:
    ctx, _ = vector_context(language, power=False)
    line = prior_dependence_line(ctx, "focus_ame", ("the effect", "effekten"))
    assert "sensitivity.power_scaling" not in line and "sensitivity.prior_sets" not in line, line
    assert ("Across prior sets" if language == "en" else "På tvers av priorsett") in line, line
    assert ("of its 8 elements" if language == "en" else "av 8 elementer") in line, line
    section = sensitivity_section(ctx)
    assert "focus ame[" not in section, section  # elements named in words (report/verdict.py short_name)
    assert "average marginal effect on education: gender: male" in section.lower()
    # an estimand the refits did not cover: the line says so and names the key that would, never one already set
    line = prior_dependence_line(ctx, "rate", ("the rate", "andelen"))
    assert "`sensitivity.estimands`" in line and "prior_sets" not in line and "power_scaling" not in line, line
