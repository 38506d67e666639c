"""Time to first job, apprenticeship or education: a discrete-time competing-risks hazard model.

From monthly register status, each participant is followed month by month until
the first month in one of the configured target states (work, apprenticeship,
education, ...) or the last month followed (right-censoring). For participant *i*
(service *s*, job specialist *j*) at risk in month *t*, the chance of entering
target *k* that month, against staying without any target, is multinomial-logit::

    log h_ik(t) / h_i0(t) = b_k(t) + X_i beta_k + g_k (f_s - c) / per + u_sk [+ v_jk]
    b_k(t) = a_k + d_k (t - t_mid) / 12 + sd_baseline_k * (B z_k)(t)      (order-2 random walk)
    u_sk = sd_service_k * z_sk,  v_jk = sd_specialist_k * w_jk,  z, w ~ Normal(0, 1)

Targets compete: the first transition ends a participant's time at risk. The
baseline ``b_k`` is a smooth curve over months (a random walk of order 2, or 1, on
the log-odds, whose smoothness ``sd_baseline`` has its own prior; see
:mod:`ipsbayes.models.person_months`), the predictors are the formula's
participant- and service-level columns (numeric ones standardised), ``f_s`` the
service's fidelity score (IPS-25 by default) with slope ``g_k`` per ``per`` points,
and service (and job-specialist) effects are partially pooled, non-centred.
Person-months with the same predictors, service and specialist are collapsed
into a pattern x month table of counts (same likelihood, far fewer terms).
Estimands are on the users' scale: cumulative incidence of each target by month
(overall, per service, at chosen fidelity scores), the difference it makes at
6/12/24 months, median time to a first transition, and hazard odds ratios.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar, Literal, override

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pydantic import Field, model_validator

from ipsbayes.config import RunConfig
from ipsbayes.config_problems import Number, WholeNumber
from ipsbayes.data import DataBundle, config_where, raise_if
from ipsbayes.errors import DataError
from ipsbayes.models.base import ModelData, ModelFamily, ModelSpec, model_data, register
from ipsbayes.models.design import parse_formula
from ipsbayes.models.hazard_estimands import hazard_estimands
from ipsbayes.models.hazard_likelihood import event_logp, event_random, transition_cells
from ipsbayes.models.hazard_predict import HazardPredictor
from ipsbayes.models.person_months import BASELINE_CENTRE_ABOVE, COEFFICIENT, counts
from ipsbayes.models.pooling import Parameterisation, is_split, partially_centred, split_dims
from ipsbayes.models.time_to_event_data import participant_table, person_month_data
from ipsbayes.models.time_to_event_text import describe_time_to_event
from ipsbayes.panel import PanelColumns, read_panel
from ipsbayes.present import Presentation
from ipsbayes.priors import PriorSet
from ipsbayes.scales import FidelitySpec


class TimeToEventSpec(ModelSpec):
    """``[model]`` table of ``kind = "time_to_event"``."""

    kind: Literal["time_to_event"] = "time_to_event"
    formula: str = Field(description="'~ predictors + (1 | service) [+ (1 | service:specialist)]' (no outcome)")
    statuses: list[str] = Field(description="every status the monthly table may hold (its vocabulary)")
    targets: dict[str, list[str]] = Field(
        description="target name -> statuses that count as reaching it; the first month in any ends time at risk"
    )
    service: str = "service"
    participant: str = Field("participant_id", description="participant id in both tables")
    month: str = Field("month", description="long form: month since start (1 = first month after enrolment)")
    status: str = Field("status", description="long form: status column")
    calendar: str | None = Field(
        "calendar_month", description="optional calendar month (YYYY-MM; wide form: entry month), checked if present"
    )
    wide_prefix: str = Field("month_", description="wide form: month columns are <prefix><month>")
    first_month: WholeNumber = Field(1, description="number of the first month after enrolment in the data")
    horizon: WholeNumber | None = Field(
        None, gt=0, description="last month modelled (default: the last month followed)"
    )
    horizons: list[WholeNumber] = Field(default_factory=lambda: [6, 12, 24], description="months reported in tables")
    service_horizon: WholeNumber = Field(12, gt=0, description="month of the per-service cumulative incidence")
    baseline: Literal["rw2", "rw1", "free"] = Field(
        "rw2",
        description="baseline log-odds over months: random walk of order 2 (smooth) or 1, or 'free' (one "
        "independent intercept per month, the classic discrete-time model; for few periods)",
    )
    baseline_centre: Literal["half_by_horizon", "zero"] = Field(
        "half_by_horizon",
        description="what the prior of 'hazard_intercept' is centred on: 'half_by_horizon' (default) adds "
        "log(h / K / (1 - h)) with h = 1 - 0.5^(1/months), the constant monthly log-odds at which half of the "
        "participants would have a first transition by the last month modelled, split evenly over the K targets, "
        "so a prior centred at 0 is centred on the users' scale too; 'zero' states the prior on the log-odds "
        "themselves (for replicating published priors)",
    )
    baseline_parameterisation: Parameterisation = Field(
        "noncentred",
        description="coordinates of the baseline's random walk: 'noncentred' (default) or 'centred' for all, or "
        "'auto' to sample centred those about which the data carry more information than centre_above (the "
        "smoothest ones in a large study); the same model in another geometry. At 3,000 participants x 24 "
        "months 'auto' diverged in 0 of 4 fits against 3 of 4 and took 1.4x fewer leapfrog steps per effective "
        "draw, but at 1,500 it diverged in more fits than 'noncentred' (README, benchmarks/time_to_event.py)",
    )
    centre_above: Number = Field(
        BASELINE_CENTRE_ABOVE, gt=0, description="'auto': centre a baseline coordinate whose information exceeds this"
    )
    service_predictors: list[str] = Field(default_factory=list, description="columns constant within a service")
    fidelity: FidelitySpec | None = None
    standardize: bool = True
    collapse: Literal["auto", "always", "never"] = Field(
        "auto", description="pool person-months with identical predictors, service and specialist ('auto' = always)"
    )
    outcome_label: str | None = Field(None, description="plain-language name of the first transition")
    outcome_label_nb: str | None = Field(
        None, description="the same name in Norwegian (default: built from the targets' Norwegian names)"
    )

    @model_validator(mode="after")
    def _vocabulary(self) -> TimeToEventSpec:
        problems = []
        if len(set(self.statuses)) != len(self.statuses):
            problems.append("statuses: each status once")
        if not self.targets:
            problems.append("targets: give at least one target, e.g. {work = ['work']}")
        seen: dict[str, str] = {}
        for name, members in self.targets.items():
            if name == "any":
                problems.append("targets: 'any' is reserved for the first of all targets; rename the target")
            if not members:
                problems.append(f"targets.{name}: list the statuses that count as reaching it")
            for status in members:
                if status not in self.statuses:
                    problems.append(f"targets.{name}: status '{status}' is not in statuses {self.statuses}")
                elif status in seen:
                    problems.append(f"targets.{name}: status '{status}' already belongs to target '{seen[status]}'")
                seen.setdefault(status, name)
        if self.statuses and set(self.statuses) <= set(seen):
            problems.append("statuses: at least one status must be outside the targets (not yet reached)")
        if sorted(set(self.horizons)) != list(self.horizons) or any(h <= 0 for h in self.horizons):
            problems.append("horizons: positive months in increasing order, each once")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def columns(self) -> PanelColumns:
        """Column names of the monthly status table."""
        return PanelColumns(
            self.participant, self.month, self.status, self.calendar, self.wide_prefix, self.first_month
        )


def group_structure(spec: TimeToEventSpec, groups: list[tuple[str, ...]]) -> tuple[str | None, list[str]]:
    """The nested (job-specialist) column implied by the group terms, and problems.

    Participants sit in services, optionally in job specialists within services: the
    first group term is ``(1 | service)``, a second one ``(1 | service:specialist)`` or
    ``(1 | specialist)`` (nested in services by the data check).
    """
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


def group_terms(spec: TimeToEventSpec) -> tuple[bool, str | None, list[str]]:
    """Whether the formula has the service term, the nested specialist column, and problems with its group terms."""
    parts, _ = parse_formula(f"time_to_event {spec.formula}")
    if parts is None or not parts.groups:
        return False, None, []
    nested, problems = group_structure(spec, parts.groups)
    return True, nested, problems


def baseline_centre(spec: TimeToEventSpec, n_months: int, n_targets: int) -> float:
    """Log-odds the ``hazard_intercept`` prior is centred on (see ``TimeToEventSpec.baseline_centre``).

    A constant monthly hazard ``h = 1 - 0.5^(1/n_months)`` of any target gives a cumulative incidence of 50% by
    the last month modelled; split evenly over the targets, each target's log-odds against none is
    ``log(h / K) - log(1 - h)``. With a Normal(0, 1.5) prior around it, the priors alone leave the share by the
    horizon wide open and centred, rather than near 100% (three targets each centred on a few percent a month
    add up, and heterogeneity between participants pushes the average further up).
    """
    if spec.baseline_centre == "zero":
        return 0.0
    h = 1.0 - 0.5 ** (1.0 / max(n_months, 1))
    return float(np.log(h / n_targets) - np.log1p(-h))


def baseline_graph(spec: TimeToEventSpec, priors: PriorSet, d: dict[str, Any], centre: float = 0.0) -> Any:
    """Baseline log-odds (month, target): a scaled random walk around a straight line or constant, or free.

    ``centre`` (:func:`baseline_centre`) is added to ``hazard_intercept``, whose prior is stated relative to it.
    """
    if spec.baseline == "free":
        values = priors["hazard_intercept"].create("hazard_intercept", dims=("month", "target"))
        return pm.Deterministic("baseline_logit", centre + values, dims=("month", "target"))
    baseline = centre + priors["hazard_intercept"].create("hazard_intercept", dims="target")[None, :]
    if spec.baseline == "rw2":
        slope = priors["hazard_trend"].create("hazard_trend", dims="target")
        baseline = baseline + d["trend"][:, None] * slope[None, :]
    smooth = priors["baseline_sd"].create("baseline_sd", dims="target")
    if is_split(COEFFICIENT, d):  # some coordinates centred (person_months.baseline_information)
        coords = pm.modelcontext(None).coords
        n_basis, n_targets = len(coords["basis"]), len(coords["target"])
        coefficients = partially_centred(COEFFICIENT, 0.0, smooth[d["baseline_coef_target"]], d)
        deviation = pt.dot(d["rw_basis"], coefficients.reshape((n_basis, n_targets)))
    else:
        z_baseline = pm.Normal("z_baseline", 0.0, 1.0, dims=("basis", "target"))
        deviation = pt.dot(d["rw_basis"], z_baseline) * smooth[None, :]
    return pm.Deterministic("baseline_logit", baseline + deviation, dims=("month", "target"))


class TimeToEvent(ModelFamily):
    """Discrete-time competing-risks hazard model of the first transition into target states."""

    kind = "time_to_event"
    title = "Time to first transition: discrete-time competing-risks hazard model"
    spec_schema = TimeToEventSpec
    prior_names: ClassVar[dict[str, str]] = {
        "hazard_intercept": "log-odds of a transition into each target in a mid-follow-up month, against none yet, "
        "for reference levels, average predictors and centred fidelity; by default relative to the log-odds at "
        "which half of the participants would have a first transition by the last month modelled, split over the "
        "targets (model.baseline_centre)",
        "hazard_trend": "change in that log-odds per 12 months (the baseline's straight line; rw2 only)",
        "baseline_sd": "smoothness: typical deviation of each target's baseline log-odds from its straight line",
        "beta": "hazard log-odds change per SD of a numeric predictor or for a category vs its reference",
        "fidelity_slope": "hazard log-odds change per `per` (10) fidelity points",
        "sd_service": "SD of service effects on each target's hazard (log-odds)",
        "sd_specialist": "SD of job-specialist effects within services on each target's hazard (log-odds)",
    }
    key_parameters = ("fidelity_slope", "sd_service", "baseline_sd")
    # drawing the person-month counts from the prior took 6 of the 10 s of prior estimands in a ci run of
    # models/ipsung_time_to_job.toml (1,536 patterns x 24 months x 500 draws); the parameters' draws are the same
    prior_draws_only = True

    @override
    def check_spec(self, spec: TimeToEventSpec, where: str) -> list[str]:
        if not spec.formula.strip().startswith("~"):
            return ["model.formula: write only the right-hand side, e.g. '~ age + gender + (1 | service)'"]
        parts, problems = parse_formula(f"time_to_event {spec.formula}")
        if parts is None:
            return problems
        has_services, _, found = group_terms(spec)
        problems += found
        if spec.fidelity is not None and not has_services:
            problems.append(
                f"model.fidelity: a service-level fidelity slope needs the group term '(1 | {spec.service})'"
            )
        if spec.fidelity is not None:
            terms = parts.formula.common_terms
            if spec.fidelity.source != "column":
                problems.append("model.fidelity.source: the time-to-event model takes one score per service ('column')")
            if spec.fidelity.column not in terms:
                problems.append(f"model.formula: add the fidelity column '{spec.fidelity.column}' as a term of its own")
        if max(spec.horizons, default=0) > (spec.horizon or 10**6) or spec.service_horizon > (spec.horizon or 10**6):
            problems.append(f"model.horizons / service_horizon: months after model.horizon = {spec.horizon}")
        return problems

    @override
    def prior_names_for(self, spec: TimeToEventSpec) -> dict[str, str]:
        has_services, nested, _ = group_terms(spec)
        names = dict(self.prior_names)
        if spec.fidelity is None:
            names.pop("fidelity_slope")
        if nested is None:
            names.pop("sd_specialist")
        if not has_services:
            names.pop("sd_service")
        if spec.baseline != "rw2":
            names.pop("hazard_trend")
        if spec.baseline == "free":
            names.pop("baseline_sd")
            names["hazard_intercept"] = (
                "log-odds of a transition into each target in each month (one per month), relative to "
                "model.baseline_centre"
            )
        return names

    @override
    def estimand_names(self, spec: TimeToEventSpec) -> dict[str, str]:
        names = {
            "incidence": "%",
            "incidence_any": "%",
            "incidence_curve": "%",
            "incidence_curve_any": "%",
            "hazard_curve_any": "% per month",
            "median_time": "months",
            "median_time_any": "months",
            "hazard_odds_ratio": "OR",
            "hazard_log_odds_per_unit": "log-odds",
        }
        if "sd_service" in self.prior_names_for(spec):
            names |= {"service_incidence_any": "%", "sd_service": "SD (log-odds)"}
        if spec.fidelity is not None:
            names |= {
                "hazard_fidelity_slope": "log-odds per step",
                "hazard_fidelity_odds_ratio": "OR per step",
                "fidelity_incidence_contrast": "pp",
                "fidelity_incidence_contrast_any": "pp",
                "fidelity_contrast_curve_any": "pp",
                "incidence_at_fidelity_any": "%",
            }
        if "sd_specialist" in self.prior_names_for(spec):
            names["sd_specialist"] = "SD (log-odds)"
        return names

    # ------------------------------------------------------------------ data
    @override
    def prepare(self, bundle: DataBundle, spec: TimeToEventSpec, config: RunConfig) -> ModelData:
        parts, _ = parse_formula(f"time_to_event {spec.formula}")
        has_services, nested, _ = group_terms(spec)
        if bundle.monthly_status is None:
            raise DataError(
                f"{config_where(config)}: the time_to_event model needs the monthly status table",
                ["config key 'data.monthly_status' is missing: give the file (long or wide form, data.monthly_format)"],
            )
        people = bundle.participants.frame
        as_read = set(people[spec.participant].astype(str)) if spec.participant in people else None
        frame, problems = participant_table(bundle, spec, parts, has_services, nested, config)
        panel, found, unfollowed, entry = read_panel(
            bundle.monthly_status, config.data.monthly_format, spec.columns, spec.statuses, bundle.participants, as_read
        )
        problems += found
        duplicated = frame[spec.participant].astype(str).duplicated() if spec.participant in frame else None
        if duplicated is not None and duplicated.any():
            problems.append(
                f"{bundle.participants.where}: participant ids must be unique; '{spec.participant}' repeats "
                f"{frame.loc[duplicated, spec.participant].iloc[0]} ({int(duplicated.sum())} repeated ids)"
            )
        notes = []
        if unfollowed and config.data.missing == "drop":
            frame = frame[~frame[spec.participant].astype(str).isin(set(unfollowed))].reset_index(drop=True)
            notes.append(f"{len(unfollowed)} participants without any month in the monthly status table were dropped.")
        elif unfollowed:
            problems.append(
                f"{bundle.monthly_status.where}: participant(s) {', '.join(unfollowed[:5])} "
                f"({len(unfollowed)} in all) from the {bundle.participants.where} have no month; add their months, "
                'or set data.missing = "drop" to leave them out'
            )
        raise_if(problems, "The data cannot be used as they are")
        last = int(panel["month"].max())
        if spec.horizon is not None and spec.horizon > last:  # months nobody was followed: no data, only the model
            problems.append(
                f"model.horizon = {spec.horizon} is after the last month anyone is followed in "
                f"{bundle.monthly_status.where} ({last}): the shares up to it would rest on {spec.horizon - last} "
                f"month(s) with nobody at risk; set model.horizon to {last} or less"
            )
        horizon = spec.horizon or last
        problems += [
            f"model.{key}: month {value} is after the last month modelled ({horizon}; model.horizon or the last "
            "month in the data)"
            for key, values in (("horizons", spec.horizons), ("service_horizon", [spec.service_horizon] * has_services))
            for value in values
            if value > horizon
        ]
        if horizon - spec.first_month + 1 < 3:
            problems.append(f"model.horizon: at least 3 months are needed for a baseline over months (got {horizon})")
        raise_if(problems, "The data cannot be used as they are")
        data = person_month_data(frame, panel, spec, parts, has_services, nested, horizon, bundle)
        data.notes = notes + data.notes
        if entry is not None and len(entry.dropna()):
            data.info["entry_months"] = (str(entry.min().strftime("%Y-%m")), str(entry.max().strftime("%Y-%m")))
        return data

    # ----------------------------------------------------------------- model
    @override
    def build(self, data: ModelData, spec: TimeToEventSpec, priors: PriorSet) -> pm.Model:
        arrays = data.arrays
        with pm.Model(coords=data.coords) as model:
            d = model_data(
                arrays,
                {
                    "X": ("pattern", "term"),
                    "service_idx": ("pattern",),
                    "specialist_idx": ("pattern",),
                    "fidelity": ("service",),
                    "rw_basis": ("month", "basis"),
                    "trend": ("month",),
                    "trials": ("pattern", "month"),
                    "y": ("pattern", "month", "target"),
                    "baseline_coef_target": (COEFFICIENT,),
                    **split_dims(COEFFICIENT),
                },
            )
            n_patterns, n_targets = len(data.coords["pattern"]), len(data.coords["target"])
            centre = baseline_centre(spec, len(data.coords["month"]), n_targets)
            baseline = baseline_graph(spec, priors, d, centre)
            linear = pt.zeros((n_patterns, n_targets))
            if "service" in data.coords:
                sd_service = priors["sd_service"].create("sd_service", dims="target")
                z_service = pm.Normal("z_service", 0.0, 1.0, dims=("service", "target"))
                service = pm.Deterministic(
                    "service_effect", z_service * sd_service[None, :], dims=("service", "target")
                )
                if "fidelity" in d:
                    fidelity_slope = priors["fidelity_slope"].create("fidelity_slope", dims="target")
                    service = service + d["fidelity"][:, None] * fidelity_slope[None, :]
                linear = service[d["service_idx"]]
            if len(data.coords["term"]):
                beta = priors["beta"].create("beta", dims=("term", "target"))
                linear = linear + pt.dot(d["X"], beta)
            if "specialist_idx" in d:
                sd_specialist = priors["sd_specialist"].create("sd_specialist", dims="target")
                z_specialist = pm.Normal("z_specialist", 0.0, 1.0, dims=("specialist", "target"))
                specialist = pm.Deterministic(
                    "specialist_effect", z_specialist * sd_specialist[None, :], dims=("specialist", "target")
                )
                linear = linear + specialist[d["specialist_idx"]]
            # derived from the very counts observed here, so they cannot disagree (see event_logp)
            cells = [pm.Data(name, index, dims="transition") for name, index in transition_cells(arrays["y"]).items()]
            pm.CustomDist(
                "events",
                d["trials"],
                baseline[None, :, :],
                linear[:, None, :],
                logp=partial(event_logp, n_targets=len(data.coords["target"]), cells=tuple(cells)),
                random=event_random,
                signature="(),(k),(k)->(k)",
                observed=d["y"],
                dims=("pattern", "month", "target"),
            )
        return model

    @override
    def replicate_data(
        self, spec: TimeToEventSpec, prior: xr.Dataset, prior_predictive: xr.Dataset, data: ModelData, rng: Any
    ) -> dict[str, np.ndarray]:
        """Transitions drawn month by month from one prior draw, each participant followed as long as observed.

        This is the model's own generative process: a participant at risk in month
        *t* enters target *k* with the hazard ``h_k(t)`` and stays at risk otherwise,
        until the month their follow-up ended in the data (censoring kept as observed).
        """
        predictor = HazardPredictor.from_posterior(prior.isel(chain=[0], draw=[0]), data)
        odds = np.exp(predictor.baseline[0][None] + predictor.linear(slice(0, 1))[0][:, None, :])  # (P, T, K)
        probs = odds / (1.0 + odds.sum(axis=-1, keepdims=True))
        info = data.info
        pattern_of, followed = info["pattern_of"], info["followed"]
        n, n_months, n_targets = len(pattern_of), odds.shape[1], odds.shape[2]
        exit_index, target = followed.copy(), np.full(n, -1)
        open_ = np.ones(n, bool)
        for t in range(n_months):
            at_risk = open_ & (followed > t)
            u = rng.random(n)
            cumulative = np.cumsum(probs[pattern_of, t, :], axis=1)
            which = (u[:, None] >= cumulative).sum(axis=1)  # K means no transition
            hit = at_risk & (which < n_targets)
            exit_index[hit], target[hit] = t + 1, which[hit]
            open_ &= ~hit
        trials, events = counts(pattern_of, exit_index, target, len(info["pattern_weights"]), n_months, n_targets)
        return {"y": events, "trials": trials}

    @override
    def presentation(self) -> Presentation:
        from ipsbayes.models.time_to_event_report import PRESENTATION

        return PRESENTATION

    @override
    def describe(self, spec: TimeToEventSpec, data: ModelData, language: str = "en") -> str:
        """The model as fitted, in English or Norwegian bokmål (``report.language``)."""
        return describe_time_to_event(spec, data, language)

    # ------------------------------------------------------------- estimands
    @override
    def estimands(self, posterior: xr.Dataset, data: ModelData, spec: TimeToEventSpec, config: RunConfig) -> xr.Dataset:
        return hazard_estimands(posterior, data, spec, config.report.labels, config.report.language)


def person_month_frame(data: ModelData) -> pd.DataFrame:
    """Person-month rows behind the collapsed counts (participant, month, outcome): for checks and reports."""
    from ipsbayes.models.person_months import person_month_rows

    participant, month, outcome = person_month_rows(data.info["exit_index"], data.info["exit_target"])
    return pd.DataFrame(
        {
            "participant": participant,
            "pattern": data.info["pattern_of"][participant],
            "month": month,
            "outcome": outcome,
        }
    )


register(TimeToEvent())
