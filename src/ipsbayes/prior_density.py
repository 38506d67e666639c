"""The log prior of every posterior draw in one compiled call, and the log-likelihood totals it frees.

PyMC's ``compute_log_prior`` calls a compiled function once per draw (4,000 calls for the
default profile). Here the same graph is vectorised over draws (PyTensor's ``vectorize_graph``)
and called once: the ``log_prior`` group holds the same numbers (``tests/test_prior_density.py``).

The same call gives the log-Jacobian of the sampler's transforms at each draw. nutpie records the
log density it sampled (``logp``: log-likelihood + log prior + log-Jacobian, on the unconstrained
scale) for every draw, so a model whose only other terms are its one observed variable's
log-likelihood has that variable's per-draw total as ``logp - log prior - log-Jacobian``
(:func:`likelihood_totals`). Power-scaling needs that total; at 15,000 rows summing it over
every row and draw cost 0.85 s of CPU, and at 150,000 rows ten times that.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from arviz_base import dict_to_dataset
from pymc.model.transform.conditioning import remove_value_transforms
from pymc.stats.log_density import compute_log_prior
from pytensor.graph import ancestors, vectorize_graph
from pytensor.tensor.random.op import RandomVariable

from ipsbayes.backends import LOG_DENSITY_MODE
from ipsbayes.initial_point import default_initial_values

logger = logging.getLogger("ipsbayes")

#: how far the sampler's totals may be from the sums over rows at the probe draws (relative, and absolute)
TOTAL_RTOL = 1e-9


@dataclass(frozen=True)
class PriorDensities:
    """Log prior densities of posterior draws.

    Attributes
    ----------
    values : dict
        Free variable name -> elementwise log prior at each draw, on the constrained scale (no
        Jacobian), shaped like the variable's posterior draws (chain, draw, ...), or one value per
        draw (chain, draw) for a multivariate prior: PyMC's ``log_prior``.
    dims : dict
        Free variable name -> the dims of its values.
    jacobian : ndarray or None
        Per draw (chain, draw): the sum of the log-Jacobians of the sampler's transforms; None when a
        transform's Jacobian could not be written in the constrained values alone.
    """

    values: dict[str, np.ndarray]
    dims: dict[str, tuple[str, ...]]
    jacobian: np.ndarray | None

    def total(self) -> np.ndarray:
        """The log prior summed over every variable and element, per draw (chain, draw)."""
        return sum(v.reshape(*v.shape[:2], -1).sum(axis=-1) for v in self.values.values())


def prior_densities(model: pm.Model, posterior: xr.Dataset) -> PriorDensities | None:
    """Every draw's log prior (and the transforms' log-Jacobian) from one vectorised call; None where that fails.

    None (PyMC then computes the ``log_prior`` group draw by draw) when the model's prior graph
    cannot be vectorised over draws or its call fails; the reason is logged at debug level.
    """
    names = [rv.name for rv in model.free_RVs]
    if not names or any(name not in posterior for name in names):
        return None
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    try:
        function, inputs, has_jacobian = vectorised_log_prior(model)
        arrays = []
        for value in inputs:
            draws_of = posterior[value.name].transpose("chain", "draw", ...).values
            flat = draws_of.reshape(chains * draws, *draws_of.shape[2:])
            arrays.append(np.ascontiguousarray(flat, dtype=value.dtype))
        outputs = function(*arrays)
    except Exception as exc:  # any graph the vectorisation cannot handle: PyMC's draw-by-draw path
        logger.debug("log prior not vectorised (%s: %s); PyMC computes it draw by draw", type(exc).__name__, exc)
        return None
    values, dims = {}, {}
    for value, out in zip(inputs, outputs, strict=False):
        draws_of = posterior[value.name].transpose("chain", "draw", ...)
        out = np.asarray(out)
        if out.shape == (chains * draws, *draws_of.shape[2:]):  # elementwise, as the variable
            dims[value.name] = draws_of.dims
        elif out.shape == (chains * draws,):  # one density per draw (a multivariate prior: LKJ, MvNormal)
            dims[value.name] = ("chain", "draw")
        else:
            logger.debug("log prior of %s has shape %s: PyMC computes it draw by draw", value.name, out.shape)
            return None
        values[value.name] = out.reshape(chains, draws, *out.shape[1:])
    jacobian = None
    if has_jacobian:  # a Jacobian that depends on no draw (no transforms) comes back as one number
        jacobian = np.broadcast_to(np.asarray(outputs[-1], dtype=float), (chains * draws,)).reshape(chains, draws)
    return PriorDensities(values, dims, jacobian)


#: each model's vectorised log-prior function (or the error building it raised), built once per model
_BUILT: weakref.WeakKeyDictionary[pm.Model, tuple | Exception] = weakref.WeakKeyDictionary()


def vectorised_log_prior(model: pm.Model) -> tuple[Callable[..., list[np.ndarray]], list[pt.TensorVariable], bool]:
    """The compiled function :func:`prior_densities` calls, built once per model and kept while it lives.

    A run builds it while the chains sample (:func:`ipsbayes.sampling.prepare_for_draws`), so the
    work after sampling only calls it. The function reads the model's data when called, so the
    numbers are those of a function built afterwards. An error building it is kept and raised again.

    Returns
    -------
    tuple
        The function, its inputs (one batched tensor per free variable) and whether its last output
        is the log-Jacobian.
    """
    built = _BUILT.get(model)
    if built is None:
        try:
            with default_initial_values(model):  # PyMC cannot copy a model that starts at data-based values
                built = _vectorised(model)
        except Exception as exc:
            built = exc
        _BUILT[model] = built
    if isinstance(built, Exception):
        raise built
    return built


def _vectorised(model: pm.Model) -> tuple[Callable[..., list[np.ndarray]], list[pt.TensorVariable], bool]:
    """A function of every free variable's draws (draws first): elementwise log priors, then the log-Jacobian.

    The third item says whether the Jacobian is among the outputs (last).
    """
    plain = remove_value_transforms(model)  # the posterior holds constrained values, as PyMC's log_prior takes them
    values = [plain.rvs_to_values[rv] for rv in plain.free_RVs]
    batched = [pt.tensor(dtype=v.dtype, shape=(None, *v.type.shape), name=v.name) for v in values]
    graphs = plain.logp(vars=plain.free_RVs, sum=False)
    jacobian = _log_jacobian(model, plain)
    if jacobian is not None:
        graphs = [*graphs, jacobian]
    outputs = vectorize_graph(graphs, replace=dict(zip(values, batched, strict=True)))
    function = pytensor.function(batched, outputs, on_unused_input="ignore", **LOG_DENSITY_MODE)
    return function, batched, jacobian is not None


def _log_jacobian(model: pm.Model, plain: pm.Model) -> pt.TensorVariable | None:
    """The sum of the sampler's transforms' log-Jacobians at one point, in ``plain``'s constrained values.

    None when a transform fails or its Jacobian would depend on random draws rather than the values.
    """
    terms = [pt.zeros((), dtype="float64")]
    for rv in plain.free_RVs:
        transform = model.rvs_to_transforms.get(model[rv.name])
        if transform is None:
            continue
        value, parameters = plain.rvs_to_values[rv], rv.owner.inputs
        try:
            term = transform.log_jac_det(transform.forward(value, *parameters), *parameters)
        except Exception as exc:
            logger.debug("no log-Jacobian for %s (%s: %s)", rv.name, type(exc).__name__, exc)
            return None
        terms.append(pt.sum(term))  # over the variable's elements: one number per point
    (total,) = plain.replace_rvs_by_values([pt.add(*terms)])
    if any(v.owner is not None and isinstance(v.owner.op, RandomVariable) for v in ancestors([total])):
        return None
    return total


def add_log_prior(datatree: xr.DataTree, densities: PriorDensities) -> None:
    """Store ``densities`` as the ``log_prior`` group, with the posterior's dims, coordinates and PyMC's attributes."""
    posterior = datatree["posterior"].to_dataset()
    dims = {name: list(d[2:]) for name, d in densities.dims.items()}
    coords = {d: posterior[d].values for d in {d for names in densities.dims.values() for d in names} if d in posterior}
    datatree["log_prior"] = xr.DataTree(
        dict_to_dataset(densities.values, inference_library=pm, dims=dims, coords=coords, sample_dims=["chain", "draw"])
    )


def store_log_prior(datatree: xr.DataTree, model: pm.Model, densities: PriorDensities | None) -> None:
    """The ``log_prior`` group: from ``densities``, or from PyMC's draw-by-draw ``compute_log_prior`` without them."""
    if densities is not None:
        add_log_prior(datatree, densities)
        return
    with default_initial_values(model):
        compute_log_prior(datatree, model=model, progressbar=False, compile_kwargs=LOG_DENSITY_MODE)


def likelihood_totals(
    datatree: xr.DataTree, model: pm.Model, densities: PriorDensities | None
) -> dict[str, np.ndarray] | None:
    """Per-draw log-likelihood totals (chains * draws,) by observed name, from the sampler's log density.

    ``logp - log prior - log-Jacobian``: the sampler evaluated every row at every draw already.
    None unless the sampler recorded ``logp`` (nutpie), the model observes one variable and adds no
    potentials, and the Jacobian is known. Callers check the totals at a few draws
    (:func:`agrees`) before they use them.
    """
    if densities is None or densities.jacobian is None or model.potentials or len(model.observed_RVs) != 1:
        return None
    stats = datatree["sample_stats"].to_dataset() if "sample_stats" in datatree.children else None
    if stats is None or "logp" not in stats or set(stats["logp"].dims) != {"chain", "draw"}:
        return None
    logp = stats["logp"].transpose("chain", "draw").values.astype(float)
    if logp.shape != densities.jacobian.shape:
        return None
    total = logp - densities.total() - densities.jacobian
    return {model.observed_RVs[0].name: total.ravel()} if np.isfinite(total).all() else None


def agrees(known: np.ndarray, summed: np.ndarray) -> bool:
    """Whether totals from the sampler match the sum over rows (both at the probe draws)."""
    return bool(np.allclose(known, summed, rtol=TOTAL_RTOL, atol=TOTAL_RTOL))


__all__ = ["PriorDensities", "add_log_prior", "agrees", "likelihood_totals", "prior_densities", "store_log_prior"]
