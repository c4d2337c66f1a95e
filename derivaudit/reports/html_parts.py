"""Pieces shared by the HTML pages: formulas (typed, canonical, typeset), orders, the convergence section.

Each function turns part of a result into plain values for a template —
text already formatted, plots and formulas already rendered — so the
templates only lay them out.
"""

from __future__ import annotations

import math

import mpmath
import pandas as pd
from markupsafe import Markup

from derivaudit.errors import DerivauditError
from derivaudit.reports.mathml import expr_mathml, formula_mathml
from derivaudit.reports.plots import convergence_svg
from derivaudit.reports.tables import study_summary
from derivaudit.reports.text import format_number, formula_text, scientific, short_step
from derivaudit.verdicts import ORDER_TOLERANCE
from derivaudit.studies.result import study_parts

__all__ = ["formula_view", "order_text", "departs", "convergence_context", "ORDER_TOLERANCE"]


def formula_view(label: str, typed: str, expr=None, canonical: str | None = None, *, user: bool = True) -> dict:
    """A formula as the page shows it: typeset, as the user typed it, and canonical if that differs.

    Parameters
    ----------
    label : str
        What the formula is (``"f ="``, ``"claim ="``).
    typed : str
        The user's text, shown verbatim (escaped by the template).
    expr : sympy.Expr, optional
        The parsed formula, typeset as MathML; parsed from ``canonical`` (or
        ``typed``) when not given.
    canonical : str, optional
        The canonical text (``format_formula``); computed from ``expr``.
    user : bool
        Whether ``typed`` is the user's own text (labelled "as typed") or
        derivaudit's (an exact derivative: labelled "as text").

    Returns
    -------
    dict
        ``label, typed, typed_label, canonical, math`` (``math`` is safe MathML or None);
        ``canonical`` is empty when it reads the same as ``typed``.
    """
    if canonical is None:
        canonical = formula_text(expr) if expr is not None else typed
    math_text = expr_mathml(expr) if expr is not None else formula_mathml(canonical)
    same = "".join(canonical.split()) == "".join(typed.split())
    return {"label": label, "typed": typed, "typed_label": "as typed" if user else "as text",
            "canonical": "" if same else canonical,
            "math": Markup(math_text) if math_text else None}


def order_text(value) -> str:
    """An order with four decimals; empty for None or NaN.

    >>> order_text(1.99996), order_text(float("nan")), order_text(-1e-6)
    ('2.0000', '', '0.0000')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value + 0.0 if abs(value) >= 5e-5 else 0.0:.4f}"  # never "-0.0000"


def departs(value, theoretical) -> bool:
    """Whether an order departs from theory by more than :data:`ORDER_TOLERANCE`.

    >>> departs(1.5, 2), departs(1.9, 2), departs(float("nan"), 2)
    (True, False, False)
    """
    return isinstance(value, float) and not math.isnan(value) and abs(value - theoretical) > ORDER_TOLERANCE


def _function_scale(attrs) -> float | None:
    """|f| at the study's point as a float, for the roundoff floor; None if unavailable."""
    from derivaudit.core.numeric import compile_formula, exact_value
    from derivaudit.lang.parse import parse_formula
    from derivaudit.studies.inputs import resolve_point

    try:
        expr = parse_formula(attrs["formula"])
        point = resolve_point(expr, attrs["point"])
        value = exact_value(compile_formula(expr, tuple(point)), point, 17)
    except (DerivauditError, KeyError):
        return None
    return abs(float(value)) or None


def _stencil_text(name: str, attrs) -> str:
    """The scheme's formula, e.g. ``(-f(x) + f(x + ε))/ε``; for a mixed partial, in words."""
    from derivaudit.core.stencils import stencil

    wrt = str(attrs.get("wrt", "x"))
    if "," in wrt:
        return f"{name} along each of {wrt}"
    try:
        return stencil(name, attrs.get("derivative", 1)).formula(x=wrt)
    except (DerivauditError, AttributeError, TypeError):
        return ""


def _claim_series(table: pd.DataFrame) -> dict | None:
    """|approx − claim| of the first scheme, for check evidence tables whose claim is defined.

    A wrong claim's distance levels off at |claim − exact| while the error
    falls: the picture of a wrong derivative.
    """
    if "distance_to_claim" not in table.columns:
        return None
    first = table[table.scheme == table.scheme.iloc[0]]
    distances = list(first["distance_to_claim"])
    if all(mpmath.isnan(mpmath.mpf(d)) for d in distances):
        return None
    return {"label": f"|approx − claim| ({first.scheme.iloc[0]})", "eps": list(first["eps"]),
            "abs_error": distances, "style": "x--", "colour": "#c0392b"}


def _step_rows(table: pd.DataFrame, best: dict, float64: bool, digits: int) -> list[dict]:
    predicted = "predicted_error" in table.columns
    rows = []
    for r in table.to_dict("records"):
        rows.append({
            "scheme": r["scheme"], "eps": short_step(r["eps"]),
            "approx": format_number(r["approx"], digits if isinstance(r["approx"], mpmath.mpf) else None),
            "exact": format_number(r["exact"], digits),
            "abs_error": scientific(r["abs_error"]), "rel_error": scientific(r["rel_error"]),
            "predicted": scientific(r["predicted_error"]) if predicted else "",
            "order": order_text(r["observed_order"]),
            "off": departs(r["observed_order"], r["theoretical_order"]),
            "theory": r["theoretical_order"],
            "best": float64 and r["eps"] == best[r["scheme"]],
            "to_claim": scientific(r["distance_to_claim"]) if "distance_to_claim" in r else "",
        })
    return rows


def _summary_rows(study, summary: pd.DataFrame, predicted_best: dict) -> list[dict]:
    from derivaudit.studies.orders import fitted_orders

    notes = dict(zip(*[fitted_orders(study)[c] for c in ("scheme", "note")]))
    return [{"scheme": r.scheme, "stencil": _stencil_text(r.scheme, study_parts(study)[1]),
             "theoretical": r.theoretical_order, "fitted": order_text(r.fitted_order),
             "off": departs(r.fitted_order, r.theoretical_order), "steps_used": r.steps_used,
             "best_eps": short_step(r.best_eps), "min_error": scientific(r.min_abs_error),
             "predicted_best": f"{predicted_best[r.scheme]:.3g}" if r.scheme in predicted_best else "",
             "note": notes.get(r.scheme, "")}
            for r in summary.itertuples()]


def convergence_context(study, salt: str = "study", title: str = "") -> dict:
    """Plot, per-scheme summary and per-step rows of a study, formatted for a template.

    Parameters
    ----------
    study : StudyResult
        A study (or a check's evidence).
    salt : str
        Makes the plot's SVG ids unique within a page.
    title : str
        The plot's title.

    Returns
    -------
    dict
        ``svg, float64, dps, derivative, summary, rows, has_predicted,
        has_claim, has_predicted_best, has_notes, tolerance``.  Numbers carry
        every digit the study's ``dps`` certifies (trailing zeros dropped),
        enough to tell an approximation from the exact value.
    """
    table, attrs = study_parts(study)
    float64 = attrs.get("precision") == "float64"
    digits = int(attrs.get("dps") or 20)
    summary = study_summary(study)
    # the float64 error model records each scheme's predicted best step
    predicted_best = {name: model["predicted_best_eps"] for name, model in (attrs.get("error_model") or {}).items()
                      if math.isfinite(model.get("predicted_best_eps", math.nan))}
    best = {r.scheme: r.best_eps for r in summary.itertuples()}
    predicted = "predicted_error" in table.columns
    series = [{"label": name, "eps": list(group["eps"]), "abs_error": list(group["abs_error"]),
               "best_eps": best[name] if float64 else None,
               "predicted": list(group["predicted_error"]) if predicted else None}
              for name, group in table.groupby("scheme", sort=False)]
    floor = None
    if float64:
        scale = _function_scale(attrs)
        floor = {"scale": scale, "derivative": attrs.get("derivative", 1)} if scale else None
    claim = _claim_series(table)
    if claim is not None:
        series.append(claim)
    summary_rows = _summary_rows(study, summary, predicted_best)
    return {"svg": Markup(convergence_svg(series, title=title, floor=floor, salt=salt)), "float64": float64,
            "dps": attrs.get("dps"), "derivative": attrs.get("derivative", 1), "summary": summary_rows,
            "rows": _step_rows(table, best, float64, digits), "has_predicted": predicted,
            "has_claim": claim is not None, "has_predicted_best": bool(predicted_best),
            "has_notes": any(r["note"] for r in summary_rows), "tolerance": ORDER_TOLERANCE}
