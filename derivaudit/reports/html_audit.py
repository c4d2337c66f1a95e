"""The HTML page of a backprop audit: a summary, the backward intermediates, one section per claim."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from derivaudit.reports.html_check import verdict_css
from derivaudit.reports.html_parts import departs, order_text
from derivaudit.reports.plots import convergence_svg, heatmap_svg
from derivaudit.reports.tables import audit_entries, audit_steps
from derivaudit.reports.text import file_stem, scientific, shape_text
from derivaudit.verdicts import Verdict

__all__ = ["audit_page", "counterexample_text"]

#: entries of a counterexample shown on the page (the CSV has them all)
SHOWN_ENTRIES = 12


def counterexample_text(counterexample: dict, parameter: str, shown: int = SHOWN_ENTRIES) -> str:
    """A counterexample point as text, the claim's own parameter's entries first.

    >>> counterexample_text({"W1[0,0]": "1/2", "b2[0,0]": "1/4", "b2[1,0]": "-1/3"}, "b2", shown=2)
    'b2[0,0] = 1/4, b2[1,0] = -1/3, … (1 more entry in the CSV report)'
    """
    def own(name: str) -> bool:
        return name == parameter or name.startswith(f"{parameter}[")

    items = sorted(counterexample.items(), key=lambda item: not own(item[0]))
    text = ", ".join(f"{k} = {v}" for k, v in items[:shown])
    rest = len(items) - shown
    if rest > 0:
        text += f", … ({rest} more entr{'y' if rest == 1 else 'ies'} in the CSV report)"
    return text


def _shape_only(c) -> bool:
    """Wrong by its shape alone: no entry's value differs."""
    return not c.correct and not c.wrong_entries


def _explanations(c, resolved: bool) -> list[str]:
    """Where a plot or a number seems to disagree with the verdict, why it does not."""
    notes = []
    if _shape_only(c):
        notes.append(f"The convergence plot follows slope 2, as for a right claim, because the claim's values "
                     f"are right; it is wrong by its shape: {shape_text(c.claim_shape)} where {c.parameter} is "
                     f"{shape_text(c.shape)}. The float64 check compares the arrays as they are, so it reads "
                     f"'{c.grade}'.")
    elif not c.correct and c.grade in ("fine", "ok"):
        notes.append(f"A float64 gradient check alone would call this claim '{c.grade}': the difference is "
                     f"below what doubles resolve at h = 1e-6; the exact comparison finds it.")
    elif c.correct and c.grade in ("look again", "bug"):
        notes.append(f"The float64 check reads '{c.grade}' from roundoff and truncation of the doubles; the exact "
                     "comparison shows the claim is right.")
    if not resolved:
        notes.append("The loss is at most quadratic in this parameter, so centered differences are exact: "
                     "the relative differences are at the rounding level and have no order.")
    return notes


def _heatmap(c, index: int) -> tuple[Markup | None, str]:
    shape = tuple(c.shape)
    if not c.wrong_entries or len(shape) not in (1, 2) or max(shape, default=0) <= 1:
        return None, ""
    table = audit_entries(c)
    grid = np.array(table.abs_difference.tolist(), dtype=object).reshape(shape if len(shape) == 2 else (1, shape[0]))
    wrong = np.array(table.wrong.tolist()).reshape(grid.shape)
    every = bool(wrong.all())
    if any(isinstance(v, float) and math.isnan(v) for v in table.abs_difference):
        grid = np.where(wrong, 1.0, 0.0)  # the audit recorded no values: show which entries are wrong
        caption = "Which entries are wrong (the audit did not record their values)."
    else:
        caption = ("|claim − exact| per entry at the audit's first random point (log colour scale; white: "
                   "equal). " + ("Every entry is wrong." if every else "Wrong entries are outlined."))
    svg = heatmap_svg(grid, wrong=None if every else wrong, salt=f"heat{index}",
                      title=f"{c.parameter}: {c.wrong_description or 'no wrong entry'}")
    return Markup(svg), caption


def _invalid_context(c) -> dict:
    """An invalid claim's section: its shape and the message saying why it cannot be judged."""
    return {"parameter": c.parameter, "anchor": f"claim-{file_stem(c.parameter)}", "correct": False,
            "css": verdict_css(c.verdict), "verdict": str(c.verdict), "shape": shape_text(c.shape), "claim": c.claim,
            "rel": "–", "rel64": "–", "grade": c.grade, "order": "–", "order_off": False,
            "wrong_description": "–",
            "facts": [("shape", shape_text(c.shape)), ("verdict", str(c.verdict)), ("cannot be judged", c.message)],
            "diagnosis": [], "explanations": [], "heatmap": None, "heatmap_caption": "", "plot": None, "steps": []}


def _claim_context(c, index: int, steps: pd.DataFrame, dps: int) -> dict:
    if c.verdict is Verdict.INVALID:
        return _invalid_context(c)
    rows = steps[steps.parameter == c.parameter]
    # centered differences of the loss: O(h²) against right values (also those of a claim wrong
    # only by its shape), about constant against wrong ones
    theory = 2 if c.correct or _shape_only(c) else 0
    # differences at the rounding level of the audit's precision (an exactly quadratic loss) have no order
    resolved = not c.correct or any(r > 10.0 ** (10 - dps) for r in c.rel_by_step)
    step_rows = [{"eps": r.eps, "rel": scientific(r.rel_difference), "order": order_text(r.observed_order),
                  "off": resolved and departs(r.observed_order, theory)} for r in rows.itertuples()]
    plot = None
    if len(rows):
        plot = Markup(convergence_svg([{"label": f"claimed ∂loss/∂{c.parameter}", "eps": list(rows.eps),
                                        "abs_error": list(rows.rel_difference),
                                        "colour": "#1e8449" if c.correct else "#c0392b"}],
                                      salt=f"audit{index}", xlabel="step h", ylabel="relative difference"))
    heatmap, caption = _heatmap(c, index)
    smallest = steps.eps.iloc[-1] if len(steps) else ""
    facts = [("shape", f"{shape_text(c.shape)} (claim {shape_text(c.claim_shape)})"),
             ("verdict", str(c.verdict)), ("entries proved", f"{c.proved_entries} of {c.entries}")]
    if c.wrong_description:
        facts.append(("wrong entries", c.wrong_description))
    if c.counterexample:
        facts.append(("counterexample", counterexample_text(c.counterexample, c.parameter)))
    facts += [(f"relative difference, {dps} digits, h = {smallest}", scientific(c.rel_difference)),
              ("float64 gradient check, h = 1e-6", f"{scientific(c.rel_difference_float64)}: {c.grade}"),
              ("order", order_text(c.order) if resolved else "none: the differences are at the rounding level")]
    return {"parameter": c.parameter, "anchor": f"claim-{file_stem(c.parameter)}", "correct": c.correct,
            "css": verdict_css(c.verdict), "verdict": str(c.verdict), "shape": shape_text(c.shape),
            "claim": c.claim, "rel": scientific(c.rel_difference), "rel64": scientific(c.rel_difference_float64),
            "grade": c.grade, "order": order_text(c.order) if resolved else "exact",
            "order_off": resolved and departs(c.order, theory), "wrong_description": c.wrong_description or "none",
            "facts": facts,
            "diagnosis": list(c.diagnosis) + ([c.difference] if c.difference else []) + list(c.evidence_notes),
            "explanations": _explanations(c, resolved), "heatmap": heatmap, "heatmap_caption": caption,
            "plot": plot, "steps": step_rows}


def _backward_rows(backward) -> list[dict]:
    rows = []
    for b in backward:
        factor = f"{b.factor}" if b.correct and b.factor else ("1" if b.correct else "–")
        word = "correct" if b.correct else str(Verdict.INVALID if b.invalid else Verdict.WRONG)
        rows.append({"name": b.name, "of": b.of, "correct": b.correct, "verdict": word,
                     "css": verdict_css(word), "factor": factor,
                     "reads": b.describe(), "wrong_entries": "none" if b.correct else (b.wrong_entries or "–")})
    return rows


def _page_verdict(result) -> dict:
    """The verdict at the top of the page: invalid first (the spec needs fixing), then wrong, then correct."""
    claims = result.claims
    invalid = ([c.parameter for c in claims if c.verdict is Verdict.INVALID] +
               [f"the Hessian of {h.parameter}" for h in result.hessians if h.verdict is Verdict.INVALID] +
               [b.name for b in result.backward if b.invalid])
    if invalid:
        return {"text": str(Verdict.INVALID), "css": verdict_css(Verdict.INVALID),
                "detail": f"{sum(c.correct for c in claims)} of {len(claims)} claimed gradients correct; "
                          f"cannot be judged: {', '.join(invalid)}. The spec needs fixing: "
                          + " ".join(result.errors)}
    wrong = [c.parameter for c in claims if not c.correct]
    if wrong:
        verdict = {"text": "wrong", "css": "wrong",
                   "detail": f"{len(wrong)} of {len(claims)} claimed gradients wrong: {', '.join(wrong)}."}
    else:
        verdict = {"text": "correct", "css": "ok", "detail": f"All {len(claims)} claimed gradients correct."}
    hessians_wrong = [h.parameter for h in result.hessians if not h.correct]
    if hessians_wrong:
        verdict = {"text": "wrong", "css": "wrong", "detail": (verdict["detail"] if wrong else "") +
                   f" {len(hessians_wrong)} of {len(result.hessians)} claimed Hessians wrong: "
                   f"{', '.join(hessians_wrong)}."}
    return verdict


def audit_page(result) -> tuple[str, dict]:
    """The audit template and its context.

    Parameters
    ----------
    result : AuditResult

    Returns
    -------
    tuple of (str, dict)
    """
    steps = audit_steps(result)
    settings = result.settings
    claims = [_claim_context(c, i, steps, settings.dps) for i, c in enumerate(result.claims)]
    verdict = _page_verdict(result)
    source = str(result.source)
    meta = [("spec", source), ("precision", f"{settings.dps} significant digits"),
            ("random points", f"{settings.points} (seed {settings.seed}, values in "
                              f"[{settings.low}, {settings.high}])"),
            ("steps h", ", ".join(map(str, settings.steps)) + f"; float64 check at h = {settings.float64_step}")]
    meta += [(f"Hessian of {h.parameter}", f"{h.verdict}" + (f": {h.message}" if h.message else
                                                              f": wrong entries {h.wrong_description}; "
                                                              + "; ".join(h.diagnosis) if h.wrong_description
                                                              else f", rel. difference {h.rel_difference:.1e}"))
             for h in result.hessians]
    bad = [b for b in result.backward if not b.correct and not b.invalid]
    contents = [("summary", "Summary")] + ([("backward", "Backward intermediates")] if result.backward else [])
    contents += [(c["anchor"], f"∂loss/∂{c['parameter']}: {c['verdict']}") for c in claims]
    return "audit.html.j2", {
        "title": f"Backprop audit of {Path(source).name or source}", "verdict": verdict, "meta": meta,
        "claims": claims, "dps": settings.dps, "contents": contents,
        "smallest_step": str(settings.steps[-1]) if settings.steps else "",
        "backward": _backward_rows(result.backward),
        "first_wrong_backward": f"{bad[0].name} is not ∂loss/∂{bad[0].of}" if bad else ""}
