"""``grade``: a class's answers from a CSV → one graded row per submission.

The batch is read and validated first (:func:`~derivaudit.grading.task.load_task`,
:func:`~derivaudit.grading.answers.read_answers`), answers are normalised
(:func:`~derivaudit.grading.normalise.answer_key`) and each distinct one is
judged once (:mod:`~derivaudit.grading.runner`), its judgement journaled as
soon as it is known (:class:`~derivaudit.grading.journal.Journal`) so that
an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from derivaudit.errors import DerivauditError
from derivaudit.grading.answers import Submission, read_answers
from derivaudit.grading.journal import Journal
from derivaudit.grading.judge import Judgement
from derivaudit.grading.normalise import answer_key
from derivaudit.grading.results import GradeResult, GradedAnswer
from derivaudit.grading.runner import judge_all
from derivaudit.grading.task import GradeTask, load_task
from derivaudit.progress import Progress, ProgressArg

__all__ = ["grade"]


def _workers(workers) -> int:
    from derivaudit.studies.parallel import default_workers

    if workers is None:
        return default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise DerivauditError(f"workers must be a whole number ≥ 1, not {workers!r}")
    return workers


def grade(task: GradeTask | str | os.PathLike, answers, *, workers: int | None = None, client=None,
          journal: str | os.PathLike | None = None, resume: bool = False,
          progress: ProgressArg = None) -> GradeResult:
    """Grade every submission of ``answers`` against ``task``.

    Parameters
    ----------
    task : GradeTask or path of a task file (TOML, see :mod:`derivaudit.grading.task`)
    answers : path of the answers CSV, or a list of :class:`~derivaudit.grading.answers.Submission`
    workers : int, optional
        Worker processes (default: every core); 1 judges in this process.
    client : ``dask.distributed.Client`` or scheduler address, optional
        Judge on a Dask cluster instead.
    journal : path, optional
        Record each judged answer there as soon as it is known.
    resume : bool
        Reuse the judgements already in ``journal`` (written for the same task).
    progress : bool or callable, optional
        ``True`` draws a bar; a callable gets ``(done, total)`` per judged answer.

    Returns
    -------
    GradeResult
        One :class:`~derivaudit.grading.results.GradedAnswer` per submission, in order.

    Raises
    ------
    SpecError
        A bad task file or CSV (one line naming the line and column), or a
        journal of another task.

    Examples
    --------
    >>> from derivaudit.grading.answers import Submission
    >>> from derivaudit.grading.task import task_from_dict
    >>> task = task_from_dict({"task": {"formula": "x**3", "wrt": "x"},
    ...                        "columns": {"id": "student", "claim": "answer"}})
    >>> result = grade(task, [Submission(2, "ada", ("3*x**2",)), Submission(3, "bob", ("3 * x ** 2",)),
    ...                       Submission(4, "cy", ("x**2",))], workers=1)
    >>> [a.verdict for a in result.answers], result.distinct
    (['correct (proved)', 'correct (proved)', 'wrong'], 2)
    """
    start = time.perf_counter()
    if not isinstance(task, GradeTask):
        task = load_task(task)
    submissions: list[Submission] = answers if isinstance(answers, list) else read_answers(answers, task)
    keys = [answer_key(s.claims) for s in submissions]
    copies = Counter(keys)
    distinct = list(copies)
    judged: dict[tuple[str, ...], Judgement] = {}
    log = Journal(journal, task.digest, resume) if journal is not None else None
    try:
        if log is not None:
            judged.update({k: v for k, v in log.judged.items() if k in copies})
        reused = len(judged)
        advance = Progress(progress, len(distinct) - reused, "answers")

        def done(key, judgement):
            judged[key] = judgement
            if log is not None:
                log.record(key, judgement)
            advance()

        try:
            judge_all(task, [k for k in distinct if k not in judged], done, workers=_workers(workers)
                      if client is None else 1, client=client)
        finally:
            advance.close()
    finally:
        if log is not None:
            log.close()
    rows = tuple(GradedAnswer(s.line, s.id, " | ".join(s.claims), key, judged[key], copies[key])
                 for s, key in zip(submissions, keys))
    where = str(client) if isinstance(client, str) else ("dask" if client is not None else str(_workers(workers)))
    return GradeResult(task, rows, len(distinct), reused, time.perf_counter() - start, where)
