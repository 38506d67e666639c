"""Model families. Importing this package registers every family in :data:`REGISTRY`."""

from ipsbayes.models import (  # noqa: F401  (registers)
    cace,
    competing_outcomes,
    hierarchical_logistic,
    multilevel,
    time_to_event,
)
from ipsbayes.models.base import REGISTRY, ModelData, ModelFamily, ModelSpec, get_family

__all__ = ["REGISTRY", "ModelData", "ModelFamily", "ModelSpec", "get_family"]
