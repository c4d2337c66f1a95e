"""The class page of a graded batch: counts, wrong answers by likely mistake, invalid ones, times.

Every answer on the page is escaped twice over: control characters by
:func:`~derivaudit.grading.normalise.escape_controls` (in
:mod:`~derivaudit.reports.grade_tables`), HTML by the template's autoescape.
Formulas are typeset from the judge's canonical text of parsed answers,
never from raw student text.
"""

from __future__ import annotations

import statistics

from markupsafe import Markup

from derivaudit.reports.grade_tables import grade_groups, grade_rows, witness_text
from derivaudit.reports.html_check import verdict_css
from derivaudit.reports.html_parts import formula_view
from derivaudit.reports.plots import seconds_svg

__all__ = ["grade_page", "MAX_LISTED"]

#: distinct answers listed per group on the page (the CSV has every submission)
MAX_LISTED = 12


def _ids(entry: dict) -> str:
    ids = entry["ids"]
    return ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")


def _worked(entry: dict, task) -> dict:
    """One wrong answer worked out: claim and exact derivative typeset, the witness and the mistake."""
    j = entry["judgement"]
    formulas = []
    if task.kind != "spec" and j.claim:
        formulas = [formula_view("claim =", entry["answer"], canonical=j.claim.split("; ")[0]),
                    formula_view("exact =", j.exact.split("; ")[0], canonical=j.exact.split("; ")[0], user=False)]
    return {"answer": entry["answer"], "formulas": formulas, "witness": witness_text(j),
            "likely_mistake": j.likely_mistake, "message": j.message}


def _listed(entries: list[dict]) -> list[dict]:
    return [{"answer": e["answer"], "count": e["count"], "ids": _ids(e), "reason": e["judgement"].message,
             "verdict": e["judgement"].verdict, "css": verdict_css(e["judgement"].verdict),
             "witness": witness_text(e["judgement"]), "method": e["judgement"].method}
            for e in entries[:MAX_LISTED]]


def _times(seconds: list[float]) -> dict:
    if not seconds:
        return {"svg": None, "facts": []}
    ordered = sorted(seconds)
    facts = [("median", f"{statistics.median(ordered):.3g} s"),
             ("90th percentile", f"{ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]:.3g} s"),
             ("slowest", f"{ordered[-1]:.3g} s"), ("total", f"{sum(ordered):.3g} s")]
    return {"svg": Markup(seconds_svg(ordered, salt="grade-seconds")), "facts": facts}


def grade_page(result) -> tuple[str, dict]:
    """The grade template and its context.

    Parameters
    ----------
    result : GradeResult

    Returns
    -------
    tuple of (str, dict)
    """
    task, groups = result.task, grade_groups(result)
    counts = [{"grade": g, "css": verdict_css(g), "count": n,
               "distinct": groups["distinct_counts"].get(g, 0),
               "share": 100.0 * n / max(1, len(result.answers))} for g, n in groups["counts"].items()]
    mistakes = [{"mistake": g["mistake"], "count": g["count"], "distinct": len(g["answers"]),
                 "anchor": f"mistake-{i}", "worked": _worked(g["answers"][0], task),
                 "answers": _listed(g["answers"])} for i, g in enumerate(groups["mistakes"])]
    header = [formula_view("f =", task.formula)] if task.kind != "spec" else []
    meta = [("question", task.question), ("submissions", str(len(result.answers))),
            ("distinct answers", f"{result.distinct}" + (f" ({result.reused} from the journal)" if result.reused
                                                        else "")),
            ("precision", f"{task.dps} significant digits"), ("budget per answer", f"{task.seconds:g} s"),
            ("ran on", f"{result.workers} worker{'s' if result.workers != '1' else ''}"),
            ("wall time", f"{result.seconds:.1f} s")]
    contents = [("counts", "Grades")] + [(m["anchor"], f"Wrong: {m['mistake']}") for m in mistakes]
    contents += [("invalid", "Invalid answers")] * bool(groups["invalid"])
    contents += [("undecided", "Undecided answers")] * bool(groups["undecided"])
    contents += [("correct", "Correct answers"), ("times", "Time per answer"), ("roster", "Every submission")]
    roster = [{"id": r.id, "verdict": r.verdict, "css": verdict_css(r.verdict),
               "answer": r.answer, "note": r.likely_mistake or r.message} for r in grade_rows(result).itertuples()]
    context = {"title": f"Grades: {task.title or task.question}",
               "verdict": {"text": f"{len(result.answers)} submissions graded", "css": "ok",
                           "detail": f"{result.verdict}: " + ", ".join(f"{c['count']} {c['grade']}"
                                                                        for c in counts) + "."},
               "header": {"formulas": header, "meta": meta}, "contents": contents, "counts": counts,
               "mistakes": mistakes, "invalid": _listed(groups["invalid"]),
               "undecided": _listed(groups["undecided"]), "correct": _listed(groups["correct"]),
               "times": _times(groups["seconds"]), "roster": roster, "max_listed": MAX_LISTED}
    return "grade.html.j2", context

