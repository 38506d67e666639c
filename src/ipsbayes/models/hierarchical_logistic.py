"""Participants in services: the IPS configuration of the multilevel model (``kind = "hierarchical_logistic"``).

The same model as ``kind = "multilevel"`` with a Bernoulli outcome (see
:mod:`ipsbayes.models.multilevel`), kept under its original name so the shipped IPS
configs run unchanged. What it adds is configuration, not code: the IPS words
(participants, services, job specialists) as the default vocabulary, ``service``
naming the column a fidelity score and ``[data] services`` belong to, and
``service_predictors`` for columns constant within a service::

    logit P(y_i = 1) = a + X_i b + g (f_s - c) / per + sigma_s z_s + sigma_k u_k
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ipsbayes.models.base import ModelData, register
from ipsbayes.models.formula import ModelFormula
from ipsbayes.models.hierarchical_logistic_text import describe_hierarchical
from ipsbayes.models.multilevel import Multilevel, MultilevelSpec
from ipsbayes.present import Presentation


class HierarchicalLogisticSpec(MultilevelSpec):
    """``[model]`` table of ``kind = "hierarchical_logistic"`` (a Bernoulli multilevel model)."""

    kind: Literal["hierarchical_logistic"] = "hierarchical_logistic"  # type: ignore[assignment]
    family: Literal["bernoulli"] = "bernoulli"  # type: ignore[assignment]
    service: str = Field("service", description="column identifying the service (fidelity and services table key)")
    service_predictors: list[str] = Field(default_factory=list, description="columns constant within a service")


class HierarchicalLogistic(Multilevel):
    """Hierarchical logistic regression of participants in services, with a service-level fidelity slope."""

    kind = "hierarchical_logistic"
    title = "Participants in services: hierarchical logistic model"
    spec_schema = HierarchicalLogisticSpec
    key_parameters = ("sd_service", "fidelity_slope", "beta")
    default_vocabulary: ClassVar[dict[str, str]] = {
        "unit": "participant",
        "units": "participants",
        "service": "service",
        "specialist": "job specialist",
        "specialist_plural": "job specialists",
    }

    def fidelity_group(self, spec: HierarchicalLogisticSpec, formula: ModelFormula) -> str | None:
        """The service (or the group the fidelity table names)."""
        if spec.fidelity is None:
            return None
        return formula.factor_name(spec.fidelity.group or spec.service)

    def group_predictor_map(self, spec: HierarchicalLogisticSpec) -> dict[str, str]:
        """``service_predictors`` are constant within the service."""
        return {column: spec.service for column in spec.service_predictors} | dict(spec.group_predictors)

    def nesting(self, spec: HierarchicalLogisticSpec, formula: ModelFormula) -> dict[str, str]:
        """A second one-column factor beside the service holds job specialists, nested in services."""
        singles = [f.columns[0] for f in formula.factors if len(f.columns) == 1 and f.columns[0] != spec.service]
        implied = {singles[0]: spec.service} if len(singles) == 1 and len(formula.factors) == 2 else {}
        return implied | dict(spec.nested)

    def _service_keys(self, spec: HierarchicalLogisticSpec) -> list[str]:
        return [spec.service]

    def describe(self, spec: HierarchicalLogisticSpec, data: ModelData, language: str = "en") -> str:
        """The IPS wording (participants, services, job specialists), in English or Norwegian."""
        return describe_hierarchical(spec, data, language)

    def presentation(self) -> Presentation:
        """The IPS report parts (fidelity, measurement error, services), as before the multilevel model."""
        from ipsbayes.models.hierarchical_logistic_report import PRESENTATION

        return PRESENTATION


register(HierarchicalLogistic())
