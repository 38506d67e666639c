"""Shared fixtures: small simulated data sets and configs written to temporary folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from ipsbayes.simulate import simulate
from ipsbayes.testing import edit_config, load_raw_config

REPO = Path(__file__).resolve().parents[1]
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
