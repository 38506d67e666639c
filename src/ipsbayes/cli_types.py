"""Argument types of the command line, and how it ends when its reader goes away.

Each type turns one option's text into a value or raises ``argparse.ArgumentTypeError``
with one line naming the option, the value and what would be valid (argparse then exits 2).
"""

from __future__ import annotations

import argparse
import contextlib
import operator
import os
import sys
from collections.abc import Callable

from ipsbayes.config import MAX_SEED
from ipsbayes.errors import ConfigError

#: planned sizes of ``design`` (ipsbayes.design_spec.MIN_SIZE and MAX_SIZE; not imported: it loads the model stack)
MIN_SIZE, MAX_SIZE = 8, 10_000
#: exit code when stdout was closed by its reader (128 + SIGPIPE, as a shell reports a tool killed by it)
EXIT_BROKEN_PIPE = 141


def bounded_int(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number with ``low <= value < high``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got '{text[:40]}'") from None
        if not low <= value < high:
            upper = "2**32 - 1" if high == MAX_SEED else f"{high - 1:,}"
            raise argparse.ArgumentTypeError(f"{name} must be between {low} and {upper}, got {text[:40]}")
        return value

    return parse


def parse_sizes(text: str) -> list[int]:
    """An argparse type: planned sizes, each ``MIN_SIZE`` to ``MAX_SIZE`` participants."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > 1 and "" in parts:
        raise argparse.ArgumentTypeError(
            f"--sizes has an empty item in '{text[:60]}' (two commas in a row, or a comma at either end); "
            "give whole numbers separated by single commas, e.g. 66,150,300"
        )
    try:
        sizes = [int(part.replace("_", "")) for part in parts if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes must be whole numbers separated by commas, got '{text[:60]}'"
        ) from None
    if not sizes:
        raise argparse.ArgumentTypeError("sizes must name at least one planned sample size, e.g. 66,150,300")
    for wrong, limit, words in ((operator.lt, MIN_SIZE, "at least"), (operator.gt, MAX_SIZE, "at most")):
        if outside := [n for n in sizes if wrong(n, limit)]:
            shown = ", ".join(map(str, outside[:5]))[:80]
            raise argparse.ArgumentTypeError(
                f"planned sizes must be {words} {limit:,} participants ({MIN_SIZE} to {MAX_SIZE:,}); "
                f"too {'small' if limit == MIN_SIZE else 'large'}: {shown}"
            )
    return sizes


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address (checked before any work starts)."""
    from ipsbayes.dask_pool import scheduler_address_problem

    if (problem := scheduler_address_problem(text)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return text.strip()


def options(pairs: list[str]) -> dict[str, str]:
    """``--option KEY=VALUE`` pairs of ``simulate`` as a mapping (ConfigError for a pair without ``=``)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--option needs KEY=VALUE, got '{pair[:60]}'")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def stdout_closed() -> int:
    """Stdout was closed by its reader (``ipsbayes check ... | head -1``): end quietly.

    Standard output is pointed at the null device, so that flushing what is still buffered
    cannot fail again, and :data:`EXIT_BROKEN_PIPE` is returned; no message is printed.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


__all__ = [
    "EXIT_BROKEN_PIPE",
    "MAX_SIZE",
    "MIN_SIZE",
    "bounded_int",
    "options",
    "parse_sizes",
    "scheduler_address",
    "stdout_closed",
]
