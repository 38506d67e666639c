"""Compiling a model for nutpie: from the persistent compile cache, else numba, reused in-process by structure.

The sampling seam (:mod:`ipsbayes.sampling`) calls :func:`compile_nutpie` before every nutpie fit;
this module decides how the compiled log-density is obtained (see its docstring) and keeps the
models compiled with shared data for refits in this process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm
from pytensor.printing import debugprint

logger = logging.getLogger("ipsbayes")

#: Compiled models by fingerprint (per process; least recently used dropped first).
_COMPILED: OrderedDict[str, Any] = OrderedDict()
MAX_COMPILED = 16


def free_names(model: pm.Model) -> list[str]:
    """Free random variables only: nutpie then compiles no function for deterministics.

    Deterministics are computed after sampling with PyTensor's C backend (cached on
    disk), which saves about 2 s of numba compilation per fit (``benchmarks/``).
    """
    return [var.name for var in model.free_RVs]


def model_fingerprint(model: pm.Model) -> str:
    """Structure of a model's log-density and deterministics, independent of its data values.

    Models built by ipsbayes keep data and prior numbers in ``pm.Data`` containers,
    so two models with the same fingerprint differ only in those values and in the
    length of dims that only data use (the number of participants); the lengths of dims
    of sampled variables are part of the fingerprint.
    """
    graphs = [model.logp(), *model.deterministics]
    text = debugprint(graphs, file="str", print_type=True)
    names = [v.name for v in model.free_RVs + model.deterministics + model.observed_RVs]
    # only dims of sampled quantities fix the compiled shapes; data and observed lengths may change
    # (nutpie's ``with_data`` accepts data of another length, e.g. simulated trials of another size)
    sampled = {
        dim
        for v in model.free_RVs + model.deterministics
        for dim in (model.named_vars_to_dims.get(v.name) or ())
        if dim
    }
    dims = sorted((str(k), len(v)) for k, v in model.coords.items() if v is not None and k in sampled)
    return hashlib.sha256(json.dumps([text, names, dims]).encode()).hexdigest()


def compile_nutpie(model: pm.Model, reuse: bool = False, freeze: bool = False) -> tuple[Any, bool, str]:
    """Compile ``model`` for nutpie, from the persistent compile cache when possible.

    Compiling (numba) costs seconds even for tiny models, while sampling small models
    takes a fraction of a second. With the compile cache on (the default; see
    :mod:`ipsbayes.compile_cache`), every fit uses a model compiled once per *structure*
    with data as inputs and kept on disk: a later fit of the same structure, in this or
    any later process (a re-run, refits, Dask validation workers), loads it and swaps in
    its own data; ``reuse`` then makes no difference. With the cache off
    (``IPSBAYES_CACHE_DIR=off``) or unable to serve the model, nutpie compiles the same graph,
    data as inputs (``freeze_model=False``), so the draws are those of a cached model, bit for
    bit (``tests/test_compile_cache.py``): a frozen graph folds the data in as constants, which
    changes the last bits of the log density and so, over a trajectory, the draws. With
    ``reuse=True`` (refits under other prior sets, many simulated data sets in
    ``ipsbayes validate``) the compiled model is kept in memory by structure fingerprint and
    later fits only swap their data (nutpie ``with_data``).

    Returns
    -------
    compiled : nutpie CompiledModel
    reused : bool
        True when a model compiled earlier (in this process or, from the cache, another) was reused.
    cache : str
        ``"hit"`` (loaded from the compile cache), ``"miss"`` (compiled and written to it),
        ``"off"`` (switched off), ``"fallback"`` (the cache could not serve this model) or ``"frozen"``
        (``freeze``: ``sampler.freeze_data``, the data compiled into the graph, never cached).
    """
    import nutpie

    from ipsbayes import compile_cache

    if freeze:  # sampler.freeze_data: the data compiled into the graph, in every process (the config says so)
        warm_numba_cache(model, freeze=True)
        compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=True, var_names=free_names(model))
        return compiled, False, "frozen"
    cache = "off"
    if compile_cache.cache_dir() is not None:
        try:
            compiled, how = compile_cache.load_or_compile(model, free_names(model))
        except Exception as exc:  # the cache must never fail a run
            logger.debug("compile cache not used (%s: %s); nutpie compiles the model", type(exc).__name__, exc)
            cache = "fallback"
        else:
            logger.debug("compile cache: %s", how)
            return compiled, how != "compiled", "miss" if how == "compiled" else "hit"
    if not reuse:
        warm_numba_cache(model)
        compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=False, var_names=free_names(model))
        return compiled, False, cache
    key = model_fingerprint(model)
    data = {var.name: var.get_value() for var in model.data_vars}
    cached = _COMPILED.get(key)
    if cached is not None:
        _COMPILED.move_to_end(key)
        return cached.with_data(**data), True, cache
    warm_numba_cache(model)
    compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=False, var_names=free_names(model))
    _COMPILED[key] = compiled
    while len(_COMPILED) > MAX_COMPILED:
        _COMPILED.popitem(last=False)
    return compiled, False, cache


def warm_numba_cache(model: pm.Model, freeze: bool = False) -> None:
    """Compile ``model`` once in a forked child, so that this process loads PyTensor's numba functions from disk.

    A log density whose numba functions were compiled in this process differs in the last bits from
    one whose functions numba loaded from its cache (fastmath code, inlined differently), so the first
    run on a machine drew other draws than every later run with the same seed (review of this round).
    The child fills the cache and exits; the compile here then loads every function a later process
    would load. Where forking is not available, or the child fails, nothing is done.
    """
    from ipsbayes import forked

    if not forked.can_fork():  # one core is enough: the child runs while this process waits
        return
    marker = _warm_marker(model, freeze)
    if marker is not None and marker.exists():  # warmed before, in this cache: nothing to compile twice
        return
    import nutpie

    def compile_only() -> bool:
        nutpie.compile_pymc_model(model, backend="numba", freeze_model=freeze, var_names=free_names(model))
        return True

    with contextlib.suppress(Exception):  # a failed warm-up only costs the reproducibility of a first run
        with forked.in_child(compile_only, fork=True):
            pass
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()


def _warm_marker(model: pm.Model, freeze: bool) -> Path | None:
    """The file saying this structure (and, frozen, these data) was compiled into numba's cache here before.

    It lives beside the cache it vouches for (numba's ``NUMBA_CACHE_DIR``, else PyTensor's compile
    folder), so clearing that cache clears it too. None where it cannot be computed.
    """
    try:
        import numba
        import pytensor

        root = Path(numba.config.CACHE_DIR or pytensor.config.compiledir) / "ipsbayes-warmed"
        key = model_fingerprint(model)
        if freeze:  # a frozen graph holds the data: other data, another compile
            digest = hashlib.sha256(key.encode())
            for var in sorted(model.data_vars, key=lambda v: v.name):
                value = np.ascontiguousarray(var.get_value())
                digest.update(f"{var.name}{value.dtype}{value.shape}".encode())
                digest.update(value.tobytes())
            key = digest.hexdigest()
        return root / key
    except Exception:
        return None


__all__ = ["MAX_COMPILED", "compile_nutpie", "free_names", "model_fingerprint", "warm_numba_cache"]
