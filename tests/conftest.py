"""Shared fixtures: small simulated data sets and configs written to temporary folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from ipsbayes.simulate import simulate
from ipsbayes.testing import edit_config, load_raw_config

REPO = Path(__file__).resolve().parents[1]
#: compiled models (ipsbayes.compile_cache) of the test suite, and of the CLI runs it starts, go to a cache
#: folder of their own in the temporary folder, never to the user's cache in their home folder; it persists
#: between sessions so repeated test runs load what earlier ones compiled (IPSBAYES_TEST_CACHE_DIR moves it)
os.environ["IPSBAYES_CACHE_DIR"] = os.environ.get(
    "IPSBAYES_TEST_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"ipsbayes-test-cache-{os.getuid()}")
)
SMALL_IPSUNG = {"n_participants": 400, "n_services": 20, "n_specialists": 40}


@pytest.fixture(scope="session")
def small_ipsung(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small IPS ung data set (400 participants, 20 services) written once per session."""
    folder = tmp_path_factory.mktemp("ipsung_small")
    simulate("ipsung", seed=7, out=folder, options=SMALL_IPSUNG)
    return folder


@pytest.fixture
def data_copy(small_ipsung: Path, tmp_path: Path) -> Path:
    """A private copy of the small data set that a test may corrupt."""
    target = tmp_path / "data"
    shutil.copytree(small_ipsung, target)
    return target


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a copy of a models/ config, with edits, into tmp_path; return its path."""

    def _make(name: str = "ipsung_employment", data: Path | None = None, **changes: Any) -> Path:
        raw = load_raw_config(REPO / "models" / f"{name}.toml")
        if data is not None:
            for key in ("participants", "services", "reviews"):
                if key in raw["data"]:
                    raw["data"][key] = str(data / f"{key}.csv")
        if "sampler.profile" in changes:  # another profile: the config's own tune/draws were set for its profile
            for key in ("chains", "tune", "draws", "target_accept"):
                if f"sampler.{key}" not in changes:
                    raw.get("sampler", {}).pop(key, None)
        raw = edit_config(raw, **changes)
        path = tmp_path / f"{name}.toml"
        path.write_text(tomli_w.dumps(raw))
        return path

    return _make


#: every analysis config the repository ships (models/*.toml)
SHIPPED = tuple(sorted(p.stem for p in (REPO / "models").glob("*.toml")))
#: shorter chains than the ci profile: the shared runs check outputs, not estimates. The config's own
#: profile becomes ci too: '--profile ci' on a config of another profile drops its draws and tune
#: (RunConfig.with_overrides), which made these 400/400 (the ci profile's) instead of 200/200
SHIPPED_DRAWS = {"sampler.profile": "ci", "sampler.draws": 200, "sampler.tune": 200}
#: shipped configs fitted at the same time (each compiles on one core, then samples two chains)
SHIPPED_PARALLEL = 2


def ipsbayes_command() -> list[str]:
    """The installed ``ipsbayes`` entry point of this interpreter (or ``python -m ipsbayes.cli``)."""
    import sys

    entry = Path(sys.executable).parent / "ipsbayes"
    return [str(entry)] if entry.exists() else [sys.executable, "-m", "ipsbayes.cli"]


@pytest.fixture(scope="session")
def shipped_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every shipped config run once per session through the CLI at the ci profile (shorter chains).

    Shared by the end-to-end, figure-layout, browser and notebook tests so each config is fitted
    once. Returns name -> {"path": run folder, "stdout", "stderr", "returncode"}.
    """
    import os
    import subprocess

    root = tmp_path_factory.mktemp("shipped")
    environment = {**os.environ, "CI": "true"}
    commands = {}
    for name in SHIPPED:
        raw = load_raw_config(REPO / "models" / f"{name}.toml")
        config = root / f"{name}.toml"
        config.write_text(tomli_w.dumps(edit_config(raw, **SHIPPED_DRAWS)))
        commands[name] = [*ipsbayes_command(), "run", str(config), "--profile", "ci", "--out", str(root / name)]
    out: dict[str, dict[str, Any]] = {}
    pending = list(commands)
    running: dict[str, subprocess.Popen] = {}
    while pending or running:
        while pending and len(running) < SHIPPED_PARALLEL:  # compiling is single-threaded: two at a time
            name = pending.pop(0)
            with (root / f"{name}.stdout").open("w") as stdout, (root / f"{name}.stderr").open("w") as stderr:
                running[name] = subprocess.Popen(
                    commands[name], stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=environment
                )
        name = next(iter(running))
        returncode = running.pop(name).wait(timeout=900)
        out[name] = {
            "path": root / name,
            "stdout": (root / f"{name}.stdout").read_text(),
            "stderr": (root / f"{name}.stderr").read_text(),
            "returncode": returncode,
        }
    return out


@pytest.fixture(scope="session")
def shipped(shipped_runs: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """Run folders of every shipped config (fails naming the config whose run failed)."""
    failed = {n: r["stderr"][-2000:] for n, r in shipped_runs.items() if r["returncode"] != 0}
    assert not failed, failed
    return {name: run["path"] for name, run in shipped_runs.items()}


def prior_as_posterior(plan: Any, draws: int = 50, seed: int = 4) -> Any:
    """Prior draws of a checked plan's model shaped as a two-chain posterior, with its observed data (a DataTree)."""
    import pymc as pm
    import xarray as xr

    with plan.model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    values = prior["prior"].to_dataset()
    values = values.isel(chain=0) if "chain" in values.dims else values
    half = draws // 2
    first = values.isel(draw=slice(0, half))
    second = values.isel(draw=slice(half, 2 * half)).assign_coords(draw=first["draw"].values)
    posterior = xr.concat([first, second], dim="chain").assign_coords(chain=[0, 1])
    return xr.DataTree.from_dict({"posterior": posterior, "observed_data": prior["observed_data"].to_dataset()})


def time_to_job_with_spaced_age(folder: Path) -> tuple[Path, str]:
    """``models/ipsung_time_to_job.toml`` with its ``age`` column renamed ``age years`` (backticked in the formula).

    Returns the config written into ``folder`` and its formula.
    """
    import pandas as pd

    source = REPO / "models" / "ipsung_time_to_job.toml"
    raw = load_raw_config(source)
    frame = pd.read_csv(source.parent / raw["data"]["participants"]).rename(columns={"age": "age years"})
    frame.to_csv(folder / "participants.csv", index=False)
    changes = {
        f"data.{k}": str((source.parent / v).resolve()) for k, v in raw["data"].items() if str(v).endswith(".csv")
    }
    changes["data.participants"] = str(folder / "participants.csv")
    formula = raw["model"]["formula"].replace("~ age +", "~ `age years` +")
    changes["model.formula"] = formula
    config = folder / "config.toml"
    config.write_text(tomli_w.dumps(edit_config(raw, **changes)))
    return config, formula
