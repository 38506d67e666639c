"""Complier average causal effect (CACE) under one-sided noncompliance (Imbens & Rubin 1997).

Participants are randomised to a treatment (``Z = 1``; IPS in the Raskt i jobb
trial) or control (``Z = 0``); only those assigned to treatment can receive it
(``D``). Each participant has a latent principal stratum: complier (would take the
treatment up if offered) or never-taker. In the treatment arm the stratum is
observed (``D``); in the control arm it is not, so the control-arm likelihood is a
two-component mixture, marginalised so NUTS can sample it::

    logit P(complier_i)        = g0 + W_i g                         (compliance model)
    outcome link, compliers    = a_c + X_i b + tau * Z_i            (tau: effect of the treatment)
    outcome link, never-takers = a_n + X_i b [+ delta * Z_i]

Under the exclusion restriction ``delta = 0`` (assignment alone does not change
never-takers' outcomes); switching it off gives ``delta`` a stated prior. The
outcome comes from an outcome family plug-in (:mod:`ipsbayes.families`): binary
(Bernoulli), a count of ``trials`` (binomial, beta-binomial; e.g. months employed of
12) or continuous (Gaussian, Student-t; e.g. a symptom score), with logit or identity
link. Treatment, control and outcome names come from the config's vocabulary.
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

from ipsbayes.config import RunConfig
from ipsbayes.config_problems import WholeNumber
from ipsbayes.data import DataBundle, example_rows, raise_if
from ipsbayes.data_checks import constant_columns, dropped_rows_note, handle_missing, missing_columns, non_binary
from ipsbayes.families import FAMILIES, OutcomeFamily
from ipsbayes.models.base import (
    ModelData,
    ModelFamily,
    ModelSpec,
    model_data,
    observed_name,
    register,
)
from ipsbayes.models.cace_strata import StrataDraws, replicate, strata_logp, strata_random
from ipsbayes.models.cace_text import describe_cace
from ipsbayes.models.design import Design
from ipsbayes.present import Presentation
from ipsbayes.prior_slots import PriorSlot
from ipsbayes.priors import Prior, PriorSet
from ipsbayes.textutil import decimal_commas


class CaceSpec(ModelSpec):
    """``[model]`` table of ``kind = "cace"``."""

    kind: Literal["cace"] = "cace"
    outcome: str
    outcome_family: str = Field("bernoulli", description="outcome family: " + ", ".join(FAMILIES))
    trials: WholeNumber | None = Field(None, ge=1, description="number of trials for count outcomes (12 months)")
    count_unit: str = Field("months", description="what one trial is, for labels")
    outcome_unit: str | None = Field(None, description="unit of a continuous outcome (e.g. 'points')")
    assignment: str = Field("assigned", description="0/1 column: assigned to the treatment")
    receipt: str = Field("received", description="0/1 column: received the treatment (0 for every control)")
    weights: str | None = Field(None, description="column: number of identical participants a row stands for")
    compliance_covariates: list[str] = Field(default_factory=list)
    outcome_covariates: list[str] = Field(default_factory=list)
    exclusion_restriction: bool = True
    outcome_label: str | None = None
    vocabulary: dict[str, str] = Field(
        default_factory=dict,
        description="words of the study: treatment, control (e.g. treatment = 'IPS', control = 'usual follow-up'), "
        "unit/units",
    )

    @model_validator(mode="after")
    def _trials(self) -> CaceSpec:
        if self.outcome_family not in FAMILIES:
            raise ValueError(f"unknown outcome_family '{self.outcome_family}'; valid: {', '.join(FAMILIES)}")
        family = FAMILIES[self.outcome_family]
        if family.needs_trials and self.trials is None:
            raise ValueError(f"outcome_family '{self.outcome_family}' needs 'trials' (e.g. trials = 12 months)")
        if not family.needs_trials and self.trials not in (None, 1):
            raise ValueError(f"a {self.outcome_family} outcome has no trials; use 'binomial' for counts")
        roles = {"outcome": self.outcome, "assignment": self.assignment, "receipt": self.receipt}
        if self.weights:
            roles["weights"] = self.weights
        shared = {column for column in roles.values() if list(roles.values()).count(column) > 1}
        if shared:
            keys = " and ".join(f"'{key}'" for key, column in roles.items() if column in shared)
            raise ValueError(
                f"{keys} name the same column ({', '.join(sorted(shared))}); outcome, assignment, receipt and "
                "weights must be different columns"
            )
        covariates = {*self.compliance_covariates, *self.outcome_covariates}
        clash = [f"'{key}' ({column})" for key, column in roles.items() if column in covariates]
        if clash:
            raise ValueError(
                f"{', '.join(clash)} also listed as a covariate; a covariate must be a characteristic measured "
                "before assignment, not the outcome, the assignment, the receipt or the weights"
            )
        return self

    @property
    def is_count(self) -> bool:
        """True for binomial and beta-binomial outcomes."""
        return FAMILIES[self.outcome_family].needs_trials

    @property
    def family(self) -> OutcomeFamily:
        """The outcome family plug-in."""
        return FAMILIES[self.outcome_family]

    @property
    def words(self) -> dict[str, str]:
        """Treatment, control and unit names (generic unless the config names them)."""
        defaults = {"treatment": "treatment", "control": "control", "unit": "participant", "units": "participants"}
        return defaults | dict(self.vocabulary)


class Cace(ModelFamily):
    """Bayesian principal stratification for one-sided noncompliance."""

    kind = "cace"
    title = "Complier average causal effect under one-sided noncompliance"
    spec_schema = CaceSpec
    prior_names: ClassVar[dict[str, str]] = {
        "compliance_intercept": "log-odds of being a complier at average covariates",
        "compliance_beta": "log-odds change in compliance per SD of a covariate",
        "complier_control_intercept": "outcome (link scale) for compliers under control",
        "never_taker_intercept": "outcome (link scale) for never-takers",
        "treatment_effect": "effect of the treatment for compliers on the link scale (the CACE on that scale)",
        "outcome_beta": "change in the outcome (link scale) per SD of a covariate",
        "never_taker_arm_effect": "effect of assignment on never-takers (0 under the exclusion restriction)",
    }
    key_parameters = ("treatment_effect",)
    #: location parameters of the outcome, with the parameter a prior "on the probability" is offset by
    OUTCOME_LOCATIONS: ClassVar[dict[str, str | None]] = {
        "complier_control_intercept": None,
        "never_taker_intercept": None,
        "treatment_effect": "complier_control_intercept",
        "never_taker_arm_effect": "never_taker_intercept",
    }

    @override
    def prior_names_for(self, spec: CaceSpec) -> dict[str, str]:
        names = dict(self.prior_names)
        if not spec.compliance_covariates:
            names.pop("compliance_beta")
        if not spec.outcome_covariates:
            names.pop("outcome_beta")
        if spec.exclusion_restriction:
            names.pop("never_taker_arm_effect")
        return names | dict(spec.family.aux)

    @override
    def prior_slots(self, spec: CaceSpec) -> dict[str, PriorSlot]:
        family = spec.family
        logit = family.link == "logit"
        scale = family.scale_name
        slots = {}
        for name, meaning in self.prior_names_for(spec).items():
            if name.startswith("compliance_"):
                slots[name] = PriorSlot(
                    meaning, "real", "log-odds", "logit", probability=name == "compliance_intercept"
                )
            elif name in family.aux:
                continue
            else:
                probability = logit and name in self.OUTCOME_LOCATIONS
                slots[name] = PriorSlot(meaning, "real", scale, family.link, probability, has_default=True)
        return slots | family.slots(spec.outcome_unit)

    @override
    def default_priors(self, spec: CaceSpec, data: ModelData) -> dict[str, Prior]:
        """Outcome priors scaled to the data (used when a prior set is stated on another link scale)."""
        family = spec.family
        trials = None if spec.trials is None else np.full(len(data.arrays["y"]), spec.trials)
        base = family.default_priors(data.arrays["y"], trials)
        _, spread = family.location_scale(data.arrays["y"], trials)
        effect = Prior(
            "Normal",
            {"mu": 0.0, "sigma": round(spread, 6)},
            f"default scaled to the data: effects within +/- 2 SD of the outcome ({spread:.4g}), 95%",
            source_nb=decimal_commas(
                f"standard skalert etter dataene: effekter innenfor +/- 2 SD av utfallet ({spread:.4g}), 95 %"
            ),
        )
        out = {
            "complier_control_intercept": base["intercept"],
            "never_taker_intercept": base["intercept"],
            "treatment_effect": effect if family.link != "logit" else base["beta"],
            "never_taker_arm_effect": effect if family.link != "logit" else base["beta"],
            "outcome_beta": base["beta"],
        }
        return out | {name: base[name] for name in family.aux}

    @override
    def vocabulary(self, spec: CaceSpec, data: ModelData | None = None) -> dict[str, str]:
        return spec.words | {"outcome": spec.outcome_label or spec.outcome.replace("_", " ")}

    def _difference_scale(self, spec: CaceSpec) -> dict[str, Any]:
        """Raw outcome difference -> reported difference: multiplier and unit (for the prior-data conflict check)."""
        report, unit, _ = self._units(spec)
        return {"difference_scale": report / (spec.trials if spec.is_count else 1), "difference_unit": unit}

    def _units(self, spec: CaceSpec) -> tuple[float, str, str]:
        """Scale from the family's mean to the reported number, unit of differences, unit of levels."""
        if spec.is_count:
            return float(spec.trials), spec.count_unit, spec.count_unit
        if spec.family.link == "logit":
            return 100.0, "pp", "%"
        unit = spec.outcome_unit or "outcome units"
        return 1.0, unit, unit

    @override
    def estimand_names(self, spec: CaceSpec) -> dict[str, str]:
        _, unit, rate = self._units(spec)
        return {
            "cace": unit,
            "cace_ratio": "ratio",
            "itt": unit,
            "per_protocol": unit,
            "per_protocol_bias": unit,
            "complier_share": "%",
            "complier_rate_control": rate,
            "complier_rate_treated": rate,
            "never_taker_rate": rate,
            "control_rate": rate,
            "treatment_rate": rate,
            **({"complier_rate_usual": rate, "complier_rate_ips": rate} if _ips(spec) else {}),
            **{name: "" for name in spec.family.aux},
        }

    @override
    def prepare(self, bundle: DataBundle, spec: CaceSpec, config: RunConfig) -> ModelData:
        table = bundle.participants
        words = spec.words
        treatment, control = words["treatment"], words["control"]
        covariates = list(dict.fromkeys([*spec.compliance_covariates, *spec.outcome_covariates]))
        needed = [spec.assignment, spec.receipt, spec.outcome, *covariates, *([spec.weights] if spec.weights else [])]
        raise_if(missing_columns(table, needed, "used by the CACE model"), "Data do not match the CACE model")
        problems = non_binary(table, spec.assignment)
        problems += non_binary(table, spec.receipt)  # text such as 'yes' is named before missing receipts are filled
        frame = table.frame
        unassigned = frame[spec.assignment].isna()
        if unassigned.any():  # whatever data.missing says: a randomised participant's arm is never guessed
            problems.append(
                f"{table.where}: column '{spec.assignment}' is missing at {example_rows(unassigned)}; every "
                f"participant's assigned arm (1 = {treatment}, 0 = {control}) must be known"
            )
        if not problems:
            z = frame[spec.assignment]
            missing_receipt = (z == 1) & frame[spec.receipt].isna()
            if missing_receipt.any():
                problems.append(
                    f"{table.where}: column '{spec.receipt}' is missing for participants assigned to {treatment} at "
                    f"{example_rows(missing_receipt)}; receipt must be known in the {treatment} arm"
                )
            frame.loc[(z == 0) & frame[spec.receipt].isna(), spec.receipt] = 0
        extra = [spec.weights] if spec.weights else []
        problems += handle_missing(table, [spec.outcome, *covariates, *extra], config.data.missing, bundle)
        raise_if(problems, "The data cannot be used as they are")
        frame = table.frame
        problems += non_binary(table, spec.receipt)
        problems += self._outcome_problems(table, spec)
        if spec.weights:
            weights = pd.to_numeric(frame[spec.weights], errors="coerce")
            bad = weights.isna() | (weights < 1) | (weights % 1 != 0)
            if bad.any():
                problems.append(
                    f"{table.where}: column '{spec.weights}' (participants per row) must hold whole numbers >= 1 "
                    f"at {example_rows(bad)}"
                )
        raise_if(problems, "The data cannot be used as they are")
        frame = table.frame
        z, d = frame[spec.assignment].to_numpy(int), frame[spec.receipt].to_numpy(int)
        violated = (z == 0) & (d == 1)
        if violated.any():
            problems.append(
                f"{table.where}: {int(violated.sum())} participant(s) assigned to {control} are recorded as "
                f"receiving {treatment} ('{spec.receipt}' = 1 with '{spec.assignment}' = 0) at "
                f"{example_rows(violated)}. The one-sided noncompliance assumption (controls cannot get {treatment}) "
                "is violated; check these rows or use a model with always-takers"
            )
        for arm, label in ((1, treatment), (0, control)):
            if not (z == arm).any():
                problems.append(f"{table.where}: no participants assigned to {label} ('{spec.assignment}' = {arm})")
        if (z == 1).any() and not d[z == 1].any():
            problems.append(
                f"{table.where}: nobody assigned to {treatment} received it ('{spec.receipt}' is 0 for all "
                f"{int((z == 1).sum())}); the CACE is not identified"
            )
        if (z == 1).any() and d[z == 1].all():
            problems.append(
                f"{table.where}: everybody assigned to {treatment} received it ('{spec.receipt}' is 1 for all "
                f"{int((z == 1).sum())}): there are no never-takers, so the CACE is the intention-to-treat effect and "
                "this model would describe never-takers from its priors alone; compare the two arms' outcomes instead"
            )
        problems += constant_columns(table, covariates)
        raise_if(problems, "The data cannot be used as they are")
        data = self._arrays(frame, spec, z, d, bundle)
        data.info["min_cell"] = config.report.min_cell  # the description's counts obey the small-cell limit
        return data

    @staticmethod
    def _outcome_problems(table: Any, spec: CaceSpec) -> list[str]:
        trials = np.full(len(table.frame), spec.trials) if spec.trials else None
        return spec.family.check_response(table.frame[spec.outcome], trials, table.where, spec.outcome)

    def _arrays(
        self, frame: pd.DataFrame, spec: CaceSpec, z: np.ndarray, d: np.ndarray, bundle: DataBundle
    ) -> ModelData:
        where = bundle.participants.where
        compliance = (
            Design(" + ".join(spec.compliance_covariates), frame, where=where) if spec.compliance_covariates else None
        )
        outcome = Design(" + ".join(spec.outcome_covariates), frame, where=where) if spec.outcome_covariates else None
        n = len(frame)
        y = spec.family.response(frame[spec.outcome])
        ids = frame["participant_id"].astype(str).tolist() if "participant_id" in frame else list(range(n))
        weights = frame[spec.weights].to_numpy(np.int64) if spec.weights else np.ones(n, np.int64)
        arrays = {
            "y": y,
            "z": z,
            "d": d,
            "W": compliance.matrix() if compliance else np.zeros((n, 0)),
            "X": outcome.matrix() if outcome else np.zeros((n, 0)),
        }
        if spec.weights:
            arrays["weights"] = weights
        coords = {
            "participant": ids,
            "compliance_term": compliance.labels if compliance else [],
            "outcome_term": outcome.labels if outcome else [],
        }
        scale = spec.trials if spec.is_count else 1
        treated_receivers = (z == 1) & (d == 1)

        def mean(mask: np.ndarray) -> float:
            return float(np.average(y[mask], weights=weights[mask]) / scale)

        observed = {
            "n_treatment_arm": int(weights[z == 1].sum()),
            "n_control_arm": int(weights[z == 0].sum()),
            "n_received": int(weights[treated_receivers].sum()),
            "mean_treatment_arm": mean(z == 1),
            "mean_control_arm": mean(z == 0),
            "mean_received": mean(treated_receivers),
        }
        info = {
            "observed": observed,
            "outcome_label": spec.outcome_label or spec.outcome.replace("_", " "),
            # what one unit of each compliance coefficient is (per SD, 1 vs 0, a level vs the reference level)
            "compliance_terms": compliance.term_meanings() if compliance else {},
            **self._difference_scale(spec),
        }
        dropped = dropped_rows_note(bundle)  # a sentence naming the file, the columns and their first rows
        notes = [dropped] if dropped else []
        if spec.weights:
            notes.append(f"{n} rows stand for {int(weights.sum())} participants (column '{spec.weights}').")
        return ModelData(coords=coords, arrays=arrays, info=info, n_rows=int(weights.sum()), notes=notes)

    @override
    def build(self, data: ModelData, spec: CaceSpec, priors: PriorSet) -> pm.Model:
        arrays = data.arrays
        family = spec.family
        with pm.Model(coords=data.coords) as model:
            d = model_data(
                arrays,
                {
                    "W": ("participant", "compliance_term"),
                    "X": ("participant", "outcome_term"),
                    "y": ("participant",),
                    "z": ("participant",),
                    "d": ("participant",),
                    "weights": ("participant",),
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
            tau = priors["treatment_effect"].create("treatment_effect", logit_offset=a_c)
            a_n = priors["never_taker_intercept"].create("never_taker_intercept")
            delta = 0.0
            if not spec.exclusion_restriction:
                delta = priors["never_taker_arm_effect"].create("never_taker_arm_effect", logit_offset=a_n)
            aux = [priors[name].create(name) for name in family.aux]
            ones = pt.ones_like(d["z"], dtype="float64")
            eta_c0, eta_n0 = (a_c + linear) * ones, (a_n + linear) * ones
            weight = d["weights"] if "weights" in d else ones
            data.info["response"] = observed_name(spec.outcome, model)
            pm.CustomDist(
                data.info["response"],
                logit_pi * ones,
                eta_c0,
                eta_c0 + tau,
                eta_n0,
                eta_n0 + delta,
                d["z"],
                d["d"],
                weight,
                *aux,
                logp=strata_logp(family, spec.trials),
                random=strata_random(family, spec.trials),
                observed=d["y"],
                dims="participant",
                dtype="int64" if family.integer else "float64",
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
        return replicate(spec.family, spec.trials, prior, data, rng)

    @override
    def presentation(self) -> Presentation:
        from ipsbayes.models.cace_report import PRESENTATION

        return PRESENTATION

    @override
    def estimands(self, posterior: xr.Dataset, data: ModelData, spec: CaceSpec, config: RunConfig) -> xr.Dataset:
        from ipsbayes.models.cace_estimands import cace_estimands

        out = cace_estimands(StrataDraws(posterior, data, spec.family), posterior, data, spec, self._units(spec))
        if _ips(spec):  # the names the IPS reports have always used, kept in posterior.nc; tables list them once
            out["complier_rate_usual"] = out["complier_rate_control"].assign_attrs(alias_of="complier_rate_control")
            out["complier_rate_ips"] = out["complier_rate_treated"].assign_attrs(alias_of="complier_rate_treated")
        for name, values in spec.family.estimands(posterior, spec.outcome_unit).items():
            out[name] = values
        # the config's own words only: a report falls back to its language's words for the rest
        out.attrs["vocabulary"] = json.dumps(dict(spec.vocabulary) | {"outcome": self.vocabulary(spec)["outcome"]})
        out.attrs["outcome_family"] = spec.outcome_family
        out.attrs["outcome_link"] = FAMILIES[spec.outcome_family].link
        out.attrs["response"] = data.info["response"]
        out.attrs["compliance_terms"] = json.dumps(data.info.get("compliance_terms", {}))
        return out


def _ips(spec: CaceSpec) -> bool:
    """An IPS trial config (its treatment is called IPS): keeps the estimand names its reports read."""
    return spec.words["treatment"] == "IPS"


register(Cace())
