"""Results as one JSON document, for CI pipelines and graders.

Numbers are strings carrying every digit the result holds (an mpmath
number prints all its digits, a float its shortest round-trip form), so
nothing is lost to JSON's doubles; NaN is ``null``.  Small whole numbers
(orders, counts, shapes) stay JSON integers.  Every string of the document
(user text echoed in it included) has its control characters escaped by
:func:`~derivaudit.echo.escape_controls`, as on the terminal: JSON escapes
only the C0 ones itself, and a reader that prints a field must see the
escape, not act on it.  The schema is in
``docs/reports.md``; ``schema`` names its version.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import mpmath

from derivaudit.echo import escape_controls
from derivaudit.reports.tables import audit_steps, gradient_entries, result_kind, study_summary
from derivaudit.reports.text import format_number, formula_text

__all__ = ["SCHEMA", "number", "result_document", "json_text"]

#: the version of the document's layout (docs/reports.md)
SCHEMA = "derivaudit-report/1"


def number(value, digits: int | None = None) -> str | None:
    """A number as a string with all its digits; None for NaN or a missing value.

    ``digits`` bounds an mpmath number's digits to those the computation
    certified (a result's ``dps``); floats print their shortest round-trip form.

    >>> with mpmath.workdps(30):
    ...     number(mpmath.mpf(1) / 3)
    '0.333333333333333333333333333333'
    >>> number(0.1), number(float("nan")), number(None)
    ('0.1', None, None)
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, mpmath.mpf):
        if mpmath.isnan(value):
            return None
    return format_number(value, digits if isinstance(value, mpmath.mpf) else None)


def _rows(table, columns, digits: int | None) -> list[dict]:
    """Table rows with the given columns; text columns stay text, numbers become strings."""
    present = [c for c in columns if c in table.columns]
    out = []
    for record in table[present].to_dict("records"):
        out.append({k: (v if isinstance(v, str) or k in ("theoretical_order", "steps_used") else number(v, digits))
                    for k, v in record.items()})
    return out


def _study(result) -> dict:
    from derivaudit.studies.orders import fitted_orders

    table, dps = result.table, result.dps
    fitted = fitted_orders(result)
    notes = dict(zip(fitted["scheme"], fitted["note"]))
    return {
        "formula": {"typed": result.formula_typed or result.formula, "canonical": result.formula},
        "wrt": result.wrt, "derivative": result.derivative, "exact_derivative": result.exact_derivative,
        "point": dict(result.point), "point_typed": dict(result.point_typed),
        "precision": result.precision, "dps": dps, "verdict": str(result.verdict),
        "rows": _rows(table, ["scheme", "eps", "approx", "exact", "error", "abs_error", "rel_error",
                              "observed_order", "theoretical_order", "predicted_error"], dps),
        "summary": [dict(row, note=notes.get(row["scheme"], "")) for row in
                    _rows(study_summary(result), ["scheme", "theoretical_order", "fitted_order", "steps_used",
                                                  "best_eps", "min_abs_error"], dps)],
    }


def _sweep(result) -> dict:
    return {"source": result.source, "verdict": str(result.verdict), "correct": result.ok,
            "studies": [_study(s) for s in result.studies]}


def _gradient(result) -> dict:
    entries = gradient_entries(result)
    return {"verdict": str(result.verdict), "correct": result.ok,
            "compared": result.compared,
            "relative_difference": number(result.relative_difference), "method": result.method,
            "eps": number(result.eps), "precision": result.precision, "dps": result.dps,
            "cause": result.cause, "notes": list(result.notes),
            "wrong_entries": [str(w) for w in result.wrong],
            "parts": {str(name): {"verdict": str(p.verdict), "correct": p.ok,
                                  "relative_difference": number(p.relative_difference),
                                  "wrong_entries": [str(w) for w in p.wrong]} for name, p in result.parts.items()},
            "entries": [{"entry": r.entry, "wrong": bool(r.wrong), "analytic": number(r.analytic),
                         "numeric": number(r.numeric), "rel_error": number(r.rel_error), "band": r.band}
                        for r in entries.itertuples()]}


def _component(c, dps: int) -> dict:
    comparison = c.comparison
    return {
        "label": c.label, "variable": c.variable, "order": c.order, "verdict": str(c.verdict),
        **({"entry": list(c.entry)} if c.entry is not None else {}),
        "correct": c.correct,
        "claim": {"typed": c.claim_text or formula_text(c.claim), "canonical": formula_text(c.claim)},
        "exact": formula_text(c.exact), "difference": formula_text(c.difference),
        "method": comparison.method,
        "witness": None if comparison.counterexample is None else {
            "point": {k: str(v) for k, v in comparison.counterexample.items()},
            "claim_value": number(comparison.claim_value, dps),
            "exact_value": number(comparison.exact_value, dps)},
        "diagnosis": [{"mistake": str(d.mistake), "message": d.message} for d in c.diagnosis],
        "notes": list(c.notes),
        "evidence": None if c.evidence is None else {
            "point": {k: str(v) for k, v in (c.evidence_point or {}).items()},
            "rows": _rows(c.evidence.table, ["scheme", "eps", "approx", "exact", "abs_error", "claim",
                                       "distance_to_claim", "observed_order"], dps)},
    }


def _check(result) -> dict:
    return {"formula": {"typed": result.formula_text or formula_text(result.formula),
                        "canonical": formula_text(result.formula)},
            "at": None if result.at is None else {k: str(v) for k, v in result.at.items()},
            "dps": result.dps, "gradient": result.gradient, "verdict": str(result.verdict),
            "correct": result.correct, "components": [_component(c, result.dps) for c in result.components],
            **({"hessian": {"variables": list(result.hessian), "notes": list(result.notes),
                            "wrong_entries": [list(e) for e in result.wrong_entries]}} if result.hessian else {})}


def _claim(c, steps) -> dict:
    rows = steps[steps.parameter == c.parameter]
    return {"parameter": c.parameter, "shape": list(c.shape),
            "claim_shape": None if c.claim_shape is None else list(c.claim_shape),
            "claim": c.claim, "verdict": str(c.verdict), "correct": c.correct, "message": c.message or None,
            "wrong_entries": [list(map(int, w)) for w in c.wrong_entries],
            "wrong_description": c.wrong_description,
            "witness": {k: str(v) for k, v in c.counterexample.items()} or None,
            "diagnosis": list(c.diagnosis) + ([c.difference] if c.difference else []),
            "rel_difference": number(c.rel_difference),
            "float64_check": {"rel_difference": number(c.rel_difference_float64), "band": c.grade},
            "order": number(c.order),
            "steps": [{"eps": r.eps, "rel_difference": number(r.rel_difference),
                       "observed_order": number(r.observed_order)} for r in rows.itertuples()]}


def _audit(result) -> dict:
    steps = audit_steps(result)
    settings = result.settings
    return {"spec": str(result.source), "dps": settings.dps, "seed": settings.seed, "points": settings.points,
            "correct": result.ok, "verdict": str(result.verdict), "claims": [_claim(c, steps) for c in result.claims],
            "errors": list(result.errors),
            "backward": [{"name": b.name, "of": b.of, "correct": b.correct,
                          "factor": None if b.factor is None else str(b.factor),
                          "wrong_entries": None if b.correct or b.invalid else b.wrong_entries,
                          "message": b.invalid or None} for b in result.backward],
            **({"hessians": [_hessian(h) for h in result.hessians]} if result.hessians else {})}


def _hessian(h) -> dict:
    return {"parameter": h.parameter, "shape": list(h.shape), "claim": h.claim, "verdict": str(h.verdict),
            "correct": h.correct, "message": h.message or None,
            "wrong_entries": [list(map(int, w)) for w in h.wrong_entries],
            "witness": h.counterexample or None, "diagnosis": list(h.diagnosis), "rel_difference": number(h.rel_difference)}


def _grade(result) -> dict:
    from derivaudit.reports.grade_tables import grade_rows

    task = result.task
    return {"task": {"question": task.question, "formula": task.formula, "title": task.title,
                     "dps": task.dps, "seconds_per_answer": task.seconds, "digest": task.digest},
            "submissions": len(result.answers), "distinct": result.distinct, "reused": result.reused,
            "counts": result.counts, "seconds": result.seconds, "workers": result.workers,
            "rows": grade_rows(result).to_dict("records")}


def result_document(result) -> dict:
    """The JSON document of a result, as Python data.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult

    Returns
    -------
    dict
        ``schema``, ``kind`` (``study``, ``check``, ``audit``, ``gradient`` or
        ``sweep``), ``version``, ``verdict``, ``exit_code`` and the kind's
        fields (docs/reports.md).
    """
    from derivaudit import __version__

    kind = result_kind(result)
    body = {"study": _study, "check": _check, "audit": _audit, "gradient": _gradient, "sweep": _sweep, "grade": _grade}[kind](result)
    return _inert({"schema": SCHEMA, "kind": kind, "version": __version__, "verdict": str(result.verdict),
                   "exit_code": int(result.exit_code), **body})


def _inert(value):
    """``value`` with every string in it (dict keys too) through :func:`escape_controls`.

    Newlines are escaped too: every string of the document is one line (none
    of derivaudit's own has a line break), so a field cannot forge a line.
    """
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {_inert(k): _inert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_inert(v) for v in value]
    return value


def json_text(result) -> str:
    """:func:`result_document` as JSON text (UTF-8, indented, one trailing newline)."""
    return json.dumps(result_document(result), ensure_ascii=False, indent=2) + "\n"


