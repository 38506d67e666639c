"""Ctrl-C: remember that it was pressed, and keep it out of the few steps that must not be cut short.

Samplers (nutpie, PyMC) catch ``KeyboardInterrupt`` themselves and return the
draws made so far. :func:`watch` records every SIGINT while a block runs, so the
caller can stop after the sampler returns (:func:`raise_if_interrupted`) instead
of publishing a partial fit. :func:`deferred` holds SIGINT back during the
milliseconds in which a finished folder is moved into place or a staging
folder is removed, so an interrupt never leaves either half done; the
interrupt is raised as soon as the step ends.

The command line raises ``KeyboardInterrupt`` while a command works
(:func:`install_cli_handler`), only records SIGINT while it cleans up
(:func:`record_only`) and, once the command has finished, ends the process
with exit code 130 on SIGINT (:func:`exit_on_interrupt`) instead of letting a
``KeyboardInterrupt`` surface in the interpreter's teardown as a traceback.

Signal handlers can only be changed in the main thread; elsewhere these helpers
do nothing beyond running the block.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
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
    if held and previous != signal.SIG_IGN:  # the handler that was in place gets it now (normally: raise)
        _call_previous(previous, held[0], None)


def install_cli_handler() -> Any:
    """SIGINT handler of the command line: record the interrupt, then raise ``KeyboardInterrupt``.

    Returns
    -------
    handler
        The handler it replaced (None outside the main thread), for :func:`restore`.
    """
    reset()
    if not _in_main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        mark()
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, handler)
    return previous


def record_only() -> None:
    """From now on SIGINT is only recorded (:func:`requested`): the command's last cleanup runs to its end."""
    if _in_main_thread():
        signal.signal(signal.SIGINT, lambda signum, frame: mark())


def restore(previous: Any) -> None:
    """Put back the handler :func:`install_cli_handler` replaced (a program calling the CLI in-process)."""
    if previous is not None and _in_main_thread():
        signal.signal(signal.SIGINT, previous)


def exit_on_interrupt(message: str, code: int) -> None:
    """For the rest of the process, SIGINT writes ``message`` to stderr and ends the process with ``code`` at once.

    The command line installs this when a command has finished: what is left is the interpreter's
    own teardown (joining threads, exit handlers such as a Dask cluster's), in which a
    ``KeyboardInterrupt`` could only print a traceback and leave the exit code at 0. Ending the
    process there cuts nothing short that matters: every output folder is already in place or
    removed. The handler uses only what it holds itself, as modules may be half torn down by then.
    """
    if not _in_main_thread():
        return
    streams, write, end, data = (sys.stdout, sys.stderr), os.write, os._exit, f"{message}\n".encode()

    def handler(signum: int, frame: FrameType | None) -> None:
        for stream in streams:
            try:
                stream.flush()
            except BaseException:  # closed or torn down: nothing to flush
                pass
        try:
            write(2, data)
        except OSError:
            pass
        end(code)

    signal.signal(signal.SIGINT, handler)


__all__ = [
    "deferred",
    "exit_on_interrupt",
    "install_cli_handler",
    "mark",
    "raise_if_interrupted",
    "record_only",
    "requested",
    "reset",
    "restore",
    "watch",
]
