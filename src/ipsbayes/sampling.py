"""The sampling seam: every fit in ipsbayes goes through :func:`sample`.

Profiles set chains/draws/tuning (``ci`` for seconds-long test fits, ``default``,
``final`` for publication); nutpie is the default NUTS implementation and PyMC's
own sampler is available as ``backend = "pymc"``. The returned DataTree always
has the same groups and sample-stat names whatever the backend (posterior,
sample_stats, log_likelihood, posterior_predictive, observed_data,
constant_data), so diagnostics and reports need not know who sampled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from ipsbayes import interrupt
from ipsbayes import progress as progress_stage
from ipsbayes.backends import C_MODE, LOG_DENSITY_MODE, NO_BLAS_WARNING, draw_mode
from ipsbayes.config import SamplerConfig
from ipsbayes.draws import check_draws, normalise_sample_stats
from ipsbayes.errors import SamplingError
from ipsbayes.family_groups import FamilyGroup, add_from_family, add_likelihood_summary, add_predictive
from ipsbayes.initial_point import check_initial_point, default_initial_values
from ipsbayes.nutpie_compile import compile_nutpie
from ipsbayes.prior_density import likelihood_totals, prior_densities, store_log_prior, vectorised_log_prior
from ipsbayes.resources import check_memory, estimate_memory

logger = logging.getLogger("ipsbayes")

#: Chains, tuning, draws and the NUTS target acceptance rate of each profile. ``target_accept``
#: 0.8 (ci, default) was chosen by measurement (``benchmarks/results/target_accept.md``): on the
#: reference model it takes half the leapfrog steps of 0.9 for 13% less ESS, 1.65x fewer steps per
#: effective draw, with no divergences after warmup. Where a fit diverges at the profile's value it is
#: sampled again at :data:`RAISED_TARGET_ACCEPT` (see :func:`target_ladder`).
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"chains": 2, "tune": 400, "draws": 400, "target_accept": 0.8},
    "default": {"chains": 4, "tune": 1000, "draws": 1000, "target_accept": 0.8},
    "final": {"chains": 4, "tune": 2000, "draws": 2500, "target_accept": 0.9},
}
#: the target acceptance rate a profile's fit is sampled again at when it diverged at the profile's own
RAISED_TARGET_ACCEPT: dict[str, float] = {"ci": 0.95, "default": 0.95, "final": 0.99}


@dataclass
class Fit:
    """A finished fit: the DataTree plus what provenance needs."""

    datatree: xr.DataTree
    settings: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def resolve_settings(sampler: SamplerConfig) -> dict[str, Any]:
    """Profile values with explicit settings from the config taking precedence."""
    settings = dict(PROFILES[sampler.profile])
    for key in ("chains", "tune", "draws", "target_accept"):
        value = getattr(sampler, key)
        if value is not None:
            settings[key] = value
    settings["cores"] = sampler.cores or min(settings["chains"], os.cpu_count() or 1)
    settings["backend"] = sampler.backend
    settings["freeze_data"] = bool(sampler.freeze_data)
    settings["profile"] = sampler.profile
    settings["target_ladder"] = target_ladder(sampler)
    return settings


def target_ladder(sampler: SamplerConfig) -> list[float]:
    """The target acceptance rates a fit may use, in the order they are tried.

    A profile's own rate comes first; if that fit has divergent transitions after warmup it is
    sampled again (same compiled model, same seed) at the profile's raised rate, which takes smaller
    steps where the posterior curves sharply. A ``target_accept`` set in the config is used as given
    and never raised: the diagnostics gate reports any divergences.
    """
    if sampler.target_accept is not None:
        return [float(sampler.target_accept)]
    own = float(PROFILES[sampler.profile]["target_accept"])
    raised = RAISED_TARGET_ACCEPT[sampler.profile]
    return [own, raised] if raised > own else [own]


def count_divergences(datatree: xr.DataTree) -> int:
    """Divergent transitions after warmup, over all chains (0 when the sampler reports none)."""
    stats = datatree["sample_stats"] if "sample_stats" in datatree.children else None
    if stats is None or "diverging" not in stats.data_vars:
        return 0
    return int(np.asarray(stats["diverging"].values, dtype=bool).sum())


def sample_with_ladder(
    sample_once: Any, settings: dict[str, Any], timings: dict[str, float], label: str
) -> xr.DataTree:
    """Sample at each rate of ``settings["target_ladder"]`` until a fit has no divergences.

    ``sample_once(target_accept)`` draws one fit. The rates tried, and the divergences each had,
    go into ``settings["target_accept_attempts"]`` and the ``sample_stats`` attributes, so
    provenance, diagnostics and the report can say that (and why) the rate was raised.
    """
    ladder = settings.get("target_ladder") or [settings["target_accept"]]
    attempts: list[dict[str, Any]] = []
    started = time.perf_counter()
    for step, target in enumerate(ladder):
        datatree = sample_once(target)
        interrupt.raise_if_interrupted()
        divergent = count_divergences(datatree)
        attempts.append({"target_accept": target, "divergences": divergent})
        if not divergent or step == len(ladder) - 1:
            break
        logger.info(
            "%d divergent transitions at target_accept %g; sampling again at %g", divergent, target, ladder[step + 1]
        )
        progress_stage.done(
            f"{label}: {divergent} divergent transitions at target_accept {target:g}, sampling again at "
            f"{ladder[step + 1]:g}"
        )
    timings["sampling"] = time.perf_counter() - started
    settings["target_accept"] = attempts[-1]["target_accept"]
    settings["target_accept_attempts"] = attempts
    stats = datatree["sample_stats"].to_dataset()
    stats.attrs["target_accept"] = float(attempts[-1]["target_accept"])
    if len(attempts) > 1:
        stats.attrs["target_accept_raised_from"] = float(attempts[0]["target_accept"])
        stats.attrs["divergences_before_raise"] = int(attempts[0]["divergences"])
    datatree["sample_stats"] = xr.DataTree(stats, name="sample_stats")
    return datatree


def show_progress() -> bool:
    """Progress bars on an interactive terminal, silent in CI and when output is piped."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return False
    return sys.stderr.isatty()


def sample(
    model: pm.Model,
    sampler: SamplerConfig,
    seed: int,
    *,
    predictive: bool = True,
    log_likelihood: bool = True,
    log_prior: bool = False,
    reuse_compiled: bool = False,
    progress: bool | None = None,
    family_groups: dict[str, FamilyGroup] | None = None,
    likelihood_subsample: int = 0,
    predictive_draws: int | None = None,
    while_sampling: Callable[[], object] | None = None,
) -> Fit:
    """Sample ``model`` and attach log-likelihood and posterior predictive draws.

    Parameters
    ----------
    model : pm.Model
        The model to fit.
    sampler : SamplerConfig
        Profile, backend and explicit settings.
    seed : int
        Seed for the sampler and for predictive draws.
    predictive : bool
        Add the ``posterior_predictive`` group.
    log_likelihood : bool
        Add the ``log_likelihood`` group (needed for LOO and power-scaling sensitivity).
    log_prior : bool
        Add the ``log_prior`` group (needed for power-scaling sensitivity), where the fit keeps the
        log-likelihood (or its per-draw totals) that power-scaling needs with it. Every draw's log
        prior comes from one vectorised call (:mod:`ipsbayes.prior_density`), or from PyMC's
        draw-by-draw ``compute_log_prior`` where the prior graph does not vectorise.
    reuse_compiled : bool
        Keep the compiled model for, and take it from, later fits of the same structure
        (see :func:`ipsbayes.nutpie_compile.compile_nutpie`).
    progress : bool, optional
        Show progress bars; default :func:`show_progress`.
    family_groups : dict, optional
        The model family's numpy forms of the ``log_likelihood`` and ``posterior_predictive`` groups
        (posterior in, arrays by observed variable out), used where they give one
        (:mod:`ipsbayes.family_groups`); PyMC computes the others. ``"log_likelihood_summary"``:
        the family's summary for data too large to store pointwise.
    likelihood_subsample : int
        Without ``log_likelihood``: add the per-draw total and a subsample of this many rows
        (:func:`~ipsbayes.family_groups.add_likelihood_summary`) where the family gives them; 0: no.
        The totals are the sampler's log density less the log prior and log-Jacobian
        (:func:`~ipsbayes.prior_density.likelihood_totals`) where that matches the sum over rows at
        a few probe draws, so the rows are evaluated only for the subsample.
    predictive_draws : int, optional
        Posterior predictive draws from about this many evenly spaced posterior draws (None: all).
    while_sampling : callable, optional
        Work that does not need the draws, run on this thread while nutpie's threads sample (once,
        not again if the sampler runs again after divergences). Not run with PyMC's sampler: the
        caller runs it afterwards. It must not raise (keep its errors for later).

    Returns
    -------
    Fit
    """
    settings = resolve_settings(sampler)
    progress = show_progress() if progress is None else progress
    timings: dict[str, float] = {}
    if not reuse_compiled:  # refits reuse the first fit's settings, already checked
        check_memory(
            estimate_memory(
                model,
                settings,
                log_likelihood=log_likelihood,
                predictive=predictive,
                predictive_draws=predictive_draws,
                likelihood_subsample=0 if log_likelihood else likelihood_subsample,
            )
        )
    with one_blas_thread():
        return _sample_and_process(
            model,
            settings,
            seed,
            progress,
            timings,
            predictive,
            log_likelihood,
            log_prior,
            reuse_compiled,
            family_groups=family_groups or {},
            likelihood_subsample=likelihood_subsample,
            predictive_draws=predictive_draws,
            while_sampling=while_sampling,
        )


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run with one BLAS thread: the chains are the parallelism.

    On long data the design-matrix product crosses OpenBLAS's threading threshold; its threads
    busy-wait and fight the chains for the cores, which tripled the CPU per gradient at 150,000
    rows (``benchmarks/blas_threads.py``). The previous limits are restored afterwards.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _sample_and_process(
    model: pm.Model,
    settings: dict[str, Any],
    seed: int,
    progress: bool,
    timings: dict[str, float],
    predictive: bool,
    log_likelihood: bool,
    log_prior: bool,
    reuse_compiled: bool,
    *,
    family_groups: dict[str, FamilyGroup],
    likelihood_subsample: int = 0,
    predictive_draws: int | None = None,
    while_sampling: Callable[[], object] | None = None,
) -> Fit:
    try:
        with interrupt.watch():  # samplers swallow Ctrl-C and return a partial trace: remember it
            if settings["backend"] == "nutpie":
                needs_log_prior = log_prior or bool(likelihood_subsample and not log_likelihood)
                datatree = _sample_nutpie(
                    model, settings, seed, progress, timings, reuse_compiled, while_sampling, needs_log_prior
                )
            else:
                datatree = _sample_pymc(model, settings, seed, progress, timings)
    except (RuntimeError, ValueError, FloatingPointError) as exc:
        interrupt.raise_if_interrupted()
        # nutpie's Rust errors carry a stack backtrace when RUST_BACKTRACE is set: the reason is what comes before it
        reason = " ".join(str(exc).split("Stack backtrace")[0].split())
        raise SamplingError(f"Sampling failed ({settings['backend']}): {reason}") from exc
    interrupt.raise_if_interrupted()
    check_draws(datatree, settings)
    normalise_sample_stats(datatree)
    started = time.perf_counter()
    by, cores = family_groups, settings["cores"]
    with warnings.catch_warnings(), quiet_pymc(), default_initial_values(model):
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
        warnings.filterwarnings("ignore", message="Numba will use object mode", category=UserWarning)
        warnings.filterwarnings("ignore", message=NO_BLAS_WARNING, category=UserWarning)
        subsample_rows = 0 if log_likelihood else likelihood_subsample
        # every draw's log prior in one call; with the sampler's log density it gives the likelihood's totals
        densities = prior_densities(model, datatree["posterior"].to_dataset()) if log_prior or subsample_rows else None
        if log_likelihood and not add_from_family(datatree, model, "log_likelihood", by.get("log_likelihood"), cores):
            pm.compute_log_likelihood(datatree, model=model, progressbar=False, compile_kwargs=LOG_DENSITY_MODE)
        elif subsample_rows:
            known = likelihood_totals(datatree, model, densities)
            add_likelihood_summary(
                datatree, model, by.get("log_likelihood_summary"), subsample_rows, seed, cores, known
            )
        if log_prior and {"log_likelihood", "log_likelihood_total"} & set(datatree.children):  # power-scaling: both
            store_log_prior(datatree, model, densities)  # PyMC's, draw by draw, where the graph does not vectorise
        timings["log_density"] = time.perf_counter() - started
        if predictive:
            started = time.perf_counter()
            add_predictive(datatree, model, by.get("posterior_predictive"), seed, cores, predictive_draws)
            timings["posterior_predictive"] = time.perf_counter() - started
    progress_stage.done("log-likelihood and predictive draws")
    return Fit(datatree=datatree, settings=settings, timings=timings)


def _sample_nutpie(
    model: pm.Model,
    settings: dict[str, Any],
    seed: int,
    progress: bool,
    timings: dict[str, float],
    reuse: bool,
    while_sampling: Callable[[], object] | None = None,
    log_prior: bool = False,
) -> xr.DataTree:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    started = time.perf_counter()
    logger.info("compiling the model (numba)")
    compiled, reused, cache = compile_nutpie(model, reuse, freeze=settings.get("freeze_data", False))
    check_initial_point(compiled, model)
    timings["compile"] = time.perf_counter() - started
    settings["compiled_model_reused"] = reused
    settings["compile_cache"] = cache
    progress_stage.done("compile" + (" (reused)" if reused else ""))
    logger.info(
        "sampling %d chains x %d draws after %d tuning steps (nutpie)",
        settings["chains"],
        settings["draws"],
        settings["tune"],
    )

    def before_first_wait() -> None:  # work that needs no draws, beside the chains
        prepare_for_draws(model, log_prior)
        if while_sampling is not None:
            while_sampling()

    waiting_work = [before_first_wait]  # popped: a second sampling after divergences does not run it again

    def sample_once(target_accept: float) -> xr.DataTree:
        background = nutpie.sample(
            compiled,
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            cores=settings["cores"],
            seed=seed,
            save_warmup=False,
            progress_bar=progress,
            target_accept=target_accept,
            blocking=False,
        )
        return wait_for(background, while_waiting=waiting_work.pop() if waiting_work else None)

    datatree = sample_with_ladder(sample_once, settings, timings, "sampling")
    progress_stage.done("sampling")
    patch_nutpie_idata(datatree, model, sampling_time=timings["sampling"])
    posterior = datatree["posterior"].to_dataset()
    if reused:  # a reused compiled model carries the coordinate labels of the model it was compiled for
        labels = {dim: list(model.coords[dim]) for dim in posterior.dims if dim in model.coords}
        posterior = posterior.assign_coords(labels)
    started = time.perf_counter()
    if model.deterministics:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NO_BLAS_WARNING, category=UserWarning)
            posterior = pm.compute_deterministics(
                posterior, model=model, extend_dataset=True, progressbar=False, compile_kwargs=C_MODE
            )
    timings["deterministics"] = time.perf_counter() - started
    datatree["posterior"] = xr.DataTree(posterior, name="posterior")
    return datatree


def wait_for(background: Any, poll: float = 0.1, while_waiting: Callable[[], object] | None = None) -> xr.DataTree:
    """Wait for nutpie's background sampler; on Ctrl-C (or any error) stop it and raise.

    ``nutpie.sample(blocking=True)`` catches ``KeyboardInterrupt`` and returns the draws
    made so far, so a run would go on with a partial fit. Polling here lets the interrupt
    reach Python: the sampler is cancelled (its draws discarded) and the interrupt raised.
    ``while_waiting`` runs first, on this thread, while the sampler's own threads sample
    (they do not need Python's lock); an error in it stops the sampler too.
    """
    try:
        if while_waiting is not None:
            while_waiting()
        while True:
            try:  # nutpie raises TimeoutError while the sampler is still running
                return background.wait(timeout=poll)
            except TimeoutError:
                continue
    except BaseException:
        with contextlib.suppress(Exception):
            background.cancel()
        raise


def prepare_for_draws(model: pm.Model, log_prior: bool = False) -> None:
    """What the steps after sampling need that does not depend on the draws: run while the chains sample.

    The first C function a process builds makes PyTensor read the key of every module in its
    compile cache (0.1 s with 280 modules; it grows with the cache), and the deterministics'
    function then loads its modules. Both are done here, while nutpie's threads sample, by
    building the function :func:`pymc.compute_deterministics` builds after sampling; it is
    thrown away, so the draws and every number are unchanged. With ``log_prior`` the vectorised
    log-prior function is built too, and kept for the model
    (:func:`ipsbayes.prior_density.vectorised_log_prior`).
    """
    # a warm-up only: whatever goes wrong here happens again, and is reported, where the function is used
    if model.deterministics:
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.filterwarnings("ignore", message=NO_BLAS_WARNING, category=UserWarning)
            model.compile_fn(inputs=model.free_RVs, outs=list(model.deterministics), on_unused_input="ignore", **C_MODE)
    if log_prior:
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.filterwarnings("ignore", category=UserWarning)
            vectorised_log_prior(model)


def _sample_pymc(
    model: pm.Model, settings: dict[str, Any], seed: int, progress: bool, timings: dict[str, float]
) -> xr.DataTree:
    logger.info(
        "sampling %d chains x %d draws after %d tuning steps (PyMC)",
        settings["chains"],
        settings["draws"],
        settings["tune"],
    )

    def sample_once(target_accept: float) -> xr.DataTree:
        with model:
            return pm.sample(
                draws=settings["draws"],
                tune=settings["tune"],
                chains=settings["chains"],
                cores=settings["cores"],
                random_seed=seed,
                nuts_sampler="pymc",
                # nutpie and numba leave threads behind; fork()ing a threaded process can deadlock
                mp_ctx="forkserver",
                target_accept=target_accept,
                progressbar=progress,
                compute_convergence_checks=False,
            )

    datatree = sample_with_ladder(sample_once, settings, timings, "compile and sampling")
    timings["compile_and_sampling"] = timings.pop("sampling")
    progress_stage.done("compile and sampling")
    return datatree


def sample_prior_predictive(model: pm.Model, draws: int, seed: int, var_names: list[str] | None = None) -> xr.DataTree:
    """Prior and prior-predictive draws (no MCMC); ``var_names`` limits which variables are drawn."""
    with warnings.catch_warnings(), quiet_pymc(), default_initial_values(model):
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
        warnings.filterwarnings("ignore", message="Numba will use object mode", category=UserWarning)
        warnings.filterwarnings("ignore", message=NO_BLAS_WARNING, category=UserWarning)
        return pm.sample_prior_predictive(
            draws=draws, model=model, random_seed=seed, var_names=var_names, compile_kwargs=draw_mode(model, var_names)
        )


@contextlib.contextmanager
def quiet_pymc() -> Iterator[None]:
    """Silence PyMC's INFO lines ("Sampling: [y]") around predictive draws; keep its warnings."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def thin_to(datatree: xr.DataTree, max_draws: int) -> xr.DataTree:
    """Every k-th draw so at most ``max_draws`` per chain remain (for heavy post-processing)."""
    n_draw = datatree["posterior"].sizes["draw"]
    step = int(np.ceil(n_draw / max_draws))
    return datatree if step <= 1 else datatree.isel(draw=slice(None, None, step))
