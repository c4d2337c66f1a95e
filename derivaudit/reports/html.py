"""HTML pages of study, check and audit results (jinja2 templates + inline SVG plots).

Each result type has a context builder that turns the result into plain
values — text already formatted, plots already rendered to SVG — and a
template under ``derivaudit/reports/templates/`` that lays them out.  Templates
autoescape everything; only the SVG made by :mod:`derivaudit.plots` is
marked safe.
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
import mpmath
import numpy as np
import pandas as pd
import sympy as sp
from markupsafe import Markup

from derivaudit.errors import DerivauditError
from derivaudit.core.numeric import compile_formula, exact_value
from derivaudit.lang.parse import parse_formula
from derivaudit.reports.plots import convergence_svg, heatmap_svg
from derivaudit.reports.tables import audit_entries, audit_steps, relative_error, result_kind, study_summary
from derivaudit.reports.text import file_stem, format_number, formula_text, scientific, shape_text, short_step
from derivaudit.core.stencils import stencil
from derivaudit.studies.inputs import resolve_point
# an observed or fitted order further than this from the theoretical one is shaded
from derivaudit.verdicts import ORDER_TOLERANCE

__all__ = ["render", "convergence_context", "pretty_formula", "ORDER_TOLERANCE"]

#: significant digits of approximations shown in HTML tables (CSV keeps all)
SHOWN_DIGITS = 20


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("derivaudit.reports", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def pretty_formula(text: str) -> str:
    """sympy's Unicode pretty print of a formula in derivaudit syntax (the text itself if it does not parse)."""
    try:
        return sp.pretty(parse_formula(text), use_unicode=True)
    except DerivauditError:
        return text


def _order_text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _departs(value, theoretical) -> bool:
    return isinstance(value, float) and not math.isnan(value) and abs(value - theoretical) > ORDER_TOLERANCE


def _function_scale(attrs) -> float | None:
    """|f| at the study's point as a float, for the roundoff floor; None if unavailable."""
    try:
        expr = parse_formula(attrs["formula"])
        point = resolve_point(expr, attrs["point"])
        value = exact_value(compile_formula(expr, tuple(point)), point, 17)
    except (DerivauditError, KeyError):
        return None
    return abs(float(value)) or None


def _predicted_column(table: pd.DataFrame) -> str | None:
    """The float64 error model's column (:mod:`derivaudit.error_model`), when the table has it."""
    return "predicted_error" if "predicted_error" in table.columns else None


def convergence_context(table: pd.DataFrame, salt: str = "study", title: str = "") -> dict:
    """Plot, per-scheme summary and per-step rows of a study table, formatted for a template."""
    attrs = table.attrs
    float64 = attrs.get("precision") == "float64"
    summary = study_summary(table)
    predicted = _predicted_column(table)
    # the float64 error model records each scheme's predicted best step in the table's attrs
    predicted_best = {name: model["predicted_best_eps"] for name, model in (attrs.get("error_model") or {}).items()
                      if not math.isnan(model.get("predicted_best_eps", math.nan))}
    best = {r.scheme: r.best_eps for r in summary.itertuples()}
    series, rows = [], []
    for name, group in table.groupby("scheme", sort=False):
        series.append({"label": name, "eps": list(group["eps"]), "abs_error": list(group["abs_error"]),
                       "best_eps": best[name] if float64 else None,
                       "predicted": list(group[predicted]) if predicted else None})
        for r in group.to_dict("records"):
            rows.append({
                "scheme": name, "eps": short_step(r["eps"]),
                "approx": format_number(r["approx"], SHOWN_DIGITS),
                "exact": format_number(r["exact"], SHOWN_DIGITS),
                "abs_error": scientific(r["abs_error"]), "rel_error": scientific(r["rel_error"]),
                "predicted": scientific(r[predicted]) if predicted else "",
                "order": _order_text(r["observed_order"]),
                "off": _departs(r["observed_order"], r["theoretical_order"]),
                "theory": r["theoretical_order"],
                "best": float64 and r["eps"] == best[name],
                "to_claim": scientific(r["distance_to_claim"]) if "distance_to_claim" in r else "",
            })
    summary_rows = []
    for r in summary.itertuples():
        summary_rows.append({
            "scheme": r.scheme, "stencil": _stencil_text(r.scheme, attrs),
            "theoretical": r.theoretical_order, "fitted": _order_text(r.fitted_order),
            "off": _departs(r.fitted_order, r.theoretical_order), "steps_used": r.steps_used,
            "best_eps": short_step(r.best_eps), "min_error": scientific(r.min_abs_error),
            "predicted_best": f"{predicted_best[r.scheme]:.3g}" if r.scheme in predicted_best else "",
        })
    floor = None
    if float64:
        scale = _function_scale(attrs)
        floor = {"scale": scale, "derivative": attrs.get("derivative", 1)} if scale else None
    claim = _claim_series(table)
    if claim is not None:
        series.append(claim)
    svg = convergence_svg(series, title=title, floor=floor, salt=salt)
    return {"svg": Markup(svg), "float64": float64, "dps": attrs.get("dps"),
            "derivative": attrs.get("derivative", 1), "summary": summary_rows, "rows": rows,
            "has_predicted": predicted is not None, "has_claim": claim is not None,
            "has_predicted_best": bool(predicted_best),
            "tolerance": ORDER_TOLERANCE}


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


def _stencil_text(name: str, attrs) -> str:
    """The scheme's formula, e.g. ``(-f(x) + f(x + ε))/ε``; for a mixed partial, in words."""
    wrt = str(attrs.get("wrt", "x"))
    if "," in wrt:
        return f"{name} along each of {wrt}"
    try:
        return stencil(name, attrs.get("derivative", 1)).formula(x=wrt)
    except (DerivauditError, AttributeError, TypeError):
        return ""


def _reached_orders(table: pd.DataFrame) -> dict[str, float]:
    """Per scheme, the order the truncation arm of the curve shows.

    In arbitrary precision that is the fitted order.  In float64 the fit
    still includes the best step, where roundoff already bends the curve,
    so the largest observed order right of the best step is taken instead.
    """
    summary = study_summary(table)
    if table.attrs.get("precision") != "float64":
        return dict(zip(summary.scheme, summary.fitted_order))
    reached = {}
    for r in summary.itertuples():
        group = table[(table.scheme == r.scheme) & (table.eps > r.best_eps)]
        orders = [q for q in group.observed_order if not math.isnan(q)]
        reached[r.scheme] = max(orders) if orders else math.nan
    return reached


def _study_verdict(table: pd.DataFrame) -> dict:
    """Whether every scheme reaches its theoretical order (within the tolerance)."""
    theory = dict(zip(table.scheme, table.theoretical_order))
    reached = _reached_orders(table)
    what = "largest observed order right of the best step" if table.attrs.get("precision") == "float64" \
        else "fitted order"
    slow = [(name, q) for name, q in reached.items()
            if not math.isnan(q) and q < theory[name] - ORDER_TOLERANCE]
    if slow:
        detail = "; ".join(f"{name}: {what} {q:.2f}, theory {theory[name]}" for name, q in slow)
        return {"text": "order below theory", "css": "wrong",
                "detail": f"{detail} — the function may not be smooth enough at this point."}
    parts = [f"{name} {q:.2f} (theory {theory[name]})" if not math.isnan(q)
             else f"{name}: too few non-zero errors to measure an order" for name, q in reached.items()]
    return {"text": "converges as theory predicts", "css": "ok",
            "detail": f"{what.capitalize()}s: " + ", ".join(parts)}


def _derivative_label(wrt: str, order: int) -> str:
    """``df/dx``, ``d²f/dx²``, or for a mixed partial (``wrt="x,y"``) ``∂²f/∂x∂y``."""
    if "," in wrt:
        return f"∂{_superscript(order)}f/" + "".join(f"∂{v}" for v in wrt.split(","))
    return f"df/d{wrt}" if order == 1 else f"d{_superscript(order)}f/d{wrt}{_superscript(order)}"


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _study_page(table: pd.DataFrame) -> tuple[str, dict]:
    attrs = table.attrs
    if "formula" not in attrs:
        raise DerivauditError("the table has no study metadata (table.attrs); pass the table "
                              "derivaudit.study returned, not a copy without attrs")
    wrt, order = attrs["wrt"], attrs.get("derivative", 1)
    point = ", ".join(f"{k} = {v}" for k, v in attrs["point"].items())
    precision = ("float64 (IEEE doubles), exact values to {dps} digits" if attrs["precision"] == "float64"
                 else "{dps} significant digits").format(dps=attrs["dps"])
    convergence = convergence_context(table, salt="study")
    label = _derivative_label(wrt, order)
    header = {
        "formula_text": attrs["formula"], "formula_pretty": pretty_formula(attrs["formula"]),
        "exact_text": attrs["exact_derivative"], "exact_pretty": pretty_formula(attrs["exact_derivative"]),
        "derivative_label": label,
        "meta": [("point", point), ("precision", precision), ("derivative", f"order {order} in {wrt}"),
                 ("steps", f"{table['eps'].nunique()} from {short_step(table['eps'].max())} "
                           f"to {short_step(table['eps'].min())}"),
                 ("schemes", ", ".join(dict.fromkeys(table["scheme"])))],
    }
    stencils = list((attrs.get("stencils") or {}).values())
    context = {"title": f"Convergence study of {label} for f = {attrs['formula']} at {point}",
               "verdict": _stencil_banner(stencils) or _study_verdict(table), "header": header,
               "convergence": convergence, "stencils": stencils}
    return "study.html.j2", context


def _stencil_banner(stencils) -> dict | None:
    """The page's verdict when a user stencil's weights or a claimed order are wrong."""
    wrong = [v for v in stencils if v.wrong]
    if not wrong:
        return None
    return {"text": "wrong", "css": "wrong",
            "detail": " ".join(f"{v.scheme}: {v.notes[0]}." for v in wrong)}


def pretty_expr(expr) -> str:
    """sympy's Unicode pretty print of an expression."""
    return sp.pretty(expr, use_unicode=True)


#: check verdict → (headline, colour class)
_CHECK_VERDICTS = {
    "PROVED": ("correct", "ok"), "NUMERICAL": ("correct", "ok"),
    "WRONG": ("wrong", "wrong"), "NOT_DIFFERENTIABLE": ("not differentiable", "warn"),
}


def _number(value, digits: int = SHOWN_DIGITS) -> str:
    return "undefined (not real)" if value is None else format_number(value, digits)


def _component_context(c, index: int) -> dict:
    comparison = c.comparison
    headline, css = _CHECK_VERDICTS[c.verdict.name]
    if c.verdict.name == "PROVED":
        how = f"Proved symbolically ({comparison.method})."
    elif c.verdict.name == "NUMERICAL":
        how = (f"Equal to {comparison.dps} digits at {comparison.points_tested} random points of the "
               f"domain, but not proved within the time budget ({comparison.method}).")
    elif c.verdict.name == "WRONG":
        how = f"The claim differs from the exact derivative ({comparison.method})."
    else:
        how = f"Not differentiable at the point: {c.one_sided.reason}." if c.one_sided else ""
        if not c.correct:
            how += " The claim is also wrong elsewhere."
    facts = []
    if comparison.counterexample is not None:
        point = ", ".join(f"{k} = {v}" for k, v in comparison.counterexample.items())
        facts += [("counterexample", point), ("claim there", _number(comparison.claim_value)),
                  ("exact there", _number(comparison.exact_value))]
        rel = relative_error(comparison.claim_value, comparison.exact_value)
    else:
        rel = relative_error(c.claim_at_point, c.exact_at_point)
    if c.one_sided is not None:
        side = c.one_sided
        facts += [("left derivative", _number(side.left, 12) if side.left is not None else "none (diverges)"),
                  ("right derivative", _number(side.right, 12) if side.right is not None else "none (diverges)")]
    elif c.exact_at_point is not None:
        facts += [("claim at the point", _number(c.claim_at_point)), ("exact at the point", _number(c.exact_at_point))]
    mistakes = [f"{d.mistake}: {d.message}" for d in c.diagnosis]
    if not c.correct and not mistakes:
        mistakes = ["no simple pattern (sign, factor, term, variable, chain rule, order) explains it; "
                    "see the difference"]
    convergence = None
    if c.evidence is not None:
        convergence = convergence_context(c.evidence, salt=f"check{index}")
    return {
        "label": c.label, "anchor": f"claim-{index}", "verdict": headline if headline != "correct" else str(c.verdict),
        "css": css, "correct": c.correct, "how": how,
        "claim_text": formula_text(c.claim), "claim_pretty": pretty_expr(c.claim),
        "exact_text": formula_text(c.exact), "exact_pretty": pretty_expr(c.exact),
        "show_difference": c.verdict.name != "PROVED",
        "difference_text": formula_text(c.difference), "difference_pretty": pretty_expr(c.difference),
        "facts": facts, "mistakes": mistakes, "notes": list(c.notes),
        "rel_difference": scientific(rel) if not math.isnan(rel) else "",
        "evidence_point": ", ".join(f"{k} = {v}" for k, v in (c.evidence_point or {}).items()),
        "convergence": convergence,
    }


def _check_page(result) -> tuple[str, dict]:
    components = [_component_context(c, i) for i, c in enumerate(result.components)]
    headline, css = _CHECK_VERDICTS[result.verdict.name]
    wrong = [c["label"] for c in components if not c["correct"]]
    if result.gradient:
        detail = (f"All {len(components)} components correct." if not wrong else
                  f"{len(wrong)} of {len(components)} components wrong: {', '.join(wrong)}.")
    else:
        detail = components[0]["how"]
    if result.verdict.name == "NOT_DIFFERENTIABLE" and result.gradient:
        detail += " Not differentiable at the point."
    formula = formula_text(result.formula)
    meta = []
    if result.at is not None:
        meta.append(("point", ", ".join(f"{k} = {v}" for k, v in result.at.items())))
    meta.append(("precision", f"{result.dps} significant digits"))
    meta.append(("claims", "; ".join(f"{c['label']} = {c['claim_text']}" for c in components)))
    what = "gradient" if result.gradient else components[0]["label"]
    context = {"title": f"Check of the claimed {what} of f = {formula}",
               "verdict": {"text": headline, "css": css, "detail": detail},
               "header": {"formula_text": formula, "formula_pretty": pretty_expr(result.formula), "meta": meta},
               "components": components}
    return "check.html.j2", context


def _page(result) -> tuple[str, dict]:
    kind = result_kind(result)
    if kind == "study":
        return _study_page(result)
    if kind == "check":
        return _check_page(result)
    return _audit_page(result)


def _audit_claim_context(c, index: int, steps: pd.DataFrame, settings_dps: int) -> dict:
    css = "ok" if c.correct else "wrong"
    rows = steps[steps.parameter == c.parameter]
    # centered differences of the loss: O(h²) against right values (also those of a claim whose
    # only fault is its shape), about constant against wrong ones
    theory = 2 if c.correct or not c.wrong_entries else 0
    # differences at the rounding level of the audit's precision (an exactly quadratic loss) have no order
    resolved = not c.correct or any(r > 10.0 ** (10 - settings_dps) for r in c.rel_by_step)
    step_rows = [{"eps": r.eps, "rel": scientific(r.rel_difference), "order": _order_text(r.observed_order),
                  "off": resolved and _departs(r.observed_order, theory)} for r in rows.itertuples()]
    plot = None
    if len(rows):
        plot = Markup(convergence_svg([{"label": f"claimed ∂loss/∂{c.parameter}", "eps": list(rows.eps),
                                        "abs_error": list(rows.rel_difference),
                                        "colour": "#1e8449" if c.correct else "#c0392b"}],
                                      salt=f"audit{index}", xlabel="step h", ylabel="relative difference"))
    heatmap, caption = None, ""
    shape = tuple(c.shape)
    if c.wrong_entries and len(shape) in (1, 2) and max(shape, default=0) > 1:
        table = audit_entries(c)
        grid = np.array(table.abs_difference.tolist(), dtype=object).reshape(shape if len(shape) == 2 else (1, shape[0]))
        wrong = np.array(table.wrong.tolist()).reshape(grid.shape)
        if any(isinstance(v, float) and math.isnan(v) for v in table.abs_difference):
            grid = np.where(wrong, 1.0, 0.0)  # the audit recorded no values: show which entries are wrong
            caption = "Wrong entries (outlined); the audit did not record their values."
        else:
            caption = ("|claim − exact| per entry at the audit's first random point (log colour scale; "
                       "white: equal); wrong entries are outlined in red.")
        heatmap = Markup(heatmap_svg(grid, wrong=wrong, salt=f"heat{index}",
                                     title=f"{c.parameter}: {c.wrong_description or 'no wrong entry'}"))
    facts = [("shape", f"{shape_text(c.shape)} (claim {shape_text(c.claim_shape)})"),
             ("verdict", c.verdict), ("entries proved", f"{c.proved_entries} of {c.entries}")]
    if c.wrong_description:
        facts.append(("wrong entries", c.wrong_description))
    if c.counterexample:
        shown = list(c.counterexample.items())
        text = ", ".join(f"{k} = {v}" for k, v in shown[:8]) + (", …" if len(shown) > 8 else "")
        facts.append(("counterexample", text))
    facts += [("relative difference", f"{scientific(c.rel_difference)} ({c.grade} in a float64 gradient check: "
                                      f"{scientific(c.rel_difference_float64)})"),
              ("order", _order_text(c.order) if resolved else "none: the differences are at the rounding level")]
    diagnosis = list(c.diagnosis) + ([c.difference] if c.difference else [])
    return {"parameter": c.parameter, "anchor": f"claim-{file_stem(c.parameter)}", "correct": c.correct,
            "css": css, "verdict": c.verdict, "shape": shape_text(c.shape), "claim": c.claim,
            "rel": scientific(c.rel_difference), "rel64": scientific(c.rel_difference_float64),
            "grade": c.grade, "order": _order_text(c.order) if resolved else "exact",
            "order_off": resolved and _departs(c.order, theory),
            "wrong_description": c.wrong_description or "–", "facts": facts, "diagnosis": diagnosis,
            "heatmap": heatmap, "heatmap_caption": caption, "plot": plot, "steps": step_rows}


def _audit_page(result) -> tuple[str, dict]:
    steps = audit_steps(result)
    claims = [_audit_claim_context(c, i, steps, result.settings.dps) for i, c in enumerate(result.claims)]
    wrong = [c["parameter"] for c in claims if not c["correct"]]
    if wrong:
        verdict = {"text": "wrong", "css": "wrong",
                   "detail": f"{len(wrong)} of {len(claims)} claimed gradients wrong: {', '.join(wrong)}."}
    else:
        verdict = {"text": "correct", "css": "ok", "detail": f"All {len(claims)} claimed gradients correct."}
    settings = result.settings
    meta = [("spec", str(result.source)), ("precision", f"{settings.dps} significant digits"),
            ("random points", f"{settings.points} (seed {settings.seed}, values in "
                              f"[{settings.low}, {settings.high}])"),
            ("steps h", ", ".join(map(str, settings.steps)) + f"; float64 check at h = {settings.float64_step}")]
    bad = [b for b in result.backward if not b.correct]
    context = {"title": f"Backprop audit of {Path(str(result.source)).name or result.source}",
               "verdict": verdict, "meta": meta, "claims": claims, "dps": settings.dps,
               "smallest_step": str(settings.steps[-1]) if settings.steps else "",
               "backward": result.backward,
               "first_wrong_backward": f"{bad[0].name} is not ∂loss/∂{bad[0].of}" if bad else ""}
    return "audit.html.j2", context


def render(result) -> str:
    """The HTML page of ``result``: one self-contained document."""
    from derivaudit import __version__

    template, context = _page(result)
    return _environment().get_template(template).render(version=__version__, **context)
