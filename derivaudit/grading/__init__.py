"""Grading in bulk: a class's hand-derived derivatives from a CSV → per-student verdicts.

``derivaudit grade TASK.toml ANSWERS.csv`` (and :func:`grade`): the task file
(:mod:`~derivaudit.grading.task`), the answers CSV
(:mod:`~derivaudit.grading.answers`), normalisation so that repeated answers
are judged once (:mod:`~derivaudit.grading.normalise`), the judge — the
public :func:`derivaudit.check` or :func:`derivaudit.audit`, as data
(:mod:`~derivaudit.grading.judge`) — run in this process, in isolated worker
processes or on Dask (:mod:`~derivaudit.grading.runner`), a journal for
resuming (:mod:`~derivaudit.grading.journal`) and the typed result
(:mod:`~derivaudit.grading.results`).  Reports render a
:class:`GradeResult` (``reports/grade_tables.py``, ``reports/html_grade.py``).
"""

from derivaudit.grading.grade import grade
from derivaudit.grading.results import GradedAnswer, GradeResult
from derivaudit.grading.task import GradeTask, load_task

__all__ = ["grade", "GradeResult", "GradedAnswer", "GradeTask", "load_task"]
