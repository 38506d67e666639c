"""The manifest of a folder ipsbayes wrote: which files are ipsbayes', and how they are replaced.

Every folder ipsbayes writes (a run folder, a validation folder, a simulated data set)
carries :data:`MANIFEST_NAME`: the kind of folder and the relative path of every file
ipsbayes wrote, with its size and SHA-256 (and, for folders written with a timestamp, its
modification time). When ipsbayes replaces such a folder, files the manifest does not list
are the user's: they are moved into the new folder (:func:`carry_user_files`) and only
files the manifest lists are ever deleted (:func:`delete_listed`). A listed file whose
content changed since ipsbayes wrote it (:func:`changed_files`: a line appended to a
simulated ``participants.csv``, a hand-edited ``report.md``) is the user's too. Entries that are
absolute or climb out of the folder are ignored, so a hand-made manifest can never make
ipsbayes delete anything outside the folder.

Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST_NAME = ".ipsbayes-manifest.json"
#: folder kind -> what it is called in messages
KINDS = {
    "run": "run folder",
    "validation": "validation folder",
    "simulation": "simulated data set",
    "map_prior": "MAP prior folder",
    "design": "design folder",
}
MAX_KEPT = 1000
#: files larger than this are recorded by size and modification time only (hashing them would cost seconds)
HASH_LIMIT_BYTES = 512 * 2**20
_CHUNK = 2**20


@dataclass(frozen=True)
class Manifest:
    """What a manifest says: the kind of folder and the files ipsbayes wrote (relative POSIX paths).

    ``records`` maps a file to what it was when ipsbayes wrote it (``size``, ``sha256``,
    ``mtime_ns``); manifests of ipsbayes before 0.3 have none.
    """

    kind: str
    files: frozenset[str]
    version: str = ""
    created: str | None = None
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, hash=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path: Path, *, mtime: bool = True) -> dict[str, Any]:
    """What :func:`changed_files` compares later.

    The size, the SHA-256 (files up to :data:`HASH_LIMIT_BYTES`) and, with ``mtime`` or
    for a file too large to hash, the modification time in nanoseconds.
    """
    info = path.lstat()
    record: dict[str, Any] = {"size": info.st_size}
    if stat.S_ISREG(info.st_mode) and info.st_size <= HASH_LIMIT_BYTES:
        record["sha256"] = _sha256(path)
    if mtime or "sha256" not in record:
        record["mtime_ns"] = info.st_mtime_ns
    return record


def file_changed(path: Path, record: Mapping[str, Any] | None) -> bool:
    """Whether ``path`` differs from ``record``.

    Same size and modification time: unchanged, without reading the file. Otherwise the
    SHA-256 decides (a copy or a ``git checkout`` of an unchanged file keeps its hash); a
    file recorded without one (larger than :data:`HASH_LIMIT_BYTES`) counts as changed.
    A symbolic link or a folder where ipsbayes wrote a file counts as changed, and so does a file
    without a record (a manifest without records cannot show it unchanged: it is kept, not replaced).
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False  # nothing there to lose
    if not record:
        return True
    if info.st_size != record.get("size") or stat.S_ISREG(info.st_mode) != ("sha256" in record):
        return True
    if record.get("mtime_ns") == info.st_mtime_ns:
        return False
    expected = record.get("sha256")
    return expected is None or _sha256(path) != expected


def changed_files(folder: Path, manifest: Manifest, names: Iterable[str] | None = None) -> list[str]:
    """Files the manifest lists (or those of ``names`` it lists) whose content changed since ipsbayes wrote them."""
    chosen = manifest.files if names is None else manifest.files & set(names)
    return sorted(rel for rel in chosen if file_changed(folder / rel, manifest.records.get(rel)))


def _version() -> str:
    try:
        from importlib import metadata

        return metadata.version("ipsbayes")
    except Exception:  # an uninstalled source tree still writes manifests
        return "unknown"


def _safe_relative(name: object) -> str | None:
    """``name`` as a relative POSIX path inside a folder, or None when it could point outside."""
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts) or name == MANIFEST_NAME:
        return None
    return path.as_posix()


def read_manifest(folder: Path | str) -> Manifest | None:
    """The manifest of ``folder``, or None when it has none (or one ipsbayes cannot have written).

    Entries that are absolute or climb out of the folder (``..``) are ignored, so a
    hand-made manifest can never make ipsbayes delete anything outside the folder.
    """
    path = Path(folder) / MANIFEST_NAME
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != "ipsbayes" or data.get("kind") not in KINDS:
        return None
    files = data.get("files")
    if not isinstance(files, list):
        return None
    safe = frozenset(name for name in map(_safe_relative, files) if name is not None)
    records = data.get("records")
    records = (
        {k: v for k, v in records.items() if k in safe and isinstance(v, dict)} if isinstance(records, dict) else {}
    )
    return Manifest(data["kind"], safe, str(data.get("version", "")), data.get("created"), records)


def folder_files(folder: Path) -> list[str]:
    """Every file (and symbolic link) under ``folder`` as sorted relative POSIX paths, the manifest excluded."""
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        names = list(files) + [d for d in dirs if (base / d).is_symlink()]
        for name in names:
            rel = (base / name).relative_to(folder).as_posix()
            if rel != MANIFEST_NAME:
                out.append(rel)
    return sorted(out)


def write_manifest(folder: Path, kind: str, *, timestamp: bool = True) -> Manifest:
    """List every file in ``folder`` in its manifest.

    Parameters
    ----------
    folder : Path
        A folder ipsbayes has just written (a staging folder).
    kind : {"run", "validation", "simulation"}
        What the folder is.
    timestamp : bool
        Record the creation time and the files' modification times (off for simulated data
        sets, so re-simulating the same data leaves committed files unchanged).
    """
    files = folder_files(folder)
    records = {rel: file_record(folder / rel, mtime=timestamp) for rel in files}
    payload = _payload(kind, files, records)
    if timestamp:
        payload["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    (folder / MANIFEST_NAME).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return Manifest(kind, frozenset(files), payload["version"], payload.get("created"), records)


def _payload(kind: str, files: list[str], records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "tool": "ipsbayes",
        "kind": kind,
        "version": _version(),
        "note": (
            "Files ipsbayes wrote. ipsbayes replaces or re-renders only these, and only while their content is "
            "what it wrote (records); anything else here, or edited since, is yours."
        ),
        "files": sorted(files),
        "records": {rel: dict(records[rel]) for rel in sorted(files) if rel in records},
    }


def kept_name(path: Path) -> Path:
    """A free ``name.kept-N`` next to ``path`` for a user's file whose name a new file takes."""
    for number in range(1, MAX_KEPT):
        candidate = path.with_name(f"{path.name}.kept-{number}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name next to {path}")


def carry_user_files(old: Path, new: Path, listed: frozenset[str]) -> list[tuple[str, str]]:
    """Move every file and empty folder of ``old`` that ``listed`` does not name into ``new``.

    Returns ``(name in old, name in new)`` pairs: a name a new file took gets ``.kept-N``.
    """
    carried = []
    mine = [rel for rel in folder_files(old) if rel not in listed]
    taken = [rel for rel in mine if (new / rel).exists() or (new / rel).is_symlink()]
    for rel in [r for r in mine if r not in taken] + taken:  # names kept as they are first: a user's own
        destination = new / rel  # "x.kept-1" is never renamed to make room for another file's ".kept-N"
        if rel in taken:
            destination = kept_name(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old / rel, destination)
        carried.append((rel, destination.relative_to(new).as_posix()))
    for root, dirs, _files in os.walk(old, topdown=False):
        for name in dirs:
            folder = Path(root) / name
            rel = folder.relative_to(old).as_posix()
            if any(folder.iterdir()) or any(f.startswith(f"{rel}/") for f in listed):
                continue
            if not (new / rel).exists():  # an empty folder of the user's
                (new / rel).mkdir(parents=True)
                carried.append((f"{rel}/", f"{rel}/"))
            folder.rmdir()
    return carried


def delete_listed(folder: Path, listed: frozenset[str]) -> list[str]:
    """Delete the files ``listed`` in ``folder``, then empty folders and ``folder``; return what is left."""
    for rel in listed:
        path = folder / rel
        if path.is_symlink() or path.is_file():
            path.unlink()
    manifest = folder / MANIFEST_NAME
    if manifest.is_file() and not manifest.is_symlink():
        manifest.unlink()
    for root, dirs, _files in os.walk(folder, topdown=False):
        for name in dirs:
            with contextlib.suppress(OSError):
                (Path(root) / name).rmdir()
    try:
        folder.rmdir()
    except OSError:
        return folder_files(folder)
    return []


def write_listing(folder: Path, kind: str, files: list[str], records: Mapping[str, Mapping[str, Any]]) -> None:
    """Replace the manifest of ``folder`` by one listing ``files`` with their ``records`` (written aside, renamed)."""
    payload = _payload(kind, files, records) | {"created": datetime.now(UTC).isoformat(timespec="seconds")}
    temporary = folder / f"{MANIFEST_NAME}.{uuid.uuid4().hex[:8]}"
    temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, folder / MANIFEST_NAME)


__all__ = [
    "HASH_LIMIT_BYTES",
    "KINDS",
    "MANIFEST_NAME",
    "Manifest",
    "carry_user_files",
    "changed_files",
    "delete_listed",
    "file_changed",
    "file_record",
    "folder_files",
    "kept_name",
    "read_manifest",
    "write_listing",
    "write_manifest",
]
