"""Statistics and reports (统计报表): period figures, the oversight reconciliation
(纪检监察对账), XLSX/PDF export, daily reports and the ``anxin report`` command.

SQL only in :mod:`~anxin.reports.queries` (the counts, outages, gaps and stored reports)
and :mod:`~anxin.reports.service` (storing reports); the figure arithmetic, the online
rate, the reconciliation's rules and words stay in their modules and call them."""

from anxin.reports.daily import daily_report, due_daily_reports, make_due_daily_reports
from anxin.reports.export import to_pdf, to_xlsx
from anxin.reports.figures import Figures, PeriodError, parse_period, period_figures
from anxin.reports.oversight import CATEGORIES, Oversight, OversightItem, reconcile

__all__ = [
    "CATEGORIES",
    "Figures",
    "Oversight",
    "OversightItem",
    "PeriodError",
    "daily_report",
    "due_daily_reports",
    "make_due_daily_reports",
    "parse_period",
    "period_figures",
    "reconcile",
    "to_pdf",
    "to_xlsx",
]
