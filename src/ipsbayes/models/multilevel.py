"""Any multilevel regression a formula describes, with an outcome family plug-in (``kind = "multilevel"``).

For row *i*::

    g(E[y_i]) = intercept + X_i beta + sum over group blocks of x_bi . u_b[group of i]  [+ slope * fidelity]

``g`` is the family's link (logit for Bernoulli, binomial and beta-binomial outcomes,
identity for Gaussian and Student-t ones), the group blocks are whatever the formula
names (nested, crossed, varying slopes, correlated within a bar with an LKJ prior),
and columns the main table lacks are joined from tables declared with their keys.
ipsbayes adds what a formula package does not: a group-level score measured with
error (fidelity reviews), per-group centring of large groups, binomial collapsing of
identical rows, priors stated on the scale users think in, data-scaled defaults,
estimands on the users' scale and the report. The graph is
:mod:`ipsbayes.models.multilevel_graph`; the numbers users read are
:mod:`ipsbayes.models.predict`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, override

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ipsbayes.config import RunConfig
from ipsbayes.data import DataBundle, Table, config_where, raise_if
from ipsbayes.data_checks import (
    constant_columns,
    dropped_rows_note,
    handle_missing,
    not_nested,
    trial_counts,
    varying_within_factor,
)
from ipsbayes.families import FAMILIES, OutcomeFamily
from ipsbayes.models.base import ModelData, ModelFamily, register
from ipsbayes.models.design import Design
from ipsbayes.models.formula import GroupBlock, ModelFormula, parse_model_formula
from ipsbayes.models.groups import (
    COLLAPSE_NOT_APPLIED,
    anchor_factor,
    choose_centring,
    collapse_rows,
    group_arrays,
    group_level_problems,
    group_summaries,
    group_term_precheck,
    idx_key,
    slope_only_notes,
)
from ipsbayes.models.joins import join_tables
from ipsbayes.models.multilevel_fidelity import add_fidelity, fidelity_column_problems, fidelity_spec_problems
from ipsbayes.models.multilevel_graph import build_graph
from ipsbayes.models.multilevel_spec import MultilevelSpec
from ipsbayes.models.multilevel_text import describe_model, group_words
from ipsbayes.models.pointwise import (
    likelihood_summary_group,
    log_likelihood_group,
    predictive_group,
    summarisable,
)
from ipsbayes.models.predict import Predictor
from ipsbayes.models.regression_estimands import group_spread_estimands, regression_estimands
from ipsbayes.present import Presentation
from ipsbayes.prior_slots import PriorSlot
from ipsbayes.priors import Prior, PriorSet
from ipsbayes.textutil import NB_DEFAULT_WORDS, decimal_commas, regular_plural


class Multilevel(ModelFamily):
    """Multilevel regression of any formula with a plug-in outcome family."""

    kind = "multilevel"
    title = "Multilevel regression"
    spec_schema = MultilevelSpec
    prior_names: ClassVar[dict[str, str]] = {
        "intercept": "expected outcome on the link scale at reference levels and average predictors",
        "beta": "coefficient per SD of a standardised numeric predictor or for a category vs its reference",
        "fidelity_slope": "change on the link scale per `per` fidelity points",
    }
    key_parameters = ("beta",)
    prior_draws_only = True  # estimands read only the parameters (150,000 outcomes x 500 prior draws: 2.5-3.1 s)
    #: words for an untitled study
    default_vocabulary: ClassVar[dict[str, str]] = {"unit": "observation", "units": "observations"}

    # ------------------------------------------------------------------ spec
    def formula(self, spec: MultilevelSpec) -> ModelFormula:
        """The parsed formula (the spec was checked, so it parses)."""
        return parse_model_formula(spec.formula)[0]

    def outcome_family(self, spec: MultilevelSpec) -> OutcomeFamily:
        """The spec's outcome family."""
        return FAMILIES[spec.family]

    def fidelity_group(self, spec: MultilevelSpec, formula: ModelFormula) -> str | None:
        """The grouping factor the fidelity score belongs to."""
        if spec.fidelity is None:
            return None
        if spec.fidelity.group:
            return formula.factor_name(spec.fidelity.group)
        singles = [f.name for f in formula.factors if len(f.columns) == 1]
        return singles[0] if singles else None

    def group_predictor_map(self, spec: MultilevelSpec) -> dict[str, str]:
        """Column -> grouping factor it must be constant within."""
        return dict(spec.group_predictors)

    def nesting(self, spec: MultilevelSpec, formula: ModelFormula) -> dict[str, str]:
        """Inner column -> outer column pairs whose nesting the data must show."""
        return dict(spec.nested)

    @override
    def check_spec(self, spec: MultilevelSpec, where: str) -> list[str]:
        formula, problems = parse_model_formula(spec.formula)
        if formula is None:
            return problems
        family = self.outcome_family(spec)
        trials = formula.trials or spec.trials
        if formula.trials and spec.trials:
            problems.append("model.trials: give the trials once, either as p(successes, trials) or model.trials")
        if family.needs_trials and trials is None:
            problems.append(
                f"model.family = '{family.name}' counts successes out of trials: write the formula as "
                f"p({formula.response}, trials_column) ~ ... or set model.trials"
            )
        if trials is not None and not family.needs_trials:
            hint = " (use family = 'binomial' for successes out of trials)" if family.link == "logit" else ""
            problems.append(f"model.family = '{family.name}' takes no trials column{hint}")
        names = {f.name for f in formula.factors} | {c for f in formula.factors for c in f.columns}
        for column, group in self.group_predictor_map(spec).items():
            if group not in names:
                problems.append(
                    f"model.group_predictors: '{column}' is said to be constant within '{group}', which is not a "
                    f"grouping factor of the formula; factors: {', '.join(f.name for f in formula.factors)}"
                )
        if spec.fidelity is not None:
            problems += fidelity_spec_problems(spec.fidelity, formula, self.fidelity_group(spec, formula))
        if spec.outcome_unit_nb and not spec.outcome_unit:
            problems.append(
                "model.outcome_unit_nb needs model.outcome_unit: the unit in English, which summary.csv and English "
                "reports write (e.g. outcome_unit = 'points', outcome_unit_nb = 'poeng')"
            )
        if spec.focus is not None and spec.focus not in formula.common_variables:
            problems.append(
                f"model.focus: '{spec.focus}' is not a predictor of the formula; predictors: "
                f"{', '.join(formula.common_variables) or '(none)'}"
            )
        return problems

    def _blocks(self, spec: MultilevelSpec) -> list[GroupBlock]:
        formula = parse_model_formula(spec.formula)[0]
        return formula.blocks if formula is not None else []

    @override
    def prior_names_for(self, spec: MultilevelSpec) -> dict[str, str]:
        return {name: slot.meaning for name, slot in self.prior_slots(spec).items()}

    @override
    def prior_slots(self, spec: MultilevelSpec) -> dict[str, PriorSlot]:
        formula = parse_model_formula(spec.formula)[0]
        family = self.outcome_family(spec)
        link, scale = family.link, family.scale_name
        words = group_words(formula, self.vocabulary(spec)) if formula else {}
        slots = {
            "intercept": PriorSlot(
                self.prior_names["intercept"], "real", scale, link, probability=link == "logit", has_default=True
            )
        }
        fidelity_column = spec.fidelity.column if spec.fidelity else None
        if formula is not None and [t for t in formula.common_terms if t != fidelity_column]:
            slots["beta"] = PriorSlot(self.prior_names["beta"], "real", scale, link, has_default=True)
        if spec.fidelity is not None:
            slots["fidelity_slope"] = PriorSlot(
                self.prior_names["fidelity_slope"], "real", scale, link, has_default=True
            )
        for block in formula.blocks if formula else []:
            group = words.get(block.factor.name, block.factor.name)
            what = " and ".join(t.split("|", 1)[0].replace("1", "intercepts") for t in block.terms)
            slots[block.sd_name] = PriorSlot(
                f"SD of {group} {what} ({scale})", "positive", f"SD on the {scale}", link, has_default=True
            )
            if block.may_correlate:
                slots[block.corr_name] = PriorSlot(
                    f"LKJ prior on the correlations of {block.text}", "correlation", "correlation", has_default=True
                )
        slots |= family.slots(spec.outcome_unit)
        if spec.fidelity is not None and spec.fidelity.latent:
            from ipsbayes.models.fidelity_reviews import PRIOR_NAMES

            slots |= {
                name: PriorSlot(meaning, "positive" if "sd" in name else "real", "fidelity steps")
                for name, meaning in PRIOR_NAMES.items()
            }
        return slots

    @override
    def estimand_names(self, spec: MultilevelSpec) -> dict[str, str]:
        formula = parse_model_formula(spec.formula)[0]
        family = self.outcome_family(spec)
        units = family.units(spec.outcome_unit)
        names = {f"outcome_{units.noun}": units.level, "ame": units.difference}
        if family.link == "logit":
            names |= {"odds_ratio": "OR", "log_odds_per_unit": "log-odds"}
        else:
            names["effect_per_unit"] = units.difference
        for factor in formula.factors if formula else []:
            names[f"{factor.name}_{units.noun}"] = units.level
        for block in formula.blocks if formula else []:
            names[block.sd_name] = f"SD ({family.scale_name})"
            if block.may_correlate:
                names[block.corr_name] = "correlation"
        if family.link == "logit" and formula and formula.blocks:
            names["median_odds_ratio"] = "MOR"
        names |= {name: "" for name in family.aux}
        if spec.fidelity is not None:
            link = "log-odds" if family.link == "logit" else units.difference
            per = f"{spec.fidelity.per:g} {spec.fidelity.resolved_scale.name} points"
            names |= {
                "fidelity_slope": f"{link} per {per}",
                "fidelity_contrast": units.difference,
                "fidelity_curve": units.level,
            }
            if family.link == "logit":
                names["fidelity_odds_ratio"] = "OR"
            if spec.fidelity.latent:
                names |= {"review_error_sd": "points", "fidelity_sd": "points", "fidelity_reliability": "share"}
        return names

    @override
    def vocabulary(self, spec: MultilevelSpec, data: ModelData | None = None) -> dict[str, str]:
        formula = parse_model_formula(spec.formula)[0]
        words = dict(self.default_vocabulary)
        given = dict(spec.vocabulary)
        if formula is not None:
            words["outcome"] = spec.outcome_label or formula.response.replace("_", " ")
            for factor in formula.factors:
                # a factor renamed because its column's name is taken (``beta`` -> ``beta_group``) keeps the
                # column's words: the default, and what the config gives under the column's name
                column = factor.columns[0] if len(factor.columns) == 1 else factor.name
                words[factor.name] = column.replace("_", " ")
                if column != factor.name:
                    for key in (column, f"{column}_plural"):
                        if key in given and key.replace(column, factor.name, 1) not in given:
                            given[key.replace(column, factor.name, 1)] = given[key]
        if spec.outcome_unit:
            words["outcome_unit"] = spec.outcome_unit
        if spec.outcome_unit_nb:
            words["outcome_unit_nb"] = spec.outcome_unit_nb
        if spec.outcome_label_nb:  # a Norwegian report says it instead of the (English) outcome_label
            words["outcome_nb"] = spec.outcome_label_nb
        # a unit named without its plural counts in that unit's plural, not in the default "observations"; a
        # Norwegian report keeps its own default unless the config names the unit in Norwegian (unit_nb)
        if given.get("unit_nb") and not given.get("units_nb"):
            given["units_nb"] = regular_plural(str(given["unit_nb"]), "nb")
        if given.get("unit") and not given.get("units"):
            given["units"] = regular_plural(str(given["unit"]), "en")
            given.setdefault("units_nb", NB_DEFAULT_WORDS.get(words.get("units", ""), words.get("units", "")))
        return words | given

    # ------------------------------------------------------------------ data
    @override
    def prepare(self, bundle: DataBundle, spec: MultilevelSpec, config: RunConfig) -> ModelData:
        formula = self.formula(spec)
        family = self.outcome_family(spec)
        fid = spec.fidelity
        from_reviews = fid is not None and fid.source == "reviews"
        fidelity_group = self.fidelity_group(spec, formula)
        trials_column = formula.trials or spec.trials
        needed = [v for v in formula.variables if not (from_reviews and v == fid.column)]
        needed += [*([trials_column] if trials_column and trials_column not in needed else [])]
        needed += [c for c in self.group_predictor_map(spec) if c not in needed]
        if fid is not None and not from_reviews and fid.column not in needed:
            needed.append(fid.column)
        service_keys = [formula.factor(fidelity_group).columns[0]] if fidelity_group else self._service_keys(spec)
        frame, sources, problems = join_tables(bundle, needed, service_keys)
        raise_if(problems, f"Data do not match {config_where(config)}")
        main = Table(frame, bundle.participants.path, bundle.participants.label)
        problems = handle_missing(main, needed, config.data.missing, bundle)
        raise_if(problems, "The data cannot be used as they are")
        frame = main.frame.reset_index(drop=True)
        trials, trial_problems = trial_counts(frame, trials_column, main)
        problems += trial_problems
        problems += family.check_response(frame[formula.response], trials, main.where, formula.response)
        problems += constant_columns(main, formula.common_variables)
        for column, group in self.group_predictor_map(spec).items():
            factor = formula.factor(group)
            problems += varying_within_factor(main, factor.columns, factor.name, column)
        for inner, outer in self.nesting(spec, formula).items():
            problems += not_nested(main, inner, outer) if {inner, outer} <= set(frame.columns) else []
        if fid is not None and not from_reviews:
            source = sources.get(fid.column)
            origin = main if source is None else (bundle.services if source == "services" else bundle.extra[source])
            problems += fidelity_column_problems(origin, fid)
            factor = formula.factor(fidelity_group)
            problems += varying_within_factor(main, factor.columns, factor.name, fid.column)
        raise_if(problems, "The data cannot be used as they are")
        if from_reviews:  # the score comes from the reviews table; its formula term is left out of X
            frame[fid.column] = 0.0
        data = self._arrays(frame, spec, formula, family, trials, bundle)
        if fid is not None:
            add_fidelity(data, bundle, spec.fidelity, fidelity_group, formula, frame)
        return data

    def _service_keys(self, spec: MultilevelSpec) -> list[str]:
        """Join key of the ``[data] services`` shorthand when no fidelity group names it."""
        formula = self.formula(spec)
        singles = [f.columns[0] for f in formula.factors if len(f.columns) == 1]
        return singles[:1]

    def _arrays(
        self,
        frame: pd.DataFrame,
        spec: MultilevelSpec,
        formula: ModelFormula,
        family: OutcomeFamily,
        trials: np.ndarray | None,
        bundle: DataBundle,
    ) -> ModelData:
        fid = spec.fidelity
        drop = {fid.column} if fid is not None else set()
        # group terms the data cannot estimate, or too large to build, found before formulae builds them
        raise_if(
            group_term_precheck(frame, formula, family.name, bundle.participants.where),
            "The data cannot be used as they are",
        )
        design = Design(formula.text, frame, standardize=spec.standardize, drop=drop, where=bundle.participants.where)
        arrays, coords, blocks = group_arrays(design.matrices, formula)
        problems = group_level_problems(arrays, coords, formula, family.name, bundle.participants.where)
        raise_if(problems, "The data cannot be used as they are")
        y = family.response(frame[formula.response])
        arrays |= {"X": design.matrix(), "y": y}
        if trials is not None:
            arrays["trials"] = trials
        coords = {"term": design.labels, **coords}
        words = self.vocabulary(spec)
        info: dict[str, Any] = {
            "design": design,
            "frame": frame,
            "formula": formula,
            "family": family.name,
            "outcome_column": formula.response,
            "response": formula.response,  # the observed variable's name: final once the graph is built
            "blocks": blocks,
            "vocabulary": words,
            "outcome_label": words.get("outcome"),
        }
        info["start"] = family.starting_values(y, trials)
        data = ModelData(coords=coords, arrays=arrays, info=info, n_rows=len(frame))
        info["group_summaries"] = group_summaries(data, blocks, family.per_trial(y, trials))
        info["anchor"] = anchor_factor(blocks, self.fidelity_group(spec, formula))
        # continuous outcomes: between-group spread of what the population-level predictors leave unexplained
        design_1 = np.column_stack([np.ones(len(y)), arrays["X"]])
        residual = y - design_1 @ np.linalg.lstsq(design_1, y.astype(float), rcond=None)[0] if not family.integer else y
        info["centred_groups"] = choose_centring(
            data,
            blocks,
            lambda idx: family.information(residual, trials, idx),
            spec.parameterisation,
            spec.centre_above,
        )
        if dropped := dropped_rows_note(bundle):
            data.notes.append(dropped)
        data.notes.extend(slope_only_notes(formula))
        if family.collapsible and trials is None and not any(b.k > 1 or b.x_key for b in blocks):
            keys = ["X", *dict.fromkeys(idx_key(b.block.factor) for b in blocks)]
            data = collapse_rows(data, keys, spec.collapse, design.common)
        elif spec.collapse == "always":  # asked for, but this likelihood's rows are not merged: say so
            data.notes.append(COLLAPSE_NOT_APPLIED)
        return data

    @override
    def default_priors(self, spec: MultilevelSpec, data: ModelData) -> dict[str, Prior | None]:
        family = self.outcome_family(spec)
        base = family.default_priors(data.arrays["y"], data.arrays.get("trials"))
        design: Design = data.info["design"]
        unscaled = [j for j in range(len(design.labels)) if design.unscaled(j)]
        spread = [float(np.std(data.arrays["X"][:, j])) or 1.0 for j in unscaled]
        beta = base["beta"]
        if spread and min(spread) < 1.0:  # per unit of an unstandardised predictor: widen for the narrowest
            sigma = beta.params["sigma"] / min(spread)
            beta = Prior(
                beta.dist,
                {**beta.params, "sigma": round(sigma, 6)},
                beta.source + f", / {min(spread):.3g} "
                "(SD of the narrowest unstandardised predictor: the prior is per unit)",
                source_nb=beta.source_nb
                + decimal_commas(f", / {min(spread):.3g} ")
                + "(SD for den smaleste ustandardiserte prediktoren: prioren er per enhet)",
            )
        out = {"intercept": base["intercept"], "beta": beta, "fidelity_slope": beta}
        for block in data.info["blocks"]:
            out[block.block.sd_name] = base["group_sd"]
            lkj = Prior(
                "LKJ",
                {"eta": 2.0},
                "default: LKJ(2), mildly favours small correlations",
                source_nb="standard: LKJ(2), favoriserer svakt små korrelasjoner",
            )
            out[block.block.corr_name] = lkj if block.k > 1 else None
        return out | {name: base[name] for name in family.aux}

    # ----------------------------------------------------------------- model
    @override
    def build(self, data: ModelData, spec: MultilevelSpec, priors: PriorSet) -> pm.Model:
        return build_graph(data, priors, self.outcome_family(spec))

    @override
    def replicate_data(
        self, spec: MultilevelSpec, prior: xr.Dataset, prior_predictive: xr.Dataset, data: ModelData, rng: Any
    ) -> dict[str, np.ndarray]:
        """The response and, where fidelity is measured with error, the review scores of one prior draw."""
        arrays = super().replicate_data(spec, prior, prior_predictive, data, rng)
        if "review_score_obs" in prior_predictive:
            scores = prior_predictive["review_score_obs"].values
            arrays["review_score"] = np.asarray(scores).reshape(data.arrays["review_score"].shape)
        return arrays

    @override
    def describe(self, spec: MultilevelSpec, data: ModelData, language: str = "en") -> str:
        return describe_model(spec, data, self.outcome_family(spec), language)

    @override
    def presentation(self) -> Presentation:
        from ipsbayes.models.multilevel_report import PRESENTATION

        return PRESENTATION

    # ------------------------------------------------------------- estimands
    @override
    def estimands(self, posterior: xr.Dataset, data: ModelData, spec: MultilevelSpec, config: RunConfig) -> xr.Dataset:
        family = self.outcome_family(spec)
        words = data.info["vocabulary"]
        predictor = Predictor.from_posterior(posterior, data, family)
        out = regression_estimands(predictor, posterior, data, spec.fidelity, words, spec.outcome_unit)
        out.update(group_spread_estimands(posterior, data, family, words, spec.outcome_unit))
        for name, values in family.estimands(posterior, spec.outcome_unit).items():
            out[name] = values
        if "review_error_sd" in posterior:
            from ipsbayes.models.multilevel_fidelity import measurement_estimands

            out.update(measurement_estimands(posterior, data, spec.fidelity))
        if spec.outcome_unit and words.get("outcome_unit_nb"):  # the outcome's unit as a Norwegian report writes it
            for values in out.data_vars.values():
                if values.attrs.get("unit") == spec.outcome_unit:
                    values.attrs.setdefault("unit_nb", words["outcome_unit_nb"])
        if spec.focus is not None:
            out.attrs["focus"] = spec.focus
        out.attrs["response"] = data.info["response"]
        out.attrs["outcome_family"] = family.name
        out.attrs["vocabulary"] = json.dumps(words)
        # the report says "associations across groups, not randomised" only when there are such predictors
        group_level = sorted(self.group_predictor_map(spec)) + ([spec.fidelity.column] if spec.fidelity else [])
        out.attrs["group_predictors"] = json.dumps(group_level)
        return out

    @override
    def log_likelihood(self, posterior: xr.Dataset, data: ModelData, spec: MultilevelSpec) -> dict | None:
        """The outcome's log-likelihood in numpy (:mod:`ipsbayes.models.pointwise`)."""
        return log_likelihood_group(posterior, data, self.outcome_family(spec))

    @override
    def subsamples_log_likelihood(self, data: ModelData, spec: MultilevelSpec) -> bool:
        """Not with review scores observed beside the outcome, nor for an outcome without a numpy form."""
        return summarisable(data, self.outcome_family(spec))

    @override
    def log_likelihood_summary(
        self, posterior: xr.Dataset, data: ModelData, spec: MultilevelSpec, rows, *, totals: bool = True
    ) -> dict | None:
        """Totals, a subsample and a point approximation, in one pass (:mod:`ipsbayes.models.pointwise`)."""
        return likelihood_summary_group(posterior, data, self.outcome_family(spec), rows, totals=totals)

    @override
    def posterior_predictive(
        self, posterior: xr.Dataset, data: ModelData, spec: MultilevelSpec, seed: int
    ) -> dict | None:
        """The outcome's predictive draws in numpy (:mod:`ipsbayes.models.pointwise`)."""
        return predictive_group(posterior, data, self.outcome_family(spec), seed)


register(Multilevel())
