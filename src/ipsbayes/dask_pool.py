"""The Dask cluster of ``ipsbayes validate`` and ``ipsbayes design``: its address, its start and its end.

Light at import (``distributed`` is imported only when a client is made), so the command
line can check ``--scheduler`` while it parses its arguments, before any work starts.

- :func:`check_scheduler_address` accepts ``[SCHEME://]HOST:PORT`` and names the option,
  the value and the valid forms otherwise;
- :func:`dask_client` yields a client of an existing scheduler or of a local cluster it
  starts, and closes both when the block ends, inside the command: a local cluster left
  for the interpreter's exit handlers would be torn down after the command has printed
  its result, where a Ctrl-C could only produce a traceback. After a Ctrl-C the cluster is
  closed on a thread instead, so the command still stops at once;
- :func:`run_tasks` maps a function over jobs on that client, handing back each result.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ipsbayes.errors import ConfigError

#: transports of ``distributed`` that need no extra package (``ucx`` does, ``inproc`` is in-process only)
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")
#: the forms of a scheduler address, as every message states them
SCHEDULER_FORMS = "HOST:PORT or SCHEME://HOST:PORT with SCHEME tcp, tls, ws or wss, e.g. tcp://10.0.0.5:8786"
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


def _host_problem(host: str) -> str | None:
    """Why ``host`` is not a host name, an IPv4 address or a bracketed IPv6 address (None when it is one)."""
    if host.startswith("["):
        if not host.endswith("]"):
            return "an IPv6 address needs its closing bracket, as in [::1]"
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host[1:-1][:40]!r} is not an IPv6 address"
        return None
    if ":" in host:
        return "an IPv6 address goes in brackets, as in tcp://[::1]:8786"
    if not host:
        return "the host is missing"
    if not _HOST_NAME.match(host):
        return f"{host[:40]!r} is not a host name or IP address"
    return None


def scheduler_address_problem(address: str) -> str | None:
    """Why ``address`` is not a Dask scheduler address, with the valid forms (None when it is one).

    Parameters
    ----------
    address : str
        ``HOST:PORT`` (TCP) or ``SCHEME://HOST:PORT``; HOST is a name, an IPv4 address or an
        IPv6 address in brackets, PORT 1 to 65535.

    Returns
    -------
    str or None
        ``'VALUE' is not a Dask scheduler address (WHY); use FORMS``, or None.
    """
    text = str(address).strip()
    scheme, separator, location = text.rpartition("://")
    problem, host, port = None, "", ""
    if not text:
        problem = "it is empty"
    elif separator and scheme.lower() not in SCHEDULER_SCHEMES:
        problem = f"unknown scheme '{scheme[:20]}'"
    elif any(char in location for char in "/?#@ \t"):
        problem = "it has a path, user or space; give only the host and port"
    elif location.startswith("["):
        host, bracket, tail = location.partition("]")
        host += bracket
        if not bracket:
            problem = "an IPv6 address needs its closing bracket, as in [::1]"
        elif not tail.startswith(":"):
            problem = "the port is missing" if not tail else f"{tail[:20]!r} after the address; expected :PORT"
        port = tail[1:]
    else:
        host, colon, port = location.rpartition(":")
        if not colon:
            problem = "the port is missing"
    if problem is None:
        problem = _host_problem(host)
    if problem is None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        problem = f"port {port[:20]!r} is not a whole number from 1 to 65535"
    if problem is None:
        return None
    shown = text if len(text) <= 80 else f"{text[:80]}..."
    return f"{shown!r} is not a Dask scheduler address ({problem}); use {SCHEDULER_FORMS}"


def check_scheduler_address(address: str, option: str = "--scheduler") -> str:
    """Return ``address`` stripped when it is a Dask scheduler address; raise naming ``option`` otherwise.

    Parameters
    ----------
    address : str
        The address (see :func:`scheduler_address_problem` for the valid forms).
    option : str
        The option (or key) the address came from, for the message.

    Returns
    -------
    str
        The address without surrounding spaces.

    Raises
    ------
    ConfigError
        Naming the option, the value given, what is wrong with it and the valid forms (exit code 2).
    """
    problem = scheduler_address_problem(address)
    if problem is not None:
        raise ConfigError(f"{option} {problem}")
    return str(address).strip()


def check_scheduler_answers(address: str, option: str = "--scheduler", timeout: float = 5.0) -> None:
    """Raise naming ``option`` when nothing accepts a connection at ``address`` (a checked address).

    A probe of the host and port before any work, so an unreachable scheduler is named at once rather
    than after the first fit (``design`` fits once before it hands trials to Dask). The client's own
    connection later still reports a scheduler that goes away in between.

    Raises
    ------
    ConfigError
        Naming the option, the address and the reason (exit code 2).
    """
    location = address.rpartition("://")[2]
    host, _, port = location.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConfigError(
            f"{option} {address!r}: could not connect to a Dask scheduler there ({detail}); "
            f"start one (dask scheduler) or leave {option} out for a local cluster"
        ) from None


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None, option: str = "--scheduler") -> Iterator[Any]:
    """A ``distributed.Client`` for the block; the client, and a local cluster it started, closed at its end.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing scheduler (checked with :func:`check_scheduler_address`);
        ``None`` starts a local cluster of ``workers`` processes with one thread each.
    workers : int, optional
        Workers of the local cluster (default: CPU count).
    option : str
        Where ``scheduler`` came from, for the messages.

    Raises
    ------
    ConfigError
        When the address is malformed or no scheduler answers there (exit code 2).
    """
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        address = check_scheduler_address(scheduler, option)
        try:
            client = Client(address)
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ConfigError(
                f"{option} {address!r}: could not connect to a Dask scheduler there ({detail}); "
                f"start one (dask scheduler) or leave {option} out for a local cluster"
            ) from None
    else:
        n = workers or os.cpu_count() or 1
        _quiet_resource_tracker()
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        try:
            client = Client(cluster)
        except BaseException:
            cluster.close()
            raise
    stopped = False
    try:
        yield client
    except (KeyboardInterrupt, SystemExit):
        stopped = True
        raise
    finally:
        try:
            client.close()
        finally:
            if cluster is not None and stopped:  # Ctrl-C: no waiting seconds for busy workers to stop
                threading.Thread(target=_close_quietly, args=(cluster,), daemon=True).start()
            elif cluster is not None:
                cluster.close()


#: passed to multiprocessing's resource tracker (a process of its own, started with the interpreter's ``-W``
#: options): after a Ctrl-C it frees the semaphores of the stopped workers and would say so in two lines of
#: warning under the command's own "interrupted" line; it frees them all the same
_TRACKER_QUIET = "ignore:resource_tracker:UserWarning"


def _quiet_resource_tracker() -> None:
    """Keep the resource tracker's 'leaked semaphore objects to clean up' warning out of the terminal."""
    if _TRACKER_QUIET not in sys.warnoptions:
        sys.warnoptions.append(_TRACKER_QUIET)


def _close_quietly(cluster: Any) -> None:
    """Close a cluster on a thread of its own after a Ctrl-C (the command line's exit ends its workers first)."""
    with contextlib.suppress(Exception):
        cluster.close()


def run_tasks(
    func: Callable[[Any], Any],
    jobs: list[Any],
    scheduler: str | None,
    workers: int | None,
    on_result: Callable[[Any], None],
) -> str:
    """Run ``func`` over ``jobs`` on Dask (:func:`dask_client`), handing each result to ``on_result`` as it ends.

    Parameters
    ----------
    func : callable
        A picklable function of one job.
    jobs : list
        Its arguments, one task each.
    scheduler, workers
        As for :func:`dask_client`.
    on_result : callable
        Called in this process with each result, in the order the tasks finish.

    Returns
    -------
    str
        Where the tasks ran: the scheduler address, or ``local cluster (N workers)``.
    """
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        for future in as_completed(client.map(func, jobs, pure=False)):
            on_result(future.result())
        used = len(client.scheduler_info().get("workers", {}))
    return scheduler or f"local cluster ({used} workers)"


__all__ = [
    "SCHEDULER_FORMS",
    "SCHEDULER_SCHEMES",
    "check_scheduler_address",
    "dask_client",
    "run_tasks",
    "scheduler_address_problem",
]
