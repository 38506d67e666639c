"""Compiled nutpie models that persist across processes (issue 15).

nutpie's own compiled model cannot be kept: its C wrappers close over Python objects, so numba
cannot cache them, and the model cannot be pickled. Every new process (a second ``ipsbayes run``,
a Dask validation worker) therefore compiled again, 6-17 s. This module writes, once per model
*structure*, a small Python module whose ``numba.cfunc(..., cache=True)`` wrappers (log density and
gradient; the expansion to the traced variables) read every shared variable (``pm.Data`` and
shared dim lengths) through a ``uint64`` pointer table ``[address, shape...]`` and call PyTensor's
numba function of the graph compiled with data as inputs (``freeze_model=False``). numba caches the
wrappers, with PyTensor's function linked in, next to that module; a later process with the same
structure (same data, new data, another number of rows) imports the module and loads the machine
code in a fraction of a second without building a PyTensor function for the log density at all.

Where the cache lives
    ``$IPSBAYES_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ipsbayes/compiled`` (``~/.cache/...``
    when ``XDG_CACHE_HOME`` is unset); never inside a repository or a run folder. Set
    ``IPSBAYES_CACHE_DIR=off`` to switch the cache off (nutpie then compiles the same graph, data as
    inputs, in every process; one compiled model per structure is kept in the process for refits).
    Entries can be deleted at any time (``rm -r ~/.cache/ipsbayes/compiled``).

The key
    sha256 of: the log-density graph and the graph of the traced free variables printed with types
    (shared variables appear as named inputs), the full contents of every constant in them, the
    names, ranks, dtypes and static shapes of the shared variables, the names and shapes of the free
    variables on the sampler's scale, ``check_bounds``, PyTensor's floatX, numba's optimisation
    level, the CPU numba compiles for (triple, name, features), the versions of Python, NumPy, PyMC,
    PyTensor, nutpie, numba and llvmlite, and a hash of the generated-code template
    (:mod:`ipsbayes.compile_template`; the key itself: :mod:`ipsbayes.compile_key`).

Safety
    An entry is a folder ``<cache>/<key>/`` (module, ``meta.json``, numba's ``__pycache__``). It is built in a
    private temporary folder and published with one ``os.rename``: readers see a whole entry or none, and two
    processes compiling the same structure at once both succeed (the second rename fails and its copy is discarded).
    An entry that cannot be read or loaded (corrupt, partial, or compiled for something else) is moved aside and
    compiled again. A structure whose functions numba refuses to cache (object mode, dynamic globals) is marked
    ``<cache>/<key>.nocache`` and compiled by nutpie in every process. At most :data:`MAX_ENTRIES` entries (about 1
    MB each) are kept, the least recently used deleted first. Any failure raises here;
    :func:`ipsbayes.nutpie_compile.compile_nutpie` then falls back to nutpie's plain compile, so a run never fails
    because of the cache.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm

from ipsbayes.compile_key import CacheUnavailable
from ipsbayes.compile_key import Structure as _Structure
from ipsbayes.compile_key import structure as _structure
from ipsbayes.compile_template import FORMAT
from ipsbayes.compile_template import SOURCE as _SOURCE
from ipsbayes.compile_template import layout as _layout
from ipsbayes.compile_template import unpack as _unpack

logger = logging.getLogger("ipsbayes")

#: environment variable naming the cache folder, or switching the cache off
ENV = "IPSBAYES_CACHE_DIR"
#: values of :data:`ENV` that switch the cache off
OFF = frozenset({"off", "0", "false", "no", "none"})
#: loaded entries kept in this process (least recently used dropped first)
MAX_LOADED = 32
#: entries kept on disk (about 1 MB each); beyond it the least recently used are deleted
MAX_ENTRIES = 200

_LOADED: OrderedDict[str, _Entry] = OrderedDict()
_LOCK = threading.Lock()


def cache_dir() -> Path | None:
    """The folder of persistent compiled models, or None when the cache is switched off.

    Returns
    -------
    Path or None
        ``$IPSBAYES_CACHE_DIR`` if set (None if it is ``off``), else the user's cache folder
        (``$XDG_CACHE_HOME`` or ``~/.cache``) ``/ipsbayes/compiled``.
    """
    value = os.environ.get(ENV)
    if value is not None:
        value = value.strip()
        if value.lower() in OFF or not value:
            return None
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ipsbayes" / "compiled"


def writable_subfolder(name: str) -> Path | None:
    """Folder ``name`` in :func:`cache_dir` (kernels, envelopes), created; None when off or not writable."""
    folder = None if (root := cache_dir()) is None else root / name
    with contextlib.suppress(OSError):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            return folder if os.access(folder, os.W_OK) else None
    return None


@dataclass
class _Entry:
    """The loaded cfuncs of one structure and what is needed to wrap them for a model."""

    key: str
    logp: Any
    expand: Any
    meta: dict[str, Any]


# ------------------------------------------------------------------------------------ build / load


@contextlib.contextmanager
def _in_tree_numba_cache() -> Iterator[None]:
    """Make numba keep its cache files next to the generated module even when NUMBA_CACHE_DIR is set.

    numba's user-provided cache folder is keyed by the module's path, which changes when the entry
    is published (renamed); the in-tree ``__pycache__`` moves with it.
    """
    from numba.core import config

    with _LOCK:
        saved = config.CACHE_DIR
        config.CACHE_DIR = ""
        try:
            yield
        finally:
            config.CACHE_DIR = saved


def _import(path: Path, key: str) -> Any:
    name = f"ipsbayes_compiled_{key}"  # numba's cached code refers to its module by this name
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CacheUnavailable(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _module_path(folder: Path, key: str) -> Path:
    return folder / f"m_{key}.py"


def _build(module: Any) -> tuple[Any, Any]:
    with warnings.catch_warnings(), _in_tree_numba_cache():
        warnings.simplefilter("ignore")
        return module.build()


def _discard(folder: Path) -> None:
    """Move a folder aside (one rename, so no reader sees it half deleted), then delete it."""
    trash = folder.parent / f".trash-{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _sweep(root: Path, max_age_s: float = 3600.0) -> None:
    """Delete what dead processes left behind, and the least recently used entries beyond a limit.

    Temporary folders older than ``max_age_s`` and discarded entries go; so do the entries beyond
    :data:`MAX_ENTRIES`, oldest ``meta.json`` first (loading an entry touches it). Only names this
    module writes are touched (a key, ``.tmp-KEY-...``, ``.trash-KEY-...``), so anything else a user
    keeps in the cache folder is never deleted.
    """
    now = time.time()
    for path in root.glob(".tmp-*"):
        if not _OWN_TEMP.match(path.name):
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(".trash-*"):
        if _OWN_TRASH.match(path.name):
            shutil.rmtree(path, ignore_errors=True)
    used = []
    for meta in root.glob("*/meta.json"):
        if not _OWN_KEY.match(meta.parent.name):
            continue
        with contextlib.suppress(OSError):
            used.append((meta.stat().st_mtime, meta.parent))
    for _, folder in sorted(used)[: max(0, len(used) - MAX_ENTRIES + 1)]:
        _discard(folder)


#: names of what this module writes into the cache folder (see :func:`_sweep`)
_OWN_KEY = re.compile(r"^[0-9a-f]{32}$")
_OWN_TEMP = re.compile(r"^\.tmp-[0-9a-f]{32}-\d+-[0-9a-f]{8}$")
_OWN_TRASH = re.compile(r"^\.trash-[0-9a-f]{32}-[0-9a-f]{8}$")


def _load(root: Path, key: str) -> _Entry | None:
    """The entry ``key`` from disk, or None when there is none; a broken entry is discarded."""
    folder = root / key
    if not folder.is_dir():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("key") != key or meta.get("format") != FORMAT:
            raise CacheUnavailable("meta.json belongs to another entry")
        module = _import(_module_path(folder, key), key)
        logp, expand = _build(module)
        if logp.cache_hits < 1 or expand.cache_hits < 1:
            raise CacheUnavailable("numba's cache files are missing or stale")
        with contextlib.suppress(OSError):  # when it was last used, for the least-recently-used sweep
            os.utime(folder / "meta.json")
    except Exception as exc:  # any broken entry is compiled again
        logger.debug("compile cache: entry %s is broken (%s: %s); compiling again", key, type(exc).__name__, exc)
        _discard(folder)
        return None
    return _Entry(key, logp, expand, meta)


def _compile(root: Path, structure: _Structure, model: pm.Model, var_names: list[str]) -> _Entry:
    """Compile the entry with nutpie's graph functions and publish it under ``root``.

    Only nutpie's ``_make_functions`` runs (PyTensor graphs and their numba functions, as in
    ``nutpie.compile_pymc_model(freeze_model=False)``); nutpie's own C wrappers, which cannot be
    cached, are not compiled: that would be a second LLVM pass over the whole log density.
    """
    from nutpie.compile_pymc import _make_functions

    key = structure.key
    n_dim, n_expanded, logp_pt, expand_pt, _, shape_info, reparameterized_names = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=structure.initial_point,
        var_names=var_names,
    )
    logp_shared = [v.name for v in logp_pt.get_shared()]
    expand_shared = [v.name for v in expand_pt.get_shared()]
    names = list(dict.fromkeys(logp_shared + expand_shared))
    missing = [name for name in names if name not in structure.shared]
    if missing:
        raise CacheUnavailable(f"compiled functions read shared variables outside the graph: {missing}")
    order = [[name, int(structure.shared[name].type.ndim), str(structure.shared[name].type.dtype)] for name in names]
    _, table_len = _layout(order)
    logp_unpack, logp_args = _unpack(logp_shared, order)
    expand_unpack, expand_args = _unpack(expand_shared, order)
    all_names, slices, shapes = shape_info
    meta = {
        "format": FORMAT,
        "key": key,
        "order": order,
        "n_dim": int(n_dim),
        "n_expanded": int(n_expanded),
        "names": list(all_names),
        "slices": [[int(s.start), int(s.stop)] for s in slices],
        "shapes": [[int(n) for n in shape] for shape in shapes],
        "reparameterized_names": list(reparameterized_names or []),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if meta["names"][: len(structure.value_names)] != structure.value_names:
        raise CacheUnavailable("nutpie orders the free variables differently than expected")
    source = _SOURCE.format(
        key=key,
        n_dim=meta["n_dim"],
        n_expanded=meta["n_expanded"],
        table_len=table_len,
        logp_unpack=logp_unpack,
        logp_args=logp_args,
        expand_unpack=expand_unpack,
        expand_args=expand_args,
    )
    root.mkdir(parents=True, exist_ok=True)
    _sweep(root)
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _module_path(tmp, key).write_text(source)
        module = _import(_module_path(tmp, key), key)
        module.logp_fn = logp_pt.vm.jit_fn
        module.expand_fn = expand_pt.vm.jit_fn
        logp, expand = _build(module)
        cached = list((tmp / "__pycache__").glob("*.nbi")) if (tmp / "__pycache__").is_dir() else []
        if len(cached) < 2:  # numba refused to cache (e.g. object mode or dynamic globals in PyTensor's function)
            (root / f"{key}.nocache").touch()
            logger.debug("compile cache: numba cannot cache structure %s; it is compiled in every process", key)
        else:
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
            try:
                os.rename(tmp, root / key)  # atomic publish; fails when another process was first
            except OSError:
                logger.debug("compile cache: entry %s was published by another process meanwhile", key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return _Entry(key, logp, expand, meta)


def _compile_apart(root: Path, structure: _Structure, model: pm.Model, var_names: list[str]) -> _Entry:
    """Compile the entry in a forked child, then load it here as any later process does.

    Compiled in this process, the first run on a machine drew other draws than every later run
    (same config, data and seed; review of this round): its log density differed in the last bits
    from the cached machine code a later process loads, even after loading that code here, because
    the functions numba had just compiled in this process took its place. A child that compiles and
    publishes the entry and then exits leaves this process only the cached code. Where forking is not
    available, or the child fails or numba cannot cache the structure, it is compiled here as before.
    """
    from ipsbayes import forked

    key = structure.key
    if forked.can_fork():  # one core is enough: the child runs while this process waits
        try:
            with forked.in_child(functools.partial(_publish, root, structure, model, var_names), fork=True):
                pass
        except Exception as exc:  # the child's failure: compile here, as before
            logger.debug("compile cache: compiling %s in a child failed (%s: %s)", key, type(exc).__name__, exc)
        else:
            loaded = _load(root, key)
            if loaded is not None:
                return loaded
    return _compile(root, structure, model, var_names)


def _publish(root: Path, structure: _Structure, model: pm.Model, var_names: list[str]) -> bool:
    """Compile and publish the entry (in a child: its compiled functions are not returned)."""
    _compile(root, structure, model, var_names)
    return True


def _wrap(entry: _Entry, structure: _Structure, model: pm.Model) -> Any:
    """A nutpie ``CompiledPyMCModel`` around ``entry`` reading this model's data."""
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _prepare_dims_and_coords,
        _rv_dict_to_flat_array_wrapper,
        _wrap_with_lock,
    )

    meta = entry.meta
    order = meta["order"]
    offsets, table_len = _layout(order)
    arrays: dict[str, np.ndarray] = {}
    table = np.zeros(table_len, np.uint64)
    for name, ndim, dtype in order:
        value = np.array(structure.shared[name].get_value(borrow=True), dtype=dtype, order="C", copy=True)
        if value.ndim != ndim:
            raise CacheUnavailable(f"shared variable {name} has rank {value.ndim}, compiled for {ndim}")
        value.flags.writeable = False
        arrays[name] = value
        table[offsets[name]] = value.ctypes.data
        table[offsets[name] + 1 : offsets[name] + 1 + ndim] = value.shape
    names = meta["names"]
    shapes = [tuple(s) for s in meta["shapes"]]
    shape_info = (names, [slice(a, b) for a, b in meta["slices"]], shapes)
    n_free = len(structure.value_names)
    if [tuple(s) for s in shapes[:n_free]] != structure.value_shapes:
        raise CacheUnavailable("the free variables' shapes differ from the compiled ones")
    initial_point = _rv_dict_to_flat_array_wrapper(
        _wrap_with_lock(structure.initial_point), names=names[:n_free], shapes=shapes[:n_free]
    )
    dims, coords = _prepare_dims_and_coords(model, shape_info, meta["reparameterized_names"])
    return CompiledPyMCModel(
        dims=dims,
        reparameterized_names=meta["reparameterized_names"],
        _n_dim=meta["n_dim"],
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(names, shapes, strict=True)},
        compiled_logp_func=entry.logp,
        compiled_expand_func=entry.expand,
        initial_point_func=initial_point,
        shared_data=arrays,
        shared_var_keys={},
        user_data=table,
        n_expanded=meta["n_expanded"],
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
    )


def call_logp(compiled: Any, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """Evaluate a nutpie-compiled model's C log density and gradient at ``x`` as nuts-rs does.

    Parameters
    ----------
    compiled : nutpie CompiledPyMCModel
        From :func:`load_or_compile` or ``nutpie.compile_pymc_model(backend="numba")``.
    x : np.ndarray
        A point on the unconstrained scale (length ``compiled.n_dim``).

    Returns
    -------
    code : int
        The C function's return code (0 on success).
    logp : float
    gradient : np.ndarray
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.zeros(compiled.n_dim)
    logp = np.zeros(())
    double = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        ctypes.c_uint64(compiled.n_dim),
        x.ctypes.data_as(double),
        out.ctypes.data_as(double),
        logp.ctypes.data_as(double),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return int(code), float(logp), out


def _smoke(compiled: Any) -> None:
    """Evaluate both C functions once at the initial point: an entry that does not fit this model fails."""
    x = np.asarray(compiled.initial_point_func(0), dtype=np.float64)
    code, _, _ = call_logp(compiled, x)
    out = np.zeros(compiled.n_expanded)
    double = ctypes.POINTER(ctypes.c_double)
    expand_code = compiled.compiled_expand_func.ctypes(
        ctypes.c_uint64(compiled.n_dim),
        ctypes.c_uint64(compiled.n_expanded),
        x.ctypes.data_as(double),
        out.ctypes.data_as(double),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    if code in (-1, 1) or expand_code != 0:
        raise CacheUnavailable(f"the cached functions do not fit this model (codes {code}, {expand_code})")


def load_or_compile(model: pm.Model, var_names: list[str], root: Path | str | None = None) -> tuple[Any, str]:
    """A nutpie compiled model for ``model`` whose C functions come from the persistent cache if possible.

    Parameters
    ----------
    model : pm.Model
        The model; its shared data (``pm.Data``) are copied into the returned object.
    var_names : list of str
        Variables nutpie traces (ipsbayes passes the free random variables).
    root : Path or str, optional
        Cache folder; default :func:`cache_dir`.

    Returns
    -------
    compiled : nutpie CompiledPyMCModel
    how : str
        ``"memory"`` (loaded earlier in this process), ``"disk"`` (loaded from the cache) or
        ``"compiled"`` (compiled now and written to the cache).

    Raises
    ------
    CacheUnavailable
        The cache is off, or this structure cannot be served from it (numba cannot cache it, or
        the entry does not fit the model); compile with nutpie instead. Other exceptions from
        PyTensor, numba or nutpie propagate too: callers treat any exception as "compile plainly".
    """
    root = cache_dir() if root is None else Path(root)
    if root is None:
        raise CacheUnavailable("the compile cache is off")
    structure = _structure(model, list(var_names))
    key = structure.key
    how = "memory"
    entry = _LOADED.get(key)  # also holds structures compiled here that numba could not cache
    if entry is None:
        if (root / f"{key}.nocache").exists():
            raise CacheUnavailable(f"numba cannot cache structure {key}")
        how = "disk"
        entry = _load(root, key)
        if entry is None:
            how = "compiled"
            entry = _compile_apart(root, structure, model, list(var_names))
    compiled = _wrap(entry, structure, model)
    if how == "disk":
        _smoke(compiled)
    _LOADED[key] = entry
    _LOADED.move_to_end(key)
    while len(_LOADED) > MAX_LOADED:
        _LOADED.popitem(last=False)
    return compiled, how


def clear_memory() -> None:
    """Forget the entries loaded in this process (the disk cache is kept); for tests and benchmarks."""
    _LOADED.clear()
