"""The meta-analytic model across trials and its predictive distribution for a new trial.

Two-arm trials (Neuenschwander et al. 2010; Schmidli et al. 2014), trial ``i``::

    logit p_control[i]   = mu_c + tau_c * e_c[i]                         e ~ Normal(0, 1)
    logit p_treatment[i] = logit p_control[i] + theta[i]
    theta[i]             = mu_t + x_i' beta + tau_t * e_t[i]              (log odds ratio)
    r ~ Binomial(n, p) in each arm;  tau_c ~ HalfNormal(s_c), tau_t ~ HalfNormal(s_t)

Two univariate hierarchies, not a bivariate one: with about ten trials the correlation
between baseline and effect is barely identified, an LKJ prior on it would mostly return
itself, and the predictive distribution of the effect (what the CACE prior needs) hardly
depends on it. The control-arm hierarchy is kept because the CACE model also needs a
prior for the complier control rate; it is fitted jointly so that each trial's log odds
ratio is estimated against its own baseline (a contrast-based model with random baselines).

The MAP prior is the predictive distribution of a new trial's parameters,
``mu + tau * e_new`` (plus covariate values of the new trial and, if configured, a shift for
a population none of the trials studied, drawn from its stated prior). One-arm data (RBesT's
``gMAP(cbind(r, n - r) ~ 1 | study)``) use only the control hierarchy.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr

from ipsbayes.evidence.config import MapConfig, NormalPrior
from ipsbayes.evidence.table import Evidence


def build_map_model(evidence: Evidence, config: MapConfig) -> pm.Model:
    """The hierarchical model of :mod:`ipsbayes.evidence.model` (non-centred trial effects)."""
    spec = config.hierarchy
    coords = {"trial": evidence.studies, "covariate": evidence.covariate_names}
    with pm.Model(coords=coords) as model:
        n_c = pm.Data("n_control", evidence.n_control, dims="trial")
        r_c = pm.Data("r_control", evidence.r_control, dims="trial")
        mu_c = pm.Normal("mu_control", spec.control_mean.mu, spec.control_mean.sigma)
        tau_c = pm.HalfNormal("tau_control", spec.control_tau)
        e_c = pm.Normal("z_control", 0.0, 1.0, dims="trial")
        logit_c = mu_c + tau_c * e_c
        pm.Binomial("y_control", n=n_c, logit_p=logit_c, observed=r_c, dims="trial")
        if config.design == "two_arm":
            n_t = pm.Data("n_treatment", evidence.n_treatment, dims="trial")
            r_t = pm.Data("r_treatment", evidence.r_treatment, dims="trial")
            mu_t = pm.Normal("mu_effect", spec.effect_mean.mu, spec.effect_mean.sigma)
            tau_t = pm.HalfNormal("tau_effect", spec.effect_tau)
            e_t = pm.Normal("z_effect", 0.0, 1.0, dims="trial")
            theta = mu_t + tau_t * e_t
            if evidence.covariate_names:
                x = pm.Data("x", evidence.covariates, dims=("trial", "covariate"))
                beta = pm.Normal("beta", 0.0, spec.covariate_sigma, dims="covariate")
                theta = theta + pm.math.dot(x, beta)
            pm.Binomial("y_treatment", n=n_t, logit_p=logit_c + theta, observed=r_t, dims="trial")
    return model


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    values = posterior[name]
    return values.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()


def _shift(prior: NormalPrior | None, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.zeros(size) if prior is None else rng.normal(prior.mu, prior.sigma, size)


def predictive_draws(posterior: xr.Dataset, config: MapConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws of a new trial's control log-odds (``control``) and log odds ratio (``effect``).

    Each posterior draw gives ``mixture.predictive_per_draw`` predictive draws (more draws,
    smaller Monte Carlo error in the tails the mixture must fit).
    """
    k = config.mixture.predictive_per_draw
    mu_c, tau_c = np.repeat(_flat(posterior, "mu_control"), k), np.repeat(_flat(posterior, "tau_control"), k)
    size = mu_c.size
    out = {"control": mu_c + tau_c * rng.standard_normal(size) + _shift(config.shift.control, size, rng)}
    if config.design == "two_arm":
        mu_t, tau_t = np.repeat(_flat(posterior, "mu_effect"), k), np.repeat(_flat(posterior, "tau_effect"), k)
        theta = mu_t + tau_t * rng.standard_normal(size)
        names = config.hierarchy.covariates
        if names:
            beta = np.repeat(_flat(posterior, "beta"), k, axis=0)
            target = np.array([config.hierarchy.target.get(name, 0.0) for name in names])
            theta = theta + beta @ target
        out["effect"] = theta + _shift(config.shift.effect, size, rng)
    return out


def trial_estimates(posterior: xr.Dataset, evidence: Evidence) -> dict[str, np.ndarray]:
    """Each trial's shrunken control log-odds and log odds ratio (draws x trials), for the forest plot."""
    logit_c = _flat(posterior, "mu_control")[:, None] + _flat(posterior, "tau_control")[:, None] * _flat(
        posterior, "z_control"
    )
    out = {"control": logit_c}
    if evidence.r_treatment is not None:
        theta = _flat(posterior, "mu_effect")[:, None] + _flat(posterior, "tau_effect")[:, None] * _flat(
            posterior, "z_effect"
        )
        if evidence.covariate_names:
            theta = theta + _flat(posterior, "beta") @ evidence.covariates.T
        out["effect"] = theta
    return out


def raw_estimates(evidence: Evidence) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-trial observed log-odds and log odds ratios with standard errors (0.5 added to every cell)."""
    rc, nc = evidence.r_control + 0.5, evidence.n_control + 1.0
    out = {"control": (np.log(rc / (nc - rc)), np.sqrt(1 / rc + 1 / (nc - rc)))}
    if evidence.r_treatment is not None:
        rt, nt = evidence.r_treatment + 0.5, evidence.n_treatment + 1.0
        log_or = np.log(rt / (nt - rt)) - np.log(rc / (nc - rc))
        out["effect"] = (log_or, np.sqrt(1 / rt + 1 / (nt - rt) + 1 / rc + 1 / (nc - rc)))
    return out
