"""Orders of convergence and best steps, read from a study's table.

The observed order between steps ε₁ > ε₂ is ``log(e₁/e₂)/log(ε₁/ε₂)``; the
fitted order is the least-squares slope of ``log|e|`` against ``log ε``
over the steps where truncation dominates; the best step is the one of
least error (float64), beside the error model's prediction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mpmath
import numpy as np
import pandas as pd

from derivaudit.errors import DerivauditError

__all__ = ["observed_order", "log10_abs", "best_steps", "predicted_best_steps", "fitted_orders"]


def observed_order(errors: Sequence, steps: Sequence) -> list[float]:
    """``log(e₁/e₂) / log(ε₁/ε₂)`` between each step and the previous one.

    The first entry is NaN, and so is any entry where an error is zero
    (exact, or below the precision's resolution).
    """
    # Fast path in doubles: |v| rounded to 53 bits is float(|v|) when that is a normal
    # double, and the 53-bit quotient of two such numbers is their IEEE quotient, so
    # log(e₁/e₂) is the same number either way.  Anything else (zeros, values or
    # ratios outside the normal range) takes the mpmath path.
    errors, steps = list(errors), list(steps)
    floats_e = [abs(float(v)) for v in errors]
    floats_s = [abs(float(v)) for v in steps]
    orders = [math.nan]
    for i in range(1, len(errors)):
        e1, e2, s1, s2 = floats_e[i - 1], floats_e[i], floats_s[i - 1], floats_s[i]
        if _normal(e1) and _normal(e2) and _normal(s1) and _normal(s2):
            if s1 == s2:
                orders.append(math.nan)
                continue
            ratio_e, ratio_s = e1 / e2, s1 / s2
            if _normal(ratio_e) and _normal(ratio_s):
                orders.append(math.log(ratio_e) / math.log(ratio_s))
                continue
        orders.append(_exact_order(errors[i - 1], errors[i], steps[i - 1], steps[i]))
    return orders


_NORMAL_MIN = 2.2250738585072014e-308


def _normal(x: float) -> bool:
    return _NORMAL_MIN <= x < math.inf


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


def best_steps(table: pd.DataFrame) -> pd.DataFrame:
    """Per scheme, the step with the smallest error: ``scheme, best_eps, min_abs_error``."""
    rows = []
    for name, group in table.groupby("scheme", sort=False):
        errors = [mpmath.mpf(e) for e in group["abs_error"]]
        i = min(range(len(errors)), key=lambda k: errors[k])
        rows.append({"scheme": name, "best_eps": group["eps"].iloc[i],
                     "min_abs_error": group["abs_error"].iloc[i]})
    return pd.DataFrame(rows, columns=["scheme", "best_eps", "min_abs_error"])


def predicted_best_steps(table: pd.DataFrame) -> pd.DataFrame:
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
    models = table.attrs.get("error_model")
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
    if group["scheme"].iloc[0] == "complex-step":
        return math.nan
    p, d = int(group["theoretical_order"].iloc[0]), int(group["derivative"].iloc[0])
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


def fitted_orders(table: pd.DataFrame) -> pd.DataFrame:
    """Least-squares slope of ``log|error|`` against ``log ε``, per scheme.

    Only steps where truncation dominates enter the fit: steps with a
    non-zero error, and in float64 mode only steps at least ten times the
    bottom of the V (the larger of the measured best step and the error
    model's predicted one).  At the bottom truncation and roundoff are of
    one size; a decade to the right truncation ``∝ εᵖ`` outweighs roundoff
    ``∝ ε⁻ᵈ`` by about ``10^(p+d)``, so roundoff no longer bends the slope.
    Returns ``scheme, fitted_order, theoretical_order, steps_used``;
    ``fitted_order`` is NaN when fewer than two steps qualify.
    """
    float64 = table.attrs.get("precision") == "float64"
    models = table.attrs.get("error_model") or {}
    rows = []
    for name, group in table.groupby("scheme", sort=False):
        errors = [mpmath.mpf(e) for e in group["abs_error"]]
        steps = [mpmath.mpf(s) for s in group["eps"]]
        keep = [i for i, e in enumerate(errors) if e != 0 and mpmath.isfinite(e)]
        if float64 and keep:
            bottom = steps[min(keep, key=lambda k: errors[k])]
            predicted = models.get(name, {}).get("predicted_best_eps", math.nan)
            if math.isfinite(predicted):
                bottom = max(bottom, mpmath.mpf(predicted))
            keep = [i for i in keep if steps[i] >= 10 * bottom]
        fitted = math.nan
        if len({steps[i] for i in keep}) >= 2:
            x = np.array([log10_abs(steps[i]) for i in keep])
            y = np.array([log10_abs(errors[i]) for i in keep])
            fitted = float(np.polyfit(x, y, 1)[0])
        rows.append({"scheme": name, "fitted_order": fitted,
                     "theoretical_order": int(group["theoretical_order"].iloc[0]),
                     "steps_used": len(keep)})
    return pd.DataFrame(rows, columns=["scheme", "fitted_order", "theoretical_order", "steps_used"])
