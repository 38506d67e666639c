"""Ctrl-C: remember that it was pressed, and keep it out of the few steps that must not be cut short.

Samplers (nutpie, PyMC) catch ``KeyboardInterrupt`` themselves and return the
draws made so far. :func:`watch` records every SIGINT while a block runs, so the
caller can stop after the sampler returns (:func:`raise_if_interrupted`) instead
of publishing a partial fit. :func:`deferred` holds SIGINT back during the
milliseconds in which a finished folder is moved into place or a staging
folder is removed, so an interrupt never leaves either half done; the
interrupt is raised as soon as the step ends.

Signal handlers can only be changed in the main thread; elsewhere these helpers
do nothing beyond running the block.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

_state = {"requested": False}


def requested() -> bool:
    """True when SIGINT arrived since the last :func:`reset` (under :func:`watch` or the CLI's handler)."""
    return _state["requested"]


def reset() -> None:
    """Forget an earlier interrupt (the command line calls this when it starts)."""
    _state["requested"] = False


def mark() -> None:
    """Record that an interrupt arrived."""
    _state["requested"] = True


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when an interrupt was recorded."""
    if _state["requested"]:
        raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _call_previous(previous: Any, signum: int, frame: FrameType | None) -> None:
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        raise KeyboardInterrupt


@contextlib.contextmanager
def watch() -> Iterator[None]:
    """Record SIGINT while the block runs, then handle it as before (normally: raise ``KeyboardInterrupt``)."""
    if not _in_main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        mark()
        _call_previous(previous, signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT back while the block runs; raise ``KeyboardInterrupt`` after it if one arrived."""
    if not _in_main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    held: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        mark()
        held.append(signum)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and previous != signal.SIG_IGN:
        raise KeyboardInterrupt


def install_cli_handler() -> None:
    """SIGINT handler of the command line: record the interrupt, then raise ``KeyboardInterrupt``."""
    reset()
    if not _in_main_thread():
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        mark()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


__all__ = ["deferred", "install_cli_handler", "mark", "raise_if_interrupted", "requested", "reset", "watch"]
