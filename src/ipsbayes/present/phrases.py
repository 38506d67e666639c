"""Building blocks of sentences whose every comparative word is chosen from the numbers.

An :class:`Effect` summarises posterior draws of one quantity (median, interval,
probabilities on either side of its null, and beyond a practical threshold in
the direction of its median). The phrase helpers turn effects into words in the
report's language: :func:`amount` puts the unit on every number ("16.7 pp",
"24.1%", "1.2 months"), :func:`direction` says whether the data show an increase,
probably an increase, cannot tell, and so on, and :func:`compare` picks
"larger"/"smaller"/"about the same". Nothing here knows a model family.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import xarray as xr

from ipsbayes.present.style import Style
from ipsbayes.present.text import (
    choose,
    format_number,
    format_probability,
    localise,
    months_text,
    percent,
    shared_decimals,
)

Direction = Literal["up", "probably_up", "unclear", "probably_down", "down"]
#: the posterior probability in the direction of the median above which a change is called "probable"
PROBABLY = 0.8

#: unit -> (English, Norwegian) word written after a number; units absent here are written as they are
UNIT_WORDS: dict[str, tuple[str, str]] = {
    "pp": ("pp", "prosentpoeng"),
    "months": ("months", "måneder"),
    "month": ("month", "måned"),
    "% per month": ("% per month", "% per måned"),
    "points": ("points", "poeng"),
    "participants": ("participants", "deltakere"),
    "years": ("years", "år"),
}
#: units whose numbers need no word after them (the label says what they are)
BARE_UNITS = {"", "OR", "ratio", "forhold", "MOR", "share", "correlation", "korrelasjon", "SD (log-odds)", "log-odds"}


def spoken_unit(attrs: Any, language: str = "en") -> str:
    """The unit an estimand's numbers are written with in ``language``.

    The package's unit codes (``pp``, ``%``, ``months``, ``OR``, ...) stay codes: :func:`amount` writes
    them in either language. A study's own unit (``outcome_unit = "points"``, ``"ms"``) is written as
    its ``unit_nb`` in a Norwegian report when the estimand carries one (``outcome_unit_nb``).
    """
    unit = str(attrs.get("unit", ""))
    coded = unit in UNIT_WORDS or unit in BARE_UNITS or unit == "%" or unit.startswith(("log-odds per", "OR per"))
    if language == "nb" and attrs.get("unit_nb") and not coded:
        return str(attrs["unit_nb"])
    return unit


def unit_word(unit: str, language: str = "en") -> str:
    """The word written after a number of ``unit`` (``""`` for ratios, correlations and shares)."""
    if unit in UNIT_WORDS:
        return choose(language, *UNIT_WORDS[unit])
    if unit in BARE_UNITS or unit.startswith(("log-odds per", "OR per")):
        return ""
    return unit


def amount(value: float | None, unit: str, language: str = "en", decimals: int | None = None) -> str:
    """A number with its unit: ``16.7 pp``, ``24.1%`` (``24,1 %`` in Norwegian), ``1.2 months``, ``1.49``.

    ``decimals`` fixes the rounding (numbers printed together, see :func:`amounts`).
    """
    number = format_number(value, unit, language, decimals)
    if number == "-":
        return number
    if unit == "%":
        return f"{number} %" if language == "nb" else f"{number}%"
    word = unit_word(unit, language)
    return f"{number} {word}" if word else number


def amounts(values: list[float | None], unit: str, language: str = "en") -> list[str]:
    """Numbers a sentence compares, with their unit: the same decimals, enough to tell different values apart.

    ``[0.318, 0.262]`` in pp gives ``["0.32 pp", "0.26 pp"]`` where :func:`amount` would print
    "0.3 pp" twice (see :func:`~ipsbayes.present.text.shared_decimals`).
    """
    decimals = shared_decimals(values, unit)
    return [amount(value, unit, language, decimals) for value in values]


def signed(value: float, unit: str, language: str = "en", decimals: int | None = None) -> str:
    """Like :func:`amount` with an explicit sign: ``+3.5 pp``, ``-7.6 pp``."""
    text = amount(value, unit, language, decimals)
    if text == "-":
        return text
    return "+" + text if value > 0 and not text.startswith("+") else text


@dataclass(frozen=True)
class Effect:
    """Posterior summary of one scalar quantity, with probabilities on each side of its null.

    Attributes
    ----------
    median, lower, upper : float
        Posterior median and interval bounds (the report's interval kind and probability).
    unit : str
        Reporting unit (``pp``, ``%``, ``months``, ``OR``, ...).
    null : float
        Value of "no effect" (0 for differences, 1 for ratios).
    p_up, p_down : float
        Posterior probabilities of being above / below the null.
    draws : ndarray
        The flat draws (for thresholds).
    """

    median: float
    lower: float
    upper: float
    unit: str
    null: float
    p_up: float
    p_down: float
    draws: np.ndarray
    #: the interval kind of ``lower`` and ``upper`` ("eti" or "hdi")
    kind: str = "eti"

    @classmethod
    def from_draws(cls, draws: Any, style: Style, unit: str = "", null: float | None = 0.0) -> Effect:
        """Summarise draws (any shape; flattened) with the interval of ``style``."""
        values = np.asarray(draws, dtype=float).ravel()
        values = values[np.isfinite(values)]
        null = 0.0 if null is None else float(null)
        lower, upper = interval_bounds(values, style)
        return cls(
            median=float(np.median(values)),
            lower=lower,
            upper=upper,
            unit=unit,
            null=null,
            p_up=float(np.mean(values > null)),
            p_down=float(np.mean(values < null)),
            draws=values,
            kind=style.kind,
        )

    @property
    def sign(self) -> int:
        """+1 when the median is above the null, -1 below, 0 on it."""
        return int(np.sign(self.median - self.null))

    @property
    def p_direction(self) -> float:
        """Posterior probability on the side of the null where the median lies."""
        return self.p_down if self.sign < 0 else self.p_up

    def as_decrease(self) -> Effect:
        """The size of a decrease, for sentences that carry the direction in their verb ("lowered by 12.7 pp").

        A difference (null 0) is negated, its interval bounds swapped; its draws are negated too, so
        every probability keeps its meaning for the decrease. Any other null (a ratio) is returned as it is.
        """
        if self.null != 0.0:
            return self
        return replace(
            self,
            median=-self.median,
            lower=-self.upper,
            upper=-self.lower,
            p_up=self.p_down,
            p_down=self.p_up,
            draws=-self.draws,
        )

    def p_beyond(self, threshold: float) -> float:
        """Probability of a change larger than ``threshold`` in the direction of the median.

        For ratios (null 1) the threshold is a ratio too: beyond ``threshold`` upwards or
        beyond ``1 / threshold`` downwards.
        """
        if self.null == 1.0 and threshold > 0:
            return (
                float(np.mean(self.draws < 1 / threshold)) if self.sign < 0 else float(np.mean(self.draws > threshold))
            )
        if self.sign < 0:
            return float(np.mean(self.draws < self.null - abs(threshold)))
        return float(np.mean(self.draws > self.null + abs(threshold)))

    def p_either_beyond(self, threshold: float) -> float:
        """Probability of a change larger than ``threshold`` in either direction (a practically relevant effect)."""
        return float(np.mean(np.abs(self.draws - self.null) > abs(threshold)))

    def direction(self, prob: float) -> Direction:
        """Clear when the interval excludes the null, else probable or unclear (see :func:`direction`).

        For an equal-tailed interval that is the probability rule of :func:`direction`. A highest-density
        interval can exclude the null while a tail holds more than ``(1 - prob) / 2``, or include it while
        the tail holds less, so there the printed interval decides between clear and probable: the verb
        never contradicts the interval beside it.
        """
        found = direction(self.p_up, self.p_down, prob)
        if self.kind != "hdi":
            return found
        if self.excludes_null():
            return "up" if self.lower > self.null else "down"
        if found == "up":
            return "probably_up"
        if found == "down":
            return "probably_down"
        return found

    def excludes_null(self) -> bool:
        """True when the interval lies entirely on one side of the null."""
        return self.lower > self.null or self.upper < self.null


def interval_bounds(values: np.ndarray, style: Style) -> tuple[float, float]:
    """Interval bounds of flat draws under ``style`` (ETI by quantiles, HDI by ArviZ)."""
    if values.size == 0:
        return float("nan"), float("nan")
    if style.kind == "hdi":
        import arviz as az

        bounds = az.hdi(xr.DataArray(values[None, :], dims=("chain", "draw")), prob=style.prob, dim=["chain", "draw"])
        return float(bounds.sel(ci_bound="lower")), float(bounds.sel(ci_bound="upper"))
    tail = (1 - style.prob) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def direction(p_up: float, p_down: float, prob: float) -> Direction:
    """Classify a posterior by the probability on each side of its null.

    ``up``/``down`` when the ``prob`` equal-tailed interval excludes the null
    (probability above ``(1 + prob) / 2`` on one side), ``probably_up``/``probably_down``
    when that probability is at least :data:`PROBABLY`, else ``unclear``.
    """
    clear = (1 + prob) / 2
    if p_up > clear:
        return "up"
    if p_down > clear:
        return "down"
    if p_up >= PROBABLY:
        return "probably_up"
    if p_down >= PROBABLY:
        return "probably_down"
    return "unclear"


def estimate(effect: Effect, style: Style, language: str = "en", signed_value: bool = False) -> str:
    """``7.4 pp (90% ETI -10.2 to 24.3 pp)``: the median with its interval, units on every number.

    The median and both bounds get the same decimals (:func:`effect_decimals`).
    """
    decimals = effect_decimals(effect)
    value = (
        signed(effect.median, effect.unit, language, decimals)
        if signed_value
        else amount(effect.median, effect.unit, language, decimals)
    )
    return f"{value} ({interval_text(effect, style, language)})"


def effect_decimals(effect: Effect) -> int:
    """The decimals of an effect's median and bounds: one rounding for the three, enough to tell them apart."""
    return shared_decimals([effect.median, effect.lower, effect.upper], effect.unit)


def interval_text(effect: Effect, style: Style, language: str = "en") -> str:
    """``90% ETI -10.2 to 24.3 pp``, its bounds rounded as the median is (:func:`effect_decimals`)."""
    to = choose(language, "to", "til")
    decimals = effect_decimals(effect)
    low = format_number(effect.lower, effect.unit, language, decimals)
    high = amount(effect.upper, effect.unit, language, decimals)
    return f"{percent(style.prob, language)} {style.kind.upper()} {low} {to} {high}"


def compare(a: float, b: float, tolerance: float, language: str = "en") -> str:
    """``larger``/``smaller``/``about the same`` for ``a`` against ``b`` (equal within ``tolerance``)."""
    if abs(a - b) <= tolerance:
        return choose(language, "about the same as", "omtrent det samme som")
    return choose(language, "larger than", "større enn") if a > b else choose(language, "smaller than", "mindre enn")


def probability(value: float, language: str = "en") -> str:
    """A posterior probability for a sentence (never 0.00 or 1.00)."""
    return format_probability(value, language=language)


_LEVEL = re.compile(r"^(?P<var>[^\[\]:]+)\[(?P<level>.+)\]$")
_CONTRAST = re.compile(r"^(?P<var>[^:]+):\s*(?P<rest>.+)$")
_VERSUS = re.compile(r"^(?P<high>.+?) vs (?P<low>.+)$")
_SHIFT = re.compile(r"^\+1 (?P<what>SD|unit)(?: \((?P<size>[^)]*)\))?$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def readable(
    raw: str, labels: Mapping[str, str] | None = None, language: str = "en", default: str | None = None
) -> str:
    """A readable label for a raw variable, level, model term name or summary element.

    ``[report.labels]`` (``labels``) wins; otherwise underscores become spaces.
    Terms are taken apart: ``gender[male]`` -> "gender: male", ``diagnosis: psychosis vs
    anxiety_depression`` -> "diagnosis: psychosis vs anxiety depression" (each part looked up),
    ``age: +1 SD (4.39)`` -> "age: +1 SD (4.39)". Without ``default``, a summary element of several
    coordinates (``"work, 6 months"``) is read coordinate by coordinate, and each name is looked up
    in ``labels`` and then as ``<name>_<language>`` (the study's word in that language, e.g.
    ``work_nb``); equations (``education_vs_work``), pairs (``a ~ b``), months and decimal numbers
    are written in the report's language ("utdanning mot arbeid", "6 måneder", "4,5").
    """
    labels = labels or {}
    raw = str(raw)
    if raw in labels:
        return str(labels[raw])
    if default is None and ", " in raw:  # one coordinate after another (summary elements)
        return ", ".join(readable(part, labels, language) for part in raw.split(", "))

    def one(name: str) -> str:
        name = name.strip()
        if name in labels:
            return str(labels[name])
        if language != "en" and labels.get(f"{name}_{language}"):
            return str(labels[f"{name}_{language}"])
        if " ~ " in name:  # a pair of equations
            return " ~ ".join(one(part) for part in name.split(" ~ "))
        if "_vs_" in name:  # an equation: one outcome against the reference
            high, low = name.split("_vs_", 1)
            return f"{one(high)} {choose(language, 'vs', 'mot')} {one(low)}"
        if _DECIMAL.match(name):
            return localise(name, language)
        return months_text(name, language).replace("_", " ")

    match = _LEVEL.match(raw)
    if match:
        return f"{one(match['var'])}: {one(match['level'])}"
    match = _CONTRAST.match(raw)
    if match:
        rest = match["rest"].strip()
        versus = _VERSUS.match(rest)
        shift = _SHIFT.match(rest)
        if versus and not rest.startswith("1 vs 0"):
            vs = choose(language, "vs", "mot")
            rest = f"{one(versus['high'])} {vs} {one(versus['low'])}"
        elif shift:
            what = "SD" if shift["what"] == "SD" else choose(language, "unit", "enhet")
            size = shift["size"]
            if size and language == "nb":
                size = size.replace(".", ",")
            rest = f"+1 {what}" + (f" ({size})" if size else "")
        elif rest.startswith("1 vs 0"):
            rest = choose(language, "yes vs no", "ja mot nei")
        else:  # "prior set: ips_literature", "variant: no_exclusion_restriction"
            rest = one(rest)
        return f"{one(match['var'])}: {rest}"
    return default if default is not None else one(raw)


def term_of_contrast(contrast: str) -> str:
    """The model term behind an average-marginal-effect contrast label.

    ``gender: male vs female`` -> ``gender[male]``; ``age: +1 SD (4.39)`` and ``paid: 1 vs 0`` -> the variable.
    """
    match = _CONTRAST.match(str(contrast))
    if not match:
        return str(contrast)
    variable, rest = match["var"].strip(), match["rest"].strip()
    versus = _VERSUS.match(rest)
    if versus and not rest.startswith("1 vs 0"):
        return f"{variable}[{versus['high'].strip()}]"
    return variable


def sd_of_contrast(contrast: str) -> float | None:
    """The SD a ``+1 SD (x)`` contrast shifts by (None for other contrasts)."""
    match = _CONTRAST.match(str(contrast))
    shift = _SHIFT.match(match["rest"].strip()) if match else None
    if not shift or shift["what"] != "SD" or not shift["size"]:
        return None
    try:
        return float(shift["size"])
    except ValueError:
        return None


__all__ = [
    "Direction",
    "Effect",
    "amount",
    "amounts",
    "compare",
    "direction",
    "effect_decimals",
    "estimate",
    "interval_bounds",
    "interval_text",
    "probability",
    "readable",
    "sd_of_contrast",
    "signed",
    "term_of_contrast",
    "unit_word",
]
