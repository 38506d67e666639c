"""Words and numbers for reports, in English or Norwegian bokmål.

Everything here is plain string work: number formatting in the report's
language (decimal comma and thin-space thousands in Norwegian), the name of an
interval, and :func:`choose` for picking the sentence of the report's language.
Model families and the report layer both use it, so it imports nothing above
``ipsbayes.config``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ipsbayes.textutil import escape_md

Language = Literal["en", "nb"]
LANGUAGES: tuple[str, ...] = ("en", "nb")
THIN_SPACE = "\u2009"


def choose(language: str, en: str, nb: str) -> str:
    """The text for ``language`` ("en" or "nb")."""
    return nb if language == "nb" else en


def label_of(attrs: Mapping[str, Any], language: str, default: str = "") -> str:
    """An estimand's label in ``language``: ``label_nb`` in Norwegian, else the English ``label``.

    Run folders written before estimands carried ``label_nb`` fall back to the English label.
    """
    if language != "en" and attrs.get(f"label_{language}"):
        return str(attrs[f"label_{language}"])
    return str(attrs.get("label") or default)


#: Norwegian names of the unit codes estimands carry (``unit_nb`` on an estimand wins; others stay as written:
#: %, pp, OR, log-odds are the same in both languages)
UNITS_NB: dict[str, str] = {
    "months": "måneder",
    "month": "måned",
    "% per month": "% per måned",
    "points": "poeng",
    "participants": "deltakere",
    "years": "år",
    "ratio": "forhold",
    "outcome units": "utfallets enheter",  # a continuous outcome's group SDs without an outcome_unit
    "correlation": "korrelasjon",
}
#: units whose numbers are rounded to one decimal (a percentage, percentage points, months)
ONE_DECIMAL = ("%", "pp", "months", "måneder")
#: a number of months as the families write it ("6 months", "1 month")
_MONTHS = re.compile(r"\b(\d+(?:\.\d+)?) months?\b")


def unit_of(attrs: Mapping[str, Any], language: str) -> str:
    """An estimand's unit for readers of ``language``: ``unit_nb`` in Norwegian, else the unit code translated.

    Codes without a Norwegian name (``%``, ``pp``, ``OR``, ``log-odds``) are written as they are.
    """
    unit = str(attrs.get("unit", ""))
    if language != "nb":
        return unit
    return str(attrs.get("unit_nb") or UNITS_NB.get(unit, unit))


def months_text(text: str, language: str) -> str:
    """``"6 months"`` as the report's language writes it: ``"6 måneder"`` (``"1 måned"``) in Norwegian."""
    if language != "nb":
        return text
    return _MONTHS.sub(lambda m: f"{localise(m.group(1), 'nb')} {'måned' if m.group(1) == '1' else 'måneder'}", text)


def configured_words(
    labels: Mapping[str, str], report_language: str, key: str, defaults: tuple[str, str]
) -> tuple[str, str]:
    """English and Norwegian words for ``key`` when an estimand's labels are written at fit time.

    ``[report.labels]`` is written in the report's language (``report.language``): its word for ``key``
    replaces the default of that language; the other language keeps its default.

    Parameters
    ----------
    labels : mapping
        The config's ``[report.labels]``.
    report_language : {"en", "nb"}
        The config's ``report.language``.
    key : str
        The word's key (``outcome``, a category or target name).
    defaults : (str, str)
        The English and Norwegian words without a label.
    """
    english, norwegian = defaults
    if labels.get(key):
        if report_language == "nb":
            norwegian = str(labels[key])
        else:
            english = str(labels[key])
    return english, norwegian


#: study words whose ``[report.labels]`` entry replaces the fitted word inside estimand labels
RELABELLED_WORDS = ("outcome",)


def relabelled(text: str, words: Mapping[str, str], labels: Mapping[str, str], language: str) -> str:
    """An estimand label written at fit time, with the study's words as ``[report.labels]`` names them.

    Labels are written when the model is fitted, with the vocabulary's words ("Expected share with
    passed"); ``[report.labels]`` (written in the report's language) may name them otherwise
    ("bestått"). Each word of :data:`RELABELLED_WORDS` the config labels is replaced, as a whole word,
    wherever the fitted word stands in ``text`` (in Norwegian: its ``<key>_nb`` form or the plain word).

    Parameters
    ----------
    text : str
        The label (``label`` in English, ``label_nb`` in Norwegian).
    words : mapping
        The vocabulary the family stored with its estimands.
    labels : mapping
        ``[report.labels]``.
    language : {"en", "nb"}
        The language of ``text`` and of the report.
    """
    for key in RELABELLED_WORDS:
        wanted = labels.get(key)
        if not wanted:
            continue
        fitted = [words.get(f"{key}_{language}"), words.get(key)] if language != "en" else [words.get(key)]
        for word in fitted:
            if word and word != wanted and word in text:
                replacement = str(wanted)
                text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", lambda _, r=replacement: r, text)
                break
    return text


def norwegian_words(
    keys: list[str], defaults: Mapping[str, str], labels: Mapping[str, str], report_language: str
) -> dict[str, str]:
    """``<key>_nb`` vocabulary entries: the Norwegian name of each key (a category, a target) for reports.

    ``[report.labels]`` when the config's report is Norwegian (its labels are written in Norwegian), else the
    usual Norwegian name in ``defaults`` (looked up in lower case); keys with neither get no entry. Stored with
    the estimands, they name the keys in Norwegian tables that are written without the config's labels
    (``summary_nb.csv``); in the report, ``[report.labels]`` still wins.
    """
    words = {}
    for key in keys:
        word = labels.get(key) if report_language == "nb" else None
        word = word or defaults.get(str(key).lower())
        if word:
            words[f"{key}_nb"] = str(word)
    return words


def localise(text: str, language: str) -> str:
    """Swap decimal points for commas and thousands separators for thin spaces in Norwegian."""
    if language != "nb":
        return text
    return text.replace(",", THIN_SPACE).replace(".", ",")


#: numbers (other than %, pp, months) at least this large are written with three significant digits and an
#: exponent, and so are the numbers printed with them (:func:`shared_decimals` returns :data:`EXPONENT`)
HUGE = 1e6
#: the "decimals" of numbers written with an exponent
EXPONENT = -1


def format_number(value: float | None, unit: str, language: str = "en", decimals: int | None = None) -> str:
    """Round for reading: one decimal for %/pp/months, three significant digits otherwise.

    A number that rounds to zero is written without a sign ("0.0", never "-0.0").

    Parameters
    ----------
    value : float or None
        The number (None or NaN gives "-").
    unit : str
        Its unit, which decides the rounding.
    language : {"en", "nb"}
        Norwegian uses a decimal comma.
    decimals : int, optional
        A fixed number of decimals (see :func:`shared_decimals`), instead of the unit's rounding.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    value = float(value)
    if decimals == EXPONENT or (decimals is not None and abs(value) >= HUGE and unit not in ONE_DECIMAL):
        text = f"{value:.3g}"  # an odds ratio of a degenerate fit: 1.99e+09, not 1990438468.2
    elif decimals is not None:
        text = f"{value:,.{max(decimals, 0)}f}" if unit in ONE_DECIMAL else f"{value:.{max(decimals, 0)}f}"
    elif unit in ONE_DECIMAL:
        text = f"{value:,.1f}"
    elif abs(value) >= 0.01:
        text = f"{value:.3g}"
    else:
        text = f"{value:.2g}"
    if text.startswith("-") and not any(digit in text for digit in "123456789"):
        text = text[1:]  # a negative zero ("-0.0") says nothing the zero does not
    return localise(text, language)


def _decimals_for(value: float, significant: int) -> int:
    """Decimals that give ``value`` ``significant`` significant digits (0 for large numbers)."""
    if value == 0 or not math.isfinite(value):
        return 0
    return max(significant - 1 - math.floor(math.log10(abs(value))), 0)


#: the most decimals :func:`shared_decimals` adds to tell numbers apart
MAX_EXTRA_DECIMALS = 3


def shared_decimals(values: Sequence[float | None], unit: str, distinct: bool = True) -> int:
    """One number of decimals for numbers printed together (a median and its interval, two ends of a range).

    The unit's usual rounding of the largest number (one decimal for %/pp/months, three significant
    digits otherwise); for positive numbers of a unit without fixed decimals (ratios, odds ratios)
    at least two significant digits for the smallest, so no bound is printed as 0. With ``distinct``,
    up to :data:`MAX_EXTRA_DECIMALS` more decimals until numbers that differ no longer print alike.

    Parameters
    ----------
    values : sequence of float
        The numbers (None and NaN are ignored).
    unit : str
        Their unit.
    distinct : bool
        Add decimals until different values print differently.

    Returns
    -------
    int
        The decimals to pass to :func:`format_number`.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return 1 if unit in ONE_DECIMAL else 0
    largest = max(abs(v) for v in finite)
    if (
        unit not in ONE_DECIMAL and largest >= HUGE
    ):  # all with an exponent: 7.37e+05 to 1.06e+06, not 737309 to 1.06e+06
        return EXPONENT
    if unit in ONE_DECIMAL:
        decimals = 1
    else:
        decimals = _decimals_for(largest, 3) if largest >= 0.01 else _decimals_for(largest, 2)
        if all(v > 0 for v in finite):
            decimals = max(decimals, _decimals_for(min(finite), 2))
    if distinct:
        for extra in range(MAX_EXTRA_DECIMALS + 1):
            shown = {}
            for v in finite:
                shown.setdefault(round(v, decimals + extra) + 0.0, set()).add(v)
            if all(len(set(group)) == 1 for group in shown.values()):
                return decimals + extra
        return decimals + MAX_EXTRA_DECIMALS
    return decimals


def format_numbers(values: Sequence[float | None], unit: str, language: str = "en", distinct: bool = True) -> list[str]:
    """Numbers printed together, each with the same decimals (see :func:`shared_decimals`)."""
    decimals = shared_decimals(values, unit, distinct)
    return [format_number(v, unit, language, decimals) for v in values]


def equals_probability(value: float, language: str = "en") -> str:
    """`` = 0.88`` after ``P(> x)``, or at the resolution limit `` > 0.99`` (never ``= > 0.99``)."""
    text = format_probability(value, language=language)
    return f" {text}" if text[0] in "<>" else f" = {text}"


def format_probability(value: float, draws: int | None = None, language: str = "en") -> str:
    """A posterior probability without false certainty: never "1.00" or "0.00" from finite draws.

    With ``draws`` draws the smallest resolvable probability is about ``1 / draws``;
    probabilities beyond ``0.99`` / below ``0.01`` are written as "> 0.99" / "< 0.01".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value > 0.99:
        text = "> 0.99"
    elif value < 0.01:
        text = "< 0.01"
    else:
        text = f"{value:.2f}"
    return localise(text, language)


def percent(prob: float, language: str = "en") -> str:
    """A probability as a whole percentage: ``90%`` in English, ``90 %`` in Norwegian."""
    text = f"{prob:.0%}"
    return text.replace("%", " %") if language == "nb" else text


def interval_name(kind: str, prob: float, language: str = "en") -> str:
    """Human name of an interval, e.g. ``90% equal-tailed interval (ETI)``."""
    percent_text = percent(prob, language)
    if language == "nb":
        name = "høyeste-tetthetsintervall" if kind == "hdi" else "likehalet intervall"
        return f"{percent_text} {name} ({kind.upper()})"
    return f"{percent_text} {'highest-density' if kind == 'hdi' else 'equal-tailed'} interval ({kind.upper()})"


__all__ = [
    "LANGUAGES",
    "UNITS_NB",
    "Language",
    "choose",
    "configured_words",
    "equals_probability",
    "escape_md",
    "format_number",
    "format_numbers",
    "format_probability",
    "interval_name",
    "label_of",
    "localise",
    "months_text",
    "norwegian_words",
    "percent",
    "relabelled",
    "shared_decimals",
    "unit_of",
]
