"""Post-fit work over chunks (of draws or of observations) on the cores a run may use.

After sampling, the heavy numpy work (population-averaged predictions, PSIS-LOO, the rank plots'
envelopes) is a loop over independent chunks, each writing its own slice of preallocated outputs.
numpy's and scipy's element-wise loops release the GIL, so threads run such chunks side by side
on the cores the sampler used. Each chunk computes exactly what it computes alone, so the results
are identical, bit for bit, to a serial loop (``tests/test_chunks.py`` checks every caller).

The number of threads comes from the run (:func:`threads`, set by the pipeline to the sampler's
``cores``); code outside such a block, and every worker thread itself, runs chunks serially, so
validation workers sampling with one core each never multiply their threads.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

_THREADS: contextvars.ContextVar[int] = contextvars.ContextVar("ipsbayes_post_fit_threads", default=1)


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Let :func:`for_each_chunk` use up to ``n`` threads inside the block (``None`` or 1: serial)."""
    token = _THREADS.set(max(1, int(n or 1)))
    try:
        yield
    finally:
        _THREADS.reset(token)


def allowed_threads() -> int:
    """Threads :func:`for_each_chunk` may use here (1 outside a :func:`threads` block)."""
    return _THREADS.get()


def for_each_chunk(work: Callable[[slice], None], total: int, step: int) -> None:
    """Call ``work(chunk)`` for consecutive slices of ``range(total)`` of ``step`` items each.

    ``work`` must only write its own chunk's part of the outputs. With more than one allowed
    thread the chunks run in a thread pool, each in a copy of the caller's context (numpy's error
    state included); the first exception is raised after the chunks not yet started are cancelled.

    Parameters
    ----------
    work : callable
        Takes a slice of ``range(total)``.
    total : int
        Number of items (draws, observations).
    step : int
        Items per chunk (at least 1).
    """
    step = max(1, int(step))
    chunks = [slice(start, min(start + step, total)) for start in range(0, total, step)]
    workers = min(allowed_threads(), len(chunks))
    if workers <= 1:
        for chunk in chunks:
            work(chunk)
        return

    def in_callers_context(chunk: slice) -> None:
        _THREADS.set(1)  # in this copy of the caller's context only: chunks never start pools of their own
        work(chunk)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ipsbayes-chunk")
    try:
        # each chunk runs in a copy of the caller's context, so numpy's error state (np.errstate) holds there too
        futures = [pool.submit(contextvars.copy_context().run, in_callers_context, chunk) for chunk in chunks]
        for future in futures:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Background:
    """A call running in a thread beside the caller (see :func:`in_background`)."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.seconds = 0.0
        self._work = work
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,), daemon=True)

    def _run(self) -> None:
        _THREADS.set(1)  # the caller keeps the cores for its own chunks
        started = time.perf_counter()
        try:
            self._work()
        except BaseException as exc:  # re-raised in the caller by in_background
            self._error = exc
        finally:
            self.seconds = time.perf_counter() - started


@contextlib.contextmanager
def in_background(work: Callable[[], None], *, thread: bool = True) -> Iterator[Background]:
    """Run ``work()`` in a thread while the block runs; on leaving, wait for it and raise its error.

    For I/O that releases the GIL (HDF5 writes a run's posterior while the report is drawn). The
    thread is always finished before the block is left, even when the block raises (Ctrl-C
    included), so a staging folder is never removed while ``work`` still writes into it. An error
    in the block wins over one in ``work``.

    Parameters
    ----------
    work : callable
        The work, without arguments.
    thread : bool
        False: run ``work`` here, before the block (when it is mostly Python, a thread would only
        take turns with the block for the GIL and slow both).

    Yields
    ------
    Background
        Its ``seconds`` attribute holds ``work``'s own duration once the block is left.
    """
    from ipsbayes.interrupt import deferred

    background = Background(work)
    if not thread:
        contextvars.copy_context().run(background._run)  # as on the thread: the caller's context is left as it was
        if background._error is not None:
            raise background._error
        yield background
        return
    background._thread.start()
    try:
        yield background
    finally:
        with deferred():  # a Ctrl-C during the wait is raised once the thread has finished
            background._thread.join()
    if background._error is not None:
        raise background._error


__all__ = ["Background", "allowed_threads", "for_each_chunk", "in_background", "threads"]
