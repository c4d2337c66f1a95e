"""Registers the reports of every result class with :mod:`derivaudit.results`.

Importing this module fills the registry; :func:`derivaudit.results.renderer`
imports it the first time a result asks for a report.  The import arrow is
reports → results: the result classes are imported here, never the reverse.
"""

from __future__ import annotations

from derivaudit.audits.results import AuditResult
from derivaudit.checks.results import CheckResult
from derivaudit.gradcheck.results import GradientCheckResult
from derivaudit.reports.check_text import format_result
from derivaudit.reports.files import write_csv, write_html
from derivaudit.reports.json_doc import result_document
from derivaudit.reports.notebook import report_html
from derivaudit.reports.study_text import study_text, sweep_text
from derivaudit.results import Renderers, register
from derivaudit.studies.result import StudyResult, SweepResult

__all__ = ["TEXT"]

#: the text renderer of each result class that does not write its own summary
TEXT = {CheckResult: format_result, StudyResult: study_text, SweepResult: sweep_text,
        AuditResult: None, GradientCheckResult: None}

for _cls, _text in TEXT.items():
    register(_cls, Renderers(fragment=report_html, document=result_document, write_csv=write_csv,
                             write_html=write_html, text=_text))
