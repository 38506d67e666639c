"""Where ipsbayes may write, and how it replaces what it wrote before without touching anything else.

The rule: **ipsbayes never deletes or replaces a file it did not write.**

- Every folder ipsbayes writes (a run folder, a validation folder, a simulated
  data set) carries a manifest (:mod:`ipsbayes.manifest`) naming the kind of folder and every
  file ipsbayes wrote into it.
- A new output is written into a hidden staging folder next to its target,
  claimed (:func:`claim_output`) before any data are read or any model is
  compiled, so an impossible or unwritable location fails in the first second.
  Any failure or interrupt removes the staging folder (:func:`releasing_claims`).
- The finished folder is moved into place in one rename. An earlier folder at
  the target is replaced only when its manifest says ipsbayes wrote it (and it is
  of the same kind); files in it that the manifest does not list (a user's
  ``notes.txt``, ``my_figs/``), and listed files whose content changed since
  ipsbayes wrote them (a line appended to ``participants.csv``), are moved across
  into the new folder (as ``name.kept-N`` where a new file takes the name), and
  only files the old manifest lists, unchanged, are deleted.
- One command per output folder at a time: a claim holds a lock file beside the
  target (:mod:`ipsbayes.output_lock`) until the folder is placed or given up; a
  second command into the same folder stops at once with exit code 2.
- Anything else at the target (a folder of the user's files, a file, a symbolic
  link) is refused with exit code 2, or with ``force`` the output goes to the
  first free versioned sibling (``runs/name-2``); nothing is deleted either way.
- Some places are never output folders, whatever ``force`` says: the root of the
  file system, a home folder, the current folder or any folder above it, the
  root of a git repository, and any folder holding the config or a data file.
- :func:`ipsbayes.output_refresh.refresh_folder` (``ipsbayes report RUN_DIR``) rewrites only the files
  the manifest lists, and refuses (exit code 2, naming them) to replace any whose
  content changed since ipsbayes wrote it.

Standard library only: :mod:`ipsbayes.simulate` uses it without importing model code.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import stat
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ipsbayes import interrupt
from ipsbayes.errors import OutputError
from ipsbayes.manifest import (
    KINDS,
    MANIFEST_NAME,
    Manifest,
    carry_user_files,
    changed_files,
    delete_listed,
    folder_files,
    read_manifest,
    write_manifest,
)
from ipsbayes.output_lock import OutputLock, acquire, check_unlocked
from ipsbayes.output_policy import (
    describe_os_error,
    never_output,
    resolve_target,
    versioned_sibling,
)


def _what_is_there(target: Path, kind: str) -> tuple[bool, str | None]:
    """``(replaceable, reason)``: whether ``target`` is free or an ipsbayes folder of ``kind``, else why not."""
    if target.is_symlink():
        return False, "it is a symbolic link"
    if not target.exists():
        return False, None
    if not target.is_dir():
        return False, "a file with that name exists"
    manifest = read_manifest(target)
    if manifest is not None and manifest.kind == kind:
        return True, None
    if manifest is not None:
        return False, f"it holds a {KINDS[manifest.kind]}, not a {KINDS[kind]}"
    try:
        entries = next(os.walk(target))[1:]
    except StopIteration:
        entries = ([], [])
    count = sum(len(e) for e in entries)
    if count == 0:
        return False, None
    legacy = all((target / name).is_file() for name in ("config.toml", "posterior.nc", "provenance.json"))
    hint = (
        " (it looks like a run folder from an older ipsbayes, which wrote no manifest: move it away to replace it)"
        if legacy
        else ""
    )
    return False, (
        f"it is a folder ipsbayes did not write (no {MANIFEST_NAME}) and holds {count} "
        f"item{'s' * (count != 1)}{hint}; ipsbayes never replaces files it did not write"
    )


@dataclass(eq=False)
class OutputClaim:
    """An output location checked and claimed: a staging folder next to the final target.

    Attributes
    ----------
    requested : Path
        The location asked for.
    target : Path
        Where the folder goes (``requested`` or, with ``force``, a versioned sibling).
    staging : Path
        Hidden folder next to ``target`` that receives every file.
    kind : str
        ``run``, ``validation`` or ``simulation``.
    replaces : bool
        True when ``target`` holds an earlier ipsbayes folder of the same kind that will be replaced.
    placed : bool
        True once the folder has been moved into place.
    """

    requested: Path
    target: Path
    staging: Path
    kind: str
    replaces: bool = False
    placed: bool = False
    notes: list[str] = field(default_factory=list)
    created_parents: list[Path] = field(default_factory=list)
    lock: OutputLock | None = None

    def release(self) -> None:
        """Remove the staging folder and the empty parents the claim created, and unlock; safe to call twice."""
        _ACTIVE.discard(self)
        if self.placed:
            self._unlock()
            return
        with interrupt.deferred():
            self._unlock()
            shutil.rmtree(self.staging, ignore_errors=True)
            for parent in self.created_parents:  # innermost first; only if still empty
                with contextlib.suppress(OSError):
                    parent.rmdir()

    def place(self, *, timestamp: bool = True) -> Path:
        """Write the manifest and move the staging folder into place; return the final folder.

        An earlier ipsbayes folder at the target is replaced: files its manifest does not list
        are moved into the new folder (a name taken by a new file keeps the user's file as
        ``name.kept-N``), then only the files its manifest lists are deleted. If something
        ipsbayes may not replace appeared at the target since the claim, the folder goes
        to a versioned sibling instead. SIGINT is held back until the move is complete.
        """
        if self.placed:
            return self.target
        with interrupt.deferred():
            with contextlib.suppress(FileNotFoundError):
                (self.staging / STAGING_MARK).unlink()  # the mark stays out of the placed folder
            write_manifest(self.staging, self.kind, timestamp=timestamp)
            replaceable, reason = _what_is_there(self.target, self.kind)
            try:
                if replaceable:
                    self._replace()
                elif reason is None:
                    os.replace(self.staging, self.target)
                else:
                    sibling = versioned_sibling(self.target)
                    self.notes.append(f"{self.target} changed while this ran ({reason}); wrote {sibling} instead")
                    os.replace(self.staging, sibling)
                    self.target = sibling
            except OSError as exc:
                shutil.rmtree(self.staging, ignore_errors=True)
                _ACTIVE.discard(self)
                self._unlock()
                raise OutputError(
                    f"Could not move the finished {KINDS[self.kind]} into {self.target}: {describe_os_error(exc)}"
                ) from exc
            self.placed = True
            _ACTIVE.discard(self)
            _PLACED.append(self.target)
            self._unlock()
        for note in self.notes:
            warnings.warn(note, stacklevel=2)
        return self.target

    def _unlock(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def _replace(self) -> None:
        old = read_manifest(self.target)
        assert old is not None
        edited = set(changed_files(self.target, old))  # the user's now: kept like files ipsbayes never wrote
        ours = old.files - edited
        aside = self.target.with_name(f".{self.target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(self.target, aside)
        try:
            os.replace(self.staging, self.target)
        except OSError:
            os.replace(aside, self.target)
            raise
        try:
            carried = carry_user_files(aside, self.target, ours)
            left = delete_listed(aside, ours)
        except OSError as exc:  # the new folder is in place; keep whatever could not be moved
            self.notes.append(
                f"the new {KINDS[self.kind]} is in {self.target}, but moving the earlier folder's other files "
                f"failed ({describe_os_error(exc)}); they are kept in {aside}"
            )
            return
        changed = [f"{was} (as {now})" if was != now else was for was, now in carried if was in edited]
        if changed:
            it = "it, so it is yours and was" if len(changed) == 1 else "them, so they are yours and were"
            self.notes.append(
                f"kept {', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''} in {self.target}: changed since "
                f"ipsbayes wrote {it} not replaced"
            )
        others = [now for was, now in carried if was not in edited]
        if others:
            self.notes.append(
                f"kept {len(others)} item(s) ipsbayes did not write (or you edited earlier) in {self.target}: "
                + ", ".join(others[:5])
                + (" ..." if len(others) > 5 else "")
            )
        if left:
            self.notes.append(f"{aside} still holds {', '.join(left[:5])}; nothing in it was deleted")


#: the file that marks a staging folder as ipsbayes's own (only a marked folder is removed as stale)
STAGING_MARK = ".ipsbayes-staging"
_MARK_TEXT = b"ipsbayes staging folder\n"
#: claims whose staging folder exists and has not been placed
_ACTIVE: set[OutputClaim] = set()


#: folders placed in this process, most recent last
_PLACED: list[Path] = []


def register(claim: OutputClaim) -> None:
    """Track ``claim`` so that :func:`release_all` (an interrupt, the command's end) gives it up if unplaced."""
    _ACTIVE.add(claim)


def placed_count() -> int:
    """How many folders were moved into place in this process."""
    return len(_PLACED)


def last_placed() -> Path | None:
    """The folder most recently moved into place in this process (None before any)."""
    return _PLACED[-1] if _PLACED else None


def check_output(
    target: Path | str, *, kind: str, force: bool = False, inputs: Iterable[Path] = (), what: str | None = None
) -> tuple[Path, bool]:
    """Check an output location without writing anything.

    Parameters
    ----------
    target : path
        The output folder asked for.
    kind : {"run", "validation", "simulation"}
        The kind of folder that will be written (an earlier folder is replaced only if it is of this kind).
    force : bool
        When the target holds something ipsbayes may not replace, use the first free
        versioned sibling (``name-2``, ...) instead of refusing.
    inputs : iterable of Path
        Files the command reads (config, data): no folder holding one is an output folder.
    what : str, optional
        How to name the output in messages (default from ``kind``).

    Returns
    -------
    final : Path
        Where the folder will go.
    replaces : bool
        True when an earlier ipsbayes folder of the same kind is there and will be replaced.

    Raises
    ------
    OutputError
        With one line saying why the location cannot be used and what to do (exit code 2).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    label = what or KINDS[kind]
    requested = Path(target)
    forbidden = never_output(requested, list(inputs))
    if forbidden:
        raise OutputError(
            f"Refusing to write the {label} to {requested}: {forbidden}. "
            "Choose a new folder with --out, e.g. runs/NAME."
        )
    final = resolve_target(requested)
    check_unlocked(final, label)  # another command writing there now: stop at once
    replaceable, reason = _what_is_there(final, kind)
    if reason is not None:
        if not force:
            raise OutputError(
                f"Refusing to write the {label} to {requested}: {reason}. Choose a new or empty folder with --out, "
                f"or add --force to write into {versioned_sibling(final)} instead (nothing is deleted)."
            )
        final = versioned_sibling(final)
        replaceable = False
        check_unlocked(final, label)
    existing = final.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"Cannot write the {label} to {requested}: {existing} is a file, not a folder")
    probe = existing / f".ipsbayes-probe-{uuid.uuid4().hex[:8]}"
    try:  # os.access says yes to root on read-only or virtual file systems: try it
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise OutputError(f"Cannot write the {label} to {requested}: {describe_os_error(exc)} in {existing}") from exc
    return final, replaceable


def remove_stale_staging(final: Path) -> list[Path]:
    """Remove the staging folders of ``final`` that a killed command left beside it; return them.

    A command removes its staging folder whenever it ends without placing it, except when it is
    killed outright (``kill -9``, a power cut). Such a folder (``.NAME.staging-<8 hex digits>``, a
    name ipsbayes gives only to its own) is removed by the next command that claims ``final``: that
    command holds the folder's lock, so no other command is writing into it. Anything else there
    (another name, a link) is left alone.
    """
    prefix = f".{final.name}.staging-"
    removed = []
    for path in final.parent.glob(glob.escape(prefix) + "*"):
        suffix = path.name[len(prefix) :]
        if (
            len(suffix) == 8
            and all(c in "0123456789abcdef" for c in suffix)
            and path.is_dir()
            and not path.is_symlink()
            and _marked(path)
        ):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _marked(folder: Path) -> bool:
    """Whether ``folder`` holds the mark ipsbayes puts in each staging folder it makes (a user's folder does not)."""
    try:
        mark = folder / STAGING_MARK
        return stat.S_ISREG(mark.lstat().st_mode) and mark.read_bytes() == _MARK_TEXT
    except OSError:
        return False


def claim_output(
    target: Path | str, *, kind: str, force: bool = False, inputs: Iterable[Path] = (), what: str | None = None
) -> OutputClaim:
    """Check an output location (:func:`check_output`) and claim a staging folder next to it.

    The staging folder is created, and a test file written into it, at once: an
    unwritable or impossible location fails here, before any work.

    Returns
    -------
    OutputClaim

    Raises
    ------
    OutputError
        With one line saying why the location cannot be used and what to do (exit code 2).
    """
    interrupt.begin_work()  # the work whose output this is starts now
    label = what or KINDS.get(kind, kind)
    final, replaceable = check_output(target, kind=kind, force=force, inputs=inputs, what=what)
    created = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = describe_os_error(exc)
        raise OutputError(f"Cannot create the folder {final.parent} for the {label}: {reason}") from exc
    try:
        lock = acquire(final, label)
    except OutputError:
        for parent in created:
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
    staging = final.parent / f".{final.name}.staging-{uuid.uuid4().hex[:8]}"
    remove_stale_staging(final)
    try:
        staging.mkdir()
        (staging / STAGING_MARK).write_bytes(_MARK_TEXT)  # a test that it is writable, and the mark of ours
    except OSError as exc:
        lock.release()
        shutil.rmtree(staging, ignore_errors=True)
        for parent in created:
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise OutputError(f"Cannot write the {label} into {final.parent}: {describe_os_error(exc)}") from exc
    claim = OutputClaim(Path(target), final, staging, kind, replaces=replaceable, created_parents=created, lock=lock)
    _ACTIVE.add(claim)
    return claim


def release_all() -> None:
    """Remove every staging folder of this process that was not placed."""
    for claim in list(_ACTIVE):
        claim.release()


def releasing_claims[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so that staging folders it claimed are removed whenever it does not place them.

    Whatever stops the command (an error at any stage, ``KeyboardInterrupt``), every
    staging folder claimed during the call and not yet moved into place is removed.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        before = set(_ACTIVE)
        try:
            return func(*args, **kwargs)
        finally:
            for claim in list(_ACTIVE - before):
                claim.release()

    return wrapper


@contextlib.contextmanager
def atomic_output(claim: OutputClaim, *, timestamp: bool = True) -> Iterator[Path]:
    """Yield the claim's staging folder; place it when the block ends without error, remove it otherwise.

    A stop requested while the block ran (:func:`ipsbayes.interrupt.requested`) also removes it:
    Python swallows a ``KeyboardInterrupt`` that the signal handler raises inside a garbage-collection
    callback, and the command would otherwise finish and replace an earlier folder after a Ctrl-C.
    """
    try:
        yield claim.staging
        interrupt.raise_if_interrupted()
    except BaseException:
        claim.release()
        raise
    claim.place(timestamp=timestamp)


__all__ = [
    "KINDS",
    "MANIFEST_NAME",
    "Manifest",
    "OutputClaim",
    "atomic_output",
    "check_output",
    "claim_output",
    "folder_files",
    "last_placed",
    "never_output",
    "placed_count",
    "read_manifest",
    "register",
    "release_all",
    "releasing_claims",
    "versioned_sibling",
    "write_manifest",
]
