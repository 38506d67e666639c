"""Memory a fit will need, checked before anything is compiled.

The draws of a fit live in memory until the run folder is written: every element
of every parameter (free variables and deterministics) for every draw of every
chain, a second copy while the sampler hands them over, sample stats, and, when
pointwise groups are stored, one log-likelihood value and one predictive draw
per likelihood row. :func:`estimate_memory` counts these from the model's shapes
(no compiling of the log-density, no sampling) and :func:`check_memory` refuses a
fit that would not fit in the memory available now, quoting the estimate.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm

from ipsbayes.errors import ConfigError

#: bytes per stored number; sample stats per draw (step size, tree depth, energy, ...)
BYTES = 8
SAMPLE_STATS_PER_DRAW = 16


@dataclass
class MemoryEstimate:
    """Memory a fit needs for its draws, estimated before compiling.

    Attributes
    ----------
    total : int
        Bytes: chains x draws x 8 x (2 x parameters + sample stats + rows x per-row groups); parameters
        count every element of free variables and deterministics, twice for the sampler's own copy.
    chains, draws, parameters, rows : int
        The numbers in the formula (``rows``: observed values, one per likelihood row).
    groups : list of str
        The per-row groups counted (log-likelihood, posterior predictive).
    available : int or None
        Memory available to this process now (None when it cannot be read).
    """

    total: int
    chains: int
    draws: int
    parameters: int
    rows: int
    groups: list[str]
    available: int | None

    def describe(self) -> str:
        """One line such as ``about 1.2 GB (4 chains x 1,000 draws x 300 parameters ...)``."""
        per_row = f" + {self.rows:,} rows x {len(self.groups)} per-row groups" if self.groups else ""
        return (
            f"about {human_bytes(self.total)} ({self.chains} chains x {self.draws:,} draws x 8 bytes x "
            f"(2 x {self.parameters:,} parameters + {SAMPLE_STATS_PER_DRAW} sample stats{per_row}))"
        )


def human_bytes(count: float) -> str:
    """``1.2 GB`` style (powers of 1,000)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(count) < 1000 or unit == "PB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} PB"


def available_memory() -> int | None:
    """Bytes of memory this process can still use: MemAvailable, capped by a cgroup limit (None if unknown)."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        with contextlib.suppress(OSError, ValueError):
            with open(limit_file, encoding="ascii") as handle:
                limit_text = handle.read().strip()
            with open(usage_file, encoding="ascii") as handle:
                usage = int(handle.read().strip())
            if limit_text != "max" and int(limit_text) < 2**60:
                room = int(limit_text) - usage
                available = room if available is None else min(available, room)
            break
    return available


def resident_memory() -> int | None:
    """Bytes of memory this process holds now (its resident set; None where unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def estimate_memory(
    model: pm.Model,
    settings: dict[str, Any],
    *,
    log_likelihood: bool = True,
    predictive: bool = True,
    predictive_draws: int | None = None,
    likelihood_subsample: int = 0,
) -> MemoryEstimate:
    """Estimate the memory a fit of ``model`` needs for its draws (no compiling, no sampling).

    Parameters
    ----------
    model : pm.Model
        The model to fit.
    settings : dict
        Resolved sampler settings (``chains`` and ``draws``; see :func:`ipsbayes.sampling.resolve_settings`).
    log_likelihood, predictive : bool
        Whether the per-row log-likelihood and posterior predictive groups will be stored.
    predictive_draws : int, optional
        Predictive draws from about this many posterior draws only (None: every draw).
    likelihood_subsample : int
        Rows whose log-likelihood is kept for every draw when the whole group is not (0: none).
    """
    variables = list(model.free_RVs) + list(model.deterministics) + list(model.observed_RVs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shapes_of = model.compile_fn(
            [var.shape for var in variables],
            inputs=model.value_vars,
            on_unused_input="ignore",
            point_fn=True,
            mode="FAST_COMPILE",
        )
        shapes = shapes_of(model.initial_point())
    sizes = [int(np.prod(shape)) for shape in shapes]
    n_params = len(model.free_RVs) + len(model.deterministics)
    parameters = sum(sizes[:n_params])
    rows = sum(sizes[n_params:])
    groups = [name for name, on in (("log-likelihood", log_likelihood), ("posterior predictive", predictive)) if on]
    chains, draws = int(settings["chains"]), int(settings["draws"])
    thinned = predictive and predictive_draws is not None and predictive_draws < chains * draws
    per_draw = 2 * parameters + SAMPLE_STATS_PER_DRAW + rows * (len(groups) - thinned) + min(likelihood_subsample, rows)
    extra = rows * predictive_draws if thinned else 0
    return MemoryEstimate(
        total=(chains * draws * per_draw + extra) * BYTES,
        chains=chains,
        draws=draws,
        parameters=parameters,
        rows=rows,
        groups=groups,
        available=available_memory(),
    )


def check_memory(estimate: MemoryEstimate) -> None:
    """Refuse a fit whose draws would not fit in the memory available now.

    Raises
    ------
    ConfigError
        Quoting the estimate and what is available (exit code 2).
    """
    if estimate.available is not None and estimate.total > estimate.available:
        raise ConfigError(
            f"This fit would need {estimate.describe()} for its draws, but only "
            f"{human_bytes(estimate.available)} of memory is available. Lower sampler.draws or sampler.chains "
            "(or use a machine with more memory)."
        )


__all__ = ["MemoryEstimate", "available_memory", "check_memory", "estimate_memory", "human_bytes", "resident_memory"]
