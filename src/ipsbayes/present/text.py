"""Words and numbers for reports, in English or Norwegian bokmål.

Everything here is plain string work: number formatting in the report's
language (decimal comma and thin-space thousands in Norwegian), the name of an
interval, and :func:`choose` for picking the sentence of the report's language.
Model families and the report layer both use it, so it imports nothing above
``ipsbayes.config``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def localise(text: str, language: str) -> str:
    """Swap decimal points for commas and thousands separators for thin spaces in Norwegian."""
    if language != "nb":
        return text
    return text.replace(",", THIN_SPACE).replace(".", ",")


def format_number(value: float | None, unit: str, language: str = "en") -> str:
    """Round for reading: one decimal for %/pp/months, three significant digits otherwise.

    Parameters
    ----------
    value : float or None
        The number (None or NaN gives "-").
    unit : str
        Its unit, which decides the rounding.
    language : {"en", "nb"}
        Norwegian uses a decimal comma.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit in ("%", "pp", "months"):
        text = f"{value:,.1f}"
    elif abs(value) >= 0.01:
        text = f"{value:.3g}"
    else:
        text = f"{value:.2g}"
    return localise(text, language)


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


#: characters that start Markdown structure inline (code spans, emphasis, links, tables, escapes)


__all__ = [
    "LANGUAGES",
    "Language",
    "choose",
    "equals_probability",
    "escape_md",
    "format_number",
    "format_probability",
    "interval_name",
    "label_of",
    "localise",
    "percent",
]
