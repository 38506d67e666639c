"""Small HTML helpers for report.html: long tables collapsed behind ``<details>``.

The input is section HTML that the renderer has already made safe (rendered from
Markdown and sanitised); these helpers only wrap whole ``<table>`` elements and
never look inside cells, so they add no markup from data.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

#: tables with more data rows than this are collapsed by default
LONG_TABLE_ROWS = 15

_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL | re.IGNORECASE)
_ROW = re.compile(r"<tr\b", re.IGNORECASE)


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
