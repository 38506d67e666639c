"""PyTensor's C compiler flags for this CPU, kept beside the compiled models (issue 15).

The first PyTensor function a process compiles to C (after sampling: the deterministics) asks the
compiler which flags tune code to this CPU (``GCC_compiler.compile_args``: ``g++ -march=native -E -v``,
``g++ -E -v`` and a test program compiled and run), 0.1-0.2 s once per process. The answer depends
only on the CPU, the compiler and PyTensor, so :func:`keep_found_flags` writes what PyTensor found
into the compile cache's folder (:func:`ipsbayes.compile_cache.cache_dir`), under a key of the CPU
(numba's target: triple, CPU name and features), the compiler binary (path, size, modification
time), its name and flags in PyTensor's config, and PyTensor's version; :func:`use_known_flags`
hands them to a later process's PyTensor (``GCC_compiler.march_flags``), which then compiles with
exactly the flags it would have found itself (``tests/test_compiler_flags.py``). Another CPU,
compiler or PyTensor is another key; a file that cannot be read is ignored (PyTensor asks the
compiler as always); with the compile cache switched off nothing is read or written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger("ipsbayes")

#: the folder, under the compile cache's, of the flags found per CPU and compiler
FOLDER = "compiler-flags"


def flags_file() -> Path | None:
    """Where the flags of this CPU, compiler and PyTensor are kept (None: cache off, or no compiler)."""
    import pytensor

    from ipsbayes import compile_cache, compile_key

    root = compile_cache.cache_dir()
    cxx = str(pytensor.config.cxx or "")
    binary = shutil.which(cxx) if cxx else None
    if root is None or binary is None:
        return None
    real = os.path.realpath(binary)
    stat = os.stat(real)
    parts = [
        pytensor.__version__,
        cxx,
        str(pytensor.config.gcc__cxxflags),
        real,
        stat.st_size,
        stat.st_mtime_ns,
        *compile_key.cpu(),
    ]
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
    return root / FOLDER / f"{key}.json"


def use_known_flags() -> bool:
    """Give PyTensor the flags an earlier process found for this CPU and compiler; True when it took them."""
    from pytensor.link.c.cmodule import GCC_compiler

    if GCC_compiler.march_flags is not None:
        return False
    try:
        path = flags_file()
        if path is None or not path.is_file():
            return False
        flags = json.loads(path.read_text(encoding="utf-8"))["march_flags"]
    except Exception as exc:  # the flags are a shortcut: PyTensor asks the compiler as always
        log.debug("compiler flags not read: %s", exc)
        return False
    if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
        return False
    GCC_compiler.march_flags = flags
    return True


def keep_found_flags() -> None:
    """Write the flags PyTensor found in this process for later ones (once per CPU and compiler; never fails)."""
    from pytensor.link.c.cmodule import GCC_compiler

    flags = GCC_compiler.march_flags
    if flags is None:
        return
    part = None
    try:
        path = flags_file()
        if path is None or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        part.write_text(json.dumps({"march_flags": list(flags)}) + "\n", encoding="utf-8")
        os.replace(part, path)  # whole or not at all
    except Exception as exc:  # never fails a run: the next process asks the compiler itself
        log.debug("compiler flags not kept: %s", exc)
        if part is not None:
            with contextlib.suppress(OSError):
                part.unlink()


__all__ = ["FOLDER", "flags_file", "keep_found_flags", "use_known_flags"]
