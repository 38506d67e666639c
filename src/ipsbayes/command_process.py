"""What only the installed ``ipsbayes`` command does to its own process.

It imports the scientific stack with the garbage collector paused (:func:`importing_stack`), and it
leaves without the interpreter's teardown (:func:`leave_now`). Programs and tests that call
``ipsbayes.cli.main`` get neither.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator

#: switched on by :func:`pause_collector_for_imports` (the console command only)
_pausing = {"imports": False}


def pause_collector_for_imports() -> None:
    """Make :func:`importing_stack` pause the collector in this process (the console command calls it)."""
    _pausing["imports"] = True


@contextlib.contextmanager
def importing_stack() -> Iterator[None]:
    """Import the scientific stack without cyclic garbage collection, then freeze what it made.

    Importing PyMC, ArviZ, SciPy and matplotlib creates some 450,000 objects the collector
    tracks; collecting while they accumulate, and scanning them again in every full collection
    of the run, cost 0.7 s of a 1,500-row ``run`` (6.42 -> 5.69 s wall, medians of 5 interleaved
    rounds, ``benchmarks/results/startup_gc.md``). So the console command pauses the collector
    during these imports and then moves every object they made to the permanent generation
    (:func:`gc.freeze`): modules, classes and functions live as long as the process anyway; the
    about 3,700 objects of cyclic garbage the imports leave stay too (collecting them first would
    cost 0.2 s). Reference counting frees everything else as always, and the collector runs
    normally afterwards. Only the console command does this (:func:`pause_collector_for_imports`,
    called by ``ipsbayes.cli.command``): a program calling ``ipsbayes.cli.main`` keeps its
    collector as it set it.
    """
    if not _pausing["imports"] or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def leave_now(code: int) -> None:
    """End the command at once: exit handlers run, the interpreter's teardown is skipped.

    Tearing the interpreter down (freeing compiled models, sampler state and thousands of
    modules one object at a time) took 0.9 s after a 1,500-row ``run`` of 7.8 s. By now every
    file is written and closed and output flushed; exit handlers (temporary folders, worker
    processes, logging) still run. Returns, leaving the normal exit, while a thread that the
    interpreter would wait for is still running.
    """
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


__all__ = ["importing_stack", "leave_now", "pause_collector_for_imports"]
