"""An outcome column may be called anything: the observed variable never takes a name the model already uses.

A model's graph names its data containers (``X_T``, ``y``, ``z``, ...), its parameters (``beta``,
``intercept``, ``sd_service``, ...) and its dims. An outcome column with one of those names once
failed to build ("Variable name beta already exists") in some model kinds, and was renamed by
hand-kept lists in others. ``ipsbayes.models.base.observed_name`` now derives the name from the
built model itself. These tests take every name a shipped model uses, give the outcome column that
name, and check the model builds, its observed variable has a name of its own, and the run's
``response`` names that variable.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config

REPO = Path(__file__).resolve().parents[1]
#: one shipped config per model kind and outcome family (time to event has no outcome column)
CONFIGS = [
    "models/ipsung_employment.toml",  # hierarchical logistic, Bernoulli
    "models/ipsung_outcomes.toml",  # competing outcomes
    "models/rij_cace.toml",  # CACE
    "examples/rats/rats.toml",  # multilevel, Gaussian, correlated varying slopes
    "examples/seeds/seeds.toml",  # multilevel, binomial p(r, n)
]


def _outcome(model: dict) -> str:
    if "outcome" in model:
        return model["outcome"]
    left = model["formula"].split("~")[0].strip()
    return left[2:-1].split(",")[0].strip() if left.startswith("p(") else left


def _renamed(source: Path, new: str, folder: Path) -> Path:
    """``source`` with its outcome column called ``new`` (data copied into ``folder``)."""
    raw = load_raw_config(source)
    old = _outcome(raw["model"])
    key = "participants" if "participants" in raw["data"] else "main"
    table = (source.parent / raw["data"][key]).resolve()
    pd.read_csv(table).rename(columns={old: new}).to_csv(folder / table.name, index=False)
    changes = {f"data.{key}": str(folder / table.name)}
    for name, value in raw["data"].items():
        if name != key and isinstance(value, str) and name not in ("missing", "monthly_format"):
            changes[f"data.{name}"] = str((source.parent / value).resolve())
    if "outcome" in raw["model"]:
        changes["model.outcome"] = new
    else:
        response, rest = raw["model"]["formula"].split("~", 1)
        changes["model.formula"] = response.replace(old, new if new.isidentifier() else f"`{new}`") + "~" + rest
    config = folder / f"{re.sub(r'\W', '_', new)}.toml"
    config.write_text(tomli_w.dumps(edit_config(raw, **changes)))
    return config


@pytest.mark.parametrize("relative", CONFIGS)
def test_an_outcome_named_like_anything_in_its_model_builds(tmp_path: Path, relative: str) -> None:
    source = REPO / relative
    raw = tomllib.loads(source.read_text())
    plan = check(source)
    observed = {rv.name for rv in plan.model.observed_RVs}
    key = "participants" if "participants" in raw["data"] else "main"
    columns = set(pd.read_csv(source.parent / raw["data"][key], nrows=1).columns)
    # every name the model uses, except its observed variable and the data's own columns (a column may not be
    # renamed onto another column)
    names = sorted((set(plan.model.named_vars) | set(plan.model.coords)) - observed - columns)
    assert len(names) >= 8, names
    failures = []
    for name in names:
        try:
            renamed = check(_renamed(source, name, tmp_path))
        except Exception as error:  # collected, so one run lists every name that fails
            failures.append(f"{name}: {type(error).__name__}: {error}"[:300])
            continue
        (rv,) = renamed.model.observed_RVs
        others = (set(renamed.model.named_vars) - {rv.name}) | set(renamed.model.coords)
        if rv.name in others or renamed.data.info["response"] != rv.name:
            failures.append(f"{name}: observed as {rv.name!r}, response {renamed.data.info['response']!r}")
        if name in observed or not rv.name.startswith(name):
            failures.append(f"{name}: observed as {rv.name!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.sampling
@pytest.mark.parametrize(
    ("relative", "name"),
    [("examples/rats/rats.toml", "intercept"), ("models/rij_cace.toml", "treatment_effect")],
)
def test_a_run_whose_outcome_is_named_like_a_parameter_writes_its_report(
    tmp_path: Path, relative: str, name: str
) -> None:
    """End to end: the predictive draws, log-likelihood, report and figures all find the renamed variable."""
    import ipsbayes
    from ipsbayes.cli import main

    config = _renamed(REPO / relative, name, tmp_path)
    assert main(["run", str(config), "--profile", "ci", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    run = ipsbayes.load_run(tmp_path / "run")
    observed = f"{name}_observed"
    assert run.estimands.attrs["response"] == observed
    assert observed in run.datatree["posterior_predictive"] and observed in run.datatree["observed_data"]
    assert name in run.datatree["posterior"]  # the parameter keeps its own name
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000


def _group_renamed(source: Path, old: str, new: str, folder: Path) -> Path:
    """``source`` with its grouping column ``old`` called ``new`` in every table and in the model's terms."""
    raw = load_raw_config(source)
    raw.get("priors", {}).pop("overrides", None)  # they name parameters after the group
    changes = {}
    for key, value in raw["data"].items():
        if not isinstance(value, str) or key in ("missing", "monthly_format"):
            continue
        table = (source.parent / value).resolve()
        frame = pd.read_csv(table)
        if old in frame.columns:
            frame.rename(columns={old: new}).to_csv(folder / table.name, index=False)
            table = folder / table.name
        changes[f"data.{key}"] = str(table)
    formula = raw["model"]["formula"]
    changes["model.formula"] = formula.replace(f"| {old})", f"| {new})").replace(f"| {old}:", f"| {new}:")
    if raw["model"].get("service") == old:
        changes["model.service"] = new
    config = folder / f"group_{new}.toml"
    config.write_text(tomli_w.dumps(edit_config(raw, **changes)))
    return config


@pytest.mark.parametrize(
    ("relative", "group"),
    [("examples/rats/rats.toml", "rat"), ("models/ipsung_employment.toml", "service")],
)
def test_a_grouping_column_named_like_anything_in_its_model_builds(tmp_path: Path, relative: str, group: str) -> None:
    """A dim may not share a variable's name: a grouping factor called like one is renamed ``<name>_group``."""
    source = REPO / relative
    plan = check(_group_renamed(source, group, group, tmp_path))  # the priors as the renamed runs get them
    raw = tomllib.loads(source.read_text())
    columns = set()
    for value in raw["data"].values():
        if isinstance(value, str) and value.endswith(".csv"):
            columns |= set(pd.read_csv(source.parent / value, nrows=1).columns)
    names = sorted((set(plan.model.named_vars) | set(plan.model.coords)) - columns)
    assert len(names) >= 8, names
    failures = []
    for name in names:
        try:
            renamed = check(_group_renamed(source, group, name, tmp_path))
        except Exception as error:  # collected, so one run lists every name that fails
            failures.append(f"{name}: {type(error).__name__}: {error}"[:300])
            continue
        (factor,) = [f for f in renamed.data.info["formula"].factors if f.columns == (name,)]
        if factor.name not in renamed.model.coords:
            failures.append(f"{name}: no dim for the group ({sorted(renamed.model.coords)})")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", ["chain", "draw", "germ/plate", "r_observed"])
def test_an_outcome_named_like_a_dim_of_the_draws_or_with_a_slash_builds(tmp_path: Path, name: str) -> None:
    """``chain`` and ``draw`` are dims of every group of posterior.nc; PyMC's names cannot hold ``/``."""
    plan = check(_renamed(REPO / "examples/seeds/seeds.toml", name, tmp_path))
    (rv,) = plan.model.observed_RVs
    assert rv.name == plan.data.info["response"] and rv.name not in ("chain", "draw") and "/" not in rv.name
    assert f"`{name}`" in plan.family.describe(plan.spec, plan.data)  # the report names the column


@pytest.mark.parametrize(
    ("relative", "name"), [("examples/seeds/seeds.toml", "beta"), ("models/ipsung_employment.toml", "sd_service")]
)
def test_the_description_names_the_outcome_column_not_the_observed_variable(
    tmp_path: Path, relative: str, name: str
) -> None:
    plan = check(_renamed(REPO / relative, name, tmp_path))
    for language in ("en", "nb"):
        text = plan.family.describe(plan.spec, plan.data, language=language)
        assert f"`{name}`" in text and f"{name}_observed" not in text


@pytest.mark.parametrize(
    ("first", "second"),
    [("beta", "beta_group"), ("obs", "obs_group"), ("beta", "beta_group_effect"), ("y", "y_group_idx")],
)
def test_two_grouping_columns_whose_new_names_would_meet_both_build(tmp_path: Path, first: str, second: str) -> None:
    """Renaming ``beta`` to ``beta_group`` must not land on a factor already called that (or on its variables)."""
    source = REPO / "examples/cbpp/cbpp.toml"
    frame = pd.read_csv(source.parent / "cbpp.csv").rename(columns={"herd": first, "period": second})
    frame.to_csv(tmp_path / "cbpp.csv", index=False)
    raw = load_raw_config(source)
    raw.get("priors", {}).pop("overrides", None)
    raw["model"].pop("vocabulary", None)
    config = tmp_path / "config.toml"
    changes = {
        "data.main": str(tmp_path / "cbpp.csv"),
        "model.formula": f"p(incidence, size) ~ 1 + (1 | {first}) + (1 | {second})",
    }
    config.write_text(tomli_w.dumps(edit_config(raw, **changes)))
    plan = check(config)
    dims = [f.name for f in plan.data.info["formula"].factors]
    assert len(set(dims)) == 2 and {len(plan.model.coords[d]) for d in dims} == {15, 4}


def test_a_renamed_grouping_factor_keeps_its_columns_words(tmp_path: Path) -> None:
    """seeds' ``plate`` column called ``beta``: the factor is ``beta_group``, its word still the config's."""
    config = _group_renamed(REPO / "examples/seeds/seeds.toml", "plate", "beta", tmp_path)
    raw = load_raw_config(config)
    raw["model"]["vocabulary"] = {"beta": "dish", "beta_plural": "dishes"}
    config.write_text(tomli_w.dumps(raw))
    plan = check(config)
    words = plan.family.vocabulary(plan.spec)
    assert words["beta_group"] == "dish" and words["beta_group_plural"] == "dishes"
    assert "21 dishes" in plan.family.describe(plan.spec, plan.data)
    raw["model"]["vocabulary"] = {}
    config.write_text(tomli_w.dumps(raw))
    assert check(config).family.vocabulary(check(config).spec)["beta_group"] == "beta"


def test_a_name_merely_beginning_like_a_factor_is_not_renamed() -> None:
    from ipsbayes.models.formula import derived_from_others

    assert not derived_from_others("z_classroom", ["class", "z_classroom"])
    assert derived_from_others("z_class", ["class", "z_class"])
    assert derived_from_others("sd_class_day", ["class", "sd_class_day"])
    assert derived_from_others("class_effect", ["class", "class_effect"])


def test_a_time_to_event_covariate_with_a_space_builds(tmp_path: Path) -> None:
    """formulae gives the term back as ``age years``, without its backticks: it is quoted again."""
    from .conftest import time_to_job_with_spaced_age

    config, _ = time_to_job_with_spaced_age(tmp_path)
    plan = check(config)
    assert "age years" in plan.data.coords["term"]
    reference = check(REPO / "models/ipsung_time_to_job.toml")
    assert np.array_equal(plan.data.arrays["X"], reference.data.arrays["X"])


def test_a_grouping_column_named_sample_is_renamed_and_its_estimands_computed(tmp_path: Path) -> None:
    """lme4's Penicillin has a factor 'sample': xarray's stacking of draws under that name crashed after sampling."""
    import pymc as pm

    from ipsbayes.runner import describe_priors

    plan = check(_group_renamed(REPO / "examples/rats/rats.toml", "rat", "sample", tmp_path))
    (factor,) = [f for f in plan.data.info["formula"].factors if f.columns == ("sample",)]
    assert factor.name != "sample" and factor.name in plan.model.coords
    with plan.model:
        draws = pm.sample_prior_predictive(draws=10, random_seed=1)["prior"].to_dataset()
    estimands = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    assert estimands.sizes["draw"] == 10
    assert describe_priors(plan, draws=20)  # stacks the prior's draws
