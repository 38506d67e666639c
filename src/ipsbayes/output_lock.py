"""One ipsbayes command per output folder at a time: an exclusive lock file beside the folder.

A command that writes a folder (``runs/r``) holds ``runs/.r.ipsbayes-lock`` from the moment it
claims the folder until its output is in place or given up. A second command into the same
folder finds the lock held and stops at once with exit code 2, naming the other process.

The lock is an advisory ``flock`` on that file, so the operating system releases it when the
holding process ends in any way (even ``kill -9``): a lock file left behind by a killed command
is taken over by the next one, never waited for. The file is removed when the lock is released.
Standard library only; where ``fcntl`` does not exist (Windows) no lock is taken.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

from ipsbayes.errors import OutputError

LOCK_SUFFIX = ".ipsbayes-lock"
#: a lock file is one line of JSON (process id, start time, the command, at most a few hundred bytes)
_MAX_LOCK_BYTES = 16384
_ATTEMPTS = 20
#: descriptors of the locks this process holds: a forked child closes its copies at once (see below)
_HELD: set[int] = set()


def _close_held_in_child() -> None:
    """In a forked child: close the copies of the parent's lock descriptors.

    ``flock`` belongs to the open file, which a fork shares: a child still drawing figures or writing
    posterior.nc kept the lock after its parent was killed (``kill -9``), and a new command into the
    folder was refused, naming the dead process. Closing the child's copy leaves the parent's lock
    as it is (a lock ends when the last descriptor of the file is closed, or on ``LOCK_UN``, which is
    not called here).
    """
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


def lock_path(target: Path) -> Path:
    """The lock file of the output folder ``target``: a hidden file next to it."""
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


@dataclass(eq=False)
class OutputLock:
    """A held lock on an output folder; :meth:`release` ends it (safe to call twice)."""

    path: Path
    fd: int | None

    def release(self) -> None:
        """Remove the lock file (if it is still ours) and release the lock."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        _HELD.discard(fd)
        with contextlib.suppress(OSError):
            if _same_file(fd, self.path):
                self.path.unlink()
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        there = path.lstat()
    except OSError:
        return False
    mine = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


def _ours(fd: int) -> bool:
    """Whether the open lock file is one ipsbayes made: new and empty, or a lock a killed command left.

    A regular file with one name only (a hard link to a user's file is not), empty or holding the
    lock's own JSON with the holder's process id.
    """
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1 or status.st_size > _MAX_LOCK_BYTES:
        return False
    if status.st_size == 0:
        return True
    try:
        info = json.loads(os.pread(fd, _MAX_LOCK_BYTES, 0).decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and isinstance(info.get("pid"), int) and set(info) <= {"pid", "started", "command"}


def _holder(path: Path) -> str:
    """Who holds the lock, from what the holder wrote into the file."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        pid, command = int(info["pid"]), str(info.get("command", ""))[:200]
        started = time.strftime("%H:%M:%S", time.localtime(float(info.get("started", 0))))
    except (OSError, ValueError, KeyError, TypeError):
        return "another ipsbayes command"
    shown = f": {command}" if command else ""
    return f"another ipsbayes command (process {pid}{shown}, started {started})"


def _busy_error(target: Path, path: Path, label: str) -> OutputError:
    return OutputError(
        f"Refusing to write the {label} to {target}: {_holder(path)} is writing it now ({path} is locked). "
        "Wait until it has finished, or choose another folder with --out."
    )


def check_unlocked(target: Path, label: str) -> None:
    """Raise OutputError when another process holds the lock of ``target`` (nothing is taken or written)."""
    path = lock_path(target)
    if fcntl is None or not path.is_file() or path.is_symlink():
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise _busy_error(target, path, label) from None
    finally:
        os.close(fd)  # closing releases a lock taken only to test


def acquire(target: Path, label: str) -> OutputLock:
    """Take the lock of the output folder ``target`` (its parent must exist).

    Raises
    ------
    OutputError
        When another process holds it (naming that process), or the lock file cannot be made.
    """
    path = lock_path(target)
    if fcntl is None:  # pragma: no cover - not on POSIX
        return OutputLock(path, None)
    for _ in range(_ATTEMPTS):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                longest = 255 - len(f".{LOCK_SUFFIX}".encode())
                raise OutputError(
                    f"Cannot write the {label} to {target}: the folder's name is {len(target.name.encode())} bytes, "
                    f"and ipsbayes needs at most {longest} (its lock file beside the folder adds "
                    f"{len(f'.{LOCK_SUFFIX}')} characters to the name, and file names hold 255 bytes); choose a "
                    "shorter name with --out"
                ) from exc
            raise OutputError(
                f"Cannot write the {label} to {target}: the lock file {path} cannot be made "
                f"({exc.strerror or type(exc).__name__}); if something you made is in the way there, move it"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _busy_error(target, path, label) from None
            raise OutputError(f"Cannot lock {path} for the {label}: {exc.strerror}") from exc
        if _same_file(fd, path):  # not a file the previous holder removed between our open and our lock
            if not _ours(fd):  # a file of the user's at that name (or a hard link to one) is never overwritten
                os.close(fd)
                raise OutputError(
                    f"Cannot write the {label} to {target}: {path} is in the way (ipsbayes keeps its lock for the "
                    "folder at that name, and that file is not one it wrote); move or rename it"
                )
            info = {"pid": os.getpid(), "started": time.time(), "command": " ".join(["ipsbayes", *sys.argv[1:]])[:1000]}
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
            _HELD.add(fd)
            return OutputLock(path, fd)
        os.close(fd)
    raise OutputError(f"Cannot lock {path} for the {label}: it keeps changing; try again")


__all__ = ["LOCK_SUFFIX", "OutputLock", "acquire", "check_unlocked", "lock_path"]
