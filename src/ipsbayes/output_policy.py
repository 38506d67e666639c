"""Where ipsbayes never writes, whatever ``--force`` says: the folders a run folder may not be.

The root of the file system, a home folder, the current folder or one holding it, the root of a git
repository, and any folder holding a file the command reads (its config, its data). Standard
library only, like :mod:`ipsbayes.output`, which asks :func:`never_output` before claiming a folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path


def resolve_target(path: Path) -> Path:
    """Absolute path with symbolic links of existing parents resolved (the last part kept as given)."""
    path = Path(os.path.expanduser(path))
    absolute = path if path.is_absolute() else Path.cwd() / path
    parent = absolute.parent.resolve()
    name = absolute.name
    if name in ("", ".", ".."):
        return absolute.resolve()
    return parent / name


def _home_folders() -> set[Path]:
    homes = {Path("/root")}
    with contextlib.suppress(RuntimeError, KeyError, OSError):
        homes.add(Path.home().resolve())
    return homes


def never_output(target: Path, inputs: Iterable[Path] = ()) -> str | None:
    """Why ``target`` may never be an output folder (whatever ``force`` says), or None.

    Parameters
    ----------
    target : Path
        The output folder asked for.
    inputs : iterable of Path
        Files this command reads (config, data tables): no folder holding one is an output folder.
    """
    resolved = resolve_target(target)
    real = resolved.resolve() if resolved.is_symlink() else resolved
    if real == Path(real.anchor):
        return "it is the root of the file system"
    if real in _home_folders() or real.parent == Path("/home"):
        return "it is a home folder"
    cwd = Path.cwd().resolve()
    if real == cwd:
        return "it is the current folder"
    if real in cwd.parents:
        return "it holds the current folder"
    if (real / ".git").exists():
        return "it is the root of a git repository"
    for path in inputs:
        source = resolve_target(Path(path))
        source = source.resolve() if source.exists() else source
        if real in source.parents:
            return f"it holds {source.name}, which this command reads"
    return None


#: room kept free beyond the estimate: figures, tables, report and the file system's own needs
SPACE_MARGIN_BYTES = 16 * 2**20


def free_space_problem(folder: Path, needed_bytes: int) -> str | None:
    """Why ``folder`` cannot take ``needed_bytes`` more (too little free space on its disk), or None.

    Checked before a run folder is written: HDF5 can crash the process (a segmentation fault, not
    an error) when the disk fills in the middle of writing ``posterior.nc``, leaving a half-written
    staging folder that no clean-up can remove.
    """
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return None
    needed = int(needed_bytes) + SPACE_MARGIN_BYTES
    if free >= needed:
        return None
    mb = 2**20
    return (
        f"not enough free space for the run folder at {folder}: it needs about {needed / mb:,.0f} MB "
        f"(posterior.nc, figures and tables) and {free / mb:,.0f} MB are free on that disk. Free some space or "
        "choose --out on another disk; nothing was written"
    )


__all__ = ["SPACE_MARGIN_BYTES", "free_space_problem", "never_output", "resolve_target"]
