"""Reports: figures, tables and HTML/Markdown rendering from a DataTree (never a model object)."""

from ipsbayes.report.render import ReportSettings, reproducibility_rows, write_report

__all__ = ["ReportSettings", "reproducibility_rows", "write_report"]
