"""The HTML page of a convergence study."""

from __future__ import annotations

import math


from derivaudit.reports.html_parts import convergence_context, formula_view
from derivaudit.reports.text import short_step
from derivaudit.verdicts import ORDER_TOLERANCE

__all__ = ["study_page", "derivative_label"]


def derivative_label(wrt: str, order: int) -> str:
    """The derivative's name: ``df/dx``, ``d²f/dx²``, or for a mixed partial ``∂²f/∂x∂y``.

    >>> derivative_label("x", 1), derivative_label("x", 2), derivative_label("x,y", 2)
    ('df/dx', 'd²f/dx²', '∂²f/∂x∂y')
    """
    if "," in wrt:
        return f"∂{_superscript(order)}f/" + "".join(f"∂{v}" for v in wrt.split(","))
    return f"df/d{wrt}" if order == 1 else f"d{_superscript(order)}f/d{wrt}{_superscript(order)}"


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _study_verdict(table) -> dict:
    """Whether every scheme reaches its theoretical order, judged on the fitted orders.

    The fit uses the asymptotic steps only (in float64 those well right of
    the V's bottom); a scheme exact for this function has no order (its
    errors are 0, or roundoff alone) and is never "below theory": the
    fit's note says why.
    """
    from derivaudit.studies.orders import fitted_orders

    fitted = fitted_orders(table)
    slow = [r for r in fitted.itertuples()
            if not math.isnan(r.fitted_order) and r.fitted_order < r.theoretical_order - ORDER_TOLERANCE]
    if slow:
        detail = "; ".join(f"{r.scheme}: fitted order {r.fitted_order:.2f}, theory {r.theoretical_order}"
                           + (f" ({r.note})" if r.note else "") for r in slow)
        return {"text": "order below theory", "css": "wrong",
                "detail": f"{detail}. The function may not be smooth enough at this point."}
    parts = [f"{r.scheme} {r.fitted_order:.2f} (theory {r.theoretical_order})" if not math.isnan(r.fitted_order)
             else f"{r.scheme}: {r.note or 'too few non-zero errors to measure an order'}"
             for r in fitted.itertuples()]
    return {"text": "converges as theory predicts", "css": "ok", "detail": "Fitted orders: " + "; ".join(parts) + "."}


def _stencil_banner(stencils) -> dict | None:
    """The page's verdict when a user stencil's weights or a claimed order are wrong."""
    wrong = [v for v in stencils if v.wrong]
    if not wrong:
        return None
    return {"text": "wrong", "css": "wrong",
            "detail": " ".join(f"{v.scheme}: {v.notes[0]}." for v in wrong)}


def _explanations(attrs) -> list[str]:
    """What the numeric engine recorded about this study, in words (empty when nothing applies)."""
    notes = []
    kink = attrs.get("not_differentiable")
    if kink:
        notes.append(kink["message"])
    explained = attrs.get("explanations") or []
    if isinstance(explained, dict):
        explained = [f"{key}: {text}" for key, values in explained.items()
                     for text in ([values] if isinstance(values, str) else values)]
    return notes + [str(text) for text in explained]


def study_page(study) -> tuple[str, dict]:
    """The study template and its context.

    Parameters
    ----------
    study : StudyResult
        What :func:`derivaudit.study` returned.

    Returns
    -------
    tuple of (str, dict)
    """
    table, attrs = study.table, study.meta()
    wrt, order = attrs["wrt"], attrs.get("derivative", 1)
    typed_point = attrs.get("point_typed") or attrs["point"]
    point = ", ".join(f"{k} = {v}" for k, v in typed_point.items())
    precision = ("float64 (IEEE doubles), exact values to {dps} digits" if attrs["precision"] == "float64"
                 else "{dps} significant digits").format(dps=attrs["dps"])
    label = derivative_label(wrt, order)
    typed = attrs.get("formula_typed") or attrs["formula"]
    header = {
        "formulas": [formula_view("f =", typed, canonical=attrs["formula"]),
                     formula_view(f"{label} =", attrs["exact_derivative"], user=False)],
        "meta": [("point", point), ("precision", precision), ("derivative", f"order {order} in {wrt}"),
                 ("steps", f"{table['eps'].nunique()} from {short_step(table['eps'].max())} "
                           f"to {short_step(table['eps'].min())}"),
                 ("schemes", ", ".join(dict.fromkeys(table["scheme"])))],
    }
    stencils = list((attrs.get("stencils") or {}).values())
    context = {"title": f"Convergence study of {label} for f = {typed} at {point}",
               "verdict": _stencil_banner(stencils) or _study_verdict(study), "header": header,
               "explanations": _explanations(attrs), "convergence": convergence_context(study, salt="study"),
               "stencils": stencils}
    return "study.html.j2", context
