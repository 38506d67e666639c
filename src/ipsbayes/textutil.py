"""Text helpers every layer may import: Markdown escaping, short lists, plain values.

This module imports nothing from ipsbayes, so ``errors``, ``config``, ``data``,
``models`` and ``report`` can all use it.

Everything that comes from a user (service ids, category levels, column names,
titles, labels, file paths) is *data*: it is escaped with :func:`escape_md`
before it goes into Markdown, and Markdown written by code around such values
is passed through :func:`neutralize_markdown` before it is written, so no raw
HTML, link or image from the data survives into ``report.md`` (and, after the
HTML sanitiser, into ``report.html``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

#: characters that start Markdown structure inline (code spans, emphasis, links, tables, escapes)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
#: pandoc's TeX math ($), subscript and strikeout (~) and superscript (^) open or close next to a non-space
_PANDOC_SPECIAL = re.compile(r"[$~^](?=\S)|(?<=\S)[$~^]")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")
#: a ``[`` that starts a line, also inside block quotes and list items (``> [x]: url`` defines a link there too)
_REFERENCE_DEFINITION = re.compile(r"^((?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*)\[", re.MULTILINE)
_NUMPY_REPR = re.compile(r"\bnp\.(?:u?int|float|complex|bool|str|bytes|datetime|timedelta)\w*\(([^()]*)\)")
DEFAULT_SHOWN = 10
#: longest name or value shown whole in a message
LONGEST_SHOWN = 80


class MarkdownText(str):
    """Markdown that is safe to write as it is (already escaped or neutralised)."""

    __slots__ = ()


#: a ``<`` that CommonMark/pandoc could read as the start of raw HTML or an autolink (``<1x@host>`` too)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?]|[^\s<>]*@)")
#: a ``<`` that starts what looks like an HTML tag, comment or declaration (``<b>``, ``<a_b on...=``, ``</x``)
#: or an autolink (``<javascript:...>``, ``<a@b.no>``): a browser reads any name up to a space, ``/`` or ``>``;
#: a backtick ends it here (a formula's ```score<limit` + x``: the column's closing backtick, no tag)
_TAG_LIKE = re.compile(r"<(?=[A-Za-z][^\s<>/`]*[\s/>]|[/!?]|[A-Za-z][A-Za-z0-9+.-]{1,31}:|[^\s<>`]*@)")
_BACKTICKS = re.compile(r"`+")


def escape_md(value: Any) -> MarkdownText:
    r"""Escape a user-controlled value so Markdown shows it as plain text.

    Newlines become spaces (a value never starts a new block), a ``<`` that could
    open a tag, comment or autolink (followed by a letter, ``/``, ``!`` or ``?``)
    becomes ``&lt;`` (so ``< 0.01`` stays readable), an ``&`` that would start an entity
    becomes ``&amp;``, and backslashes, backticks, ``*``, ``[``, ``]``, ``|`` and ``_``
    are backslash-escaped (no code span, emphasis, link, image or table cell break), and
    so are ``$``, ``~`` and ``^`` next to a non-space, where pandoc would open or close TeX
    math (``$\input{...}$`` reaching LaTeX), a subscript, strikeout or superscript; a
    spaced ``y ~ x`` is left as it is. Values that are already :class:`MarkdownText`
    are returned unchanged.

    Parameters
    ----------
    value : object
        Any value; numpy scalars are shown as plain numbers (see :func:`plain`).

    Returns
    -------
    MarkdownText
    """
    if isinstance(value, MarkdownText):
        return value
    text = value if isinstance(value, str) else plain(value)
    text = _NEWLINES.sub(" ", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _PANDOC_SPECIAL.sub(lambda found: "\\" + found.group(), text)
    text = _ENTITY.sub("&amp;", text)
    return MarkdownText(_TAG_START.sub("&lt;", text))


def code_span(value: Any, in_table: bool = True) -> MarkdownText:
    r"""A user value as one Markdown code span, shown exactly as written.

    Backslash escapes do not work inside code spans (``ips\_map`` would show its backslash),
    so the value is not escaped: newlines become spaces, the fence is one backtick longer than
    the longest run of backticks in the value (a formula's ```reading age```), and a space pads a
    value that starts or ends with a backtick. A ``|`` (which would still split a table cell) is
    written as ``¦``, unless ``in_table`` is False: a formula in running text keeps its
    ``(1 | school)``.
    """
    text = _NEWLINES.sub(" ", value if isinstance(value, str) else plain(value))
    if in_table:
        text = text.replace("|", "\u00a6")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return MarkdownText(f"{fence}{pad}{text}{pad}{fence}")


def neutralize_markdown(text: str) -> MarkdownText:
    r"""Make Markdown written by code (with user values inside) safe to publish.

    Code that builds Markdown around user values (section text, model
    descriptions) may not have escaped every value. This removes what could
    turn such a value into live content, whatever the surrounding Markdown:
    every ``<`` that could open a tag, comment or autolink becomes ``&lt;`` (no raw
    HTML or autolink; ``< 0.01`` stays as it is), every
    ``](`` becomes ``]\(`` (no inline link or image) and a ``[`` that starts a
    line is escaped (no link reference definition). Emphasis, code spans,
    tables and lists written by the code are untouched. Inside a code span, where
    an escape would be shown as written (``a&lt;b``), only a ``<`` that starts what
    looks like a tag or an autolink (``<b>``, ``<img src``, ``</x``, ``<https:``) becomes ``&lt;``: a column
    ``score<limit`` shows as written (:func:`outside_code_spans`).

    Parameters
    ----------
    text : str
        Markdown produced by ipsbayes code.

    Returns
    -------
    MarkdownText
    """
    if isinstance(text, MarkdownText):
        return text
    parts, after_span = [], False
    for plain_part, span in outside_code_spans(str(text)):
        if after_span and plain_part.startswith("{"):  # pandoc's `...`{=html} would make the span raw HTML
            plain_part = "\\" + plain_part
        parts.append(_TAG_START.sub("&lt;", plain_part) + _TAG_LIKE.sub("&lt;", span))
        after_span = bool(span)
    return MarkdownText(_REFERENCE_DEFINITION.sub(r"\1\\[", "".join(parts).replace("](", "]\\(")))


def outside_code_spans(text: str) -> list[tuple[str, str]]:
    r"""Split Markdown into (text outside code spans, the code span after it) pairs, in order.

    As CommonMark reads them: a run of n backticks opens a code span that the next run of exactly
    n backticks closes; a run with no such closer is plain text, and so is a backslash-escaped
    backtick outside a span. A span here never crosses a line end (:func:`code_span` writes none;
    CommonMark's would end at a blank line, a list item or a quote marker, so across lines the text
    counts as plain and is escaped in full). Inside a span nothing is markup (``<b>`` or ``](`` is shown as
    written), so :func:`neutralize_markdown` escapes less there: an escape would show itself
    (``a&lt;b``). The last pair's span is empty.
    """
    pairs: list[tuple[str, str]] = []
    start = position = 0
    line_end = -1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2  # an escaped character (a backtick too) is plain text
            continue
        if char != "`":
            position += 1
            continue
        run = len(_BACKTICKS.match(text, position).group())
        if line_end < position:  # found once per line: searching from every run would take quadratic time
            line_end = text.find("\n", position) % (len(text) + 1)  # -1 (last line): the text's end
        closer = re.compile(rf"(?<!`)`{{{run}}}(?!`)")
        found = closer.search(text, position + run, line_end)
        if found is None:  # no closer: the run is plain text
            position += run
            continue
        pairs.append((text[start:position], text[position : found.end()]))
        start = position = found.end()
    pairs.append((text[start:], ""))
    return pairs


def plain(value: Any) -> str:
    """Show a value as a person would write it: ``13`` rather than ``np.int64(13)``.

    Parameters
    ----------
    value : object
        A number, numpy scalar, string or anything else.
    """
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        value = item()
    return str(value)


def plain_repr(value: Any, limit: int = 80) -> str:
    """Like ``repr`` for messages, but numpy scalars plain and long values cut to ``limit`` characters."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        value = item()
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"


def clean_message(text: str) -> str:
    r"""A message for the terminal: numpy reprs (``np.int64(13)``) as plain values, control characters escaped.

    A group id from the data holding ``\x1b[2J`` would clear the user's screen when a diagnostics
    line names it; it is printed as the text ``\x1b[2J`` (line breaks and tabs stay).
    """
    previous = None
    while previous != text:
        previous, text = text, _NUMPY_REPR.sub(r"\1", text)
    return _TERMINAL_CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


#: characters a terminal acts on (escape sequences, bells, carriage returns), but line breaks and tabs
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: control characters that XML 1.0 (worksheets) and HTML text cannot hold; tab, newline and carriage return can
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_pictures(text: str) -> str:
    r"""``text`` with each control character but tab and line breaks shown as its Unicode picture (BEL -> U+2407).

    A name read from the data may hold one (a group named ``"S\x07"``): a worksheet cannot hold it
    and a browser shows nothing in its place. The picture keeps it visible and distinct.

    Examples
    --------
    >>> control_pictures("S\x07one")
    'S␇one'
    """
    return _CONTROL.sub(lambda found: chr(0x2421 if found.group() == "\x7f" else 0x2400 + ord(found.group())), text)


def invisible(char: str) -> bool:
    """A character that shows as nothing or as a plain space: format, control and unusual space characters."""
    return char != " " and unicodedata.category(char) in {"Cf", "Cc", "Co", "Cs", "Cn", "Zs", "Zl", "Zp"}


def visible(text: str, limit: int = LONGEST_SHOWN) -> str:
    r"""A user's name or value as a message shows it: invisible characters as ``\u200b``, long text cut.

    Examples
    --------
    >>> visible("age\N{ZERO WIDTH SPACE}")
    'age\\u200b'
    >>> visible("a" * 20_000, limit=10)
    'aaaaaaaaaa... (20,000 characters)'
    """
    if any(invisible(char) for char in text):
        text = "".join(f"\\u{ord(char):04x}" if invisible(char) else char for char in text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def invisible_names(text: str) -> str:
    """The invisible characters in ``text`` by code point and name, e.g. ``U+200B ZERO WIDTH SPACE``."""
    found = dict.fromkeys(char for char in text if invisible(char))
    return ", ".join(f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}" for char in found)


def shorten(items: Iterable[Any], shown: int = DEFAULT_SHOWN, quote: bool = False) -> str:
    """Join the first ``shown`` items with commas and say how many more there are.

    Parameters
    ----------
    items : iterable
        Names or values (shown with :func:`plain`).
    shown : int
        How many to list.
    quote : bool
        Put each item in single quotes.

    Examples
    --------
    >>> shorten(range(100_000), shown=3)
    '0, 1, 2, ... (99,997 more; 100,000 in all)'
    """
    values = list(items)
    parts = [f"'{visible(plain(v))}'" if quote else visible(plain(v)) for v in values[:shown]]
    text = ", ".join(parts)
    if len(values) > shown:
        text += f", ... ({len(values) - shown:,} more; {len(values):,} in all)"
    return text


def beside(value: float, decimals: int, edges: Sequence[float] = ()) -> str:
    """``value`` with ``decimals`` decimals, or more where it would read as a threshold it is not.

    R-hat 1.0104 beside the rule "> 1.01" reads ``1.0104``, not ``1.010``; a bulk ESS of 399.6 beside
    "< 400" reads ``399.6``, not ``400``.
    """
    for places in range(decimals, decimals + 10):
        text = f"{value:.{places}f}"
        if not any(float(text) == edge != value for edge in edges):
            return text
    return repr(float(value))


#: bokmål for the English words the model families use by default (a config's own words are kept as written)
NB_DEFAULT_WORDS = {
    "treatment": "behandling",
    "control": "kontroll",
    "participant": "deltaker",
    "participants": "deltakere",
    "observation": "observasjon",
    "observations": "observasjoner",
    "service": "tjeneste",
    "services": "tjenester",
    "job specialist": "jobbspesialist",
    "job specialists": "jobbspesialister",
    "specialist": "jobbspesialist",
    "specialists": "jobbspesialister",
    "the outcome": "utfallet",
}

__all__ = [
    "NB_DEFAULT_WORDS",
    "MarkdownText",
    "beside",
    "clean_message",
    "code_span",
    "control_pictures",
    "decimal_commas",
    "escape_md",
    "neutralize_markdown",
    "outside_code_spans",
    "plain",
    "plain_repr",
    "shorten",
    "visible",
]


def decimal_commas(text: str, keep: Iterable[str] = ()) -> str:
    """Norwegian numbers: a decimal point between digits becomes a comma (``1.021`` -> ``1,021``).

    Text in ``keep`` (the study's own ids and labels, e.g. herd ``2.1`` or "ICD 10.2") stays as written.
    """
    patterns = [r"\s+".join(map(re.escape, k.split())) for k in sorted(set(keep), key=len, reverse=True) if k.strip()]
    if not patterns:
        return _DECIMAL_POINT.sub(r"\1,\2", text)
    kept = re.compile(r"(?<![\w.])(?:" + "|".join(patterns) + r")(?![\w.])")  # also when wrapped over lines
    out, start = [], 0
    for match in kept.finditer(text):
        out += [_DECIMAL_POINT.sub(r"\1,\2", text[start : match.start()]), match.group(0)]
        start = match.end()
    return "".join([*out, _DECIMAL_POINT.sub(r"\1,\2", text[start:])])


_DECIMAL_POINT = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?![\w.])")


#: English nouns whose plural is not a suffix (``analysis`` and other ``-sis`` nouns follow a rule)
_EN_IRREGULAR = {
    "child": "children",
    "person": "people",
    "man": "men",
    "woman": "women",
    "mouse": "mice",
    "foot": "feet",
    "tooth": "teeth",
    "goose": "geese",
    "ox": "oxen",
    "axis": "axes",
    "criterion": "criteria",
    "phenomenon": "phenomena",
    "leaf": "leaves",
    "life": "lives",
    "wife": "wives",
    "knife": "knives",
    "half": "halves",
    "calf": "calves",
    "shelf": "shelves",
    "wolf": "wolves",
    "hero": "heroes",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "echo": "echoes",
    "quiz": "quizzes",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
    "species": "species",
    "series": "series",
}
#: bokmål nouns whose plural is not ``-er`` / ``-r`` (neuter nouns of one syllable, a few irregulars)
_NB_IRREGULAR = {"barn": "barn", "år": "år", "hus": "hus", "land": "land", "mann": "menn", "bok": "bøker"}
_LAST_WORD = re.compile(r"^(.*?)([^\W\d_]+)$")


def regular_plural(word: str, language: str) -> str:
    """The plural of a study's word: "school" -> "schools", "county" -> "counties", "batch" -> "batches".

    English: ``-s``, ``-x``, ``-z``, ``-ch``, ``-sh`` add ``-es``; a consonant before ``-y`` makes ``-ies``;
    ``-sis`` becomes ``-ses``; common irregular nouns (child, person, man, woman, mouse, foot, tooth, ...)
    take their own plural. Bokmål: "skole" -> "skoler", "elev" -> "elever", "lærer" -> "lærere", and a
    few irregular nouns ("barn", "år"). Only the last word changes ("job specialist" -> "job
    specialists"), and its case is kept ("INDEX" -> "INDEXES", "Child" -> "Children"); a word that does
    not end in a letter just gets ``s`` (``r`` in bokmål).
    """
    found = _LAST_WORD.match(word)
    if found is None:
        return word + ("er" if language == "nb" else "s")
    head, last = found.groups()
    lower = last.lower()
    if language == "nb":
        plural = _NB_IRREGULAR.get(lower)
        if plural is None:
            ending = "e" if lower.endswith("er") and len(lower) > 3 else "r" if lower.endswith("e") else "er"
            plural = lower + ending
    else:
        plural = _EN_IRREGULAR.get(lower) or _english_plural(lower)
    return head + _same_case(last, plural)


def _english_plural(word: str) -> str:
    """The regular English plural of a lower-case word."""
    if word.endswith("sis"):
        return word[:-2] + "es"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _same_case(word: str, plural: str) -> str:
    """``plural`` (lower case) written in ``word``'s case.

    The letters they share are kept as ``word`` has them, the rest is in capitals when ``word`` is
    ("INDEX" -> "INDEXES", "Child" -> "Children", "McCoy" -> "McCoys"). A short acronym keeps a
    lower-case ``s`` ("ID" -> "IDs", "GP" -> "GPs").
    """
    lower = word.lower()
    differ = (i for i, (a, b) in enumerate(zip(lower, plural, strict=False)) if a != b)
    shared = next(differ, min(len(lower), len(plural)))
    rest = plural[shared:]
    if word.isupper() and not (len(word) <= 3 and plural == lower + "s"):
        rest = rest.upper()
    return word[:shared] + rest
