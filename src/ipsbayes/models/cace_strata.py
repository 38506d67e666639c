"""The principal-strata likelihood of the CACE model, for any outcome family, and its numpy twin.

In the treatment arm a participant's stratum is observed (receipt); in the control arm
compliers and never-takers cannot be told apart, so the likelihood there is a
two-component mixture, marginalised so NUTS can sample it. The outcome's likelihood
given a stratum comes from the outcome family plug-in (:mod:`ipsbayes.families`), so a
continuous outcome (Gaussian, Student-t) runs through the same code as a binary one.
A row may stand for several identical participants (``weights``): its log-likelihood
is multiplied by their number, exactly the sum over the repeated rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytensor.tensor as pt
import xarray as xr
from scipy.special import expit

from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import ModelData, draws_array


def strata_logp(family: OutcomeFamily, trials: int | None) -> Callable[..., Any]:
    """Per-row log-likelihood: observed strata in the treatment arm, a mixture in the control arm."""
    names = list(family.aux)

    def logp(value, logit_pi, eta_c0, eta_c1, eta_n0, eta_n1, z, d, weight, *aux_values):
        aux = dict(zip(names, aux_values, strict=True))
        n = None if trials is None else pt.as_tensor_variable(float(trials))

        def outcome(eta: Any) -> Any:
            return family.logp(value, eta, n, aux)

        log_pi, log_not_pi = -pt.softplus(-logit_pi), -pt.softplus(logit_pi)
        treated = pt.switch(pt.eq(d, 1), log_pi + outcome(eta_c1), log_not_pi + outcome(eta_n1))
        control = pt.logaddexp(log_pi + outcome(eta_c0), log_not_pi + outcome(eta_n0))
        return weight * pt.switch(pt.eq(z, 1), treated, control)

    return logp


def strata_random(family: OutcomeFamily, trials: int | None) -> Callable[..., Any]:
    """Draw outcomes given parameters: treatment-arm strata as observed, control-arm strata drawn."""
    names = list(family.aux)

    def random(logit_pi, eta_c0, eta_c1, eta_n0, eta_n1, z, d, weight, *aux_values, rng=None, size=None):
        shape = np.broadcast_shapes(*(np.shape(a) for a in (logit_pi, eta_c0, z))) if size is None else size
        complier = np.where(np.asarray(z) == 1, np.asarray(d), rng.random(shape) < expit(logit_pi))
        eta = np.where(complier, np.where(z == 1, eta_c1, eta_c0), np.where(z == 1, eta_n1, eta_n0))
        aux = dict(zip(names, aux_values, strict=True))
        n = None if trials is None else np.full(shape, trials)
        return family.draw(np.broadcast_to(eta, shape), n, aux, rng)

    return random


class StrataDraws:
    """Per-draw, per-row compliance probabilities and stratum-specific expected outcomes (users' scale)."""

    def __init__(self, posterior: xr.Dataset, data: ModelData, family: OutcomeFamily) -> None:
        arrays = data.arrays

        def get(name: str, width: int | None = None) -> np.ndarray:
            if name in posterior:
                return draws_array(posterior, name)
            size = posterior.sizes["chain"] * posterior.sizes["draw"]
            return np.zeros((size, width)) if width is not None else np.zeros(size)

        logit_pi = get("compliance_intercept")[:, None] + get("compliance_beta", arrays["W"].shape[1]) @ arrays["W"].T
        linear = get("outcome_beta", arrays["X"].shape[1]) @ arrays["X"].T
        eta_c0 = get("complier_control_intercept")[:, None] + linear
        eta_n0 = get("never_taker_intercept")[:, None] + linear
        self.logit_pi = logit_pi
        self.eta = {
            "c0": eta_c0,
            "c1": eta_c0 + get("treatment_effect")[:, None],
            "n0": eta_n0,
            "n1": eta_n0 + get("never_taker_arm_effect")[:, None],
        }
        self.pi = expit(logit_pi)
        self.mu_c0, self.mu_c1 = family.mean(self.eta["c0"]), family.mean(self.eta["c1"])
        self.mu_n0, self.mu_n1 = family.mean(self.eta["n0"]), family.mean(self.eta["n1"])
        self.weights = arrays.get("weights", np.ones(arrays["z"].shape[0])).astype(float)

    def average(self, values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Weighted mean over rows (participants) of ``values`` (draws x rows), per draw."""
        w = self.weights[None, :] * (1.0 if weights is None else weights)
        return (values * w).sum(axis=1) / w.sum(axis=1)


def replicate(family: OutcomeFamily, trials: int | None, prior: xr.Dataset, data: ModelData, rng: Any) -> dict:
    """Simulate strata, receipt and outcomes from one prior draw (the model's full generative process)."""
    draws = StrataDraws(prior, data, family)
    z = data.arrays["z"]
    complier = rng.random(z.shape) < draws.pi[0]
    eta = np.where(
        complier,
        np.where(z == 1, draws.eta["c1"][0], draws.eta["c0"][0]),
        np.where(z == 1, draws.eta["n1"][0], draws.eta["n0"][0]),
    )
    aux = {name: prior[name].values.ravel()[:1] for name in family.aux}
    y = family.draw(eta, None if trials is None else np.full(z.shape, trials), aux, rng)
    return {"y": y.astype(np.int64) if family.integer else y, "d": (z * complier).astype(np.int64)}
