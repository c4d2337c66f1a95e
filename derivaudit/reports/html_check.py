"""The HTML page of a check (a claimed derivative or gradient against the exact one)."""

from __future__ import annotations

import math

from derivaudit.reports.check_text import value_text
from derivaudit.reports.html_parts import convergence_context, formula_view
from derivaudit.reports.tables import relative_error
from derivaudit.reports.text import formula_text, scientific
from derivaudit.verdicts import Verdict

__all__ = ["check_page", "verdict_css"]

#: the colour of each verdict word
_CSS = {Verdict.PROVED: "ok", Verdict.NUMERICAL: "ok", Verdict.WRONG: "wrong",
        Verdict.UNDECIDED: "warn", Verdict.NOT_DIFFERENTIABLE: "warn", Verdict.INVALID: "warn"}


def verdict_css(verdict) -> str:
    """The colour class of a verdict (``ok``, ``wrong``, ``warn``).

    >>> verdict_css(Verdict.WRONG), verdict_css("correct (proved)")
    ('wrong', 'ok')
    """
    try:
        return _CSS[Verdict(str(verdict))]
    except ValueError:  # a word outside the vocabulary: colour it by its first word
        return {"correct": "ok", "wrong": "wrong"}.get(str(verdict).split(" ")[0], "warn")




def _how(c) -> str:
    """How the verdict was reached, in one sentence."""
    comparison = c.comparison
    if c.verdict is Verdict.PROVED:
        return f"Proved symbolically ({comparison.method})."
    if c.verdict is Verdict.NUMERICAL:
        return (f"Equal to {comparison.dps} digits at {comparison.points_tested} random points of the "
                f"domain, but not proved within the time budget ({comparison.method}).")
    if c.verdict is Verdict.WRONG:
        return f"The claim differs from the exact derivative ({comparison.method})."
    if c.verdict is Verdict.NOT_DIFFERENTIABLE:
        how = f"Not differentiable at the point: {c.one_sided.reason}." if c.one_sided else ""
        return how + ("" if c.correct else " The claim is also wrong elsewhere.")
    return f"Neither proved nor refuted ({comparison.method})."


def _facts(c, digits: int) -> tuple[list, float]:
    comparison = c.comparison
    facts = []
    if comparison.counterexample is not None:
        point = ", ".join(f"{k} = {v}" for k, v in comparison.counterexample.items())
        facts += [("counterexample", point), ("claim there", value_text(comparison.claim_value, digits)),
                  ("exact there", value_text(comparison.exact_value, digits))]
        rel = relative_error(comparison.claim_value, comparison.exact_value)
    else:
        rel = relative_error(c.claim_at_point, c.exact_at_point)
    if c.one_sided is not None:
        side = c.one_sided
        facts += [("left derivative", value_text(side.left, 12) if side.left is not None else "none (diverges)"),
                  ("right derivative", value_text(side.right, 12) if side.right is not None else "none (diverges)")]
    elif c.exact_at_point is not None:
        facts += [("claim at the point", value_text(c.claim_at_point, digits)),
                  ("exact at the point", value_text(c.exact_at_point, digits))]
    return facts, rel


def _component_context(c, index: int, digits: int) -> dict:
    comparison = c.comparison
    facts, rel = _facts(c, digits)
    mistakes = [f"{d.mistake}: {d.message}" for d in c.diagnosis]
    if comparison.different and not mistakes:
        mistakes = ["no simple pattern (sign, factor, term, variable, chain rule, order) explains it; "
                    "see the difference"]
    typed = c.claim_text or formula_text(c.claim)
    formulas = [formula_view("claim =", typed, c.claim), formula_view("exact =", formula_text(c.exact), c.exact, user=False)]
    if c.verdict is not Verdict.PROVED:
        formulas.append(formula_view("claim − exact =", formula_text(c.difference), c.difference, user=False))
    return {
        "label": c.label, "anchor": f"claim-{index}", "verdict": str(c.verdict), "css": verdict_css(c.verdict),
        "correct": c.correct, "how": _how(c), "claim_typed": typed, "exact_text": formula_text(c.exact),
        "formulas": formulas, "facts": facts, "mistakes": mistakes, "notes": list(c.notes),
        "rel_difference": scientific(rel) if not math.isnan(rel) else "",
        "evidence_point": ", ".join(f"{k} = {v}" for k, v in (c.evidence_point or {}).items()),
        "convergence": convergence_context(c.evidence, salt=f"check{index}") if c.evidence is not None else None,
    }


def check_page(result) -> tuple[str, dict]:
    """The check template and its context.

    Parameters
    ----------
    result : CheckResult

    Returns
    -------
    tuple of (str, dict)
    """
    components = [_component_context(c, i, result.dps) for i, c in enumerate(result.components)]
    wrong = [c["label"] for c in components if not c["correct"]]
    if result.hessian:
        detail = (f"All {len(components)} entries correct." if not wrong else
                  f"{len(wrong)} of {len(components)} entries wrong: "
                  f"{', '.join(map(str, result.wrong_entries))}.") + "".join(f" {n[0].upper()}{n[1:]}."
                                                                       for n in result.notes)
    elif result.gradient:
        detail = (f"All {len(components)} components correct." if not wrong else
                  f"{len(wrong)} of {len(components)} components wrong: {', '.join(wrong)}.")
        if result.verdict is Verdict.NOT_DIFFERENTIABLE:
            detail += " Not differentiable at the point."
    else:
        detail = components[0]["how"]
    typed = result.formula_text or formula_text(result.formula)
    meta = []
    if result.at is not None:
        meta.append(("point", ", ".join(f"{k} = {v}" for k, v in result.at.items())))
    meta.append(("precision", f"{result.dps} significant digits"))
    meta.append(("claims as typed", "; ".join(f"{c['label']} = {c['claim_typed']}" for c in components)))
    what = "Hessian" if result.hessian else "gradient" if result.gradient else components[0]["label"]
    context = {"title": f"Check of the claimed {what} of f = {typed}",
               "verdict": {"text": str(result.verdict), "css": verdict_css(result.verdict), "detail": detail},
               "header": {"formulas": [formula_view("f =", typed, result.formula)], "meta": meta},
               "components": components}
    return "check.html.j2", context
