"""Work in a forked child process beside the caller, on the second core after sampling.

After sampling, a run's last steps (drawing figures, writing ``posterior.nc``) are Python-bound:
threads would only take turns for the GIL. A forked child shares the run's memory copy-on-write,
so it starts in milliseconds with every module, font and array already loaded, and runs its part
on another core while the caller runs the rest (``benchmarks/results/postfit.md``).

The child never outlives the block: leaving it waits for the child; an error or a Ctrl-C in the
block kills the child and reaps it first, so a staging folder is never removed while the child
still writes into it. The child resets the stopping signals to their defaults (a Ctrl-C ends it
silently; the caller reports the interruption) and leaves with ``os._exit``, never running the
caller's cleanup. Its result, or its error, comes back pickled through a pipe; an error is raised
again in the caller.

Fork is used on Linux only, with at least two usable cores (:func:`available`); elsewhere the
work runs in the caller, before the block, with the same result.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ipsbayes.interrupt import SIGNALS, deferred, requested


def available() -> bool:
    """Whether work can run in a forked child on a core of its own (Linux, two or more usable cores)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


class Child:
    """Work running in a forked child (see :func:`in_child`); ``result`` and ``seconds`` once the block is left."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.result: Any = None
        self.seconds = 0.0
        self._work = work
        self._pid: int | None = None
        self._pipe: int | None = None

    def run_here(self) -> None:
        """Run the work in this process (no fork)."""
        started = time.perf_counter()
        try:
            self.result = self._work()
        finally:
            self.seconds = time.perf_counter() - started

    def start(self) -> None:
        """Fork; the child runs the work and sends back ("ok", result, seconds) or ("error", error, seconds)."""
        read, write = os.pipe()
        with warnings.catch_warnings():
            # "multi-threaded, use of fork() may lead to deadlocks": the other threads are the sampler's and
            # BLAS's idle pools; the child takes no lock they could hold (no sampling, no BLAS threads)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage does not follow os._exit)
            os.close(read)
            _child(self._work, write)
        os.close(write)
        self._pid, self._pipe = pid, read

    def finish(self) -> None:
        """Read the child's answer and reap it; raise its error here."""
        assert self._pid is not None and self._pipe is not None
        with os.fdopen(self._pipe, "rb") as pipe:
            self._pipe = None
            payload = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if not payload:
            raise RuntimeError(f"a worker process ended without an answer ({_status_text(status)})")
        outcome, value, self.seconds = pickle.loads(payload)
        if outcome == "error":
            raise value
        self.result = value

    def stop(self) -> None:
        """Kill the child and reap it (the block failed or was interrupted)."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None


def _child(work: Callable[[], Any], write: int) -> None:  # pragma: no cover - runs in the child
    """The child's whole life: run ``work``, send the outcome, leave without the caller's cleanup."""
    code = 1
    try:
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        started = time.perf_counter()
        try:
            answer = ("ok", work(), time.perf_counter() - started)
        except Exception as exc:  # sent to the caller, which raises it
            answer = ("error", exc, time.perf_counter() - started)
        try:
            payload = pickle.dumps(answer)
        except Exception as exc:  # an error that cannot be pickled goes back as its type and text
            kind, value, seconds = answer
            text = f"{type(value).__name__}: {value}" if kind == "error" else f"its result could not be sent: {exc}"
            payload = pickle.dumps(("error", RuntimeError(text), seconds))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
        code = 0
    finally:
        os._exit(code)


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


@contextlib.contextmanager
def in_child(work: Callable[[], Any], *, fork: bool | None = None) -> Iterator[Child]:
    """Run ``work()`` in a forked child while the block runs; on leaving, wait for it and raise its error.

    Parameters
    ----------
    work : callable
        The work, without arguments; its result must pickle.
    fork : bool, optional
        False: run ``work`` here, before the block. Default: :func:`available`.

    Yields
    ------
    Child
        ``result`` (what ``work`` returned) and ``seconds`` (its own duration) once the block is left.
        An error in the block wins over one in ``work``.
    """
    child = Child(work)
    if not (available() if fork is None else fork):
        child.run_here()
        yield child
        return
    child.start()
    try:
        yield child
    except BaseException:
        child.stop()
        raise
    ended_by_interrupt = False
    with deferred():  # a Ctrl-C while waiting: the child is finished first, then the interruption is raised
        try:
            child.finish()
        except Exception:
            if not requested():
                raise
            ended_by_interrupt = True  # the Ctrl-C (or SIGTERM) that stops the command ended the child too
        finally:
            child.stop()  # a no-op once finished; kills the child if reading its answer failed
    if ended_by_interrupt:
        raise KeyboardInterrupt


__all__ = ["Child", "available", "in_child"]
