"""Convergence studies: ε sweeps of finite-difference schemes as pandas tables.

For each scheme and step ε the table records the approximation ``D_ε f``,
the exact derivative, the error ``D_ε f − f⁽ᵈ⁾`` and the observed order

    q = log(e₁/e₂) / log(ε₁/ε₂)

between consecutive steps.  In arbitrary precision (the default) the error
is pure truncation error, so ``q`` converges to the scheme's order ``p``; in
float64 it also carries roundoff ``≈ u·|f|/εᵈ``, which makes the error curve
V-shaped with a best step near its bottom.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from functools import lru_cache

import mpmath
from mpmath.libmp import (dps_to_prec, fnan, from_float, mpf_abs, mpf_div, mpf_le, mpf_mul, mpf_pos,
                          mpf_sub, to_float)
import numpy as np
import pandas as pd
import sympy as sp

from derivaudit.errors import DerivauditError, LimitExceeded, ParseError
from derivaudit.core.guards import per_call_budgets
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.numeric import (GUARD_DIGITS, Samples, cancelled_digits, compile_formula, difference_quotient,
                      difference_quotient_float64, exact_value, to_mpf)
from derivaudit.lang.parse import format_formula, free_variables, parse_constant, parse_formula
from derivaudit.progress import Progress, ProgressArg
from derivaudit.core.stencils import ComplexStep, Stencil, stencil, tensor_stencil
from derivaudit.core.symbolic import as_symbol, default_variable, derivative, partial, require_variables
from derivaudit.studies.error_model import float64_error_model
from derivaudit.core.numeric import require_analytic

__all__ = [
    "PRECISIONS",
    "DEFAULT_EPS",
    "parse_eps",
    "resolve_point",
    "study",
    "observed_order",
    "fitted_orders",
    "best_steps",
    "predicted_best_steps",
]

PRECISIONS = ("mp", "float64")
#: steps used when none are given: 10⁻¹ … 10⁻⁸
DEFAULT_EPS = tuple(f"1e-{k}" for k in range(1, 9))
_MAX_STEPS = 1_000

TABLE_COLUMNS = ["scheme", "derivative", "eps", "approx", "exact", "error", "abs_error",
                 "rel_error", "observed_order", "theoretical_order"]


def _exact_number(value, what: str) -> sp.Expr:
    """A user number as an exact sympy constant; floats by their shortest repr."""
    if isinstance(value, sp.Expr):
        if value.free_symbols:
            raise ParseError(f"{what} {value} must be a number")
        return value
    if isinstance(value, bool):
        raise ParseError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError(f"{what} must be finite, not {value!r}")
        # repr is the shortest decimal that round-trips: 0.01 means 1/100
        return parse_constant(repr(value), what=what)
    if isinstance(value, mpmath.mpf):
        return sp.Float(value, mpmath.mp.dps)
    if isinstance(value, str):
        return parse_constant(value, what=what)
    raise ParseError(f"{what} must be a number or text, not {type(value).__name__}")


def parse_eps(spec: str | float | Iterable) -> list[sp.Rational]:
    """Step sizes from a list or a text spec, as exact positive rationals.

    ``"0.1,0.01"`` is a list; ``"1e-1:1e-12:12"`` is ``START:STOP:COUNT``,
    COUNT steps spaced evenly in log ε from START to STOP (both included).
    Log-spaced interior steps are rounded to 15 significant digits, then
    taken exactly.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ParseError(f"step range {spec!r} must be START:STOP:COUNT, e.g. 1e-1:1e-12:12")
            start, stop = (_exact_number(p.strip(), "step") for p in parts[:2])
            try:
                count = int(parts[2])
            except ValueError:
                raise ParseError(f"step count {parts[2]!r} must be a whole number") from None
            if count < 1 or count > _MAX_STEPS:
                raise ParseError(f"step count must be between 1 and {_MAX_STEPS}, not {count}")
            for typed, value in zip(parts[:2], (start, stop)):
                if not value.is_positive:
                    raise ParseError(f"steps must be positive, not {typed.strip()}")
            if count == 1:
                return [sp.Rational(start)] if start.is_Rational else [_exact_number(float(start), "step")]
            with mpmath.workdps(30):
                lo, hi = mpmath.log10(to_mpf(start, 30)), mpmath.log10(to_mpf(stop, 30))
                steps = []
                for i in range(count):
                    if i == 0:
                        steps.append(start)
                    elif i == count - 1:
                        steps.append(stop)
                    else:
                        value = mpmath.power(10, lo + (hi - lo) * i / (count - 1))
                        steps.append(parse_constant(mpmath.nstr(value, 15, min_fixed=1, max_fixed=0),
                                                    what="step"))
            values = steps
        else:
            typed = [p.strip() for p in text.split(",") if p.strip()]
            values = [_exact_number(p, "step") for p in typed]
            for p, value in zip(typed, values):
                if not value.is_positive:
                    raise ParseError(f"steps must be positive, not {p}")
    elif isinstance(spec, (int, float, Fraction, sp.Expr, mpmath.mpf)):
        values = [_exact_number(spec, "step")]
    else:
        values = [_exact_number(v, "step") for v in spec]
    if not values:
        raise ParseError("no step sizes given")
    if len(values) > _MAX_STEPS:
        raise LimitExceeded(f"{len(values)} steps requested (limit {_MAX_STEPS})")
    for value in values:
        if not value.is_positive:
            raise ParseError(f"steps must be positive, not {value}")
        if not value.is_Rational:
            raise ParseError(f"step {value} must be a rational number such as 0.01 or 1e-12")
    return [sp.Rational(v) for v in values]


def resolve_point(expr: sp.Expr, at: Mapping[str, object] | None) -> dict[sp.Symbol, sp.Expr]:
    """The evaluation point as exact values for every variable of ``expr``."""
    at = dict(at or {})
    point = {}
    for name, value in at.items():
        symbol = as_symbol(name)
        point[symbol] = _exact_number(value, f"value of {symbol.name}")
    names = {s.name for s in point}
    missing = [v.name for v in free_variables(expr) if v.name not in names]
    if missing:
        raise DerivauditError(f"no value given for {', '.join(missing)}; "
                              f"give the point a value for it ({missing[0]}=VALUE)")
    unknown = sorted(names - {s.name for s in expr.free_symbols})
    if unknown:
        raise DerivauditError(f"the point names {', '.join(unknown)}, which the formula does not use; "
                              "drop it or check the spelling")
    return {v: point[v] for v in free_variables(expr)}


def _as_expr(formula, limits: Limits) -> sp.Expr:
    if isinstance(formula, sp.Expr):
        return formula
    return parse_formula(formula, limits=limits)


def _check_dps(dps, limits: Limits) -> int:
    if not isinstance(dps, int) or isinstance(dps, bool) or dps < 5:
        raise DerivauditError(f"precision must be a whole number of digits ≥ 5, not {dps!r}")
    if dps > limits.max_dps:
        raise LimitExceeded(f"precision {dps} digits is above the limit of {limits.max_dps}")
    return dps


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


def resolved_difference(approx, exact, dps: int):
    """``approx − exact``, or exactly 0 when at or below ``10⁻ᵈᵖˢ·|exact|``.

    Two values each correct to ``dps`` digits cannot tell a smaller
    difference from rounding noise.
    """
    if isinstance(approx, mpmath.mpf) and isinstance(exact, mpmath.mpf):
        # the same operations on the raw tuples (this runs once per quotient)
        prec = dps_to_prec(dps + GUARD_DIGITS)
        rnd = mpmath.mp._prec_rounding[1]
        error = mpf_sub(approx._mpf_, exact._mpf_, prec, rnd)
        bound = mpf_mul(mpf_abs(exact._mpf_, prec, rnd), _resolution(dps)._mpf_, prec, rnd)
        if mpf_le(mpf_abs(error, prec, rnd), bound):
            return mpmath.mpf(0)
        return mpmath.mp.make_mpf(error)
    with mpmath.workdps(dps + GUARD_DIGITS):
        error = approx - exact
        if abs(error) <= abs(exact) * _resolution(dps):
            return mpmath.mpf(0)
    return error


@lru_cache(maxsize=64)
def _resolution(dps: int) -> mpmath.mpf:
    """``10⁻ᵈᵖˢ`` at ``dps + GUARD_DIGITS`` digits."""
    with mpmath.workdps(dps + GUARD_DIGITS):
        return mpmath.mpf(10) ** (-dps)


def _expected_loss(st: Stencil, eps: sp.Rational) -> int:
    """Digits an error of ``εᵖ·|f⁽ᵈ⁾|`` cancels in ``D_ε f``: ``⌊p·log10(1/ε)⌋`` (0 for ε ≥ 1).

    A prediction with error constant 1: computing at ``dps`` plus these digits
    at once usually makes the second evaluation below unnecessary.  A wrong
    prediction costs time, never digits: the measured loss still decides.
    """
    if eps.p >= eps.q:
        return 0
    return math.floor(st.accuracy * (math.log10(eps.q) - math.log10(eps.p)))


def _quotient_and_error(samples: Samples, st: Stencil, eps: sp.Rational, dps: int, exact_at,
                        limits: Limits):
    """``D_ε f`` and its error ``D_ε f − f⁽ᵈ⁾``, each to ``dps`` significant digits.

    An error of ``10⁻ᵏ·|f⁽ᵈ⁾|`` cancels ``k`` leading digits of ``D_ε f``, so
    the quotient and the exact value are computed at ``dps + k`` digits:
    ``k`` is first predicted (:func:`_expected_loss`), and when the measured
    ``k`` exceeds the prediction by more than the guard digits, both are
    computed once more at ``dps + k``.  Errors below the resolution
    ``10⁻ᵈᵖˢ·|f⁽ᵈ⁾|`` read as 0.
    """
    expected = _expected_loss(st, sp.Rational(eps))
    exact = exact_at(dps + expected)
    approx = difference_quotient(samples, st, eps, dps + expected, limits)
    error = resolved_difference(approx, exact, dps)
    if error != 0 and exact != 0:
        lost = cancelled_digits(exact, error)
        if lost - expected > GUARD_DIGITS // 2 - 2:
            exact = exact_at(dps + lost)
            approx = difference_quotient(samples, st, eps, dps + lost, limits)
            error = resolved_difference(approx, exact, dps)
    return approx, error


def _scheme_columns(st: Stencil, steps, approx, errors, exact, dps: int) -> dict[str, list]:
    """The table's columns for one scheme, numbers rounded to ``dps`` digits.

    mpmath approximations (arbitrary-precision mode) stay mpmath numbers;
    float approximations (float64 mode) stay floats, and so do their errors.
    """
    values, errs, sizes, rels = [], [], [], []
    with mpmath.workdps(dps):
        exact = +exact
        size_exact = abs(exact)
        if exact != 0 and all(isinstance(v, mpmath.mpf) for v in approx):
            # mp mode: ``+error``, ``abs``, ``/`` and ``+value`` on the raw tuples
            prec, rnd = mpmath.mp._prec_rounding
            make, raw_exact = mpmath.mp.make_mpf, size_exact._mpf_
            for value, error in zip(approx, errors):
                error = mpf_pos(error._mpf_, prec, rnd)
                size = mpf_abs(error, prec, rnd)
                values.append(make(mpf_pos(value._mpf_, prec, rnd)))
                errs.append(make(error))
                sizes.append(make(size))
                rels.append(make(mpf_div(size, raw_exact, prec, rnd)))
            approx = ()
        elif all(isinstance(v, float) for v in approx):
            # float64 mode: the same on raw tuples, each number then rounded to a double
            # as float(mpf) rounds it
            prec, rnd = mpmath.mp._prec_rounding
            raw_exact = size_exact._mpf_
            for value, error in zip(approx, errors):
                error = mpf_pos(error._mpf_, prec, rnd)
                size = mpf_abs(error, prec, rnd)
                rel = mpf_div(size, raw_exact, prec, rnd) if exact != 0 else fnan
                values.append(float(value))
                errs.append(to_float(error, rnd=rnd))
                sizes.append(to_float(size, rnd=rnd))
                rels.append(to_float(rel, rnd=rnd))
            approx = ()
        for value, error in zip(approx, errors):
            error = +error
            size = abs(error)
            rel = size / size_exact if exact != 0 else mpmath.mpf("nan")
            if isinstance(value, mpmath.mpf):
                value = +value
            else:
                value, error, size, rel = float(value), float(error), float(size), float(rel)
            values.append(value)
            errs.append(error)
            sizes.append(size)
            rels.append(rel)
    n = len(values)
    return {"scheme": [st.name] * n, "derivative": [st.derivative] * n, "eps": list(steps),
            "approx": values, "exact": [exact] * n, "error": errs, "abs_error": sizes,
            "rel_error": rels, "observed_order": observed_order(sizes, steps),
            "theoretical_order": [st.accuracy] * n}


def study(formula, wrt=None, at: Mapping[str, object] | None = None, eps=DEFAULT_EPS,
          schemes: Sequence[str] = ("forward", "centered"), order: int = 1, dps: int = 50,
          precision: str = "mp", limits: Limits = DEFAULT_LIMITS,
          progress: ProgressArg = None) -> pd.DataFrame:
    """Sweep finite-difference schemes over step sizes against the exact derivative.

    Parameters
    ----------
    formula : str or sympy.Expr
        The function ``f``; text is parsed safely (:func:`~derivaudit.parse.parse_formula`).
    wrt : str, optional
        Variable to differentiate by; optional when ``f`` has one variable.
    at : mapping of name to value
        The point; every variable needs a value (exact: ``"0.1"`` is 1/10).
    eps : list or str
        Steps, see :func:`parse_eps`.
    schemes : names of stencils (``forward``, ``backward``, ``centered``, ``centered4``,
        ``richardson-centered``, ``complex-step``, ...).
    order : int
        Derivative order ``d``.  A list ``wrt=["x", "y"]`` instead asks for
        the mixed partial ``∂²f/∂x∂y`` (a variable may repeat: ``["x", "x", "y"]``),
        computed with the tensor product of the scheme along each variable.
    dps : int
        Significant digits of every reported value (mp mode) and of ``exact``.
    precision : ``"mp"`` or ``"float64"``
        ``"float64"`` evaluates the stencils in IEEE doubles, as user code does.
    progress : bool or callable, optional
        ``True`` draws a progress bar on stderr for sweeps that take over a
        second; a callable is called as ``progress(done, total)`` per step.

    Returns
    -------
    DataFrame with columns ``scheme, derivative, eps, approx, exact, error,
    abs_error, rel_error, observed_order, theoretical_order``: one row per
    scheme × step, in the order given.  ``eps``, ``exact`` and (in mp mode)
    ``approx`` and the errors are mpmath numbers carrying ``dps`` digits.
    ``table.attrs`` records the formula, variable, point, derivative,
    precision and ``dps``.  In float64 mode the table also has the column
    ``predicted_error`` of the error model (:mod:`derivaudit.error_model`),
    and ``table.attrs["error_model"]`` holds each scheme's predicted best
    step and least error (see :func:`predicted_best_steps`).
    """
    if precision not in PRECISIONS:
        raise DerivauditError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    dps = _check_dps(dps, limits)
    expr = _as_expr(formula, limits)
    if isinstance(wrt, (list, tuple)) and len(wrt) == 1:
        wrt = wrt[0]
    mixed = isinstance(wrt, (list, tuple))
    if mixed:
        if order != 1:
            raise DerivauditError("give either a list of variables (a mixed partial) or an order, not both")
        wrt_list = [as_symbol(v) for v in wrt]
        require_variables(expr, wrt_list)
        var = tuple(dict.fromkeys(wrt_list))
        counts = tuple(wrt_list.count(v) for v in var)
        if len(var) == 1:  # ["x", "x"] is the plain second derivative
            var, order, mixed = var[0], counts[0], False
    else:
        var = as_symbol(wrt) if wrt is not None else default_variable(expr)
        require_variables(expr, [var])
    point = resolve_point(expr, at)
    steps = parse_eps(eps)
    names = [schemes] if isinstance(schemes, str) else list(schemes)
    if not names:
        raise DerivauditError("no schemes given")
    if mixed:
        stencils = [(name, tensor_stencil(name, counts)) for name in names]
        exact_expr = partial(expr, wrt_list)
    else:
        stencils = [(name, stencil(name, order)) for name in names]
        exact_expr = derivative(expr, var, order)
    if any(isinstance(st, ComplexStep) for _, st in stencils):
        require_analytic(expr)
    variables = tuple(point)
    f = compile_formula(expr, variables)
    exact_f = compile_formula(exact_expr, variables)
    exact_cache: dict[int, mpmath.mpf] = {}

    def exact_at(digits: int) -> mpmath.mpf:
        # a value correct to more digits serves every request for fewer
        best = max(exact_cache, default=-1)
        if best < digits:
            best = digits
            exact_cache[digits] = exact_value(exact_f, point, digits, limits)
        return exact_cache[best]

    columns = TABLE_COLUMNS + (["predicted_error"] if precision == "float64" else [])
    data: dict[str, list] = {c: [] for c in columns}

    def add(scheme_columns: dict[str, list]) -> None:
        for c, values in scheme_columns.items():
            data[c] += values

    # One watchdog registration for the whole sweep, renewed by each evaluation:
    # every exact value and quotient still has its own evaluate_seconds budget.
    with per_call_budgets(limits):
        # mp mode: computed once for the most demanding quotient, it serves all the others
        demand = max((_expected_loss(st, s) for _, st in stencils for s in steps), default=0)
        exact = exact_at(dps + (demand if precision == "mp" else 0))
        exact_value(f, point, dps, limits)  # f itself must be defined at the point
        models: dict[str, dict] = {}

        advance = Progress(progress, len(stencils) * len(steps), "study")
        if precision == "mp":
            samples = Samples(f, var, point)
            with mpmath.workdps(dps):
                eps_values = [+to_mpf(s, dps) for s in steps]
            # Most demanding first (smallest step, highest order): the samples and the
            # exact value computed for it serve every later, less demanding quotient.
            pairs = {}
            for j in sorted(range(len(steps)), key=lambda j: steps[j]):
                for i in sorted(range(len(stencils)), key=lambda i: -stencils[i][1].accuracy):
                    pairs[i, j] = _quotient_and_error(samples, stencils[i][1], steps[j], dps, exact_at,
                                                      limits)
                    advance()
            for i, (name, st) in enumerate(stencils):
                add(_scheme_columns(st, eps_values, [pairs[i, j][0] for j in range(len(steps))],
                                    [pairs[i, j][1] for j in range(len(steps))], exact, dps))
        else:
            eps_values = np.array([float(s) for s in steps])
            if np.any(eps_values == 0):
                raise DerivauditError("a step underflows to 0 in float64; use steps above 1e-308")
            model_values: dict = {}  # derivatives at the point, shared by the schemes' models
            for name, st in stencils:
                approx = list(difference_quotient_float64(f, st, var, point, eps_values))
                # ``mpf(a) - exact`` at dps + GUARD_DIGITS digits, on the raw tuples
                prec, raw = dps_to_prec(dps + GUARD_DIGITS), exact._mpf_
                rnd = mpmath.mp._prec_rounding[1]
                errors = [mpmath.mp.make_mpf(mpf_sub(from_float(float(a)), raw, prec, rnd)) for a in approx]
                scheme_columns = _scheme_columns(st, list(eps_values), approx, errors, exact, dps)
                scheme_columns["predicted_error"] = _predicted_errors(expr, var, point, st, eps_values,
                                                                      models, model_values)
                add(scheme_columns)
                advance(len(steps))

    table = pd.DataFrame(data, columns=columns)
    table.attrs.update({
        "formula": _formatted(expr),
        "wrt": ",".join(v.name for v in wrt_list) if mixed else var.name,
        "point": {s.name: str(v) for s, v in point.items()},
        "derivative": sum(counts) if mixed else order,
        "exact_derivative": _formatted(exact_expr) if not exact_expr.has(sp.Heaviside, sp.sign,
                                                                              sp.DiracDelta) else str(exact_expr),
        "precision": precision,
        "dps": dps,
    })
    if precision == "float64":
        table.attrs["error_model"] = models
    return table


def _predicted_errors(expr, var, point, st, eps_values, models: dict, values: dict | None = None
                      ) -> list[float]:
    """The error model's prediction at each step; records its best step in ``models``.

    Where the model cannot be evaluated (a derivative it needs is undefined
    at the point, e.g. at a kink of ``abs``) the prediction is NaN.
    """
    try:
        model = float64_error_model(expr, var, point, st, values=values)
    except DerivauditError:
        models[st.name] = {"predicted_best_eps": math.nan, "predicted_min_error": math.nan}
        return [math.nan] * len(eps_values)
    models[st.name] = {"predicted_best_eps": model.best_eps, "predicted_min_error": model.min_error}
    return [float(v) for v in model.error(eps_values)]


@lru_cache(maxsize=1024)
def _formatted(expr: sp.Expr) -> str:
    """:func:`format_formula`, memoised: printing a derivative can cost more than a short sweep."""
    return format_formula(expr)


def _log10(values) -> np.ndarray:
    """log10 of |v| as floats, without underflow for tiny mpmath numbers."""
    return np.array([float(mpmath.log10(abs(mpmath.mpf(v)))) for v in values])


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
            x = _log10([steps[i] for i in keep])
            y = _log10([errors[i] for i in keep])
            fitted = float(np.polyfit(x, y, 1)[0])
        rows.append({"scheme": name, "fitted_order": fitted,
                     "theoretical_order": int(group["theoretical_order"].iloc[0]),
                     "steps_used": len(keep)})
    return pd.DataFrame(rows, columns=["scheme", "fitted_order", "theoretical_order", "steps_used"])
