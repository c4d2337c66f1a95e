"""HTML pages of every result: jinja2 templates, MathML formulas, inline SVG plots.

Each result type has a page builder (:mod:`~derivaudit.reports.html_study`,
:mod:`~derivaudit.reports.html_check`, :mod:`~derivaudit.reports.html_audit`,
:mod:`~derivaudit.reports.html_gradient` for gradient checks and sweeps)
that turns the result into plain values, and a template under
``derivaudit/reports/templates/`` that lays them out.  Templates autoescape
everything; only the SVG of :mod:`~derivaudit.reports.plots` and the
MathML of :mod:`~derivaudit.reports.mathml` are marked safe.  A page loads
nothing: no script, no font, no style sheet from outside it.
"""

from __future__ import annotations

import re

import jinja2

from derivaudit.reports.html_audit import audit_page
from derivaudit.reports.html_check import check_page
from derivaudit.reports.html_gradient import gradient_page, sweep_page
from derivaudit.reports.html_study import study_page
from derivaudit.reports.tables import result_kind

__all__ = ["render", "render_fragment"]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("derivaudit.reports", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _page(result) -> tuple[str, dict]:
    builders = {"study": study_page, "check": check_page, "audit": audit_page, "gradient": gradient_page,
                "sweep": sweep_page}
    return builders[result_kind(result)](result)


def render(result) -> str:
    """The HTML page of a result: one self-contained document.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult

    Returns
    -------
    str
        The page; its only varying line between machines is the generator's version.
    """
    from derivaudit import __version__

    template, context = _page(result)
    return _environment().get_template(template).render(version=__version__, **context)


def render_fragment(result) -> str:
    """The page's body with its style, for display inside a notebook cell.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult

    Returns
    -------
    str
        A ``<div>`` holding the style (scoped to the div) and the report.
    """
    page = render(result)
    style = re.search(r"<style>(.*?)</style>", page, flags=re.S).group(1)
    body = re.search(r"<body>(.*?)</body>", page, flags=re.S).group(1)
    scoped = re.sub(r"(^|\})\s*([^{}@]+)\{", lambda m: m.group(1) + " " + ", ".join(
        f".derivaudit-report {s.strip()}" if s.strip() not in (":root", "body") else ".derivaudit-report"
        for s in m.group(2).split(",")) + " {", style)
    return f'<div class="derivaudit-report"><style>{scoped}</style>{body}</div>'
