"""Complier average causal effect (CACE) under one-sided noncompliance (Imbens & Rubin 1997).

Participants are randomised to IPS (``Z = 1``) or usual follow-up (``Z = 0``);
only those assigned to IPS can receive it (``D``). Each participant has a latent
principal stratum: complier (would take IPS up if offered) or never-taker. In
the IPS arm the stratum is observed (``D``); in the control arm it is not, so
the control-arm likelihood is a two-component mixture, marginalised so NUTS can
sample it::

    logit P(complier_i)      = g0 + W_i g                      (compliance model)
    outcome mean, compliers  = expit(a_c + X_i b + tau * Z_i)  (tau: effect of IPS)
    outcome mean, never-takers = expit(a_n + X_i b [+ delta * Z_i])

Under the exclusion restriction ``delta = 0`` (assignment alone does not change
never-takers' outcomes); switching it off gives ``delta`` a stated prior. The
outcome is binary (Bernoulli), or a count of ``trials`` (months employed of 12)
with a binomial or beta-binomial likelihood.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, override

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pydantic import Field, model_validator
from scipy.special import expit

from ipsbayes.config import RunConfig
from ipsbayes.data import (
    DataBundle,
    constant_columns,
    example_rows,
    handle_missing,
    missing_columns,
    non_binary,
    raise_if,
)
from ipsbayes.models.base import (
    ModelData,
    ModelFamily,
    ModelSpec,
    draws_array,
    estimand,
    model_data,
    register,
    unstack_draws,
)
from ipsbayes.models.cace_text import describe_cace
from ipsbayes.models.design import Design
from ipsbayes.present import Presentation
from ipsbayes.priors import PriorSet


class CaceSpec(ModelSpec):
    """``[model]`` table of ``kind = "cace"``."""

    kind: Literal["cace"] = "cace"
    outcome: str
    outcome_family: Literal["bernoulli", "binomial", "beta_binomial"] = "bernoulli"
    trials: int | None = Field(None, ge=1, description="number of trials for count outcomes (12 months)")
    count_unit: str = Field("months", description="what one trial is, for labels")
    assignment: str = "assigned_ips"
    receipt: str = "received_ips"
    compliance_covariates: list[str] = Field(default_factory=list)
    outcome_covariates: list[str] = Field(default_factory=list)
    exclusion_restriction: bool = True
    outcome_label: str | None = None

    @model_validator(mode="after")
    def _trials(self) -> CaceSpec:
        if self.outcome_family != "bernoulli" and self.trials is None:
            raise ValueError(f"outcome_family '{self.outcome_family}' needs 'trials' (e.g. trials = 12 months)")
        if self.outcome_family == "bernoulli" and self.trials not in (None, 1):
            raise ValueError("a bernoulli outcome has one trial; use outcome_family = 'binomial' for counts")
        return self

    @property
    def is_count(self) -> bool:
        """True for binomial and beta-binomial outcomes."""
        return self.outcome_family != "bernoulli"


def _outcome_logp(family: str, value: Any, eta: Any, trials: int, kappa: Any) -> Any:
    if family == "bernoulli":
        return pm.logp(pm.Bernoulli.dist(logit_p=eta), value)
    if family == "binomial":
        return pm.logp(pm.Binomial.dist(n=trials, logit_p=eta), value)
    mu = pm.math.sigmoid(eta)
    return pm.logp(pm.BetaBinomial.dist(n=trials, alpha=mu * kappa, beta=(1 - mu) * kappa), value)


def _principal_strata_logp(family: str, trials: int):
    """Per-participant log-likelihood: observed strata in the IPS arm, a mixture in the control arm."""

    def logp(value, logit_pi, eta_c0, eta_c1, eta_n0, eta_n1, kappa, z, d):
        log_pi, log_not_pi = pt.log(pt.sigmoid(logit_pi)), pt.log(pt.sigmoid(-logit_pi))
        treated = pt.switch(
            pt.eq(d, 1),
            log_pi + _outcome_logp(family, value, eta_c1, trials, kappa),
            log_not_pi + _outcome_logp(family, value, eta_n1, trials, kappa),
        )
        control = pt.logaddexp(
            log_pi + _outcome_logp(family, value, eta_c0, trials, kappa),
            log_not_pi + _outcome_logp(family, value, eta_n0, trials, kappa),
        )
        return pt.switch(pt.eq(z, 1), treated, control)

    return logp


def _principal_strata_random(family: str, trials: int):
    """Draw outcomes given parameters: IPS-arm strata as observed, control-arm strata drawn."""

    def random(logit_pi, eta_c0, eta_c1, eta_n0, eta_n1, kappa, z, d, rng=None, size=None):
        shape = np.broadcast_shapes(*(np.shape(a) for a in (logit_pi, eta_c0, z))) if size is None else size
        complier = np.where(np.asarray(z) == 1, np.asarray(d), rng.random(shape) < expit(logit_pi))
        eta = np.where(complier, np.where(z == 1, eta_c1, eta_c0), np.where(z == 1, eta_n1, eta_n0))
        mu = expit(eta)
        if family == "bernoulli":
            return rng.binomial(1, mu, size=shape)
        if family == "binomial":
            return rng.binomial(trials, mu, size=shape)
        return rng.binomial(trials, rng.beta(mu * kappa, (1 - mu) * kappa, size=shape))

    return random


class Cace(ModelFamily):
    """Bayesian principal stratification for one-sided noncompliance."""

    kind = "cace"
    title = "Complier average causal effect under one-sided noncompliance"
    spec_schema = CaceSpec
    prior_names: ClassVar[dict[str, str]] = {
        "compliance_intercept": "log-odds of being a complier at average covariates",
        "compliance_beta": "log-odds change in compliance per SD of a covariate",
        "complier_control_intercept": "log-odds of the outcome for compliers under usual follow-up",
        "never_taker_intercept": "log-odds of the outcome for never-takers",
        "treatment_effect": "log-odds effect of IPS for compliers (the CACE on the log-odds scale)",
        "outcome_beta": "log-odds change in the outcome per SD of a covariate",
        "never_taker_arm_effect": "log-odds effect of assignment on never-takers (0 under the exclusion restriction)",
        "concentration": "beta-binomial concentration (smaller = more overdispersed counts)",
    }
    key_parameters = ("treatment_effect",)

    @override
    def prior_names_for(self, spec: CaceSpec) -> dict[str, str]:
        names = dict(self.prior_names)
        if not spec.compliance_covariates:
            names.pop("compliance_beta")
        if not spec.outcome_covariates:
            names.pop("outcome_beta")
        if spec.exclusion_restriction:
            names.pop("never_taker_arm_effect")
        if spec.outcome_family != "beta_binomial":
            names.pop("concentration")
        return names

    @override
    def estimand_names(self, spec: CaceSpec) -> dict[str, str]:
        unit, rate = (spec.count_unit, spec.count_unit) if spec.is_count else ("pp", "%")
        return {
            "cace": unit,
            "cace_ratio": "ratio",
            "itt": unit,
            "per_protocol": unit,
            "per_protocol_bias": unit,
            "complier_share": "%",
            "complier_rate_usual": rate,
            "complier_rate_ips": rate,
            "never_taker_rate": rate,
            "control_rate": rate,
            "treatment_rate": rate,
        }

    @override
    def prepare(self, bundle: DataBundle, spec: CaceSpec, config: RunConfig) -> ModelData:
        table = bundle.participants
        covariates = list(dict.fromkeys([*spec.compliance_covariates, *spec.outcome_covariates]))
        needed = [spec.assignment, spec.receipt, spec.outcome, *covariates]
        raise_if(missing_columns(table, needed, "used by the CACE model"), "Data do not match the CACE model")
        problems = non_binary(table, spec.assignment)
        frame = table.frame
        if not problems:
            z = frame[spec.assignment]
            missing_receipt = (z == 1) & frame[spec.receipt].isna()
            if missing_receipt.any():
                problems.append(
                    f"{table.where}: column '{spec.receipt}' is missing for participants assigned to IPS at "
                    f"{example_rows(missing_receipt)}; receipt must be known in the IPS arm"
                )
            frame.loc[(z == 0) & frame[spec.receipt].isna(), spec.receipt] = 0
        problems += handle_missing(table, [spec.outcome, *covariates], config.data.missing, bundle)
        raise_if(problems, "The data cannot be used as they are")
        frame = table.frame
        problems += non_binary(table, spec.receipt)
        problems += self._outcome_problems(table, spec)
        raise_if(problems, "The data cannot be used as they are")
        frame = table.frame
        z, d = frame[spec.assignment].to_numpy(int), frame[spec.receipt].to_numpy(int)
        violated = (z == 0) & (d == 1)
        if violated.any():
            problems.append(
                f"{table.where}: {int(violated.sum())} participant(s) assigned to usual follow-up are recorded as "
                f"receiving IPS ('{spec.receipt}' = 1 with '{spec.assignment}' = 0) at {example_rows(violated)}. "
                "The one-sided noncompliance assumption (controls cannot get IPS) is violated; check these rows or "
                "use a model with always-takers"
            )
        for arm, label in ((1, "IPS"), (0, "usual follow-up")):
            if not (z == arm).any():
                problems.append(f"{table.where}: no participants assigned to {label} ('{spec.assignment}' = {arm})")
        if (z == 1).any() and not d[z == 1].any():
            problems.append(
                f"{table.where}: nobody assigned to IPS received it ('{spec.receipt}' is 0 for all "
                f"{int((z == 1).sum())}); the CACE is not identified"
            )
        problems += constant_columns(table, covariates)
        raise_if(problems, "The data cannot be used as they are")
        return self._arrays(frame, spec, z, d, bundle)

    @staticmethod
    def _outcome_problems(table: Any, spec: CaceSpec) -> list[str]:
        if not spec.is_count:
            return non_binary(table, spec.outcome)
        values = pd.to_numeric(table.frame[spec.outcome], errors="coerce")
        bad = values.isna() | (values < 0) | (values > spec.trials) | (values % 1 != 0)
        if bad.any():
            return [
                f"{table.where}: column '{spec.outcome}' must be a whole number from 0 to {spec.trials}; "
                f"found {table.frame[spec.outcome][bad].iloc[0]!r} at {example_rows(bad)}"
            ]
        return []

    def _arrays(
        self, frame: pd.DataFrame, spec: CaceSpec, z: np.ndarray, d: np.ndarray, bundle: DataBundle
    ) -> ModelData:
        compliance = Design(" + ".join(spec.compliance_covariates), frame) if spec.compliance_covariates else None
        outcome = Design(" + ".join(spec.outcome_covariates), frame) if spec.outcome_covariates else None
        n = len(frame)
        y = frame[spec.outcome].to_numpy(int)
        ids = frame["participant_id"].astype(str).tolist() if "participant_id" in frame else list(range(n))
        arrays = {
            "y": y,
            "z": z,
            "d": d,
            "W": compliance.matrix() if compliance else np.zeros((n, 0)),
            "X": outcome.matrix() if outcome else np.zeros((n, 0)),
        }
        coords = {
            "participant": ids,
            "compliance_term": compliance.labels if compliance else [],
            "outcome_term": outcome.labels if outcome else [],
        }
        scale = spec.trials if spec.is_count else 1
        treated_receivers = (z == 1) & (d == 1)
        observed = {
            "n_ips_arm": int((z == 1).sum()),
            "n_control_arm": int((z == 0).sum()),
            "n_received": int(treated_receivers.sum()),
            "mean_ips_arm": float(y[z == 1].mean() / scale),
            "mean_control_arm": float(y[z == 0].mean() / scale),
            "mean_received": float(y[treated_receivers].mean() / scale),
        }
        info = {
            "observed": observed,
            "outcome_label": spec.outcome_label or spec.outcome.replace("_", " "),
            "trials": scale,
            "count_unit": spec.count_unit if spec.is_count else "pp",
        }
        dropped = sum(bundle.dropped_rows.values())
        notes = [f"Rows dropped for missing values: {bundle.dropped_rows}."] if dropped else []
        return ModelData(coords=coords, arrays=arrays, info=info, n_rows=n, notes=notes)

    @override
    def build(self, data: ModelData, spec: CaceSpec, priors: PriorSet) -> pm.Model:
        arrays = data.arrays
        with pm.Model(coords=data.coords) as model:
            d = model_data(
                arrays,
                {
                    "W": ("participant", "compliance_term"),
                    "X": ("participant", "outcome_term"),
                    "y": ("participant",),
                    "z": ("participant",),
                    "d": ("participant",),
                },
            )
            logit_pi = priors["compliance_intercept"].create("compliance_intercept")
            if arrays["W"].shape[1]:
                gamma = priors["compliance_beta"].create("compliance_beta", dims="compliance_term")
                logit_pi = logit_pi + pm.math.dot(d["W"], gamma)
            linear = 0.0
            if arrays["X"].shape[1]:
                linear = pm.math.dot(d["X"], priors["outcome_beta"].create("outcome_beta", dims="outcome_term"))
            a_c = priors["complier_control_intercept"].create("complier_control_intercept")
            tau = priors["treatment_effect"].create("treatment_effect")
            a_n = priors["never_taker_intercept"].create("never_taker_intercept")
            delta = 0.0
            if not spec.exclusion_restriction:
                delta = priors["never_taker_arm_effect"].create("never_taker_arm_effect")
            kappa = priors["concentration"].create("concentration") if spec.outcome_family == "beta_binomial" else 1.0
            ones = pt.ones_like(d["z"], dtype="float64")
            eta_c0, eta_n0 = (a_c + linear) * ones, (a_n + linear) * ones
            trials = spec.trials or 1
            pm.CustomDist(
                spec.outcome,
                logit_pi * ones,
                eta_c0,
                eta_c0 + tau,
                eta_n0,
                eta_n0 + delta,
                kappa * ones,
                d["z"],
                d["d"],
                logp=_principal_strata_logp(spec.outcome_family, trials),
                random=_principal_strata_random(spec.outcome_family, trials),
                observed=d["y"],
                dims="participant",
                dtype="int64",
            )
        return model

    @override
    def describe(self, spec: CaceSpec, data: ModelData, language: str = "en") -> str:
        return describe_cace(spec, data, language)

    @override
    def replicate_data(
        self,
        spec: CaceSpec,
        prior: xr.Dataset,
        prior_predictive: xr.Dataset,
        data: ModelData,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        # treatment receipt is part of the generative process: simulate strata, receipt and outcome together
        return _replicate_cace(spec, prior, data, rng)

    @override
    def presentation(self) -> Presentation:
        from ipsbayes.models.cace_report import PRESENTATION

        return PRESENTATION

    @override
    def estimands(self, posterior: xr.Dataset, data: ModelData, spec: CaceSpec, config: RunConfig) -> xr.Dataset:
        draws = _StrataDraws(posterior, data, spec)
        pi, w = draws.pi, draws.pi.sum(axis=1)
        complier_c0 = (pi * draws.mu_c0).sum(axis=1) / w
        complier_c1 = (pi * draws.mu_c1).sum(axis=1) / w
        control_all = (pi * draws.mu_c0 + (1 - pi) * draws.mu_n0).mean(axis=1)
        treated_all = (pi * draws.mu_c1 + (1 - pi) * draws.mu_n1).mean(axis=1)
        never_taker = ((1 - pi) * draws.mu_n0).sum(axis=1) / (1 - pi).sum(axis=1)
        count = spec.is_count
        scale, unit, rate_unit = (spec.trials, spec.count_unit, spec.count_unit) if count else (100.0, "pp", "%")
        label = data.info["outcome_label"]
        wrap = lambda values: unstack_draws(np.asarray(values), posterior)  # noqa: E731
        out = xr.Dataset()
        out["cace"] = estimand(
            wrap(scale * (complier_c1 - complier_c0)),
            f"CACE: effect of receiving IPS on {label} for compliers",
            unit,
            headline=True,
        )
        out["cace_ratio"] = estimand(
            wrap(complier_c1 / complier_c0),
            "CACE as a ratio (compliers: IPS / usual)",
            "ratio",
            null=1.0,
            headline=True,
        )
        out["itt"] = estimand(
            wrap(scale * (treated_all - control_all)),
            "ITT: effect of being offered IPS (everyone randomised)",
            unit,
            headline=True,
        )
        out["per_protocol"] = estimand(
            wrap(scale * (complier_c1 - control_all)),
            "Naive per-protocol: received IPS vs all controls (confounded)",
            unit,
            headline=True,
            note="compares compliers under IPS with compliers and never-takers under usual follow-up",
        )
        out["per_protocol_bias"] = estimand(
            wrap(scale * (complier_c0 - control_all)),
            "Per-protocol minus CACE (bias from never-takers in the control arm)",
            unit,
        )
        out["complier_share"] = estimand(
            wrap(100 * pi.mean(axis=1)), "Share of compliers", "%", null=None, headline=True
        )
        out["complier_rate_usual"] = estimand(
            wrap(scale * complier_c0), "Compliers under usual follow-up", rate_unit, null=None
        )
        out["complier_rate_ips"] = estimand(wrap(scale * complier_c1), "Compliers under IPS", rate_unit, null=None)
        out["never_taker_rate"] = estimand(
            wrap(scale * never_taker), "Never-takers (usual follow-up)", rate_unit, null=None
        )
        out["control_rate"] = estimand(
            wrap(scale * control_all), "Everyone assigned to usual follow-up", rate_unit, null=None
        )
        out["treatment_rate"] = estimand(wrap(scale * treated_all), "Everyone assigned to IPS", rate_unit, null=None)
        obs = data.info["observed"]
        observed = {
            "observed_itt": (
                scale * (obs["mean_ips_arm"] - obs["mean_control_arm"]),
                "Observed difference by arm (ITT)",
            ),
            "observed_per_protocol": (
                scale * (obs["mean_received"] - obs["mean_control_arm"]),
                "Observed received-IPS minus control (per-protocol)",
            ),
            "observed_wald_cace": (
                scale * (obs["mean_ips_arm"] - obs["mean_control_arm"]) / (obs["n_received"] / obs["n_ips_arm"]),
                "Wald/IV estimate: observed ITT / share receiving IPS",
            ),
        }
        # "participants": the smallest group an observed value rests on (small-cell protection in reports)
        smallest = {
            "observed_itt": min(obs["n_ips_arm"], obs["n_control_arm"]),
            "observed_per_protocol": min(obs["n_received"], obs["n_control_arm"]),
            "observed_wald_cace": min(obs["n_received"], obs["n_control_arm"]),
        }
        for name, (value, text) in observed.items():
            out[name] = xr.DataArray(value, attrs={"label": text, "unit": unit, "participants": smallest[name]})
        for name, key, text, n in (
            ("observed_rate_control_arm", "mean_control_arm", "usual follow-up arm", obs["n_control_arm"]),
            ("observed_rate_ips_arm", "mean_ips_arm", "IPS arm", obs["n_ips_arm"]),
            ("observed_rate_received", "mean_received", "received IPS", obs["n_received"]),
        ):
            out[name] = xr.DataArray(
                scale * obs[key], attrs={"label": f"Observed outcome, {text}", "unit": rate_unit, "participants": n}
            )
        out.attrs["vocabulary"] = json.dumps({"outcome": label})
        return out


def _replicate_cace(
    spec: CaceSpec, prior: xr.Dataset, data: ModelData, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Simulate strata, receipt and outcomes from one prior draw (the model's full generative process)."""
    draws = _StrataDraws(prior, data, spec)
    z = data.arrays["z"]
    complier = rng.random(z.shape) < draws.pi[0]
    mu = np.where(
        complier, np.where(z == 1, draws.mu_c1[0], draws.mu_c0[0]), np.where(z == 1, draws.mu_n1[0], draws.mu_n0[0])
    )
    if spec.outcome_family == "bernoulli":
        y = rng.binomial(1, mu)
    elif spec.outcome_family == "binomial":
        y = rng.binomial(spec.trials, mu)
    else:
        kappa = float(prior["concentration"].values.ravel()[0])
        y = rng.binomial(spec.trials, rng.beta(mu * kappa, (1 - mu) * kappa))
    return {"y": y.astype(np.int64), "d": (z * complier).astype(np.int64)}


class _StrataDraws:
    """Per-draw, per-participant compliance probabilities and stratum-specific outcome means."""

    def __init__(self, posterior: xr.Dataset, data: ModelData, spec: CaceSpec) -> None:
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
        self.pi = expit(logit_pi)
        self.mu_c0 = expit(eta_c0)
        self.mu_c1 = expit(eta_c0 + get("treatment_effect")[:, None])
        self.mu_n0 = expit(eta_n0)
        self.mu_n1 = expit(eta_n0 + get("never_taker_arm_effect")[:, None])


register(Cace())
