"""Stage-by-stage progress: one line per finished stage with its elapsed time.

The CLI installs a callback with :func:`reporting`; the stages of a run (build,
compile, sampling, each sensitivity refit, diagnostics, report) call :func:`done`
when they finish. Without a callback (the Python API, tests, ``--quiet``) every
call is a no-op. Stages inside a :func:`group` (e.g. the compile and sampling of a
refit) are folded into the group's one line.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

Callback = Callable[[str], None]


@dataclass
class _State:
    callback: Callback
    started: float = field(default_factory=time.perf_counter)
    last: float = field(default_factory=time.perf_counter)
    depth: int = 0


_STATE: ContextVar[_State | None] = ContextVar("ipsbayes_progress", default=None)


@contextlib.contextmanager
def reporting(callback: Callback | None) -> Iterator[None]:
    """Send one line per finished stage to ``callback`` inside the block (``None``: stay silent)."""
    token = _STATE.set(_State(callback) if callback is not None else None)
    try:
        yield
    finally:
        _STATE.reset(token)


def done(stage: str) -> None:
    """Report that ``stage`` finished: its elapsed time since the previous stage and the total so far."""
    state = _STATE.get()
    if state is None or state.depth:
        return
    now = time.perf_counter()
    state.callback(f"{stage:<40} {now - state.last:7.1f} s   (total {now - state.started:6.1f} s)")
    state.last = now


@contextlib.contextmanager
def group(stage: str) -> Iterator[None]:
    """Fold the stages inside the block into one line named ``stage`` (e.g. a whole sensitivity refit)."""
    state = _STATE.get()
    if state is None:
        yield
        return
    state.depth += 1
    try:
        yield
    finally:
        state.depth -= 1
    done(stage)


__all__ = ["done", "group", "reporting"]
