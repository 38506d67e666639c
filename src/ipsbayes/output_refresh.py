"""Re-rendering an ipsbayes folder in place (``ipsbayes report RUN_DIR``): only the files its manifest lists.

The rule of :mod:`ipsbayes.output` holds here too: a file ipsbayes did not write is never replaced,
and a listed file whose content changed since ipsbayes wrote it is refused, naming it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from ipsbayes import interrupt
from ipsbayes.errors import OutputError
from ipsbayes.manifest import (
    KINDS,
    MANIFEST_NAME,
    changed_files,
    file_record,
    folder_files,
    read_manifest,
    write_listing,
)
from ipsbayes.output import OutputClaim, register
from ipsbayes.output_lock import acquire
from ipsbayes.output_policy import describe_os_error, refuse_links


@contextlib.contextmanager
def refresh_folder(folder: Path | str, *, kind: str = "run") -> Iterator[Path]:
    """Re-render an ipsbayes folder in place, rewriting only the files its manifest lists.

    Yields an empty staging folder next to ``folder``. When the block ends without
    error, each new file replaces the file of the same name (one rename each, with
    SIGINT held back) and the manifest lists the new files besides the ones it
    listed before. Files the manifest does not list are never touched; if the block
    wrote a file whose name a user's file holds, or that would replace a listed file whose
    content changed since ipsbayes wrote it (with other content), nothing is changed and
    :class:`~ipsbayes.errors.OutputError` names it. A failure or interrupt inside
    the block leaves the folder as it was. The folder is locked while this runs.

    Raises
    ------
    OutputError
        When ``folder`` has no ipsbayes manifest of ``kind`` (exit code 2).
    """
    interrupt.begin_work()
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None or manifest.kind != kind:
        raise OutputError(
            f"{folder} is not a {KINDS[kind]} written by this version of ipsbayes (no {MANIFEST_NAME}); "
            f"ipsbayes re-renders only folders whose manifest lists the files it wrote. Run the config again "
            f"with --out to write a new {KINDS[kind]}."
        )
    refuse_links(folder, manifest.files)  # before any work: the files it will rewrite
    lock = acquire(folder, KINDS[kind])
    staging = folder.parent / f".{folder.name}.render-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
    except OSError as exc:
        lock.release()
        raise OutputError(f"Cannot write next to {folder}: {describe_os_error(exc)}") from exc
    claim = OutputClaim(folder, folder, staging, kind, lock=lock)
    register(claim)
    try:
        yield staging
        interrupt.raise_if_interrupted()  # a stop whose KeyboardInterrupt Python swallowed (see atomic_output)
        new_files = folder_files(staging)
        refuse_links(folder, new_files)
        clashes = [rel for rel in new_files if rel not in manifest.files and (folder / rel).exists()]
        if clashes:
            raise OutputError(
                f"Re-rendering {folder} would overwrite {', '.join(clashes[:5])}, which ipsbayes did not write; "
                "move those files elsewhere and run `ipsbayes report` again"
            )
        edited = changed_files(folder, manifest, new_files)
        same = {rel for rel in edited if _same_bytes(staging / rel, folder / rel)}  # nothing of the user's lost
        if edited := [rel for rel in edited if rel not in same]:
            it = (
                "it and so is yours now; move or rename it"
                if len(edited) == 1
                else "them and so are yours now; move or rename them"
            )
            raise OutputError(
                f"Re-rendering {folder} would replace {', '.join(edited[:5])}, which changed since ipsbayes wrote "
                f"{it} and run `ipsbayes report` again (nothing was changed)"
            )
        with interrupt.deferred():
            moved = [rel for rel in new_files if rel not in same]
            for rel in moved:
                destination = folder / rel
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, destination)
            still_there = {rel for rel in manifest.files if (folder / rel).is_file()}
            records = {rel: manifest.records[rel] for rel in still_there | same if rel in manifest.records}
            records |= {rel: file_record(folder / rel) for rel in moved}
            shutil.rmtree(staging, ignore_errors=True)
            write_listing(folder, kind, sorted(still_there | set(new_files)), records)
            claim.placed = True
    finally:
        claim.release()


def _same_bytes(first: Path, second: Path) -> bool:
    """Whether two files hold the same bytes."""
    import filecmp

    try:
        return filecmp.cmp(first, second, shallow=False)
    except OSError:
        return False


__all__ = ["refresh_folder"]
