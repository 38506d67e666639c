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

import tomllib
from pathlib import Path

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
        changes["model.formula"] = response.replace(old, new) + "~" + rest
    config = folder / f"{new}.toml"
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
    for key, value in raw["data"].items():
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
        if name not in renamed.model.coords and f"{name}_group" not in renamed.model.coords:
            failures.append(f"{name}: no dim for the group ({sorted(renamed.model.coords)})")
    assert not failures, "\n".join(failures)
