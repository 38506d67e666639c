"""Which PyTensor backend compiles the work around sampling (log-densities, prior and predictive draws).

nutpie samples with its own numba-compiled log density (:mod:`ipsbayes.compile_cache`); everything
else PyTensor compiles for a run (the initial-point check, deterministics, pointwise log-densities,
prior and posterior predictive draws) takes its mode from here. PyTensor 3 made ``FAST_RUN`` a numba
mode; numba caches plain functions on disk but compiles the functions that draw random variables
again in every process, while the C VM's compiled modules are cached on disk and load in
milliseconds. Each choice below was measured (``benchmarks/post_sampling_backend.py``, results in
``benchmarks/results/post_sampling_backend.md``); ``tests/test_fast_paths.py`` checks the backends
agree.
"""

from __future__ import annotations

import pymc as pm
import pytensor
from pytensor.tensor.random.basic import CategoricalRV

#: The C VM (a C++ compiler is needed; without one PyTensor's default is kept): 500 prior draws of the
#: 1,500-row reference model 0.6-0.7 s against 2.8-3.2 s on numba, posterior predictive draws 0.10
#: against 1.06 s (1,500 rows x 800 draws) and 2.1 against 3.2 s (15,000 x 4,000), in fresh processes.
C_MODE = {"mode": "CVM" if pytensor.config.cxx else "FAST_RUN"}

#: Pointwise log-densities stay on numba: it caches them on disk, and at 15,000 rows they evaluate
#: faster (2.5 against 2.8 s for 4,000 draws; equal at 1,500 rows).
LOG_DENSITY_MODE = {"mode": "NUMBA"}

#: Random variables the C VM draws slowly: categorical draws go through a Python loop over rows
#: (``vsearchsorted``), 3.2-3.9 s for 500 prior draws of the 1,500-row competing-outcomes model
#: against 1.7 s on numba, compile included.
SLOW_C_DRAWS = (CategoricalRV,)

#: PyTensor's C backend warns once per process that it found no BLAS to link; its products then use
#: NumPy's BLAS, and the timings above include that.
NO_BLAS_WARNING = "PyTensor could not link to a BLAS"


def draw_mode(model: pm.Model, var_names: list[str] | None = None) -> dict[str, str]:
    """The PyTensor mode for drawing ``model``'s random variables (prior and predictive draws).

    ``var_names`` limits the check to the variables drawn (default: all of them).
    """
    drawn = [rv for rv in model.basic_RVs if var_names is None or rv.name in var_names]
    slow = any(rv.owner is not None and isinstance(rv.owner.op, SLOW_C_DRAWS) for rv in drawn)
    return {"mode": "NUMBA"} if slow else C_MODE


__all__ = ["C_MODE", "LOG_DENSITY_MODE", "NO_BLAS_WARNING", "SLOW_C_DRAWS", "draw_mode"]
