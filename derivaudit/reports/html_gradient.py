"""The HTML pages of a gradient check of code and of a sweep of studies."""

from __future__ import annotations

from derivaudit.reports.html_parts import convergence_context
from derivaudit.reports.tables import gradient_entries
from derivaudit.reports.text import scientific
from derivaudit.verdicts import GRADIENT_BANDS

__all__ = ["gradient_page", "sweep_page", "band_css"]

#: the colour of each band word
_BAND_CSS = {"fine": "ok", "ok": "ok", "look again": "warn", "bug": "wrong"}

#: entries shown on a page (the wrong ones first); the CSV has them all
MAX_ROWS = 500


def band_css(word: str) -> str:
    """The colour class of a gradient check's band word.

    >>> band_css("fine"), band_css("bug")
    ('ok', 'wrong')
    """
    return _BAND_CSS.get(str(word), "warn")


def _bands_text() -> str:
    bounds = [f"{word} < {bound:g}" for bound, word in GRADIENT_BANDS]
    return ", ".join(bounds) + f", bug ≥ {GRADIENT_BANDS[-1][0]:g}"


def gradient_page(result) -> tuple[str, dict]:
    """The template of a check of code (gradient, Hessian, HVP, Jacobian: the result's ``compared``) and its
    context: verdict, parts, entries (wrong first), notes."""
    entries = gradient_entries(result)
    rows = [{"entry": r.entry, "wrong": bool(r.wrong), "analytic": f"{r.analytic:.10g}",
             "numeric": f"{r.numeric:.10g}", "difference": scientific(r.difference),
             "rel_error": scientific(r.rel_error), "band": r.band, "css": band_css(r.band),
             "uncertainty": scientific(r.uncertainty)} for r in entries.head(MAX_ROWS).itertuples()]
    precision = f"{result.dps} digits (balls)" if result.precision == "mp" else "float64"
    meta = [("relative difference ‖g − n‖/(‖g‖ + ‖n‖)", f"{result.relative_difference:.3e}"),
            (f"reference {result.compared}", f"{result.method}, ε = {result.eps:g}, {precision}"),
            ("entries", f"{len(entries)}, {len(result.wrong)} wrong")]
    if result.cause:
        meta.append(("suggested cause", result.cause))
    parts = [{"name": str(name), "verdict": part.verdict, "css": band_css(part.verdict),
              "rel": f"{part.relative_difference:.3e}", "wrong": len(part.wrong), "size": part.theta.size,
              "cause": part.cause} for name, part in result.parts.items()]
    detail = "no entry disagrees beyond the reference's uncertainty" if result.ok else \
        f"{len(result.wrong)} entries disagree" if result.wrong else "the relative difference is too large"
    return "gradient.html.j2", {
        "title": f"{result.compared[0].upper()}{result.compared[1:]} check",
        "verdict": {"text": str(result.verdict), "css": band_css(result.verdict), "detail": detail},
        "meta": meta, "parts": parts, "rows": rows, "shown": len(rows), "total": len(entries),
        "bands": _bands_text(), "notes": list(result.notes)}


def sweep_page(result) -> tuple[str, dict]:
    """The sweep template and its context: the summary of every study, then each study's convergence."""
    from derivaudit.studies.parallel import sweep_summary

    summary = sweep_summary(result.studies)
    rows = [{"study": r.study, "formula": r.formula, "wrt": r.wrt, "point": r.point, "scheme": r.scheme,
             "fitted": f"{r.fitted_order:.4f}", "theory": r.theoretical_order, "note": r.note}
            for r in summary.itertuples()]
    studies = [{"anchor": f"study-{i + 1}", "title": f"study {i + 1}: f = {s.formula_typed or s.formula} at "
                + ", ".join(f"{k} = {v}" for k, v in (s.point_typed or s.point).items()),
                "convergence": convergence_context(s, salt=f"sweep{i}")} for i, s in enumerate(result.studies)]
    verdict = result.verdict
    return "sweep.html.j2", {"title": f"Sweep {result.source}".strip(),
                             "verdict": {"text": str(verdict), "css": "wrong" if not result.ok else "ok",
                                         "detail": f"{len(result.studies)} studies"},
                             "rows": rows, "studies": studies}
