"""What a parameter is, so a prior can be checked for meaning and not only for syntax.

Every model family declares a :class:`PriorSlot` per parameter: what it means, the values it can
take, the scale it lives on, whether its prior may be stated on the probability. :func:`slot_problems`
rejects a prior that PyMC would accept but that cannot mean what it says (a Beta(2, 2) for a
log-odds intercept, a Normal for a standard deviation) and says how to state it instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: keys of a prior entry that are not parameters of its distribution
META_KEYS = frozenset({"dist", "source", "source_nb", "on", "labels"})

#: scales a prior may be stated on instead of the parameter's own, and the parameter support each needs
ON_SCALES = {"probability": "real", "variance": "positive", "precision": "positive"}

#: support of each distribution ("interval" for Uniform: its bounds decide)
DIST_SUPPORT = {
    "Normal": "real",
    "StudentT": "real",
    "Cauchy": "real",
    "HalfNormal": "positive",
    "HalfStudentT": "positive",
    "HalfCauchy": "positive",
    "Exponential": "positive",
    "Gamma": "positive",
    "InverseGamma": "positive",
    "LogNormal": "positive",
    "Beta": "unit",
    "Uniform": "interval",
    "LKJ": "correlation",
    "NormalMixture": "real",
}


@dataclass(frozen=True)
class PriorSlot:
    """What a parameter is, so that a prior can be checked for meaning and not only for syntax.

    Attributes
    ----------
    meaning : str
        One line: what the parameter is.
    support : {"real", "positive", "correlation"}
        Values the parameter can take.
    scale : str
        The scale it lives on, in words ("log-odds", "outcome units (ms)", ...), for messages.
    link : str or None
        ``"logit"`` or ``"identity"`` for parameters on a link scale: a prior set that states its
        ``link`` is only used for parameters on the same one.
    probability : bool
        True for log-odds location parameters, whose prior may be stated on the probability
        (``on = "probability"``, Beta or Uniform(0, 1)).
    has_default : bool
        The family gives a data-scaled default, so a prior set may leave the parameter out.
    """

    meaning: str
    support: str = "real"
    scale: str = "log-odds"
    link: str | None = None
    probability: bool = False
    has_default: bool = False


def slot_problems(name: str, entry: Mapping[str, Any], slot: PriorSlot, where: str) -> list[str]:
    """Problems when a prior cannot mean what it says for this parameter (wrong support or scale).

    A Beta(2, 2) stated for a log-odds intercept would be accepted by PyMC and silently restrict the
    log-odds to (0, 1); it is rejected here with the scale the parameter lives on and how to state it
    on the probability instead.
    """
    dist, on = entry["dist"], entry.get("on")
    params = {k: v for k, v in entry.items() if k not in META_KEYS}
    if on is not None:
        if on not in ON_SCALES:
            return [f"{where}: prior '{name}': unknown scale on = {on!r}; valid: {', '.join(ON_SCALES)}"]
        if on == "probability" and not slot.probability:
            return [
                f"{where}: prior '{name}' ({slot.meaning}) lives on the {slot.scale} scale and cannot be stated "
                "on the probability"
            ]
        if on != "probability" and slot.support != "positive":
            return [f"{where}: prior '{name}' lives on the {slot.scale} scale; on = {on!r} is for SD parameters"]
        needed = "unit" if on == "probability" else "positive"
        given = _support(dist, params)
        if given != needed and not (needed == "unit" and given == "unit-interval"):
            return [
                f"{where}: prior '{name}' is stated on the {on}, so it needs a distribution on that scale "
                f"({'Beta or Uniform within 0-1' if on == 'probability' else 'a positive one'}); got {dist}"
            ]
        return []
    given = _support(dist, params)
    if slot.support == "correlation":
        ok = given == "correlation"
    elif slot.support == "positive":
        ok = given in ("positive", "unit", "unit-interval", "positive-interval")
    elif given == "unit-interval":  # Uniform within (0, 1): a probability's prior on a log-odds parameter
        ok = not slot.probability
    else:
        ok = given in ("real", "interval", "positive-interval")
    if ok:
        return []
    hint = ""
    if slot.probability and given in ("unit", "unit-interval"):
        hint = (
            f'; if it is meant for the probability, add on = "probability" (translated with its Jacobian '
            f"to a density on the {slot.scale})"
        )
    elif slot.support == "positive":
        hint = "; use a positive distribution (HalfNormal, HalfStudentT, Exponential, Gamma)"
    return [
        f"{where}: prior '{name}' is {dist}, which lives on {_SUPPORT_WORDS[given]}, but '{name}' "
        f"({slot.meaning}) lives on the {slot.scale} scale ({_SUPPORT_WORDS[slot.support]}){hint}"
    ]


_SUPPORT_WORDS = {
    "real": "the whole real line",
    "positive": "positive numbers",
    "unit": "(0, 1)",
    "unit-interval": "an interval within (0, 1)",
    "positive-interval": "a positive interval",
    "interval": "an interval",
    "correlation": "correlation matrices",
}


def _support(dist: str, params: Mapping[str, Any]) -> str:
    kind = DIST_SUPPORT.get(dist, "real")
    if kind != "interval":
        return kind
    lower, upper = float(params.get("lower", 0.0)), float(params.get("upper", 1.0))
    if 0.0 <= lower and upper <= 1.0:
        return "unit-interval"
    return "positive-interval" if lower >= 0.0 else "interval"
