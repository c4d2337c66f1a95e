"""Results in Jupyter: the HTML report inline in a cell.

Check, audit and gradient-check results display themselves (their
``_repr_html_`` calls :func:`report_html` through :mod:`derivaudit.display`).
A study table is a pandas DataFrame, which pandas displays as a plain
table; ``show(table)`` displays the study's report instead, plot included.

>>> import derivaudit as da
>>> from derivaudit.reports.notebook import show
>>> view = show(da.study("x**2", at={"x": 1}, eps="0.1,0.01", schemes=["centered"], dps=20))
>>> "<svg" in view._repr_html_() and "derivaudit-report" in view._repr_html_()
True
"""

from __future__ import annotations

import html

from derivaudit.reports.html import render_fragment

__all__ = ["report_html", "show", "Report"]


def _gradient_html(result) -> str:
    """A gradient check of code: its band, relative difference and text report."""
    from derivaudit.reports.html_check import verdict_css

    css = {"fine": "ok", "ok": "ok", "look again": "warn", "bug": "wrong"}.get(str(result.verdict),
                                                                             verdict_css(result.verdict))
    colour = {"ok": "#1e8449", "wrong": "#c0392b", "warn": "#b9770e"}[css]
    return (f'<div class="derivaudit-report"><div style="font-size:1.6rem;font-weight:700;color:{colour}">'
            f'{html.escape(str(result.verdict))}</div>'
            f'<p>relative difference ‖g − n‖/(‖g‖ + ‖n‖) = {result.relative_difference:.3e}</p>'
            f'<pre style="background:#f4f6f7;padding:.5rem;overflow-x:auto">{html.escape(result.summary())}</pre></div>')


def report_html(result) -> str:
    """The report of a result as HTML for a notebook cell.

    Parameters
    ----------
    result : study table, CheckResult, AuditResult or GradientCheckResult

    Returns
    -------
    str
        One ``<div class="derivaudit-report">`` with its style scoped to it.
    """
    if type(result).__name__ == "GradientCheckResult":
        return _gradient_html(result)
    return render_fragment(result)


class Report:
    """A result wrapped for display: ``Report(table)`` in a cell shows the study page."""

    def __init__(self, result):
        self.result = result

    def _repr_html_(self) -> str:
        return report_html(self.result)


def show(result) -> Report:
    """Display a result's report in a notebook (needed for study tables, which are DataFrames).

    Parameters
    ----------
    result : study table, CheckResult, AuditResult or GradientCheckResult

    Returns
    -------
    Report
        An object Jupyter displays as the HTML report.
    """
    return Report(result)
