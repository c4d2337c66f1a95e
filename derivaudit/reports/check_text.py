"""A check result as text: the formula, then one block per claimed derivative
with its verdict, the exact derivative, the difference, the counterexample,
the likely mistakes and the evidence table.
"""

from __future__ import annotations

from collections.abc import Mapping

import mpmath
import pandas as pd
import sympy as sp

from derivaudit.checks.results import CheckResult, ComponentResult
from derivaudit.checks.witness import DIFFERENCE_DIGITS
from derivaudit.reports.text import format_number, formula_text, table_as_text
from derivaudit.verdicts import Verdict

__all__ = ["format_result", "format_component", "value_text", "hessian_summary", "EVIDENCE_COLUMNS"]

EVIDENCE_COLUMNS = ("scheme", "eps", "approx", "exact", "abs_error", "claim", "distance_to_claim",
                    "observed_order")


def value_text(value, digits: int) -> str:
    """A claim's or derivative's value to ``digits`` digits (an integral value as the integer,
    :func:`~derivaudit.reports.text.format_number`); None reads "undefined (not real)"."""
    return "undefined (not real)" if value is None else format_number(value, digits)


def _exact_text(value: sp.Expr) -> str:
    """An exact value for display: small fractions as ``1/2``, other terminating
    fractions as decimals (``4.88476531339``, the random evidence points)."""
    if isinstance(value, sp.Rational) and not value.is_Integer and value.q > 8:
        q, twos, fives = value.q, 0, 0
        while q % 2 == 0:
            q, twos = q // 2, twos + 1
        while q % 5 == 0:
            q, fives = q // 5, fives + 1
        if q == 1:
            digits = max(twos, fives)
            scaled = str(abs(value.p) * 10 ** digits // value.q).rjust(digits + 1, "0")
            return f"{'-' if value.p < 0 else ''}{scaled[:-digits]}.{scaled[-digits:]}"
    return formula_text(value)


def _point_text(point: Mapping[str, sp.Expr]) -> str:
    return ", ".join(f"{name}={_exact_text(value)}" for name, value in point.items())


def _verdict_line(component: ComponentResult) -> str:
    comparison = component.comparison
    if component.verdict is Verdict.PROVED:
        return f"CORRECT (proved symbolically: {comparison.method})"
    if component.verdict is Verdict.NUMERICAL:
        return f"CORRECT (numerically): {comparison.method}"
    if component.verdict is Verdict.WRONG:
        return "WRONG"
    if component.verdict is Verdict.UNDECIDED:
        return f"UNDECIDED: {comparison.method}"
    if comparison.different:
        return "NOT DIFFERENTIABLE AT THE POINT, and the claim is WRONG elsewhere"
    if comparison.status == "undecided":
        return f"NOT DIFFERENTIABLE AT THE POINT; elsewhere UNDECIDED: {comparison.method}"
    how = ("proved" if comparison.status == "proved" else
           f"numerically at {comparison.points_tested} points")
    return f"NOT DIFFERENTIABLE AT THE POINT (the claim is correct elsewhere, {how})"


def format_component(component: ComponentResult, digits: int = 20) -> str:
    """Readable audit of one claimed derivative: verdict, exact, difference, evidence."""
    label = component.label
    lines = [f"{label}: {_verdict_line(component)}",
             f"  claim:      {component.claim_text or formula_text(component.claim)}",
             f"  exact:      {formula_text(component.exact)}"]
    if component.comparison.status != "proved":
        lines.append(f"  difference: {formula_text(component.difference)}   (claim − exact)")
    comparison = component.comparison
    if comparison.counterexample is not None:
        lines.append(f"  counterexample: {_point_text(comparison.counterexample)}: claim = "
                     f"{value_text(comparison.claim_value, digits)}, exact = "
                     f"{value_text(comparison.exact_value, digits)}")
        if comparison.difference_value is not None:
            lines.append(f"  claim − exact there: {format_number(comparison.difference_value, DIFFERENCE_DIGITS)} "
                         "(certified: its ball excludes 0)")
    for diagnosis in component.diagnosis:
        lines.append(f"  likely mistake: {diagnosis}")
    if comparison.different and not component.diagnosis:
        lines.append("  likely mistake: no simple pattern (sign, factor, term, variable, chain "
                     "rule, order) explains it; see the difference")
    if component.one_sided is not None:
        sided = component.one_sided
        lines.append(f"  at the point: {sided.reason}: left derivative "
                     f"{value_text(sided.left, 12) if sided.left is not None else 'none'}, right "
                     f"derivative {value_text(sided.right, 12) if sided.right is not None else 'none'}")
    elif component.exact_at_point is not None:
        lines.append(f"  at the point: claim = {value_text(component.claim_at_point, digits)}, "
                     f"exact = {value_text(component.exact_at_point, digits)}")
    for note in component.notes:
        lines.append(f"  note: {note}")
    if component.evidence is not None:
        lines.append(f"  evidence at {_point_text(component.evidence_point)} ({comparison.dps} "
                     "digits): finite differences converge to the exact value, "
                     + ("and so to the claim" if component.correct else "not to the claim"))
        columns = [c for c in EVIDENCE_COLUMNS if c in component.evidence.table.columns]
        table = _evidence_text(component.evidence.table, columns, digits)
        lines += ["    " + row for row in table.splitlines()]
    return "\n".join(lines)


def _evidence_text(table: pd.DataFrame, columns, digits: int) -> str:
    if not isinstance(table["claim"].iloc[0], mpmath.mpf) or mpmath.isnan(table["claim"].iloc[0]):
        columns = [c for c in columns if c not in ("claim", "distance_to_claim")]
    return table_as_text(table, digits=digits, columns=tuple(columns))


def format_result(result: CheckResult, digits: int = 20) -> str:
    """The whole audit as text: the formula, then one block per component."""
    lines = [f"f = {result.formula_text or formula_text(result.formula)}"]
    if result.at is not None:
        lines.append(f"at {_point_text(result.at)}")
    blocks = [format_component(c, digits) for c in result.components]
    text = "\n".join(lines) + "\n\n" + "\n\n".join(blocks)
    if result.gradient:
        wrong = sum(c.comparison.different for c in result.components)
        undecided = sum(c.comparison.status == "undecided" for c in result.components)
        total = len(result.components)
        parts = [f"{wrong} of {total} components wrong"] if wrong else []
        parts += [f"{undecided} of {total} undecided"] if undecided else []
        summary = "gradient: " + ("; ".join(parts) if parts else f"all {total} components correct")
        text += "\n\n" + summary
    if result.hessian:
        text += "\n\n" + hessian_summary(result)
    return text


def hessian_summary(result: CheckResult) -> str:
    """One line on a claimed Hessian (which entries are wrong, undecided), then its remarks."""
    total = len(result.components)
    wrong = result.wrong_entries
    undecided = [c.entry for c in result.components if c.comparison.status == "undecided"]
    kinked = [c.entry for c in result.components if c.verdict is Verdict.NOT_DIFFERENTIABLE]
    parts = [f"{len(wrong)} of {total} entries wrong: {', '.join(map(str, wrong))}"] if wrong else []
    parts += [f"{len(undecided)} of {total} undecided: {', '.join(map(str, undecided))}"] if undecided else []
    parts += [f"not twice differentiable at the point: {', '.join(map(str, kinked))}"] if kinked else []
    correct = "all entries correct elsewhere" if kinked and not wrong and not undecided else ""
    lines = [f"Hessian in ({', '.join(result.hessian)}): " + ("; ".join(parts + ([correct] if correct else []))
                                                            if parts else f"all {total} entries correct")]
    return "\n".join(lines + [f"note: {n}" for n in result.notes])
