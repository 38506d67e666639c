"""Presentation primitives shared by model families and the report layer.

Model families own their report parts (answer block, sections, figures) and
build them with these primitives; the report layer renders them. Importing this
package has no side effects (no matplotlib backend is chosen here).
"""

from ipsbayes.present.context import Figure, Presentation, ReportContext, Section, always, fixed
from ipsbayes.present.style import Style
from ipsbayes.present.text import choose, format_number, format_probability, interval_name

__all__ = [
    "Figure",
    "Presentation",
    "ReportContext",
    "Section",
    "Style",
    "always",
    "choose",
    "fixed",
    "format_number",
    "format_probability",
    "interval_name",
]
