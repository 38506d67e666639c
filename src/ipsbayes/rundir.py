"""Run folders: write them atomically, describe where they came from, read them back.

A run folder is written into a hidden staging folder next to its target and
renamed into place only when every file is complete, so a failed run never
leaves a half-written folder behind and an earlier run with the same name is
replaced only by a complete new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
import xarray as xr

from ipsbayes.diagnostics import Diagnostics

PACKAGES = (
    "ipsbayes",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "arviz-plots",
    "bambi",
    "formulae",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "matplotlib",
    "numba",
    "dask",
)
FILES = (
    "config.toml",
    "posterior.nc",
    "diagnostics.json",
    "summary.csv",
    "report.html",
    "report.md",
    "provenance.json",
)


@dataclass
class Run:
    """A finished run, in memory or read back from its folder.

    Attributes
    ----------
    path : Path
        The run folder.
    datatree : DataTree
        Posterior, sample stats, log-likelihood, predictive groups, observed data and estimands.
    summary : DataFrame
        Estimands on the users' scale (as in ``summary.csv``).
    diagnostics : Diagnostics
        The gate's result.
    config : dict
        The resolved config (prior set expanded).
    provenance : dict
        Versions, seed, data hashes, timings, sampler, host.
    figures : dict
        Figure name -> {format: path}.
    """

    path: Path
    datatree: xr.DataTree
    summary: pd.DataFrame
    diagnostics: Diagnostics
    config: dict[str, Any]
    provenance: dict[str, Any]
    figures: dict[str, dict[str, Path]] = field(default_factory=dict)

    @property
    def estimands(self) -> xr.Dataset:
        """The estimands group as a Dataset."""
        return self.datatree["estimands"].to_dataset()

    @property
    def report_html(self) -> Path:
        """Path of the self-contained HTML report."""
        return self.path / "report.html"

    @property
    def report_md(self) -> Path:
        """Path of the Markdown report."""
        return self.path / "report.md"

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, diagnostics={self.diagnostics.status!r}, estimands={len(self.summary)} rows)"


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a staging folder that replaces ``target`` only if the block finishes without error."""
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_posterior(datatree: xr.DataTree, path: Path) -> None:
    """Write the DataTree to netCDF with compression (predictive draws stored as small integers)."""
    tree = datatree.copy()
    for name in ("posterior_predictive", "prior_predictive"):
        if name in tree.children:
            dataset = tree[name].to_dataset()
            for var in dataset.data_vars:
                values = dataset[var]
                if np.issubdtype(values.dtype, np.integer) and values.size and int(values.max()) < 2**15:
                    dataset[var] = values.astype(np.int16)
            tree[name] = xr.DataTree(dataset)
    for node in tree.subtree:
        for holder in (node.dataset, *node.dataset.data_vars.values()):
            for key, value in list(holder.attrs.items()):
                if isinstance(value, bool | np.bool_):
                    holder.attrs[key] = int(value)
                elif value is None:
                    del holder.attrs[key]
    encoding = {}
    for node in tree.subtree:
        variables = {
            v: {"zlib": True, "complevel": 1} for v, arr in node.dataset.data_vars.items() if arr.dtype != object
        }
        if variables:
            encoding[node.path] = variables
    tree.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def write_json(path: Path, payload: Any) -> None:
    """Write JSON with numpy values converted and keys in a stable order."""
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def write_toml(path: Path, payload: dict[str, Any]) -> None:
    """Write TOML (None values dropped, since TOML has no null)."""
    path.write_text(tomli_w.dumps(_drop_none(payload)))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(start: Path) -> str | None:
    """Commit of the repository holding ``start`` (None outside git); '+dirty' marks uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(start), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(start), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def provenance(
    *,
    config: dict[str, Any],
    seed: int,
    sampler: dict[str, Any],
    data_files: dict[str, dict[str, Any]],
    timings: dict[str, float],
    started: float,
    model: dict[str, Any],
) -> dict[str, Any]:
    """Everything needed to say where a result came from and to reproduce it."""
    combined = hashlib.sha256("".join(f"{k}:{v['sha256']}" for k, v in sorted(data_files.items())).encode())
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "model": model,
        "sampler": sampler,
        "data": data_files,
        "data_sha256": combined.hexdigest(),
        "config_sha256": config_hash,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()}
        | {"total": round(time.perf_counter() - started, 3)},
        "versions": package_versions(),
        "git_commit": git_commit(Path(__file__).parent),
        "host": {
            "node": platform.node(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "command": " ".join(sys.argv),
    }


def load_run(path: Path | str) -> Run:
    """Read a run folder back.

    Parameters
    ----------
    path : path
        A folder written by ``ipsbayes run``.

    Raises
    ------
    FileNotFoundError
        Naming the files a run folder must have that are missing.
    """
    import tomllib

    folder = Path(path)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete ipsbayes run folder; missing: {', '.join(missing)}")
    datatree = xr.open_datatree(folder / "posterior.nc", engine="h5netcdf").load()
    summary = pd.read_csv(folder / "summary.csv", comment="#")
    diagnostics = Diagnostics.from_dict(json.loads((folder / "diagnostics.json").read_text()))
    with (folder / "config.toml").open("rb") as handle:
        config = tomllib.load(handle)
    figures: dict[str, dict[str, Path]] = {}
    for file in sorted((folder / "figures").glob("*.*")):
        figures.setdefault(file.stem, {})[file.suffix[1:]] = file
    provenance_data = json.loads((folder / "provenance.json").read_text())
    return Run(folder, datatree, summary, diagnostics, config, provenance_data, figures)
