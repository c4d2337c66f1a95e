"""The seam between results and their notebook display.

A result class gets Jupyter's rich display with two lines::

    def _repr_html_(self) -> str:
        return html_of(self)

Results never import :mod:`derivaudit.reports` (the layout rule); this
module does, when a notebook first asks for a result's HTML.
"""

from __future__ import annotations

__all__ = ["html_of"]


def html_of(result) -> str:
    """The HTML report of ``result`` as a notebook cell shows it.

    Parameters
    ----------
    result : study table, CheckResult, AuditResult or GradientCheckResult

    Returns
    -------
    str
        A self-contained ``<div>``: style, typeset formulas and plots inline.
    """
    from derivaudit.reports.notebook import report_html

    return report_html(result)
