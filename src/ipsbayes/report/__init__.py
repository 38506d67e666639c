"""Reports: figures, tables and HTML/Markdown rendering from a DataTree (never a model object)."""

from ipsbayes.report import figures_time, sections_time  # noqa: F401  (registers the time-to-event family's parts)
from ipsbayes.report.render import ReportSettings, write_report

__all__ = ["ReportSettings", "write_report"]
