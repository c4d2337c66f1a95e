"""A study result as text: what ``derivaudit study`` prints.

The header (formula, exact derivative, point, precision), the table with
enough digits to tell each approximation from the exact value, the fitted
orders, in float64 the measured and predicted best steps, and the verdicts
on user stencils and claimed orders.
"""

from __future__ import annotations

__all__ = ["study_text", "sweep_text", "stencil_verdict_lines"]


def _header(result) -> list[str]:
    point = ", ".join(f"{k}={v}" for k, v in result.point.items())
    mode = "float64" if result.precision == "float64" else f"{result.dps} significant digits"
    order = "" if result.derivative == 1 else f"^{result.derivative}"
    lines = [f"f = {result.formula_typed or result.formula}"]  # as typed
    if "," in result.wrt:
        lines.append(f"∂{order}f/{''.join('∂' + v for v in result.wrt.split(','))} = {result.exact_derivative}")
    else:
        lines.append(f"d{order}f/d{result.wrt}{order} = {result.exact_derivative}")
    lines.append(f"at {point}; {mode}")
    if result.not_differentiable is not None:
        lines.append(result.not_differentiable["message"])
    return lines


def stencil_verdict_lines(studies) -> list[str]:
    """Each user stencil's verdict (and a claimed order's), one block per study, each after a blank line."""
    lines = []
    for i, result in enumerate(studies):
        for verdict in result.stencils.values():
            lines.append("\n" + (f"study {i + 1}, " if len(studies) > 1 else "") + "\n".join(verdict.lines()))
    return lines


def study_text(result, digits: int = 20) -> str:
    """The study as ``derivaudit study`` prints it, with ``digits`` significant digits per number
    (raised until approximations differ visibly from the exact values, never beyond ``dps``)."""
    from derivaudit.reports.text import table_as_text
    from derivaudit.studies.orders import distinguishing_digits, fitted_orders, predicted_best_steps

    table = result.table
    lines = _header(result) + [""]
    # never more digits than the study certified, enough to tell approx from exact
    lines.append(table_as_text(table, digits=distinguishing_digits(result, digits)))
    if table["eps"].nunique() > 1:
        lines.append("")
        fitted = fitted_orders(result)
        lines.append(fitted[["scheme", "fitted_order", "theoretical_order", "steps_used"]].to_string(
            index=False, float_format=lambda v: f"{v:.4f}"))
        for row in fitted.itertuples():
            lines.append(f"{row.scheme}: {row.note}" if row.note else
                         f"{row.scheme}: fitted over {row.fit_steps} (observed orders agree to 0.05)")
    if result.precision == "float64":
        lines.append("\nbest step: measured, and predicted by the float64 error model "
                     "(truncation + roundoff)")
        lines.append(predicted_best_steps(result).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    lines += stencil_verdict_lines([result])
    return "\n".join(lines)


def sweep_text(result) -> str:
    """A sweep as ``derivaudit sweep`` prints it: the fitted orders of every study, then stencil verdicts."""
    from derivaudit.studies.parallel import sweep_summary

    lines = [sweep_summary(result.studies).to_string(index=False, float_format=lambda v: f"{v:.4f}")]
    return "\n".join(lines + stencil_verdict_lines(list(result.studies)))
