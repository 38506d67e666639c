"""Outcome families: one object per likelihood owns its link, defaults, users'-scale units and check figure.

Importing this package registers every family in :data:`FAMILIES`. A new family is
one new module here plus one line below.
"""

from __future__ import annotations

from ipsbayes.errors import ConfigError, did_you_mean
from ipsbayes.families import bernoulli, beta_binomial, binomial, gaussian, student_t
from ipsbayes.families.base import OutcomeFamily, Units

FAMILIES: dict[str, OutcomeFamily] = {
    module.FAMILY.name: module.FAMILY for module in (bernoulli, binomial, beta_binomial, gaussian, student_t)
}


def get_outcome_family(name: str) -> OutcomeFamily:
    """The outcome family called ``name``.

    Raises
    ------
    ConfigError
        Naming the valid families when ``name`` is unknown.
    """
    if name not in FAMILIES:
        raise ConfigError(
            f"Unknown outcome family '{name}'{did_you_mean(name, FAMILIES)}; valid: {', '.join(FAMILIES)}"
        )
    return FAMILIES[name]


__all__ = ["FAMILIES", "OutcomeFamily", "Units", "get_outcome_family"]
