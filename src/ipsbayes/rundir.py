"""Run folders: write them atomically, describe where they came from, read them back.

A run folder is written into a hidden staging folder next to its target,
claimed before any data are read (:func:`claim_run_output`), and renamed into
place only when every file is complete, so a failed or interrupted run never
leaves a half-written folder behind and an earlier run with the same name is
replaced only by a complete new one. Every run folder carries a manifest of the
files ipsbayes wrote; an earlier folder is replaced only if it has one, and
files it does not list are kept (see :mod:`ipsbayes.output`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import subprocess
import sys
import time
import tomllib
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
from ipsbayes.errors import ConfigError, OutputError
from ipsbayes.output import (
    OutputClaim,
    atomic_output,
    claim_output,
    releasing_claims,
)
from ipsbayes.output_refresh import refresh_folder

log = logging.getLogger("ipsbayes")

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
def atomic_folder(target: OutputClaim | Path | str, *, kind: str = "run") -> Iterator[Path]:
    """Yield a staging folder that is moved into place only if the block finishes without error.

    Parameters
    ----------
    target : OutputClaim or path
        A location claimed earlier with :func:`claim_run_output` (preferred: checked before any
        work) or a folder, which is then checked and claimed now.
    kind : {"run", "validation", "simulation"}
        The kind of folder, when ``target`` is a path.

    Raises
    ------
    OutputError
        When ``target`` holds something ipsbayes did not write (nothing is deleted or replaced).
    """
    claim = target if isinstance(target, OutputClaim) else claim_output(Path(target), kind=kind)
    with atomic_output(claim) as staging:
        yield staging


def claim_run_output(
    source: Any, out: Path | str | None = None, *, force: bool = False, kind: str = "run", suffix: str = ""
) -> OutputClaim | None:
    """Check and claim the output folder of a config before anything is read or fitted.

    Parameters
    ----------
    source : path, dict or RunConfig
        The run config; its name gives the default folder ``runs/<name><suffix>``.
    out : path, optional
        The folder asked for with ``--out``.
    force : bool
        Write into a versioned sibling (``runs/name-2``) when the folder holds something
        ipsbayes may not replace.
    kind : {"run", "validation"}
        The kind of folder.
    suffix : str
        Appended to the config's name for the default folder (``-validation``).

    Returns
    -------
    OutputClaim or None
        None when the config itself is invalid: the caller's validation then raises one
        error listing every problem.

    Raises
    ------
    OutputError
        When the location is refused or cannot be written (exit code 2).
    """
    from ipsbayes.config import RunConfig, load_config

    try:
        config = source if isinstance(source, RunConfig) else load_config(source)
    except ConfigError:
        return None
    target = Path(out) if out is not None else Path("runs") / f"{config.name}{suffix}"
    return claim_output(target, kind=kind, force=force, inputs=config.input_files())


def write_posterior(datatree: xr.DataTree, path: Path) -> None:
    """Write the DataTree to netCDF: every group, compressed where that pays.

    Predictive draws are stored as the smallest integer type that holds them (``int8`` for a
    binary outcome) and compressed, like every other integer or boolean array. Floating-point
    arrays (draws) are stored uncompressed, in full precision: zlib saved 5% of the pointwise
    log-likelihood's size at 15,000 rows and took 13 s of the run's 19 s of writing
    (``benchmarks/results/postfit.md``); on the posterior and estimands of a 1,500-row run it
    saved 0.6% of the file and took a quarter of the writing time (0.11 of 0.45 s).

    The netCDF C library (xarray's ``netcdf4`` engine) writes it where installed: h5netcdf looks up
    HDF5 objects from Python for every dimension of every variable (0.37 against 0.18 s of CPU at
    1,500 rows, ``benchmarks/results/posterior_writer.md``); both files read back identically. A
    name the C library refuses (an outcome column ``#score``), or any failure of it, leaves the
    file to h5netcdf, which keeps every name.
    """
    tree = datatree.copy()
    for name in ("posterior_predictive", "prior_predictive"):
        if name in tree.children:
            dataset = tree[name].to_dataset()
            for var in dataset.data_vars:
                values = dataset[var]
                if np.issubdtype(values.dtype, np.integer) and values.size:
                    low, high = int(values.min()), int(values.max())
                    for small in (np.int8, np.int16):
                        if np.iinfo(small).min <= low and high <= np.iinfo(small).max:
                            dataset[var] = values.astype(small)
                            break
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
        for var in node.dataset.variables.values():
            var.encoding = {}  # a tree read from a file carries that file's compression: the rules here decide
        variables = {v: {"zlib": True, "complevel": 1} for v, arr in node.dataset.data_vars.items() if _compress(arr)}
        if variables:
            encoding[node.path] = variables
    engine = writer_engine()
    if engine == "netcdf4" and (bad := [name for name in tree_names(tree) if not netcdf_name(name)]):
        log.debug("posterior.nc written by h5netcdf: the netCDF C library refuses the names %s", bad[:3])
        engine = "h5netcdf"
    try:
        tree.to_netcdf(path, engine=engine, encoding=encoding)
    except (RuntimeError, ValueError, OSError) as exc:
        if engine == "h5netcdf":
            raise
        log.debug("posterior.nc written again by h5netcdf: the netCDF C library failed (%s)", exc)
        tree.to_netcdf(path, engine="h5netcdf", encoding=encoding)


#: a name the netCDF C library accepts: a letter, digit, underscore or non-ASCII character first; then
#: anything but "/" and control characters; no whitespace at the end (netCDF's "extended" names)
_NETCDF_NAME = re.compile(r"[A-Za-z0-9_\u0080-\U0010ffff][^/\x00-\x1f\x7f]*")


def netcdf_name(name: Any) -> bool:
    """Whether the netCDF C library accepts ``name`` for a group, variable, dimension or attribute."""
    text = str(name)
    return bool(_NETCDF_NAME.fullmatch(text)) and not text[-1].isspace()


def tree_names(tree: xr.DataTree) -> Iterator[str]:
    """Every name the file will hold: groups, variables (coordinates too), dimensions and attributes."""
    for node in tree.subtree:
        if node.name:
            yield str(node.name)
        yield from (str(key) for key in node.attrs)
        for name, variable in node.dataset.variables.items():
            yield str(name)
            yield from (str(dim) for dim in variable.dims)
            yield from (str(key) for key in variable.attrs)


def writer_engine() -> str:
    """The engine xarray writes ``posterior.nc``: ``netcdf4`` (the C library) where installed, else ``h5netcdf``."""
    import importlib.util

    return "netcdf4" if importlib.util.find_spec("netCDF4") is not None else "h5netcdf"


def write_posterior_in_child(datatree: xr.DataTree, path: Path) -> None:
    """:func:`write_posterior` in a forked child that ends when it is written: without importing ``distributed``.

    Before it writes, xarray asks dask which scheduler is active, and to rule out a distributed
    client it imports ``distributed`` (0.1-0.25 s of CPU, beside the report's figures on the
    other core). A child that writes numpy arrays and then exits has no client of its own, so
    there the import is made to fail (``sys.modules["distributed"] = None``), which xarray reads as
    "no distributed scheduler". Where ``distributed`` was imported before the fork (a client in
    the caller's process), nothing is changed. Only for a forked child: the change would last
    in any other process.
    """
    sys.modules.setdefault("distributed", None)  # type: ignore[arg-type]
    write_posterior(datatree, path)


def _compress(values: xr.DataArray) -> bool:
    """Whether a variable is written with zlib: integers and booleans (counts, flags), not text or draws."""
    return values.dtype == bool or np.issubdtype(values.dtype, np.integer)


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


def data_sha256(data_files: dict[str, dict[str, Any]]) -> str:
    """One hash for every data table: SHA-256 of ``label:file-sha256`` over the tables, by label.

    Each file's own SHA-256 (what ``sha256sum`` prints) is in ``provenance.json`` under ``data.<label>``.
    """
    return hashlib.sha256("".join(f"{k}:{v['sha256']}" for k, v in sorted(data_files.items())).encode()).hexdigest()


def run_attributes(
    *, config: dict[str, Any], seed: int, data_files: dict[str, dict[str, Any]], model_kind: str
) -> dict[str, str | int]:
    """What ``posterior.nc`` records about the run that wrote it, as its root attributes (pymc-marketing's habit).

    The resolved config as TOML (``config_toml``: ``ipsbayes report`` refuses a folder whose
    config.toml no longer says what the run did), its SHA-256, the seed, the model kind, each data
    file's SHA-256 and the package versions, so a copied ``posterior.nc`` can be traced on its own.
    """
    versions = package_versions()
    return {
        "created_by": f"ipsbayes {versions.get('ipsbayes', '?')}",
        "model_kind": model_kind,
        "seed": int(seed),
        "config_toml": tomli_w.dumps(_drop_none(config)),
        "config_sha256": hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest(),
        "data_sha256": data_sha256(data_files),
        "data_files_sha256": json.dumps({k: v["sha256"] for k, v in sorted(data_files.items())}),
        "versions": json.dumps(versions, sort_keys=True),
    }


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
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "model": model,
        "sampler": sampler,
        "data": data_files,
        "data_sha256": data_sha256(data_files),
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


def _read_summary(path: Path) -> pd.DataFrame:
    """``summary.csv``; runs from before 0.2 started it with ``#`` lines, which are skipped (never ``#`` in labels)."""
    with path.open(encoding="utf-8") as handle:
        leading = 0
        for line in handle:
            if not line.startswith("#"):
                break
            leading += 1
    return pd.read_csv(path, skiprows=leading)


def load_run(path: Path | str, datatree: xr.DataTree | None = None) -> Run:
    """Read a run folder back.

    Parameters
    ----------
    path : path
        A folder written by ``ipsbayes run``.
    datatree : DataTree, optional
        The tree ``posterior.nc`` was just written from (``ipsbayes run``): used instead of reading
        the file back, which at large sizes costs as much as writing it.

    Raises
    ------
    FileNotFoundError
        Naming the files a run folder must have that are missing.
    OutputError
        Naming a file that is damaged (a truncated ``posterior.nc``, a broken ``config.toml``).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; give the folder `ipsbayes run` wrote")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete ipsbayes run folder; missing: {', '.join(missing)}")
    if datatree is None:
        datatree = _read(folder / "posterior.nc", lambda p: xr.open_datatree(p, engine="h5netcdf").load())
    summary = _read(folder / "summary.csv", _read_summary)
    diagnostics = _read(folder / "diagnostics.json", lambda p: Diagnostics.from_dict(json.loads(p.read_text())))
    config = _read(folder / "config.toml", _read_toml_file)
    figures: dict[str, dict[str, Path]] = {}
    for file in sorted((folder / "figures").glob("*.*")):
        figures.setdefault(file.stem, {})[file.suffix[1:]] = file
    provenance_data = _read(folder / "provenance.json", lambda p: json.loads(p.read_text()))
    return Run(folder, datatree, summary, diagnostics, config, provenance_data, figures)


def _read_toml_file(path: Path) -> dict[str, Any]:
    """A run folder's TOML file; a byte-order mark an editor added on saving is allowed, as in any config."""
    return tomllib.loads(path.read_bytes().decode("utf-8-sig"))


def _read(path: Path, reader: Any) -> Any:
    """Read one file of a run folder; any failure becomes an OutputError naming the file (exit code 2)."""
    try:
        return reader(path)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # h5py, TOML, JSON and CSV parsers raise many kinds of errors
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OutputError(
            f"{path} could not be read ({type(exc).__name__}: {cause[:200]}); the run folder is damaged or "
            "was edited. Run the config again to write a new one."
        ) from exc


__all__ = [
    "FILES",
    "Run",
    "atomic_folder",
    "claim_run_output",
    "load_run",
    "netcdf_name",
    "package_versions",
    "provenance",
    "refresh_folder",
    "releasing_claims",
    "tree_names",
    "write_json",
    "write_posterior",
    "write_posterior_in_child",
    "write_toml",
    "writer_engine",
]
