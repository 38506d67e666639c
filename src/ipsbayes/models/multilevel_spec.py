"""The ``[model]`` table of ``kind = "multilevel"``: what a statistician writes, validated, with no model code.

The family that fits it is :class:`ipsbayes.models.multilevel.Multilevel` (as in Bambi, the spec is
separate from the graph builder).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ipsbayes.config_problems import Number
from ipsbayes.families import FAMILIES
from ipsbayes.models.base import ModelSpec
from ipsbayes.models.pooling import CENTRE_ABOVE, Parameterisation
from ipsbayes.scales import FidelitySpec


class MultilevelSpec(ModelSpec):
    """``[model]`` table of ``kind = "multilevel"``."""

    kind: Literal["multilevel"] = "multilevel"
    formula: str = Field(description="outcome ~ predictors + (1 | group) [+ (1 + x | group2) ...], as in lme4/brms")
    family: str = Field("bernoulli", description="outcome family: " + ", ".join(FAMILIES))
    trials: str | None = Field(None, description="column of trials for binomial counts (or p(successes, trials))")
    group_predictors: dict[str, str] = Field(
        default_factory=dict, description="column -> grouping factor it must be constant within"
    )
    nested: dict[str, str] = Field(
        default_factory=dict,
        description="inner column -> outer column: checked that each inner group lies within one outer group "
        "(ids reused across outer groups would otherwise make a crossed design)",
    )
    fidelity: FidelitySpec | None = None
    standardize: bool = True
    collapse: Literal["auto", "always", "never"] = "auto"
    parameterisation: Parameterisation = Field(
        "auto",
        description="group intercepts: 'auto' centres the groups whose data carry more information than "
        "centre_above when the formula has one grouping factor; else non-centred",
    )
    centre_above: Number = Field(CENTRE_ABOVE, gt=0, description="'auto': centre a group above this information")
    outcome_label: str | None = Field(None, description="plain-language name of the outcome for the report")
    outcome_label_nb: str | None = Field(None, description="the same name in Norwegian, for reports in Norwegian")
    outcome_unit: str | None = Field(None, description="unit of a continuous outcome (e.g. 'ms', 'points')")
    outcome_unit_nb: str | None = Field(None, description="the same unit in Norwegian (e.g. 'poeng')")
    focus: str | None = Field(
        None,
        description="the predictor (a column of the formula) the study asks about: the report's answer gives its "
        "average marginal effect with the probability of its direction and of one beyond report.thresholds.ame",
    )
    vocabulary: dict[str, str] = Field(
        default_factory=dict,
        description="words of the study: unit/units (what a row is), one per grouping factor (e.g. school = "
        "'school'), outcome",
    )

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        if value not in FAMILIES:
            raise ValueError(f"unknown family '{value}'; valid: {', '.join(FAMILIES)}")
        return value


__all__ = ["MultilevelSpec"]
