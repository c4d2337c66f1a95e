"""A graded batch as tables: one row per submission (the CSV), the class's groups (the page, JSON).

Every text that came from a student is escaped
(:func:`~derivaudit.grading.normalise.escape_controls`) before it reaches a
file or a terminal, and ids and answers that a spreadsheet would run as a
formula are quoted (:func:`spreadsheet_safe`); numbers of a witness print with :data:`WITNESS_DIGITS`
significant digits of the certified values the judgement keeps.
"""

from __future__ import annotations

from collections import defaultdict

import mpmath
import pandas as pd

from derivaudit.echo import escape_controls
from derivaudit.reports.text import format_number
from derivaudit.verdicts import INVALID, Verdict

__all__ = ["WITNESS_DIGITS", "witness_text", "grade_rows", "grade_groups", "spreadsheet_safe", "NO_PATTERN"]

#: significant digits of the values of a witness in the CSV and on the page
WITNESS_DIGITS = 12
#: the group of wrong answers no likely mistake explains
NO_PATTERN = "no simple pattern"

#: the columns of the per-submission CSV, in order
COLUMNS = ["id", "verdict", "witness", "likely_mistake", "message", "seconds", "answer", "copies", "line",
           "component"]


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet shows as text: ``'`` before what it would run as a formula (``=``, ``@``,
    or a sign followed by a ``|`` command).  Answers beginning so are never formulas derivaudit accepts.

    >>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe("-x*sigmoid(x)"), spreadsheet_safe("-1+cmd|'/c calc'!A0")
    ("'=HYPERLINK(1)", '-x*sigmoid(x)', "'-1+cmd|'/c calc'!A0")
    """
    if text[:1] in ("=", "@") or (text[:1] in ("+", "-") and "|" in text):
        return "'" + text
    return text


def _value(text: str, digits: int) -> str:
    if not text or text == "undefined":
        return text or "?"
    with mpmath.workdps(max(digits, len(text))):
        return format_number(mpmath.mpf(text), digits)


def witness_text(judgement, digits: int = WITNESS_DIGITS) -> str:
    """``x=200: claim = 0, exact = 1`` for a wrong answer (``component`` first for a gradient); empty otherwise.

    >>> from derivaudit.grading.judge import Judgement
    >>> witness_text(Judgement("wrong", point=(("x", "1/2"),), claim_value="1.0", exact_value="0.75"))
    'x=1/2: claim = 1, exact = 0.75'
    """
    if not judgement.point:
        return ""
    point = ", ".join(f"{k}={v}" for k, v in judgement.point)
    where = f"{judgement.component} at " if judgement.component else ""
    if not judgement.claim_value:
        return escape_controls(f"{where}{point}")
    return escape_controls(f"{where}{point}: claim = {_value(judgement.claim_value, digits)}, "
                           f"exact = {_value(judgement.exact_value, digits)}")


def grade_rows(result) -> pd.DataFrame:
    """One row per submission, in the CSV's order: :data:`COLUMNS`.

    Parameters
    ----------
    result : GradeResult

    Returns
    -------
    pandas.DataFrame
        ``seconds`` is the time judging the submission's distinct answer took
        (shared by its ``copies``); texts are escaped.
    """
    rows = []
    for a in result.answers:
        j = a.judgement
        rows.append({"id": spreadsheet_safe(escape_controls(a.id)), "verdict": j.verdict, "witness": witness_text(j),
                     "likely_mistake": escape_controls(j.likely_mistake), "message": escape_controls(j.message),
                     "seconds": round(j.seconds, 4), "answer": spreadsheet_safe(escape_controls(a.answer)), "copies": a.copies,
                     "line": a.line, "component": escape_controls(j.component)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _distinct(answers) -> list[dict]:
    """The distinct answers among ``answers``: text, judgement, ids, count; most frequent first."""
    by_key: dict[tuple, dict] = {}
    for a in answers:
        entry = by_key.setdefault(a.key, {"answer": escape_controls(a.answer), "judgement": a.judgement,
                                          "ids": [], "count": 0})
        entry["ids"].append(escape_controls(a.id))
        entry["count"] += 1
    return sorted(by_key.values(), key=lambda e: (-e["count"], e["answer"]))


def grade_groups(result) -> dict:
    """The class at a glance: counts, wrong answers grouped by likely mistake, invalid and undecided ones.

    Parameters
    ----------
    result : GradeResult

    Returns
    -------
    dict
        ``counts`` (grade → submissions), ``distinct_counts`` (grade → distinct
        answers), ``mistakes`` (a list of ``{"mistake", "count", "answers"}``,
        largest group first; ``answers`` as :func:`_distinct` gives them),
        ``correct``, ``invalid``, ``undecided`` (distinct answers), ``seconds``
        (per distinct answer).
    """
    correct = {Verdict.PROVED.value, Verdict.NUMERICAL.value}
    wrong = [a for a in result.answers if a.verdict == Verdict.WRONG.value]
    groups: dict[str, list] = defaultdict(list)
    for a in wrong:
        groups[escape_controls(a.judgement.mistake) or NO_PATTERN].append(a)
    mistakes = sorted(({"mistake": m, "count": len(members), "answers": _distinct(members)}
                       for m, members in groups.items()),
                      key=lambda g: (-g["count"], g["mistake"] == NO_PATTERN, g["mistake"]))
    distinct = _distinct(result.answers)
    distinct_counts: dict[str, int] = defaultdict(int)
    for entry in distinct:
        distinct_counts[entry["judgement"].verdict] += 1
    return {"counts": result.counts, "distinct_counts": dict(distinct_counts), "mistakes": mistakes,
            "correct": [e for e in distinct if e["judgement"].verdict in correct],
            "invalid": [e for e in distinct if e["judgement"].verdict == INVALID],
            "undecided": [e for e in distinct if e["judgement"].verdict not in correct | {INVALID, Verdict.WRONG.value}],
            "seconds": [e["judgement"].seconds for e in distinct]}
