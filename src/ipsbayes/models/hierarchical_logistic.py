"""Participants in services: hierarchical logistic regression of a binary outcome.

For participant *i* in service *s* (and, optionally, job specialist *k* within *s*)::

    logit P(y_i = 1) = a + X_i b + g (f_s - c) / per + sigma_s z_s + sigma_k u_k
    z_s, u_k ~ Normal(0, 1)                      (non-centred partial pooling)

Services whose data pin their intercept down are sampled in the centred form
instead (same posterior, better geometry; see :mod:`ipsbayes.models.pooling`), so
large services do not slow NUTS down; models with nested job specialists stay
non-centred unless the config asks for ``parameterisation = "centred"``.

``X`` holds the formula's participant- and service-level predictors (numeric
ones standardised), ``f_s`` is the service's fidelity score (IPS-25 by default)
and ``g`` the fidelity slope per ``per`` points. Participants with identical
predictors in the same service/specialist are collapsed into binomial counts
when that shrinks the likelihood (same posterior, fewer terms).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, override

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from pydantic import Field

from ipsbayes.config import RunConfig
from ipsbayes.data import (
    DataBundle,
    constant_columns,
    handle_missing,
    merge_service_columns,
    missing_columns,
    non_binary,
    not_nested,
    out_of_range,
    raise_if,
    unmatched_keys,
    varying_within,
)
from ipsbayes.models.base import ModelData, ModelFamily, ModelSpec, estimand, model_data, natural_key, register
from ipsbayes.models.collapse import collapse_if_useful
from ipsbayes.models.design import Design, parse_formula, split_terms
from ipsbayes.models.fidelity_reviews import (
    PRIOR_NAMES as REVIEW_PRIOR_NAMES,
)
from ipsbayes.models.fidelity_reviews import (
    latent_fidelity,
    plug_in_scores,
    review_arrays,
    review_table,
    unknown_review_services,
)
from ipsbayes.models.hierarchical_logistic_text import describe_hierarchical
from ipsbayes.models.pooling import (
    Parameterisation,
    choose_parameterisation,
    is_split,
    partially_centred,
    split_dims,
)
from ipsbayes.models.predict import LinearPredictor, logistic_estimands
from ipsbayes.present import Presentation
from ipsbayes.priors import PriorSet
from ipsbayes.scales import FidelitySpec

#: information n p (1 - p) above which ``auto`` centres a group (measured in benchmarks/parameterisation.py)
CENTRE_ABOVE = 25.0


class HierarchicalLogisticSpec(ModelSpec):
    """``[model]`` table of ``kind = "hierarchical_logistic"``."""

    kind: Literal["hierarchical_logistic"] = "hierarchical_logistic"
    formula: str = Field(description="outcome ~ predictors + (1 | service) [+ (1 | service:specialist)]")
    service: str = Field("service", description="column identifying the service")
    service_predictors: list[str] = Field(default_factory=list, description="columns constant within a service")
    fidelity: FidelitySpec | None = None
    standardize: bool = True
    collapse: Literal["auto", "always", "never"] = "auto"
    parameterisation: Parameterisation = Field(
        "auto",
        description="partial pooling of service and specialist intercepts: 'auto' centres the services whose data "
        "carry more information than centre_above and keeps the rest non-centred (all non-centred when job "
        "specialists are nested in services)",
    )
    centre_above: float = Field(
        CENTRE_ABOVE,
        gt=0,
        description="'auto': centre a service when n p (1 - p), its participants times the pooled rate times "
        "one minus it, exceeds this",
    )
    outcome_label: str | None = Field(None, description="plain-language name of the outcome for the report")


def group_structure(spec: HierarchicalLogisticSpec, groups: list[tuple[str, ...]]) -> tuple[str | None, list[str]]:
    """Return the nested (specialist) column implied by the group terms, and problems."""
    problems = []
    if not groups or groups[0] != (spec.service,):
        problems.append(
            f"model.formula: the first group term must be '(1 | {spec.service})' (participants in services); "
            f"got {' + '.join('(1 | ' + ':'.join(g) + ')' for g in groups) or 'no group term'}"
        )
    nested = None
    if len(groups) > 2:
        problems.append("model.formula: at most two group terms: services and job specialists within services")
    if len(groups) >= 2:
        second = groups[1]
        if len(second) == 2 and second[0] == spec.service:
            nested = second[1]
        elif len(second) == 1 and second[0] != spec.service:
            nested = second[0]
        else:
            problems.append(
                f"model.formula: the second group term must be '(1 | {spec.service}:specialist)' or '(1 | specialist)'"
            )
    return nested, problems


class HierarchicalLogistic(ModelFamily):
    """Hierarchical logistic regression with a service-level fidelity slope."""

    kind = "hierarchical_logistic"
    title = "Participants in services: hierarchical logistic model"
    spec_schema = HierarchicalLogisticSpec
    prior_names: ClassVar[dict[str, str]] = {
        "intercept": "log-odds of the outcome for reference levels, average predictors and centred fidelity",
        "beta": "log-odds change per SD of a numeric predictor or for a category vs its reference",
        "fidelity_slope": "log-odds change per `per` (10) fidelity points",
        "sd_service": "SD of service intercepts (log-odds)",
        "sd_specialist": "SD of job-specialist intercepts within services (log-odds)",
    }
    key_parameters = ("sd_service", "fidelity_slope", "beta")

    @override
    def check_spec(self, spec: HierarchicalLogisticSpec, where: str) -> list[str]:
        parts, problems = parse_formula(spec.formula)
        if parts is None:
            return problems
        problems += group_structure(spec, parts.groups)[1]
        if spec.fidelity is not None:
            terms = split_terms(parts.rhs)
            column = spec.fidelity.column
            if column not in terms:
                problems.append(f"model.formula: add the fidelity column '{column}' as a term of its own")
            elif any(column in t and t != column for t in terms):
                problems.append(f"model.formula: the fidelity column '{column}' may only enter as a main effect")
        return problems

    @override
    def prior_names_for(self, spec: HierarchicalLogisticSpec) -> dict[str, str]:
        parts, _ = parse_formula(spec.formula)
        nested = group_structure(spec, parts.groups)[0] if parts else None
        names = dict(self.prior_names)
        if spec.fidelity is None:
            names.pop("fidelity_slope")
        if nested is None:
            names.pop("sd_specialist")
        if spec.fidelity is not None and spec.fidelity.latent:
            names |= REVIEW_PRIOR_NAMES
        return names

    @override
    def estimand_names(self, spec: HierarchicalLogisticSpec) -> dict[str, str]:
        parts, _ = parse_formula(spec.formula)
        names = {
            "outcome_rate": "%",
            "ame": "pp",
            "odds_ratio": "OR",
            "log_odds_per_unit": "log-odds",
            "service_rate": "%",
            "sd_service": "SD (log-odds)",
            "median_odds_ratio": "MOR",
        }
        if spec.fidelity is not None:
            per = f"{spec.fidelity.per:g} {spec.fidelity.resolved_scale.name} points"
            names |= {
                "fidelity_slope": f"log-odds per {per}",
                "fidelity_odds_ratio": f"OR per {per}",
                "fidelity_contrast": "pp",
                "fidelity_curve": "%",
            }
        if parts is not None and group_structure(spec, parts.groups)[0]:
            names["sd_specialist"] = "SD (log-odds)"
        if spec.fidelity is not None and spec.fidelity.latent:
            names |= {"review_error_sd": "points", "fidelity_sd": "points", "fidelity_reliability": "share"}
        return names

    # ------------------------------------------------------------------ data
    @override
    def prepare(self, bundle: DataBundle, spec: HierarchicalLogisticSpec, config: RunConfig) -> ModelData:
        parts, _ = parse_formula(spec.formula)
        nested, _ = group_structure(spec, parts.groups)
        participants, services = bundle.participants, bundle.services
        fid = spec.fidelity
        from_reviews = fid is not None and fid.source == "reviews"
        variables = [v for v in parts.variables if not (from_reviews and v == fid.column)]
        service_cols = set(services.frame.columns) if services is not None else set()
        fidelity_column = [fid.column] if fid is not None and not from_reviews else []
        service_level = list(dict.fromkeys([*spec.service_predictors, *fidelity_column]))
        from_services = [
            v
            for v in dict.fromkeys([*variables, *service_level])
            if v in service_cols and v not in participants.frame.columns
        ]
        participant_needs = [
            parts.response,
            spec.service,
            *([nested] if nested else []),
            *[v for v in variables if v not in from_services],
        ]
        problems = missing_columns(participants, dict.fromkeys(participant_needs), "used by the model")
        if services is not None:
            problems += missing_columns(services, [spec.service], "service id")
        raise_if(problems, f"Data do not match models/{config.name}: columns")
        policy = config.data.missing
        problems += handle_missing(
            participants, [c for c in participant_needs if c in participants.frame], policy, bundle
        )
        if services is not None:
            problems += handle_missing(services, [spec.service, *from_services], "error", bundle)
            problems += unmatched_keys(participants, services, spec.service)
        problems += non_binary(participants, parts.response)
        reviews = None
        if from_reviews:
            reviews, review_problems = review_table(bundle, spec.service, fid)
            problems += review_problems
        raise_if(problems, "The data cannot be used as they are")
        frame = merge_service_columns(bundle, spec.service, from_services)
        merged = type(participants)(frame, participants.path, participants.label)
        problems += constant_columns(merged, variables)
        problems += varying_within(merged, spec.service, service_level)
        if nested:
            problems += not_nested(merged, nested, spec.service)
        if fid is not None and not from_reviews:
            scale = fid.resolved_scale
            target = services if fid.column in from_services else participants
            problems += out_of_range(target, fid.column, scale.minimum, scale.maximum, scale.name)
        if reviews is not None:
            known = set(frame[spec.service].astype(str))
            problems += unknown_review_services(reviews, spec.service, known)
            plug_in = plug_in_scores(reviews, spec.service, fid)
            unreviewed = sorted(known - set(plug_in.index), key=natural_key)
            if unreviewed and not fid.measurement_error:
                problems.append(
                    f"{reviews.where}: service(s) {', '.join(unreviewed[:5])} have no review; the plug-in analysis "
                    "needs a score for every service (the measurement-error model does not)"
                )
            frame[fid.column] = frame[spec.service].astype(str).map(plug_in)
        raise_if(problems, "The data cannot be used as they are")
        data = self._arrays(frame, spec, parts, nested, bundle)
        if reviews is not None:
            _add_reviews(data, reviews, spec, plug_in)
        return data

    def _arrays(
        self, frame: pd.DataFrame, spec: HierarchicalLogisticSpec, parts: Any, nested: str | None, bundle: DataBundle
    ) -> ModelData:
        fid = spec.fidelity
        rhs_terms = [t for t in split_terms(parts.rhs) if fid is None or t != fid.column]
        design = Design(" + ".join(rhs_terms) or "1", frame, standardize=spec.standardize)
        service_ids = frame[spec.service].astype(str)
        services = sorted(service_ids.unique(), key=natural_key)
        service_idx = pd.Categorical(service_ids, categories=services).codes.astype(np.int64)
        arrays: dict[str, np.ndarray] = {"X": design.matrix(), "service_idx": service_idx}
        coords: dict[str, Any] = {"term": design.labels, "service": services}
        info: dict[str, Any] = {
            "design": design,
            "frame": frame,
            "response": parts.response,
            "nested": nested,
            "outcome_label": spec.outcome_label or parts.response.replace("_", " "),
        }
        if nested:
            keys = service_ids + ":" + frame[nested].astype(str)
            specialists = sorted(keys.unique(), key=natural_key)
            arrays["specialist_idx"] = pd.Categorical(keys, categories=specialists).codes.astype(np.int64)
            coords["specialist"] = specialists
        if fid is not None and fid.source == "column":
            per_service = frame.groupby(service_ids)[fid.column].first().reindex(services).to_numpy(float)
            centre = fid.centre if fid.centre is not None else float(per_service.mean())
            arrays["fidelity"] = (per_service - centre) / fid.per
            info |= {"fidelity_raw": per_service, "fidelity_centre": centre}
        y = frame[parts.response].astype(int).to_numpy()
        arrays["y"] = y
        info["centred_groups"] = choose_parameterisation(arrays, coords, spec.parameterisation, spec.centre_above)
        info["service_n"] = np.bincount(service_idx, minlength=len(services))
        info["service_raw_rate"] = np.bincount(service_idx, weights=y, minlength=len(services)) / info["service_n"]
        data = ModelData(coords=coords, arrays=arrays, info=info, n_rows=len(frame))
        if sum(bundle.dropped_rows.values()):
            data.notes.append(f"Rows dropped for missing values: {bundle.dropped_rows}.")
        return collapse_if_useful(data, spec.collapse)

    # ----------------------------------------------------------------- model
    @override
    def build(self, data: ModelData, spec: HierarchicalLogisticSpec, priors: PriorSet) -> pm.Model:
        arrays = data.arrays
        coords = {**data.coords, "obs": np.arange(len(arrays["service_idx"]))}
        with pm.Model(coords=coords) as model:
            d = model_data(
                arrays,
                {
                    "X": ("obs", "term"),
                    "service_idx": ("obs",),
                    "specialist_idx": ("obs",),
                    "fidelity": ("service",),
                    "trials": ("obs",),
                    "y": ("obs",),
                    "review_score": ("review",),
                    "review_service_idx": ("review",),
                    "specialist_service_idx": ("specialist",),
                    **split_dims("service"),
                    **split_dims("specialist"),
                },
            )
            intercept = priors["intercept"].create("intercept")
            service_rows, service_theta = service_part(priors, d, intercept)
            eta = service_rows
            if len(data.coords["term"]):
                beta = priors["beta"].create("beta", dims="term")
                eta = eta + pm.math.dot(d["X"], beta)
            if "specialist_idx" in d:
                eta = eta + specialist_part(priors, d, service_theta)[d["specialist_idx"]]
            if "trials" in d:
                pm.Binomial(data.info["response"], n=d["trials"], logit_p=eta, observed=d["y"], dims="obs")
            else:
                pm.Bernoulli(data.info["response"], logit_p=eta, observed=d["y"], dims="obs")
        return model

    @override
    def replicate_data(
        self,
        spec: HierarchicalLogisticSpec,
        prior: xr.Dataset,
        prior_predictive: xr.Dataset,
        data: ModelData,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """The response and, where fidelity is measured with error, the review scores of one prior draw."""
        arrays = super().replicate_data(spec, prior, prior_predictive, data, rng)
        if "review_score_obs" in prior_predictive:
            scores = prior_predictive["review_score_obs"].values
            arrays["review_score"] = np.asarray(scores).reshape(data.arrays["review_score"].shape)
        return arrays

    @override
    def describe(self, spec: HierarchicalLogisticSpec, data: ModelData, language: str = "en") -> str:
        return describe_hierarchical(spec, data, language)

    @override
    def presentation(self) -> Presentation:
        from ipsbayes.models.hierarchical_logistic_report import PRESENTATION

        return PRESENTATION

    # ------------------------------------------------------------- estimands
    @override
    def estimands(
        self, posterior: xr.Dataset, data: ModelData, spec: HierarchicalLogisticSpec, config: RunConfig
    ) -> xr.Dataset:
        predictor = LinearPredictor.from_posterior(posterior, data)
        out = logistic_estimands(predictor, posterior, data, spec.fidelity, data.info["outcome_label"])
        out["sd_service"] = estimand(posterior["sd_service"], "SD of service effects", "SD (log-odds)", null=None)
        mor = np.exp(np.sqrt(2.0) * 0.6744897501960817 * posterior["sd_service"])
        out["median_odds_ratio"] = estimand(
            mor,
            "Median odds ratio between two random services",
            "MOR",
            null=None,
            note="odds ratio between the services of two similar participants, median over random pairs",
        )
        if "sd_specialist" in posterior:
            out["sd_specialist"] = estimand(
                posterior["sd_specialist"], "SD of job-specialist effects", "SD (log-odds)", null=None
            )
        if "review_error_sd" in posterior:
            out.update(_measurement_estimands(posterior, data, spec))
        out.attrs["vocabulary"] = json.dumps({"outcome": data.info["outcome_label"]})
        return out


def _measurement_estimands(
    posterior: xr.Dataset, data: ModelData, spec: HierarchicalLogisticSpec
) -> dict[str, xr.DataArray]:
    """Review error, spread of true fidelity and the reliability of one review, in scale points."""
    per, name = spec.fidelity.per, spec.fidelity.resolved_scale.name
    error, spread = posterior["review_error_sd"] * per, posterior["fidelity_sd"] * per
    latent = posterior["fidelity_latent"] * per + data.info["fidelity_centre"]
    return {
        "review_error_sd": estimand(error, f"SD of a review around the true {name} score", "points", null=None),
        "fidelity_sd": estimand(spread, f"SD of true {name} scores across services", "points", null=None),
        "fidelity_reliability": estimand(
            spread**2 / (spread**2 + error**2),
            "Reliability of a single review",
            "share",
            null=None,
            note="share of the variance of one review's score that is true differences between services",
        ),
        "service_fidelity_latent": estimand(latent, f"True {name} score per service", "points", null=None),
    }


def service_part(priors: PriorSet, d: dict[str, Any], intercept: Any) -> tuple[Any, Any]:
    """Service intercepts with the fidelity slope (observed or latent fidelity).

    Returns the rows' linear predictor so far and each service's intercept
    ``theta_s = intercept + slope * fidelity_s + service_effect_s``. Services are
    non-centred unless :func:`~ipsbayes.models.pooling.choose_parameterisation` centred some of them.
    """
    sd_service = priors["sd_service"].create("sd_service")
    split = is_split("service", d)
    if not split:
        z_service = pm.Normal("z_service", 0.0, 1.0, dims="service")
        service_effect = pm.Deterministic("service_effect", sd_service * z_service, dims="service")
    fidelity = latent_fidelity(priors, d) if "review_score" in d else d.get("fidelity")
    slope = priors["fidelity_slope"].create("fidelity_slope") if fidelity is not None else None
    if not split:
        service_eta = service_effect if slope is None else service_effect + slope * fidelity
        return intercept + service_eta[d["service_idx"]], intercept + service_eta
    mean = intercept if slope is None else intercept + slope * fidelity
    theta = partially_centred("service", mean, sd_service, d)
    pm.Deterministic("service_effect", theta - mean, dims="service")
    return theta[d["service_idx"]], theta


def specialist_part(priors: PriorSet, d: dict[str, Any], service_theta: Any) -> Any:
    """Job-specialist effects within services (non-centred unless some specialists are centred)."""
    sd_specialist = priors["sd_specialist"].create("sd_specialist")
    if not is_split("specialist", d):
        z_specialist = pm.Normal("z_specialist", 0.0, 1.0, dims="specialist")
        return pm.Deterministic("specialist_effect", sd_specialist * z_specialist, dims="specialist")
    parent = service_theta[d["specialist_service_idx"]]
    phi = partially_centred("specialist", parent, sd_specialist, d)
    return pm.Deterministic("specialist_effect", phi - parent, dims="specialist")


def _add_reviews(data: ModelData, reviews: Any, spec: HierarchicalLogisticSpec, plug_in: pd.Series) -> None:
    """Fidelity arrays from reviews: plug-in means, or review scores for the latent model."""
    fid = spec.fidelity
    services = data.coords["service"]
    scores = reviews.frame[fid.review_column].to_numpy(float)
    centre = fid.centre if fid.centre is not None else float(scores.mean())
    per_service = plug_in.reindex(services).to_numpy(float)
    data.info |= {"fidelity_raw": per_service, "fidelity_centre": centre, "n_reviews": len(scores)}
    if fid.measurement_error:
        data.arrays |= review_arrays(reviews, spec.service, fid, services, centre)
        data.coords["review"] = np.arange(len(scores))
        unreviewed = int(np.isnan(per_service).sum())
        data.notes.append(
            f"Fidelity: {len(scores)} reviews of {len(services) - unreviewed} services; true fidelity is latent "
            f"and measured with error by the reviews"
            + (
                f" ({unreviewed} services without a review take it from the population distribution)."
                if unreviewed
                else "."
            )
        )
    else:
        data.arrays["fidelity"] = (per_service - centre) / fid.per
        data.notes.append(
            f"Fidelity: mean of {len(scores)} review scores per service plugged in (no measurement error)."
        )


register(HierarchicalLogistic())
