"""The typed result of a grading batch: one graded row per submission, in the CSV's order.

A :class:`GradeResult` holds the task, every submission with its
:class:`~derivaudit.grading.judge.Judgement` (submissions whose answers are
identical after normalisation share one), and how the batch ran.  Reports
(CSV, the class page, JSON) render it, registered by its class in
the reports' registry; nothing here formats for a page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from derivaudit.grading.judge import Judgement
from derivaudit.echo import escape_controls
from derivaudit.grading.task import GradeTask
from derivaudit.results import Result
from derivaudit.verdicts import INVALID, Verdict

__all__ = ["GradedAnswer", "GradeResult", "GRADE_ORDER"]

#: the grades in the order a class summary lists them
GRADE_ORDER = (Verdict.PROVED.value, Verdict.NUMERICAL.value, Verdict.WRONG.value, Verdict.UNDECIDED.value,
               Verdict.NOT_DIFFERENTIABLE.value, INVALID.value)


@dataclass(frozen=True)
class GradedAnswer:
    """One submission: its CSV line, id, the answer as typed (claim columns joined by `` | ``),
    its normalised key, its judgement and how many submissions share that key."""

    line: int
    id: str
    answer: str
    key: tuple[str, ...]
    judgement: Judgement
    copies: int = 1

    @property
    def verdict(self) -> str:
        return self.judgement.verdict


@dataclass(frozen=True)
class GradeResult(Result):
    """A graded batch, following the result protocol (:class:`~derivaudit.results.Result`).

    ``answers`` are in the CSV's order; ``distinct`` counts the answers
    judged (after normalisation), ``reused`` those taken from a journal;
    ``seconds`` is the batch's wall time and ``workers`` how it ran
    (a number of processes, or a Dask scheduler's address).
    """

    task: GradeTask
    answers: tuple[GradedAnswer, ...]
    distinct: int
    reused: int = 0
    seconds: float = 0.0
    workers: str = "1"

    @property
    def verdict(self) -> Verdict:
        """:attr:`Verdict.GRADED <derivaudit.verdicts.Verdict.GRADED>`: the batch ran (exit code 0).
        The students' verdicts are data (:attr:`answers`, :attr:`counts`), not the command's outcome."""
        return Verdict.GRADED

    @property
    def counts(self) -> dict[str, int]:
        """Submissions per grade, in :data:`GRADE_ORDER` (grades nobody got are left out)."""
        counted = Counter(a.verdict for a in self.answers)
        return {grade: counted[grade] for grade in GRADE_ORDER if counted[grade]}

    def table(self) -> pd.DataFrame:
        """One row per submission: ``line, id, answer, verdict, message, likely_mistake, mistake,
        component, point, claim_value, exact_value, copies, seconds`` (texts escaped)."""
        rows = []
        for a in self.answers:
            j = a.judgement
            rows.append({"line": a.line, "id": escape_controls(a.id), "answer": escape_controls(a.answer),
                         "verdict": j.verdict, "message": j.message, "likely_mistake": j.likely_mistake,
                         "mistake": j.mistake, "component": j.component,
                         "point": ", ".join(f"{k}={v}" for k, v in j.point), "claim_value": j.claim_value,
                         "exact_value": j.exact_value, "copies": a.copies, "seconds": j.seconds})
        return pd.DataFrame(rows, columns=["line", "id", "answer", "verdict", "message", "likely_mistake",
                                           "mistake", "component", "point", "claim_value", "exact_value",
                                           "copies", "seconds"])

    @property
    def mistakes(self) -> dict[str, int]:
        """Wrong submissions per likely mistake, most frequent first ("" where none was recognised)."""
        counted = Counter(a.judgement.mistake for a in self.answers if a.verdict == Verdict.WRONG.value)
        return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0] == "", item[0])))

    def summary(self) -> str:
        """The batch in a few lines: submissions, distinct answers, counts per grade and per likely mistake."""
        lines = [f"graded {len(self.answers)} submissions of {escape_controls(self.task.question)}: "
                 f"{self.distinct} distinct answers" + (f", {self.reused} of them from the journal"
                                                        if self.reused else "")]
        width = max((len(g) for g in self.counts), default=0)
        lines += [f"  {grade:<{width}}  {count}" for grade, count in self.counts.items()]
        if self.mistakes:
            lines.append("wrong answers by likely mistake:")
            lines += [f"  {count:>{len(str(len(self.answers)))}}  {escape_controls(m) or 'no simple pattern'}"
                      for m, count in self.mistakes.items()]
        lines.append(f"{self.seconds:.1f} s on {self.workers} worker{'s' if self.workers != '1' else ''}")
        return "\n".join(lines)
