"""PyTensor's C compiler flags, found on a thread while the console command reads data and samples (issue 15).

The first PyTensor function a process compiles to C (after sampling: the deterministics) asks the
compiler which flags tune code to this CPU (``GCC_compiler.compile_args``: ``g++ -march=native -E -v``,
``g++ -E -v``, a test program compiled and run), about 0.2 s once per process on the run's one busy
core. :func:`probing_compiler_flags` makes that call on a thread at the start of the run, so the
compiler processes run while the data are read, the sampler is loaded and the chains run.

PyTensor marks the flags as being looked for (``GCC_compiler.march_flags = []``) before it has
found them; a compile on another thread in that moment would take no flags. So while the probe
runs, every other thread's ``compile_args`` call first waits for it: every compile gets exactly the
flags PyTensor would have found itself (``tests/test_compiler_probe.py``), and
:mod:`ipsbayes.forked` waits for the probe before it forks. The probe starts after the stack is
imported (its own imports, setuptools' compiler modules, then never meet the command's imports on
two threads), only once per process, and only for a compiler PyTensor recognises; a failed probe
is left to PyTensor, which probes again, with its own warnings, when it first compiles.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

log = logging.getLogger("ipsbayes")

#: the compilers whose flags PyTensor detects (``GCC_compiler.compile_args``)
RECOGNISED = ("g++", "clang++", "clang-omp++", "icpc")

_state: dict[str, threading.Thread | bool | None] = {"thread": None, "started": False}


def _probe() -> None:
    from pytensor.link.c.cmodule import GCC_compiler

    try:
        GCC_compiler.compile_args()  # detects the flags and keeps them in GCC_compiler.march_flags
    except Exception as exc:  # PyTensor probes again itself when it first compiles, and reports then
        log.debug("probing the C compiler's flags in the background failed: %s", exc)


def wait() -> None:
    """Wait for a probe running on another thread (before forking: no thread may run across a fork)."""
    thread = _state["thread"]
    if isinstance(thread, threading.Thread) and thread.ident is not None and thread is not threading.current_thread():
        thread.join()


@contextlib.contextmanager
def probing_compiler_flags() -> Iterator[None]:
    """Find PyTensor's C compiler flags on a thread while the block runs; the thread is finished on leaving.

    Nothing happens when the flags are known or were probed before in this process, or when
    PyTensor would not detect them (no C compiler, or one it does not recognise).
    """
    import pytensor
    from pytensor.link.c.cmodule import GCC_compiler

    cxx = str(pytensor.config.cxx or "")
    if _state["started"] or GCC_compiler.march_flags is not None or not any(name in cxx for name in RECOGNISED):
        yield
        return
    _state["started"] = True
    original = GCC_compiler.__dict__["compile_args"]
    thread = threading.Thread(target=_probe, name="ipsbayes-compiler-probe", daemon=True)

    def after_the_probe(*args, **kwargs):  # another thread's compile waits until the flags are found
        wait()
        return original.__func__(*args, **kwargs)

    GCC_compiler.compile_args = staticmethod(after_the_probe)
    _state["thread"] = thread
    try:
        thread.start()
        yield
    finally:
        wait()
        GCC_compiler.compile_args = original
        _state["thread"] = None


__all__ = ["RECOGNISED", "probing_compiler_flags", "wait"]
