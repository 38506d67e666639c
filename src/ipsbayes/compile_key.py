"""The key of a model structure in the compile cache, and the pieces of the model an entry needs.

Two models share a key, and so a compiled entry, when their log-density graphs and traced
variables print the same with types, their constants are equal, their shared variables have the
same names, ranks and dtypes, their free variables the same shapes, and the software and CPU are
the same (the list is in :mod:`ipsbayes.compile_cache`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm

from ipsbayes.compile_template import FORMAT, TEMPLATE_HASH


class CacheUnavailable(RuntimeError):
    """The persistent path cannot serve this model; the caller compiles with nutpie instead."""


@dataclass
class Structure:
    """What the key is made of, plus the pieces of the model needed to wrap an entry."""

    key: str
    shared: dict[str, Any]  # name -> shared variable of this model
    initial_point: Any  # PyMC's initial point function (transformed values)
    value_names: list[str]
    value_shapes: list[tuple[int, ...]]


def versions() -> list[str]:
    """Versions of everything the compiled code depends on, and the entry format."""
    import llvmlite
    import numba
    import nutpie
    import pytensor

    return [
        FORMAT,
        TEMPLATE_HASH,
        sys.version.split()[0],
        np.__version__,
        pm.__version__,
        pytensor.__version__,
        nutpie.__version__,
        numba.__version__,
        llvmlite.__version__,
    ]


def cpu() -> list[str]:
    """The target numba compiles for: its cache files are only valid on the same CPU kind."""
    from numba.core.registry import cpu_target

    return [str(part) for part in cpu_target.target_context.codegen().magic_tuple()]


def structure(model: pm.Model, var_names: list[str]) -> Structure:
    """Compute the structure key of ``model`` (see :mod:`ipsbayes.compile_cache`) and the pieces to wrap an entry."""
    import numba
    import pytensor
    from pymc.initial_point import make_initial_point_fn
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import graph_inputs
    from pytensor.printing import debugprint

    value_names = [model.rvs_to_values[v].name for v in model.free_RVs]
    traced = [v for v in model.unobserved_value_vars if v.name not in value_names and v.name in set(var_names)]
    graphs = [model.logp(), *traced]
    text = debugprint(graphs, file="str", print_type=True)
    shared: dict[str, Any] = {}
    constants = hashlib.sha256()
    for var in graph_inputs(graphs):
        if isinstance(var, SharedVariable):
            if var.name is None or (var.name in shared and shared[var.name] is not var):
                raise CacheUnavailable(f"shared variable without a unique name: {var.name!r}")
            shared[var.name] = var
        elif isinstance(var, Constant):
            data = np.asarray(var.data)
            constants.update(f"{data.dtype}{data.shape}".encode())
            constants.update(np.ascontiguousarray(data).tobytes())
    shared_types = sorted((name, str(var.type), str(var.type.dtype), var.type.ndim) for name, var in shared.items())
    initial_point = make_initial_point_fn(
        model=model,
        jitter_rvs=set(model.free_RVs),
        default_strategy="support_point",
        return_transformed=True,
    )
    point = initial_point(0)
    value_shapes = [tuple(int(s) for s in np.shape(point[name])) for name in value_names]
    parts = [
        text,
        constants.hexdigest(),
        shared_types,
        value_names,
        value_shapes,
        [v.name for v in model.free_RVs],
        sorted(var_names),
        bool(model.check_bounds),
        str(pytensor.config.floatX),
        int(numba.config.OPT),
        cpu(),
        versions(),
    ]
    key = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]
    return Structure(key, shared, initial_point, value_names, value_shapes)


__all__ = ["CacheUnavailable", "Structure", "cpu", "structure", "versions"]
