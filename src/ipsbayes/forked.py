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

Fork is used on Linux only, with at least two usable cores (:func:`available`); elsewhere, or
when the fork fails (no memory for it), the work runs in the caller, before the block, with the
same result. A child that stops making progress (no CPU time and no disk wait for
:data:`STUCK_SECONDS`, e.g. a lock that another thread held at the fork) is killed and its work
done in the caller: the work must be safe to repeat (it writes its own files, whole).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ipsbayes.errors import IpsBayesError
from ipsbayes.interrupt import SIGNALS, deferred, requested

#: a child that has used no CPU time and waited on no disk for this long is taken to be stuck
STUCK_SECONDS = 60.0

log = logging.getLogger("ipsbayes")


class Stuck(Exception):
    """The child stopped making progress (see :data:`STUCK_SECONDS`)."""


def can_fork() -> bool:
    """Whether work can run in a forked child at all (Linux), whatever the number of cores."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def available() -> bool:
    """Whether work can run in a forked child on a core of its own (Linux, two or more usable cores)."""
    return can_fork() and len(os.sched_getaffinity(0)) >= 2


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

    def start(self) -> bool:
        """Fork; the child runs the work and sends back ("ok", result, seconds) or ("error", error, seconds).

        Returns False, forking nothing, when the system refuses the fork.
        """
        read, write = os.pipe()
        with deferred():  # a Ctrl-C between the fork and keeping its pid would leave a child nobody stops
            try:
                with warnings.catch_warnings():
                    # "multi-threaded, use of fork() may lead to deadlocks": the other threads are the sampler's
                    # and BLAS's idle pools; should the child still block on a lock, it is found stuck (finish)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
            except OSError:
                os.close(read)
                os.close(write)
                return False
            if pid == 0:  # pragma: no cover - the child (coverage does not follow os._exit)
                os.close(read)
                _child(self._work, write)
            os.close(write)
            self._pid, self._pipe = pid, read
        return True

    def finish(self) -> None:
        """Read the child's answer and reap it; raise its error here, or :class:`Stuck`."""
        assert self._pid is not None and self._pipe is not None
        parts: list[bytes] = []
        progress, quiet_since = None, time.monotonic()
        waiting = select.poll()  # not select.select: it fails for descriptors above 1023
        waiting.register(self._pipe, select.POLLIN | select.POLLHUP)
        while True:
            if waiting.poll(1000):
                part = os.read(self._pipe, 1 << 20)
                if not part:
                    break
                parts.append(part)
                quiet_since = time.monotonic()
                continue
            now = _progress(self._pid)
            if now != progress or now is None:
                progress, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since > STUCK_SECONDS:
                raise Stuck(f"worker process {self._pid} made no progress for {STUCK_SECONDS:.0f} s")
        payload = b"".join(parts)
        os.close(self._pipe)
        self._pipe = None
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
        except Exception as exc:  # an error that cannot be pickled goes back as one that can, with its text
            kind, value, seconds = answer
            error = sendable(value) if kind == "error" else RuntimeError(f"its result could not be sent: {exc}")
            payload = pickle.dumps(("error", error, seconds))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
        code = 0
    finally:
        os._exit(code)


def sendable(error: BaseException) -> Exception:
    """An error that pickles in place of one that does not, with the same text.

    A user's error (:class:`~ipsbayes.errors.IpsBayesError`) stays one: the nearest class of its
    family that pickles, so the command still says what to fix and exits with that class's code
    (2 for a config or data problem); any other error becomes ``RuntimeError`` naming its type.
    """
    if isinstance(error, IpsBayesError):
        headline = str(getattr(error, "headline", error))
        problems = [str(problem) for problem in getattr(error, "problems", [])]
        for kind in type(error).__mro__:
            if not (isinstance(kind, type) and issubclass(kind, IpsBayesError)):
                continue
            try:
                candidate = kind(headline, problems)
                pickle.loads(pickle.dumps(candidate))
            except Exception:  # this class needs more than a headline, or will not pickle: its parent
                continue
            return candidate
    return RuntimeError(f"{type(error).__name__}: {error}")


def _progress(pid: int) -> tuple[int, int] | None:
    """CPU ticks the child has used, or None when it waits on the disk (progress too) or cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "D":  # uninterruptible disk wait: writing, not stuck
        return None
    return int(fields[11]), int(fields[12])  # utime, stime


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
    if not (available() if fork is None else fork) or not child.start():
        child.run_here()
        yield child
        return
    try:
        yield child
    except BaseException:
        child.stop()
        raise
    ended_by_interrupt = stuck = False
    with deferred():  # a Ctrl-C while waiting: the child is finished first, then the interruption is raised
        try:
            child.finish()
        except Stuck as exc:
            log.warning("%s; its work is done here instead", exc)
            stuck = True
        except Exception:
            if not requested():
                raise
            ended_by_interrupt = True  # the Ctrl-C (or SIGTERM) that stops the command ended the child too
        finally:
            child.stop()  # a no-op once finished; kills the child if it is stuck or reading its answer failed
    if ended_by_interrupt:
        raise KeyboardInterrupt
    if stuck:
        child.run_here()


def run_all(works: Sequence[Callable[[], Any]], width: int) -> list[Any]:
    """Run each of ``works`` in a forked child, at most ``width`` at a time; return their results in order.

    The works start in batches of ``width`` (a batch ends when its slowest work does); their results
    come back pickled. The children are waited for in the order of ``works``, so when several fail,
    the error raised here is that of the first failing work, as when they run one after another; the
    rest of its batch is then killed and reaped. A stopping signal (Ctrl-C, ``kill``) ends the wait at
    once and kills and reaps every child; a child found stuck (:data:`STUCK_SECONDS`) is killed and
    its work done here. With ``width`` 1, or where forking is not :func:`available`, the works run
    here one after another: the same results, in the same order.
    """
    if width <= 1 or not available():
        return [work() for work in works]
    results: list[Any] = []
    for start in range(0, len(works), width):
        batch = [Child(work) for work in works[start : start + width]]
        try:
            in_children = []
            for child in batch:
                started = child.start()
                if not started:  # the system refused the fork: the work is done here
                    child.run_here()
                in_children.append(started)
            for child, started in zip(batch, in_children, strict=True):
                if started:
                    _answer_of(child)
        finally:
            for child in batch:
                child.stop()  # a no-op once answered; kills and reaps the rest
        results.extend(child.result for child in batch)
    return results


def _answer_of(child: Child) -> None:
    """Wait for a forked child of :func:`run_all`: its result, its error, or its work redone here when stuck."""
    try:
        child.finish()
    except Stuck as exc:
        log.warning("%s; its work is done here instead", exc)
        child.stop()
        child.run_here()
    except Exception:
        if requested():  # the Ctrl-C that stops the command ended the child too
            raise KeyboardInterrupt from None
        raise


__all__ = ["STUCK_SECONDS", "Child", "Stuck", "available", "can_fork", "in_child", "run_all", "sendable"]
