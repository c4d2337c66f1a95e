"""Results in Jupyter: the HTML report inline in a cell.

Every result displays itself: its ``_repr_html_`` (from
:class:`derivaudit.results.Result`) calls :func:`report_html` through the
registry :mod:`derivaudit.reports.registry` fills.

>>> import derivaudit as da
>>> result = da.study("x**2", at={"x": 1}, eps="0.1,0.01", schemes=["centered"], dps=20)
>>> "<svg" in result._repr_html_() and "derivaudit-report" in result._repr_html_()
True
"""

from __future__ import annotations

from derivaudit.reports.html import render_fragment

__all__ = ["report_html"]


def report_html(result) -> str:
    """The report of a result as HTML for a notebook cell.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult

    Returns
    -------
    str
        One ``<div class="derivaudit-report">`` with its style scoped to it.
    """
    return render_fragment(result)
