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

SIGTERM (what ``kill``, ``timeout``, Slurm, systemd and ``docker stop`` send) and SIGHUP
(a closed terminal) are handled exactly as SIGINT: the command stops, removes its staging
folders and exits with 128 + the signal's number (130, 143, 129).

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

#: the signals that stop a command cleanly
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

_state: dict[str, Any] = {"requested": False, "signal": signal.SIGINT, "command": False}


def requested() -> bool:
    """True when SIGINT arrived since the last :func:`reset` (under :func:`watch` or the CLI's handler)."""
    return _state["requested"]


def reset() -> None:
    """Forget an earlier interrupt (the command line calls this when it starts)."""
    _state["requested"], _state["signal"] = False, signal.SIGINT


def mark(signum: int = signal.SIGINT) -> None:
    """Record that an interrupt (``signum``) arrived; the first one sets the exit code."""
    if not _state["requested"]:
        _state["signal"] = signum
    _state["requested"] = True


def exit_code() -> int:
    """128 + the number of the signal that stopped the command (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(_state["signal"])


def _install(handler: Any) -> dict[int, Any]:
    """Put ``handler`` on every signal of :data:`SIGNALS`; return the handlers it replaced."""
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, handler)
    return previous


def _put_back(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        if handler is not None:
            signal.signal(signum, handler)


def begin_work() -> None:
    """A command or library call starts its work: forget a stop an earlier call in this process recorded.

    Under the command line's handler the record belongs to the command and is kept. A notebook
    that interrupted one ``ipsbayes.run`` would otherwise see every later one stop after sampling.
    """
    if not _state["command"]:
        reset()


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when an interrupt was recorded."""
    if _state["requested"]:
        raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _call_previous(previous: Any, signum: int, frame: FrameType | None) -> None:
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL or previous is None:
        raise KeyboardInterrupt


@contextlib.contextmanager
def watch() -> Iterator[None]:
    """Record the stopping signals while the block runs, then handle them as before (normally: raise)."""
    if not _in_main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        mark(signum)
        _call_previous(previous.get(signum), signum, frame)

    previous = _install(handler)
    try:
        yield
    finally:
        _put_back(previous)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold the stopping signals back while the block runs; raise ``KeyboardInterrupt`` after it if one arrived."""
    if not _in_main_thread():
        yield
        return
    held: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        mark(signum)
        held.append(signum)

    previous = _install(handler)
    try:
        yield
    finally:
        _put_back(previous)
    if held and previous.get(held[0]) != signal.SIG_IGN:  # the handler that was in place gets it now
        _call_previous(previous.get(held[0]), held[0], None)


def install_cli_handler() -> dict[int, Any] | None:
    """Handler of the command line for SIGINT, SIGTERM and SIGHUP: record the signal, raise ``KeyboardInterrupt``.

    Returns
    -------
    dict or None
        The handlers it replaced (None outside the main thread), for :func:`restore`.
    """
    reset()
    if not _in_main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        mark(signum)
        raise KeyboardInterrupt

    _state["command"] = True
    return _install(handler)


def record_only() -> None:
    """From now on the stopping signals are only recorded (:func:`requested`): the last cleanup runs to its end."""
    if _in_main_thread():
        _install(lambda signum, frame: mark(signum))


def restore(previous: dict[int, Any] | None) -> None:
    """Put back the handlers :func:`install_cli_handler` replaced (a program calling the CLI in-process)."""
    _state["command"] = False
    if previous is not None and _in_main_thread():
        _put_back(previous)


def exit_on_interrupt(message: str, code: int) -> None:
    """For the rest of the process, a stopping signal writes ``message`` and ends the process at once.

    The exit code is ``code`` for SIGINT and 128 + the signal's number for the others.

    The command line installs this when a command has finished: what is left is the interpreter's
    own teardown (joining threads, exit handlers such as a Dask cluster's), in which a
    ``KeyboardInterrupt`` could only print a traceback and leave the exit code at 0. Ending the
    process there cuts nothing short that matters: every output folder is already in place or
    removed. The handler uses only what it holds itself, as modules may be half torn down by then.
    """
    if not _in_main_thread():
        return
    streams, write, end, data = (sys.stdout, sys.stderr), os.write, os._exit, f"{message}\n".encode()
    interrupt_code = int(signal.SIGINT)

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
        end(code if signum == interrupt_code else 128 + signum)  # SIGTERM: 143

    _install(handler)


__all__ = [
    "SIGNALS",
    "begin_work",
    "deferred",
    "exit_code",
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
