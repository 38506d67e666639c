"""Model families. Importing this package registers every family in :data:`REGISTRY`."""

from ipsbayes.models import cace, competing_outcomes, hierarchical_logistic, multilevel  # noqa: F401  (registers)
from ipsbayes.models.base import REGISTRY, ModelData, ModelFamily, ModelSpec, get_family

__all__ = ["REGISTRY", "ModelData", "ModelFamily", "ModelSpec", "get_family"]
