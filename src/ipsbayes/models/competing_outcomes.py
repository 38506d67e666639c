"""Competing outcomes at 12 months: none, work, apprenticeship or education, participants in services.

A sequential (hurdle) categorical model. For participant *i* in service *s*::

    logit P(any outcome)                  = a_0 + X_i b_0 + u_s0
    log P(k) / P(reference) | any outcome = a_k + X_i b_k + u_sk       (k = apprenticeship, education)
    u_s = L z_s,  z_s ~ Normal(0, I),  L L' = diag(sd) R diag(sd),  R ~ LKJ(eta)

so ``P(none) = 1 - P(any)`` and ``P(k) = P(any) * softmax_k``. The first equation
is a binary logistic model of reaching any outcome, like the hierarchical logistic
family's, but with this config's predictors and service effects only (no job
specialists or fidelity slope unless the formula has them), so the two agree only
as far as their configs do. The service effects of the equations are correlated
(a service good at getting people into work may or may not be good at education). Optionally the
coefficients of each equation share a scale with its own prior (hierarchical
shrinkage), which regularises when predictors are many.
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
from ipsbayes.data import DataBundle, example_rows, raise_if
from ipsbayes.data_checks import (
    constant_columns,
    dropped_rows_note,
    handle_missing,
    merge_service_columns,
    missing_columns,
    unmatched_keys,
    varying_within,
)
from ipsbayes.models.base import (
    ModelData,
    ModelFamily,
    ModelSpec,
    estimand,
    model_data,
    natural_key,
    observed_name,
    register,
)
from ipsbayes.models.categorical_predict import CategoricalPredictor, categorical_estimands, category_words
from ipsbayes.models.design import Design, parse_formula
from ipsbayes.present import Presentation
from ipsbayes.priors import PriorSet
from ipsbayes.textutil import code_span, escape_md


def outcome_logp(value: Any, log_p: Any) -> Any:
    """Log-probability of each observed category: the normalised ``log_p`` (rows, categories) at its code.

    ``pm.Categorical(logit_p=log_p)`` would normalise ``log_p`` again (a softmax per row) and check that
    the probabilities sum to one; the model's ``log_p`` is normalised by construction, and picking the
    observed entry costs a quarter less per gradient (0.15 against 0.20 ms at 1,500 participants;
    ``benchmarks/outcomes_likelihood.py``). Codes are 0..K-1: the data check rejects any other label
    before a model is built.
    """
    return pt.take_along_axis(log_p, value[..., None], axis=-1)[..., 0]


def outcome_random(
    log_p: np.ndarray, rng: np.random.Generator | None = None, size: tuple[int, ...] | None = None
) -> np.ndarray:
    """Category codes drawn from normalised log-probabilities (prior and posterior predictive), in numpy.

    NumPy draws need no compiling: ``pm.Categorical`` draws compiled with numba in every process
    (0.4-0.6 s), and PyTensor's C backend draws them in a Python loop over rows.
    """
    rng = rng if rng is not None else np.random.default_rng()
    probabilities = np.exp(log_p - log_p.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    if size is not None:
        probabilities = np.broadcast_to(probabilities, (*tuple(size), probabilities.shape[-1]))
    cumulative = np.cumsum(probabilities, axis=-1)
    u = rng.random(cumulative.shape[:-1])
    codes = (u[..., None] >= cumulative).sum(axis=-1)
    return np.minimum(codes, cumulative.shape[-1] - 1).astype(np.int64)


class CompetingOutcomesSpec(ModelSpec):
    """``[model]`` table of ``kind = "competing_outcomes"``."""

    kind: Literal["competing_outcomes"] = "competing_outcomes"
    formula: str = Field(description="outcome ~ predictors + (1 | service)")
    service: str = "service"
    categories: list[str] = Field(
        default_factory=lambda: ["none", "work", "apprenticeship", "education"],
        description="outcome labels: the first is 'no outcome', the second the reference among outcomes",
    )
    service_predictors: list[str] = Field(default_factory=list)
    standardize: bool = True
    shrinkage: bool = Field(True, description="hierarchical scale per equation for the coefficients")
    focus: str | None = Field("education", description="category whose drivers the report ranks")
    outcome_label: str | None = None

    @model_validator(mode="after")
    def _categories(self) -> CompetingOutcomesSpec:
        if len(self.categories) < 3 or len(set(self.categories)) != len(self.categories):
            raise ValueError("categories: give at least three distinct labels (no outcome, reference, others)")
        if self.focus is not None and self.focus not in self.categories:
            raise ValueError(f"focus '{self.focus}' is not one of the categories {self.categories}")
        return self

    @property
    def equations(self) -> list[str]:
        """Reach equation, then one per non-reference outcome."""
        reference = self.categories[1]
        return ["reach", *[f"{k}_vs_{reference}" for k in self.categories[2:]]]


class CompetingOutcomes(ModelFamily):
    """Sequential categorical model with correlated service effects (LKJ)."""

    kind = "competing_outcomes"
    title = "Competing outcomes: none, work, apprenticeship or education (sequential categorical model)"
    spec_schema = CompetingOutcomesSpec
    prior_names: ClassVar[dict[str, str]] = {
        "category_intercept": "log-odds intercept of each equation (reach; each outcome vs the reference)",
        "beta": "log-odds coefficient per SD or category (used when shrinkage = false)",
        "coef_scale": "scale of the coefficients within an equation (shrinkage = true)",
        "sd_service": "SD of service effects in each equation (log-odds); a positive distribution",
        "corr_service": "LKJ prior on the correlation of service effects across equations (eta)",
    }
    key_parameters = ("service_sd", "service_correlation")
    #: the estimands are probabilities computed from the parameters: prior draws of the outcome are not needed
    prior_draws_only = True

    @override
    def check_spec(self, spec: CompetingOutcomesSpec, where: str) -> list[str]:
        parts, problems = parse_formula(spec.formula)
        if parts is not None and parts.groups != [(spec.service,)]:
            problems.append(f"model.formula: the only group term must be '(1 | {spec.service})'")
        return problems

    @override
    def prior_names_for(self, spec: CompetingOutcomesSpec) -> dict[str, str]:
        names = dict(self.prior_names)
        names.pop("beta" if spec.shrinkage else "coef_scale")
        return names

    @override
    def estimand_names(self, spec: CompetingOutcomesSpec) -> dict[str, str]:
        return {
            "category_share": "%",
            "service_share": "%",
            "ame": "pp",
            "log_odds_per_unit": "log-odds",
            "service_sd": "SD (log-odds)",
            "service_correlation": "correlation",
            "focus_ame": "pp",
        }

    @override
    def prepare(self, bundle: DataBundle, spec: CompetingOutcomesSpec, config: RunConfig) -> ModelData:
        parts, _ = parse_formula(spec.formula)
        participants, services = bundle.participants, bundle.services
        service_cols = set(services.frame.columns) if services is not None else set()
        from_services = [v for v in parts.variables if v in service_cols and v not in participants.frame.columns]
        needs = [parts.response, spec.service, *[v for v in parts.variables if v not in from_services]]
        problems = missing_columns(participants, dict.fromkeys(needs), "used by the model")
        raise_if(problems, "Data do not match the competing-outcomes model")
        problems = handle_missing(participants, needs, config.data.missing, bundle)
        if services is not None:
            problems += handle_missing(services, [spec.service, *from_services], "error", bundle)
            problems += unmatched_keys(participants, services, spec.service)
        raise_if(
            problems, "The data cannot be used as they are"
        )  # a missing outcome is named before its labels are read
        labels = participants.frame[parts.response].astype(str)
        unknown = ~labels.isin(spec.categories)
        if unknown.any():
            problems.append(
                f"{participants.where}: column '{parts.response}' has label(s) "
                f"{', '.join(sorted(set(labels[unknown]))[:5])} not in the declared outcome set "
                f"{spec.categories} at {example_rows(unknown)}; add them to model.categories or recode"
            )
        empty = [c for c in spec.categories if not (labels == c).any()]
        if empty and not unknown.any():
            problems.append(
                f"{participants.where}: no participant has outcome {', '.join(empty)}; "
                "drop the category from model.categories"
            )
        raise_if(problems, "The data cannot be used as they are")
        frame = merge_service_columns(bundle, spec.service, from_services)
        merged = type(participants)(frame, participants.path, participants.label)
        problems += constant_columns(merged, parts.variables)
        problems += varying_within(merged, spec.service, spec.service_predictors)
        raise_if(problems, "The data cannot be used as they are")
        design = Design(parts.rhs, frame, standardize=spec.standardize, where=participants.where)
        service_ids = frame[spec.service].astype(str)
        services_list = sorted(service_ids.unique(), key=natural_key)
        service_idx = pd.Categorical(service_ids, categories=services_list).codes.astype(np.int64)
        category = pd.Categorical(frame[parts.response].astype(str), categories=spec.categories).codes.astype(np.int64)
        n_services, n_categories = len(services_list), len(spec.categories)
        counts = np.zeros((n_services, n_categories))
        np.add.at(counts, (service_idx, category), 1.0)
        info = {
            "design": design,
            "frame": frame,
            "outcome_column": parts.response,
            "response": parts.response,  # the observed variable's name: final once the graph is built
            "spec_categories": spec.categories,
            "service_n": counts.sum(axis=1),
            "service_observed_share": counts / counts.sum(axis=1, keepdims=True),
            "outcome_label": spec.outcome_label or parts.response.replace("_", " "),
        }
        n_eq = len(spec.equations)
        coords = {
            "cholesky_element": [f"L[{i},{j}]" for i in range(n_eq) for j in range(i + 1)],
            "term": design.labels,
            "service": services_list,
            "equation": spec.equations,
            "equation_bis": spec.equations,
            "category": spec.categories,
        }
        arrays = {"X": design.matrix(), "service_idx": service_idx, "y": category}
        dropped = dropped_rows_note(bundle)  # a sentence naming the file, the columns and their first rows
        notes = [dropped] if dropped else []
        return ModelData(coords=coords, arrays=arrays, info=info, n_rows=len(frame), notes=notes)

    @override
    def build(self, data: ModelData, spec: CompetingOutcomesSpec, priors: PriorSet) -> pm.Model:
        n_eq = len(spec.equations)
        coords = {**data.coords, "obs": np.arange(len(data.arrays["y"]))}
        with pm.Model(coords=coords) as model:
            d = model_data(data.arrays, {"X": ("obs", "term"), "service_idx": ("obs",), "y": ("obs",)})
            alpha = priors["category_intercept"].create("category_intercept", dims="equation")
            eta = alpha[None, :]
            if len(data.coords["term"]):
                if spec.shrinkage:
                    scale = priors["coef_scale"].create("coef_scale", dims="equation")
                    z_beta = pm.Normal("z_beta", 0.0, 1.0, dims=("equation", "term"))
                    beta = pm.Deterministic("beta", scale[:, None] * z_beta, dims=("equation", "term"))
                else:
                    beta = priors["beta"].create("beta", dims=("equation", "term"))
                eta = eta + pt.dot(d["X"], beta.T)
            packed = pm.LKJCholeskyCov(
                "service_chol",
                n=n_eq,
                eta=priors["corr_service"].hyperparameter("corr_service", "eta"),
                sd_dist=priors["sd_service"].distribution("sd_service"),
                compute_corr=False,
                dims="cholesky_element",
            )
            chol = pm.math.expand_packed_triangular(n_eq, packed, lower=True)
            covariance = pt.dot(chol, chol.T)
            sds = pt.sqrt(pt.diag(covariance))
            pm.Deterministic("service_sd", sds, dims="equation")
            pm.Deterministic("service_corr", covariance / pt.outer(sds, sds), dims=("equation", "equation_bis"))
            z_service = pm.Normal("z_service", 0.0, 1.0, dims=("service", "equation"))
            effect = pm.Deterministic("service_effect", pt.dot(z_service, chol.T), dims=("service", "equation"))
            eta = eta + effect[d["service_idx"]]
            log_none = pt.log(pt.sigmoid(-eta[:, 0]))
            log_any = pt.log(pt.sigmoid(eta[:, 0]))
            stage_two = pt.concatenate([pt.zeros_like(eta[:, :1]), eta[:, 1:]], axis=1)
            log_which = stage_two - pt.logsumexp(stage_two, axis=1, keepdims=True)
            log_p = pt.concatenate([log_none[:, None], log_any[:, None] + log_which], axis=1)
            data.info["response"] = observed_name(data.info["outcome_column"], model)
            pm.CustomDist(
                data.info["response"],
                log_p,
                logp=outcome_logp,
                random=outcome_random,
                signature="(k)->()",
                dtype="int64",
                observed=d["y"],
                dims="obs",
            )
        return model

    @override
    def describe(self, spec: CompetingOutcomesSpec, data: ModelData, language: str = "en") -> str:
        none, reference = escape_md(spec.categories[0]), escape_md(spec.categories[1])  # data: escaped once
        others = ", ".join(f"'{escape_md(c)}'" for c in spec.categories[2:])
        n_services = len(data.coords["service"])
        response = code_span(data.info.get("outcome_column", data.info["response"]), in_table=False)  # the column
        formula = code_span(spec.formula, in_table=False)
        if language == "nb":
            return (
                f"Sekvensiell kategorisk modell av {response} for {data.n_rows} deltakere i {n_services} tjenester. "
                f"Først om en deltaker oppnår et utfall (mot '{none}'), logistisk; deretter, blant dem som gjør det, "
                f"hvilket ({others} mot '{reference}'), multinomisk logistisk. Formel: {formula} (de samme "
                "prediktorene i hver ligning). Tjenesteeffektene i ligningene er korrelerte, med en LKJ-prior på "
                "korrelasjonen, og ikke-sentrerte. "
                + (
                    "Koeffisientene i en ligning deler en skala med egen prior (hierarkisk krymping). "
                    if spec.shrinkage
                    else "Hver koeffisient har sin egen prior (ingen felles krymping). "
                )
                + "Andeler og effekter på sannsynlighetsskalaen er gjennomsnitt av modellens predikerte "
                "sannsynligheter over studiens deltakere, for hvert posteriortrekk. Den første ligningen er en "
                "binær logistisk modell for å oppnå et utfall, med denne konfigurasjonens prediktorer og bare "
                "tjenesteeffekter."
            )
        return (
            f"Sequential categorical model of {response} for {data.n_rows} participants in {n_services} services. "
            f"First, whether a participant reaches any outcome (vs '{none}'), logistic; then, among those who do, "
            f"which one ({others} vs '{reference}'), multinomial-logistic. Formula: {formula} (the same "
            "predictors in every equation). Service effects of the equations are correlated, with an LKJ prior on "
            "their correlation, and non-centred. "
            + (
                "Coefficients within an equation share a scale with its own prior (hierarchical shrinkage). "
                if spec.shrinkage
                else "Each coefficient has its own prior (no shared shrinkage). "
            )
            + "Shares and effects on the probability scale average the model's predicted probabilities over the "
            "study's participants, for every posterior draw. The first equation is a binary logistic model of "
            "reaching any outcome, with this config's predictors and service effects only."
        )

    @override
    def presentation(self) -> Presentation:
        from ipsbayes.models.competing_outcomes_report import PRESENTATION

        return PRESENTATION

    @override
    def estimands(
        self, posterior: xr.Dataset, data: ModelData, spec: CompetingOutcomesSpec, config: RunConfig
    ) -> xr.Dataset:
        predictor = CategoricalPredictor.from_posterior(posterior, data)
        report = config.report
        out = categorical_estimands(predictor, posterior, data, spec.focus, report.labels, report.language)
        out["service_sd"] = estimand(
            posterior["service_sd"],
            "SD of service effects per equation",
            "SD (log-odds)",
            null=None,
            label_nb="SD for tjenesteeffekter per ligning",
        )
        pairs = [(a, b) for i, a in enumerate(spec.equations) for b in spec.equations[i + 1 :]]
        corr = posterior["service_corr"]
        values = xr.concat([corr.sel(equation=a, equation_bis=b) for a, b in pairs], dim="pair")
        values = values.drop_vars(["equation", "equation_bis"], errors="ignore")
        values = values.assign_coords(pair=[f"{a} ~ {b}" for a, b in pairs]).transpose("chain", "draw", "pair")
        out["service_correlation"] = estimand(
            values,
            "Correlation of service effects between equations",
            "correlation",
            label_nb="Korrelasjon mellom tjenesteeffekter på tvers av ligninger",
            headline=True,
        )
        words = category_words(list(spec.categories), data.info["outcome_label"], report.labels, report.language)
        out.attrs["vocabulary"] = json.dumps(words)
        return out


register(CompetingOutcomes())
