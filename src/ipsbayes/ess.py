"""Effective sample size of a mixture prior, and conjugate updates of mixtures.

Effective sample size (ESS): how many observations a prior is worth.

- ``elir`` (Neuenschwander, Weber, Schmidli & O'Hagan 2020, *Biometrics* 76:578-587): the
  expected local-information ratio ``E_prior[ i(theta) / i_F(theta) ]``, where
  ``i(theta) = -d^2/dtheta^2 log p(theta)`` is the prior's information and ``i_F`` the Fisher
  information of one observation. It is the only ESS that is predictively consistent (the
  expected posterior ESS after ``n`` observations is prior ESS + ``n``), and RBesT's default.
- ``moment``: match the mixture's mean and SD by one conjugate density and read off its
  sample size (conservative for mixtures).

Likelihoods: ``binomial`` (one Bernoulli observation; for a beta prior on the rate, or a
normal prior on the log-odds), ``gaussian`` (one observation with SD ``sigma``, e.g. the
unit-information SD of a log odds ratio). Integrals follow RBesT's ``integrate_density``:
per component, on the logit of the component's CDF.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import integrate, special, stats

from ipsbayes.mixture import Mixture

Likelihood = Literal["binomial", "gaussian"]


def _expect(mix: Mixture, func: Callable[[np.ndarray], np.ndarray]) -> float:
    """``E_mix[func(theta)]`` by adaptive quadrature per component."""
    total = 0.0
    for weight, comp in zip(mix.w, mix.components(), strict=True):
        if weight <= 0:
            continue

        def integrand(logit_u: float, comp: stats.rv_continuous = comp) -> float:
            u = special.expit(logit_u)
            value = float(func(np.asarray(comp.ppf(u))))
            return u * (1 - u) * value if np.isfinite(value) else 0.0

        value, _ = integrate.quad(integrand, -30, 30, limit=500, epsabs=1e-10, epsrel=1e-8)
        total += weight * value
    return total


def information(mix: Mixture, theta: np.ndarray) -> np.ndarray:
    """Prior information ``-d^2/dtheta^2 log p(theta)`` of the mixture density."""
    theta = np.asarray(theta, dtype=float)
    r = mix.responsibilities(theta)
    if mix.family == "normal":
        grad = -(theta[..., None] - mix.a) / mix.b**2
        hess = np.broadcast_to(-1 / mix.b**2, grad.shape)
    else:
        x = np.clip(theta, np.finfo(float).eps, 1 - np.finfo(float).eps)[..., None]
        grad = (mix.a - 1) / x - (mix.b - 1) / (1 - x)
        hess = -(mix.a - 1) / x**2 - (mix.b - 1) / (1 - x) ** 2
    return (r * grad).sum(axis=-1) ** 2 - (r * (hess + grad**2)).sum(axis=-1)


def _inverse_fisher(mix: Mixture, likelihood: Likelihood, sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    """``1 / i_F(theta)`` for one observation on the mixture's scale."""
    if mix.family == "beta":
        if likelihood != "binomial":
            raise ValueError("a beta mixture is a prior for a binomial rate (likelihood 'binomial')")
        return lambda p: p * (1 - p)
    if likelihood == "binomial":  # normal prior on the log-odds: i_F = p (1 - p)
        return lambda eta: 1 / (special.expit(eta) * special.expit(-eta))
    return lambda theta: np.full_like(np.asarray(theta, dtype=float), sigma**2)


def ess(mix: Mixture, method: Literal["elir", "moment"] = "elir", likelihood: Likelihood = "binomial", sigma=2.0):
    """Effective sample size of ``mix`` in observations of ``likelihood``.

    Parameters
    ----------
    mix : Mixture
        The prior.
    method : {"elir", "moment"}
        Expected local-information ratio (default) or moment matching.
    likelihood : {"binomial", "gaussian"}
        What one observation is: a Bernoulli trial (beta prior on the rate, or normal prior on
        the log-odds), or a normal observation with SD ``sigma`` (normal priors only).
    sigma : float
        Unit-information SD of the ``gaussian`` likelihood.

    Returns
    -------
    float
    """
    inverse_fisher = _inverse_fisher(mix, likelihood, sigma)
    if method == "elir":
        return _expect(mix, lambda t: information(mix, t) * inverse_fisher(t))
    if mix.family == "beta":  # moment-matched Beta(a, b): a + b observations
        m, v = mix.mean(), mix.var()
        return m * (1 - m) / v - 1
    expected = sigma**2 if likelihood == "gaussian" else _expect(mix, inverse_fisher)
    return expected / mix.var()


def unit_information_sd(control_rate: float, treatment_rate: float | None = None) -> float:
    """SD of one observation's information on the log-odds (one rate) or log odds ratio (two rates).

    For a log odds ratio, "one observation" is one participant in each arm:
    ``sigma^2 = 1 / (p1 (1 - p1)) + 1 / (p0 (1 - p0))``.
    """
    variance = 1 / (control_rate * (1 - control_rate))
    if treatment_rate is not None:
        variance += 1 / (treatment_rate * (1 - treatment_rate))
    return float(np.sqrt(variance))


# --- conjugate updates --------------------------------------------------------------------------


def _log_beta_binomial(r: float, n: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return special.betaln(a + r, b + n - r) - special.betaln(a, b)


def postmix_binomial(mix: Mixture, r: int, n: int) -> Mixture:
    """Posterior of a beta mixture after ``r`` responders of ``n`` (RBesT's ``postmix``)."""
    if mix.family != "beta":
        raise ValueError("postmix_binomial needs a beta mixture")
    log_w = np.log(mix.w) + _log_beta_binomial(r, n, mix.a, mix.b)
    w = np.exp(log_w - special.logsumexp(log_w))
    return Mixture("beta", w, mix.a + r, mix.b + n - r, mix.labels)


def postmix_normal(mix: Mixture, mean: float, se: float) -> Mixture:
    """Posterior of a normal mixture after an estimate ``mean`` with standard error ``se``."""
    if mix.family != "normal":
        raise ValueError("postmix_normal needs a normal mixture")
    prior_prec, data_prec = 1 / mix.b**2, 1 / se**2
    log_w = np.log(mix.w) + stats.norm.logpdf(mean, mix.a, np.sqrt(mix.b**2 + se**2))
    w = np.exp(log_w - special.logsumexp(log_w))
    post_prec = prior_prec + data_prec
    return Mixture("normal", w, (mix.a * prior_prec + mean * data_prec) / post_prec, 1 / np.sqrt(post_prec), mix.labels)


def prob_difference_above(first: Mixture, second: Mixture, threshold: float = 0.0) -> float:
    """``P(X - Y > threshold)`` for independent ``X ~ first``, ``Y ~ second`` (RBesT's ``pmixdiff``)."""

    def integrand(y: float) -> float:
        return float(second.pdf(y)) * (1 - float(first.cdf(y + threshold)))

    lower, upper = (0.0, 1.0) if second.family == "beta" else (second.quantile(1e-10), second.quantile(1 - 1e-10))
    value, _ = integrate.quad(integrand, lower, upper, limit=500, epsabs=1e-12, epsrel=1e-10)
    return float(value)


__all__ = [
    "ess",
    "information",
    "postmix_binomial",
    "postmix_normal",
    "prob_difference_above",
    "unit_information_sd",
]
