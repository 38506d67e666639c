"""Where ipsbayes never writes, whatever ``--force`` says: the folders a run folder may not be.

The root of the file system, a home folder, the current folder or one holding it, the root of a git
repository, and any folder holding a file the command reads (its config, its data). Standard
library only, like :mod:`ipsbayes.output`, which asks :func:`never_output` before claiming a folder;
:func:`refuse_links` keeps a re-render from writing through a symbolic link inside a folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from ipsbayes.errors import OutputError


def resolve_target(path: Path) -> Path:
    """Absolute path with symbolic links of existing parents resolved (the last part kept as given)."""
    path = Path(os.path.expanduser(path))
    absolute = path if path.is_absolute() else Path.cwd() / path
    parent = absolute.parent.resolve()
    name = absolute.name
    if name in ("", ".", ".."):
        return absolute.resolve()
    return parent / name


MAX_SIBLINGS = 1000


def versioned_sibling(target: Path) -> Path:
    """The first free ``name-2``, ``name-3``, ... next to ``target``."""
    for number in range(2, MAX_SIBLINGS):
        candidate = target.with_name(f"{target.name}-{number}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OutputError(f"Too many versions of {target} ({MAX_SIBLINGS}); choose another folder with --out")


def describe_os_error(exc: OSError) -> str:
    """A short reason for an OS error in a message (``permission denied``, ``a file is in the way``)."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif exc.errno == errno.EROFS:
        reason = "read-only file system"
    elif exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        reason = "a file is in the way"
    return reason


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


def refuse_links(folder: Path, files: Iterable[str]) -> None:
    """Raise OutputError when writing ``files`` into ``folder`` would pass through a symbolic link."""
    links = list(dict.fromkeys(link for rel in files if (link := _link_on_the_way(folder, rel)) is not None))
    if links:
        shown = ", ".join(f"{link} (-> {os.readlink(link)})" for link in links[:3])
        raise OutputError(
            f"Re-rendering {folder} would write through {shown}: a symbolic link inside the folder, so files "
            "would land outside it, where ipsbayes wrote nothing. Replace the link with a plain folder (or "
            "remove it) and run `ipsbayes report` again"
        )


def _link_on_the_way(folder: Path, rel: str) -> Path | None:
    """The first symbolic link on the path from ``folder`` to ``folder / rel`` (the file included), or None."""
    current = folder
    for part in Path(rel).parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


__all__ = [
    "MAX_SIBLINGS",
    "SPACE_MARGIN_BYTES",
    "describe_os_error",
    "free_space_problem",
    "never_output",
    "refuse_links",
    "resolve_target",
    "versioned_sibling",
]
