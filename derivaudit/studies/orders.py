"""Orders of convergence and best steps, read from a study's table.

The observed order between steps ε₁ > ε₂ is ``log(e₁/e₂)/log(ε₁/ε₂)``; the
fitted order is the least-squares slope of ``log|e|`` against ``log ε``
over the steps where truncation dominates; the best step is the one of
least error (float64), beside the error model's prediction.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import mpmath
import numpy as np
import pandas as pd
import sympy as sp

from derivaudit.errors import DerivauditError
from derivaudit.studies.result import study_parts

__all__ = ["observed_order", "log10_abs", "best_steps", "predicted_best_steps", "fitted_orders", "AGREEMENT",
           "order_notes", "distinguishing_digits"]


def observed_order(errors: Sequence, steps: Sequence, error_floats: Sequence[float] | None = None,
                   step_floats: Sequence[float] | None = None) -> list[float]:
    """``log(e₁/e₂) / log(ε₁/ε₂)`` between each step and the previous one.

    The first entry is NaN, and so is any entry where an error is zero
    (exact, or below the precision's resolution).  ``error_floats`` and
    ``step_floats``, when given, are ``abs(float(v))`` of each (a caller
    that has them spares the conversions).
    """
    # Fast path in doubles: |v| rounded to 53 bits is float(|v|) when that is a normal
    # double, and the 53-bit quotient of two such numbers is their IEEE quotient, so
    # log(e₁/e₂) is the same number either way.  Anything else (zeros, values or
    # ratios outside the normal range) takes the mpmath path.
    errors, steps = list(errors), list(steps)
    floats_e = error_floats if error_floats is not None else [abs(float(v)) for v in errors]
    floats_s = step_floats if step_floats is not None else [abs(float(v)) for v in steps]
    orders = [math.nan]
    low, high, log = _NORMAL_MIN, math.inf, math.log
    for i in range(1, len(errors)):
        e1, e2, s1, s2 = floats_e[i - 1], floats_e[i], floats_s[i - 1], floats_s[i]
        if low <= e1 < high and low <= e2 < high and low <= s1 < high and low <= s2 < high:
            if s1 == s2:
                orders.append(math.nan)
                continue
            ratio_e, ratio_s = e1 / e2, s1 / s2
            if low <= ratio_e < high and low <= ratio_s < high:  # both normal doubles
                orders.append(log(ratio_e) / log(ratio_s))
                continue
        orders.append(_exact_order(errors[i - 1], errors[i], steps[i - 1], steps[i]))
    return orders


_NORMAL_MIN = 2.2250738585072014e-308


def _exact_order(e1, e2, s1, s2) -> float:
    """One observed order through mpmath at 53 bits (the general path of :func:`observed_order`)."""
    e1, e2, s1, s2 = (mpmath.mpf(abs(v)) for v in (e1, e2, s1, s2))
    if e1 == 0 or e2 == 0 or s1 == s2 or not (mpmath.isfinite(e1) and mpmath.isfinite(e2)):
        return math.nan
    return _log_ratio(e1, e2) / _log_ratio(s1, s2)


def _log_ratio(a: mpmath.mpf, b: mpmath.mpf) -> float:
    """``log(a/b)`` as a float; the ratio of two tiny mpf numbers is usually a normal float."""
    ratio = float(a / b)
    if 0 < ratio < math.inf:
        return math.log(ratio)
    return float(mpmath.log(a / b))


def log10_abs(value) -> float:
    """``log10|value|`` as a float (−inf for 0, NaN for NaN), exact for tiny mpmath numbers."""
    value = mpmath.mpf(value)
    if mpmath.isnan(value):
        return math.nan
    if value == 0:
        return -math.inf
    return float(mpmath.log10(abs(value)))


def best_steps(study) -> pd.DataFrame:
    """Per scheme, the step with the smallest error: ``scheme, best_eps, min_abs_error``.

    ``study`` is a :class:`~derivaudit.studies.result.StudyResult` (or its table).
    """
    table, _ = study_parts(study)
    rows = []
    for name, group in table.groupby("scheme", sort=False):
        errors = [mpmath.mpf(e) for e in group["abs_error"]]
        i = min(range(len(errors)), key=lambda k: errors[k])
        rows.append({"scheme": name, "best_eps": group["eps"].iloc[i],
                     "min_abs_error": group["abs_error"].iloc[i]})
    return pd.DataFrame(rows, columns=["scheme", "best_eps", "min_abs_error"])


def predicted_best_steps(study) -> pd.DataFrame:
    """Measured best step and least error beside the float64 error model's prediction.

    Columns ``scheme, best_eps, min_abs_error, fitted_best_eps,
    predicted_best_eps, predicted_min_error``; needs a float64 table
    (``study(..., precision="float64")``).  ``best_eps`` is the step of least
    measured error, partly luck (a step where the roundings happen to
    cancel); ``fitted_best_eps`` is the bottom of the V fitted to the measured
    errors (:func:`_fitted_bottom`), which luck moves far less.  For the
    complex step the predicted best step is the largest step that reaches
    the rounding floor: every smaller step is as good.
    """
    table, meta = study_parts(study)
    models = meta.get("error_model")
    if models is None:
        raise DerivauditError("the error model belongs to float64 studies; "
                              "run the study with precision='float64' (--float64)")
    best = best_steps(table)
    best["min_abs_error"] = [float(v) for v in best["min_abs_error"]]
    best["fitted_best_eps"] = [_fitted_bottom(group) for _, group in table.groupby("scheme", sort=False)]
    for column in ("predicted_best_eps", "predicted_min_error"):
        best[column] = [models[name][column] for name in best["scheme"]]
    return best


def _fitted_bottom(group: pd.DataFrame) -> float:
    """The bottom of a measured float64 V: ``argmin a·εᵖ + b/εᵈ``.

    ``a`` is the median of ``error/εᵖ`` over the steps right of the least
    error (the truncation arm), ``b`` the median of ``error·εᵈ`` over those
    left of it (the roundoff arm); medians ignore a lucky step.  NaN
    without two steps on each arm (e.g. the complex step, which has no
    roundoff arm).
    """
    p, d = int(group["theoretical_order"].iloc[0]), int(group["derivative"].iloc[0])
    if group["scheme"].iloc[0] == "complex-step" or p < 1:  # p < 1: an inconsistent user stencil
        return math.nan
    errors = np.array([float(e) for e in group["abs_error"]])
    steps = np.array([float(s) for s in group["eps"]])
    i = int(np.argmin(errors))
    right = (steps > steps[i]) & (errors > 0)
    left = (steps < steps[i]) & (errors > 0)
    if right.sum() < 2 or left.sum() < 2:
        return math.nan
    a = float(np.median(errors[right] / steps[right] ** p))
    b = float(np.median(errors[left] * steps[left] ** d))
    return (d * b / (p * a)) ** (1 / (p + d))


#: consecutive observed orders agreeing this closely mark the asymptotic range
AGREEMENT = 0.05


def fitted_orders(study) -> pd.DataFrame:
    """Least-squares slope of ``log|error|`` against ``log ε`` over the asymptotic steps, per scheme.

    The rule, applied per scheme:

    1. only steps with a certified non-zero error count (an error below the
       resolution reads 0 and has no logarithm); in float64 mode only steps
       at least ten times the bottom of the V (the larger of the measured
       best step and the error model's predicted one), where truncation
       ``∝ εᵖ`` outweighs roundoff ``∝ ε⁻ᵈ`` by about ``10^(p+d)``;
    2. of those, sorted by decreasing step, the asymptotic range is the
       longest run of steps whose consecutive observed orders agree to
       :data:`AGREEMENT` (0.05); ties go to the smaller steps.  Without two
       agreeing orders the fit uses every step of 1. and says so.

    Returns ``scheme, fitted_order, theoretical_order, steps_used, fit_steps,
    note``: ``fit_steps`` names the first and last step of the fit,
    ``note`` says why an order is NaN or differs from theory (the stencil is
    exact here, the point is a kink, a vanishing leading term, ...).

    >>> import derivaudit as da
    >>> t = da.study("exp(x)", at={"x": "0"}, eps="1e-1:1e-6:6", schemes=["centered"], dps=30)
    >>> row = fitted_orders(t).iloc[0]
    >>> round(float(row.fitted_order), 3), int(row.steps_used), row.fit_steps
    (2.0, 6, '0.1 … 1.0e-6')
    """
    table, meta = study_parts(study)
    float64 = meta.get("precision") == "float64"
    models = meta.get("error_model") or {}
    notes = meta.get("order_notes") or {}
    kink = meta.get("not_differentiable")
    rows = []
    for name, group in table.groupby("scheme", sort=False):
        p = int(group["theoretical_order"].iloc[0])
        fitted, keep, note = _fit(group, float64, models.get(name, {}))
        if kink is not None:
            fitted, keep, note = math.nan, [], kink["message"]
        note = "; ".join(n for n in (note, notes.get(name, "")) if n)
        steps = list(group["eps"])
        span = f"{_short(steps[keep[0]])} … {_short(steps[keep[-1]])}" if keep else ""
        rows.append({"scheme": name, "fitted_order": fitted, "theoretical_order": p,
                     "steps_used": len(keep), "fit_steps": span, "note": note})
    return pd.DataFrame(rows, columns=["scheme", "fitted_order", "theoretical_order", "steps_used",
                                       "fit_steps", "note"])


def _short(value) -> str:
    return mpmath.nstr(mpmath.mpf(value), 2)


def _fit(group: pd.DataFrame, float64: bool, model: dict) -> tuple[float, list[int], str]:
    """(fitted order, positions of the steps used, note) for one scheme's rows."""
    errors = [mpmath.mpf(e) for e in group["abs_error"]]
    steps = [mpmath.mpf(s) for s in group["eps"]]
    finite = [i for i, e in enumerate(errors) if mpmath.isfinite(e)]
    keep = [i for i in finite if errors[i] != 0]
    if finite and not keep:
        return math.nan, [], ("error 0 at every step: the float64 result is the exact value" if float64 else
                              "error 0 at every step: the scheme is exact for this formula here")
    if float64 and keep:
        bottom = steps[min(keep, key=lambda k: errors[k])]
        predicted = model.get("predicted_best_eps", math.nan)
        if math.isfinite(predicted):
            bottom = max(bottom, mpmath.mpf(predicted))
        keep = [i for i in keep if steps[i] >= 10 * bottom]
    keep = sorted(keep, key=lambda i: -steps[i])
    if len({steps[i] for i in keep}) < 2:
        return math.nan, keep, ("fewer than two steps where truncation dominates" if float64 else
                                "fewer than two steps with a non-zero error")
    note = ""
    run = _asymptotic_run([errors[i] for i in keep], [steps[i] for i in keep])
    if run is None:
        note = (f"observed orders never agree to {AGREEMENT}: no asymptotic range among these steps, "
                "fitted over all of them")
    else:
        keep = keep[run[0]:run[1]]
    x = np.array([log10_abs(steps[i]) for i in keep])
    y = np.array([log10_abs(errors[i]) for i in keep])
    return float(np.polyfit(x, y, 1)[0]), keep, note


def _asymptotic_run(errors: list, steps: list) -> tuple[int, int] | None:
    """``(start, stop)`` of the longest run of steps whose consecutive observed orders
    agree to :data:`AGREEMENT` (ties: the smaller steps); None without such a pair.
    With exactly two steps, those two."""
    if len(steps) == 2:
        return 0, 2
    orders = observed_order(errors, steps)  # orders[k] between steps k-1 and k
    best, start = None, None
    for k in range(2, len(steps)):
        if abs(orders[k] - orders[k - 1]) <= AGREEMENT:
            start = k - 2 if start is None else start
            if best is None or k + 1 - start >= best[1] - best[0]:
                best = (start, k + 1)
        else:
            start = None
    return best


_PRIMES = {1: "f′", 2: "f″", 3: "f‴"}


def order_notes(observed: dict[str, list[float]], expr, var, point, stencils) -> dict[str, str]:
    """Why a scheme's observed order is above its theory, per scheme (empty when none is).

    ``observed`` maps each scheme to its observed orders, in the table's order.
    When the last observed orders exceed the order ``p`` by half or more and
    the leading error term's derivative is exactly 0 at the point (sympy),
    the note says so: ``"order 4: the ε² term vanishes because f‴(x) = 0 here"``.
    """
    notes = {}
    for st in stencils:
        orders = [q for q in observed.get(st.name, ()) if math.isfinite(q)]
        if not orders or statistics.median(orders[-3:]) < st.accuracy + 0.5:
            continue
        seen = round(float(np.median(orders[-3:])))
        directions = var if isinstance(var, tuple) else (var,)
        vanishing = all(
            sp.diff(expr, *[(v, n) for v, n in zip(directions, counts) if n]).xreplace(dict(point)).is_zero
            for _, counts in st.leading_terms())
        if vanishing:
            counts = st.leading_terms()[0][1]
            name = _PRIMES.get(counts[0], f"f⁽{counts[0]}⁾") if len(counts) == 1 else "the leading derivative"
            notes[st.name] = (f"order {seen}: the ε{_superscript(st.accuracy)} term vanishes because "
                              f"{name}(x) = 0 here")
        else:
            notes[st.name] = f"observed order {seen} is above the theoretical {st.accuracy}"
    return notes


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def distinguishing_digits(study, requested: int) -> int:
    """Significant digits to print a study's numbers: ``requested``, raised until every
    approximation prints differently from the exact value it differs from, and
    never more than the study's ``dps`` (digits beyond it are not certified)."""
    table, meta = study_parts(study)
    dps = int(meta.get("dps") or requested)
    needed = requested
    for exact, rel in zip(table["exact"], table["rel_error"]):
        rel = mpmath.mpf(rel)
        if mpmath.isfinite(rel) and rel != 0:
            needed = max(needed, int(mpmath.ceil(-mpmath.log10(rel))) + 2)
    return min(needed, dps)
