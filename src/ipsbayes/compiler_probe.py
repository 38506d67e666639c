"""PyTensor's C compiler flags, found on another core while a run reads its data (issue 15).

The first PyTensor function a process compiles to C (after sampling: the deterministics) asks
``g++ -march=native -E -v -`` and ``g++ -E -v -`` which flags tune code to this CPU. The two
compiler processes cost 0.2 s of wall time once per process, on the run's one busy core. Started
on a thread while the run reads its data, builds its model and loads its compiled sampler, they
run on the idle second core instead. PyTensor keeps what they found (``GCC_compiler.march_flags``)
and compiles with exactly the flags it would have found itself (``tests/test_compiler_probe.py``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

log = logging.getLogger("ipsbayes")


def _probe() -> None:
    try:
        from pytensor.link.c.cmodule import GCC_compiler

        if GCC_compiler.march_flags is None:
            GCC_compiler.compile_args()  # detects and keeps the flags
    except Exception as exc:
        log.debug("probing the C compiler's flags in the background failed: %s", exc)


@contextlib.contextmanager
def probing_compiler_flags() -> Iterator[None]:
    """Find PyTensor's C compiler flags on a background thread while the block runs; wait for it on leaving.

    Nothing happens when there is no C compiler (``pytensor.config.cxx`` empty) or the flags are
    known already. A failed probe is left to PyTensor, which probes again when it first compiles.
    The thread is always finished when the block is left, so no thread runs when the caller later
    forks (:mod:`ipsbayes.forked`).
    """
    import pytensor
    from pytensor.link.c.cmodule import GCC_compiler

    if not pytensor.config.cxx or GCC_compiler.march_flags is not None:
        yield
        return
    thread = threading.Thread(target=_probe, name="ipsbayes-compiler-probe", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


__all__ = ["probing_compiler_flags"]
