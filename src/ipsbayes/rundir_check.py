"""Whether ``ipsbayes report`` may re-render a run folder: ipsbayes wrote it, and it still says what was run.

The folder must carry an ipsbayes manifest (so only the files it lists are rewritten), every file
must be readable, the files whose numbers a report publishes must be those ipsbayes wrote, and
``config.toml`` must still say, outside ``[report]``, what the run did (``posterior.nc`` records it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ipsbayes.errors import OutputError
from ipsbayes.manifest import file_changed
from ipsbayes.output import MANIFEST_NAME, read_manifest
from ipsbayes.output_lock import check_unlocked
from ipsbayes.rundir import Run, load_run

#: files whose numbers a re-rendered report publishes: refused when they changed since ipsbayes wrote them
NUMBER_FILES = ("posterior.nc", "diagnostics.json")


def check_run_folder(path: Path | str) -> Run:
    """Check that ``ipsbayes report`` can re-render ``path``, before anything is written.

    The folder must carry an ipsbayes manifest (so only the files it lists are rewritten),
    every file must be readable and ``config.toml`` must still be a valid run config.

    Raises
    ------
    OutputError
        Naming the damaged or missing file, or the config problems (exit code 2).
    """
    from pydantic import ValidationError

    from ipsbayes.config import RunConfig
    from ipsbayes.config_problems import pydantic_problems

    folder = Path(path)
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder; give the run folder `ipsbayes run` wrote")
    # a command writing the folder now is named before its half-swapped files are read as "changed"
    check_unlocked(folder, "report")
    manifest = read_manifest(folder)
    if manifest is None or manifest.kind != "run":
        raise OutputError(
            f"{folder} is not a run folder written by this version of ipsbayes (no {MANIFEST_NAME} naming a run); "
            "`ipsbayes report` rewrites only files a manifest lists. Run the config again with --out."
        )
    try:
        run = load_run(folder)
    except FileNotFoundError as exc:
        raise OutputError(str(exc)) from exc
    # readable, but are the numbers those ipsbayes computed? A changed posterior.nc or diagnostics.json (by the
    # SHA-256 the manifest records; a file too large to hash is trusted by size) is refused
    unrecorded = [name for name in NUMBER_FILES if not manifest.records.get(name)]
    if unrecorded:  # nothing shows the numbers are those ipsbayes wrote
        raise OutputError(
            f"{folder}: {MANIFEST_NAME} has no record (size and SHA-256) of {', '.join(unrecorded)}, so nothing shows "
            "they hold the numbers ipsbayes computed; `ipsbayes report` publishes only those. Run the config again "
            "to write a new run folder."
        )
    altered = [
        name
        for name in NUMBER_FILES
        if "sha256" in manifest.records[name] and file_changed(folder / name, manifest.records[name])
    ]
    if altered:
        raise OutputError(
            f"{folder}: {', '.join(altered)} changed since ipsbayes wrote it (its SHA-256 is not the one in "
            f"{MANIFEST_NAME}); `ipsbayes report` publishes only numbers ipsbayes computed. Run the config again "
            "to write a new run folder."
        )
    try:
        RunConfig.model_validate({**run.config, "source": None})
        str(run.config["priors"]["set"])
        for prior in (run.config["priors"].get("expanded") or run.config["priors"]["overrides"]).values():
            str(prior["dist"])
        if not isinstance(run.provenance, dict):
            raise TypeError("provenance.json does not hold a table")
        _same_kind(folder, run)
        _same_run_config(folder, run)
        _known_thresholds(folder, run)
    except ValidationError as exc:
        raise OutputError(
            f"{folder / 'config.toml'} is not a valid run config any more",
            pydantic_problems(exc, RunConfig, "config.toml"),
        ) from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise OutputError(
            f"{folder} lacks what ipsbayes writes into config.toml and provenance.json ({type(exc).__name__}: {exc}); "
            "run the config again to write a new run folder"
        ) from exc
    return run


def _same_run_config(folder: Path, run: Run) -> None:
    """Raise OutputError when ``config.toml`` says, outside ``[report]``, other than the run did.

    ``posterior.nc`` (whose SHA-256 the manifest checks) records the resolved config as run
    (:func:`run_attributes`); an edited seed, prior, formula or data path would be published as
    the run's. ``[report]`` (title, language, thresholds, labels) may be edited and re-rendered.
    A folder written before ``posterior.nc`` recorded its config is not checked.
    """
    recorded = run.datatree.attrs.get("config_toml")
    if not isinstance(recorded, str):
        return
    original = tomllib.loads(recorded)
    changed = sorted(
        set(
            _changed_keys(
                {k: v for k, v in original.items() if k != "report"},
                {k: v for k, v in run.config.items() if k != "report"},
            )
        )
    )
    if changed:
        shown = ", ".join(f"'{key}'" for key in changed[:8]) + (
            f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        )
        raise OutputError(
            f"{folder / 'config.toml'}: {shown} changed since the run (posterior.nc records the config it was "
            "fitted with); the report would publish settings the numbers did not come from. Only [report] may be "
            "edited before `ipsbayes report`: put the rest back, or fit the edited config with `ipsbayes run`"
        )


def _known_thresholds(folder: Path, run: Run) -> None:
    """Raise OutputError when an edited ``[report.thresholds]`` names an estimand the run does not have.

    ``ipsbayes check`` refuses such a key before a fit; re-rendering would drop it without a word (a
    misspelled ``caec`` for ``cace`` lost the report's P(> threshold) column). Keys the run was fitted
    with are kept as they were accepted then.
    """
    from ipsbayes.errors import did_you_mean

    estimands = run.datatree["estimands"].to_dataset() if "estimands" in run.datatree.children else None
    if estimands is None:
        return
    recorded = run.datatree.attrs.get("config_toml")
    fitted_with = tomllib.loads(recorded).get("report", {}).get("thresholds", {}) if isinstance(recorded, str) else {}
    valid = [str(name) for name in estimands.data_vars]
    unknown = [
        key for key in (run.config.get("report", {}).get("thresholds") or {}) if key not in {*valid, *fitted_with}
    ]
    if unknown:
        raise OutputError(
            f"{folder / 'config.toml'}: [report.thresholds] names no estimand of this run",
            [f"unknown estimand '{key}'{did_you_mean(key, valid)}; valid: {', '.join(valid)}" for key in unknown],
        )


def _changed_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two parsed TOML tables (a key in one only counts as changed)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            out += [where] if (key in a) != (key in b) else _changed_keys(a[key], b[key], where)
        return out
    return [] if a == b else [prefix or "(whole file)"]


def _same_kind(folder: Path, run: Run) -> None:
    """Raise OutputError when ``config.toml`` names another model kind than the one fitted (provenance.json)."""
    fitted = run.provenance.get("model", {}).get("kind")
    given = run.config["model"].get("kind")
    if isinstance(fitted, str) and given != fitted:
        raise OutputError(
            f"{folder / 'config.toml'}: key 'model.kind' is {given!r}, but posterior.nc holds a fit of kind "
            f"{fitted!r} (provenance.json); the report would describe a model that was not fitted. Put back "
            f'kind = "{fitted}", or fit the edited config with `ipsbayes run`'
        )


__all__ = ["NUMBER_FILES", "check_run_folder"]
