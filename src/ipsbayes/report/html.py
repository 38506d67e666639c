"""Small HTML helpers for report.html: long tables collapsed behind ``<details>``.

The input is section HTML that the renderer has already made safe (rendered from
Markdown and sanitised); these helpers only wrap whole ``<table>`` elements and
never look inside cells, so they add no markup from data.
"""

from __future__ import annotations

import re

import markdown
from markupsafe import Markup, escape

#: tables with more data rows than this are collapsed by default
LONG_TABLE_ROWS = 15

_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL | re.IGNORECASE)
_ROW = re.compile(r"<tr\b", re.IGNORECASE)
#: characters :func:`~ipsbayes.textutil.escape_md` backslash-escapes beyond Python-Markdown's own list (pandoc
#: reads ``$`` as TeX math, ``~`` and ``^`` as sub- and superscript): shown without their backslash here too
_MORE_ESCAPED = ("$", "~", "^", "|")


def markdown_to_html(text: str) -> str:
    """HTML of report Markdown (tables extension); every character :func:`escape_md` escapes shows as itself.

    Not sanitised: callers pass it through the allowlist sanitiser.
    """
    converter = markdown.Markdown(extensions=["tables"])
    converter.ESCAPED_CHARS = [
        *converter.ESCAPED_CHARS,
        *(c for c in _MORE_ESCAPED if c not in converter.ESCAPED_CHARS),
    ]
    return converter.convert(text)


def collapse_tables(html: str, summary: str = "Show the table", rows: int = LONG_TABLE_ROWS) -> Markup:
    """Wrap every table of ``html`` with more than ``rows`` data rows in a closed ``<details>``.

    Parameters
    ----------
    html : str or Markup
        Sanitised HTML (a section rendered from Markdown).
    summary : str
        Text of the disclosure button (escaped); the row count is appended.
    rows : int
        Largest number of data rows shown open.

    Returns
    -------
    Markup
        The same HTML with long tables collapsed.
    """

    def wrap(match: re.Match[str]) -> str:
        table = match.group(0)
        count = len(_ROW.findall(table)) - 1  # header row
        if count <= rows:
            return table
        return f'<details class="long"><summary>{escape(summary)} ({count})</summary>{table}</details>'

    return Markup(_TABLE.sub(wrap, str(html)))  # input is sanitised HTML; only whole tables are wrapped


__all__ = ["LONG_TABLE_ROWS", "collapse_tables"]
