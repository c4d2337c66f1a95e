"""Convergence studies: ε sweeps of finite-difference schemes as pandas tables.

For each scheme and step ε the table records the approximation ``D_ε f``,
the exact derivative, the error ``D_ε f − f⁽ᵈ⁾`` and the observed order

    q = log(e₁/e₂) / log(ε₁/ε₂)

between consecutive steps.  In arbitrary precision (the default) the error
is pure truncation error, so ``q`` converges to the scheme's order ``p``; in
float64 it also carries roundoff ``≈ u·|f|/εᵈ``, which makes the error curve
V-shaped with a best step near its bottom.

The inputs are checked in :mod:`derivaudit.studies.inputs`; orders and best
steps are read from the table in :mod:`derivaudit.studies.orders`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import mpmath
from mpmath.libmp import dps_to_prec, fnan, from_float, mpf_abs, mpf_div, mpf_le, mpf_mul, mpf_pos, mpf_sub, to_float
import numpy as np
import pandas as pd
import sympy as sp

from derivaudit.core.guards import per_call_budgets
from derivaudit.core.numeric import (GUARD_DIGITS, Samples, cancelled_digits, compile_formula, difference_quotient,
                                     difference_quotient_float64, exact_value, require_analytic, to_mpf)
from derivaudit.core.stencils import Stencil, stencil, tensor_stencil
from derivaudit.core.symbolic import as_symbol, default_variable, derivative, partial, require_variables
from derivaudit.errors import DerivauditError
from derivaudit.lang.parse import format_formula
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.progress import Progress, ProgressArg
from derivaudit.studies.error_model import float64_error_model
from derivaudit.studies.inputs import DEFAULT_STEPS, PRECISIONS, as_expr, check_dps, parse_eps, resolve_point
from derivaudit.studies.orders import observed_order

__all__ = ["TABLE_COLUMNS", "study", "resolved_difference"]

TABLE_COLUMNS = ["scheme", "derivative", "eps", "approx", "exact", "error", "abs_error",
                 "rel_error", "observed_order", "theoretical_order"]


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


def _scheme_columns(st, steps, approx, errors, exact, dps: int, as_float: bool) -> dict[str, list]:
    """The table's columns for one scheme, numbers rounded to ``dps`` digits.

    In arbitrary precision the numbers stay mpmath numbers; in float64
    (``as_float``) each is rounded to ``dps`` digits and then to a double.
    Runs once per scheme on raw mpmath tuples: ``+error``, ``abs``, ``/``.
    """
    values, errs, sizes, rels = [], [], [], []
    with mpmath.workdps(dps):
        exact = +exact
        prec, rnd = mpmath.mp._prec_rounding
        raw_exact = abs(exact)._mpf_
        make = mpmath.mp.make_mpf
        for value, error in zip(approx, errors):
            error = mpf_pos(error._mpf_, prec, rnd)
            size = mpf_abs(error, prec, rnd)
            rel = mpf_div(size, raw_exact, prec, rnd) if exact != 0 else fnan
            if as_float:
                values.append(float(value))
                errs.append(to_float(error, rnd=rnd))
                sizes.append(to_float(size, rnd=rnd))
                rels.append(to_float(rel, rnd=rnd))
            else:
                values.append(make(mpf_pos(value._mpf_, prec, rnd)))
                errs.append(make(error))
                sizes.append(make(size))
                rels.append(make(rel))
    n = len(values)
    return {"scheme": [st.name] * n, "derivative": [st.derivative] * n, "eps": list(steps),
            "approx": values, "exact": [exact] * n, "error": errs, "abs_error": sizes,
            "rel_error": rels, "observed_order": observed_order(sizes, steps),
            "theoretical_order": [st.accuracy] * n}


@dataclass(frozen=True)
class _Request:
    """A study's question after its inputs are checked: what to differentiate, where, how."""

    expr: sp.Expr
    exact_expr: sp.Expr
    #: the variable, or for a mixed partial the tuple of distinct variables
    var: object
    #: for a mixed partial, the variables as given (with repeats); else None
    wrt_list: list | None
    order: int
    point: dict
    steps: list
    stencils: list
    precision: str
    dps: int


def _request(formula, wrt, at, eps, schemes, order: int, dps: int, precision: str,
             limits: Limits) -> _Request:
    """Check and resolve a study's arguments (see :func:`study`)."""
    if precision not in PRECISIONS:
        raise DerivauditError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    dps = check_dps(dps, limits)
    expr = as_expr(formula, limits)
    if isinstance(wrt, (list, tuple)) and len(wrt) == 1:
        wrt = wrt[0]
    wrt_list, counts = None, None
    if isinstance(wrt, (list, tuple)):
        if order != 1:
            raise DerivauditError("give either a list of variables (a mixed partial) or an order, not both")
        wrt_list = [as_symbol(v) for v in wrt]
        require_variables(expr, wrt_list)
        var = tuple(dict.fromkeys(wrt_list))
        counts = tuple(wrt_list.count(v) for v in var)
        if len(var) == 1:  # ["x", "x"] is the plain second derivative
            var, order, wrt_list = var[0], counts[0], None
    else:
        var = as_symbol(wrt) if wrt is not None else default_variable(expr)
        require_variables(expr, [var])
    point = resolve_point(expr, at)
    steps = parse_eps(eps)
    names = [schemes] if isinstance(schemes, str) else list(schemes)
    if not names:
        raise DerivauditError("no schemes given")
    if wrt_list is not None:
        stencils = [tensor_stencil(name, counts) for name in names]
        exact_expr = partial(expr, wrt_list)
    else:
        stencils = [stencil(name, order) for name in names]
        exact_expr = derivative(expr, var, order)
    if any(st.complex_samples for st in stencils):
        require_analytic(expr)
    return _Request(expr, exact_expr, var, wrt_list, sum(counts) if wrt_list is not None else order,
                    point, steps, stencils, precision, dps)


class _ExactValues:
    """The exact derivative at the point, at the most digits asked for so far:
    a value correct to more digits serves every request for fewer."""

    def __init__(self, compiled, point, limits: Limits):
        self.compiled, self.point, self.limits = compiled, point, limits
        self.cache: dict[int, mpmath.mpf] = {}

    def __call__(self, digits: int) -> mpmath.mpf:
        best = max(self.cache, default=-1)
        if best < digits:
            best = digits
            self.cache[digits] = exact_value(self.compiled, self.point, digits, self.limits)
        return self.cache[best]


def _mp_sweep(request: _Request, f, exact_at, exact, advance, limits: Limits) -> list[dict]:
    """Every scheme's columns in arbitrary precision."""
    steps, stencils, dps = request.steps, request.stencils, request.dps
    samples = Samples(f, request.var, request.point)
    with mpmath.workdps(dps):
        eps_values = [+to_mpf(s, dps) for s in steps]
    # Most demanding first (smallest step, highest order): the samples and the
    # exact value computed for it serve every later, less demanding quotient.
    pairs = {}
    for j in sorted(range(len(steps)), key=lambda j: steps[j]):
        for i in sorted(range(len(stencils)), key=lambda i: -stencils[i].accuracy):
            pairs[i, j] = _quotient_and_error(samples, stencils[i], steps[j], dps, exact_at, limits)
            advance()
    return [_scheme_columns(st, eps_values, [pairs[i, j][0] for j in range(len(steps))],
                            [pairs[i, j][1] for j in range(len(steps))], exact, dps, as_float=False)
            for i, st in enumerate(stencils)]


def _float64_sweep(request: _Request, f, exact, advance, models: dict) -> list[dict]:
    """Every scheme's columns in IEEE doubles, with the error model's predictions."""
    eps_values = np.array([float(s) for s in request.steps])
    if np.any(eps_values == 0):
        raise DerivauditError("a step underflows to 0 in float64; use steps above 1e-308")
    dps, var, point = request.dps, request.var, request.point
    model_values: dict = {}  # derivatives at the point, shared by the schemes' models
    out = []
    for st in request.stencils:
        approx = list(difference_quotient_float64(f, st, var, point, eps_values))
        # ``mpf(a) - exact`` at dps + GUARD_DIGITS digits, on the raw tuples
        prec, raw = dps_to_prec(dps + GUARD_DIGITS), exact._mpf_
        rnd = mpmath.mp._prec_rounding[1]
        errors = [mpmath.mp.make_mpf(mpf_sub(from_float(float(a)), raw, prec, rnd)) for a in approx]
        columns = _scheme_columns(st, list(eps_values), approx, errors, exact, dps, as_float=True)
        columns["predicted_error"] = _predicted_errors(request.expr, var, point, st, eps_values,
                                                       models, model_values)
        out.append(columns)
        advance(len(request.steps))
    return out


def study(formula, wrt=None, at: Mapping[str, object] | None = None, eps=DEFAULT_STEPS,
          schemes: Sequence[str] = ("forward", "centered"), order: int = 1, dps: int = 50,
          precision: str = "mp", limits: Limits = DEFAULT_LIMITS,
          progress: ProgressArg = None) -> pd.DataFrame:
    """Sweep finite-difference schemes over step sizes against the exact derivative.

    Parameters
    ----------
    formula : str or sympy.Expr
        The function ``f``; text is parsed safely (:func:`~derivaudit.lang.parse.parse_formula`).
    wrt : str, optional
        Variable to differentiate by; optional when ``f`` has one variable.
    at : mapping of name to value
        The point; every variable needs a value (exact: ``"0.1"`` is 1/10).
    eps : list or str
        Steps, see :func:`~derivaudit.studies.inputs.parse_eps`.
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
    ``predicted_error`` of the error model (:mod:`derivaudit.studies.error_model`),
    and ``table.attrs["error_model"]`` holds each scheme's predicted best
    step and least error (see :func:`~derivaudit.studies.orders.predicted_best_steps`).
    """
    request = _request(formula, wrt, at, eps, schemes, order, dps, precision, limits)
    variables = tuple(request.point)
    f = compile_formula(request.expr, variables)
    exact_at = _ExactValues(compile_formula(request.exact_expr, variables), request.point, limits)
    mp = precision == "mp"
    models: dict[str, dict] = {}
    # One watchdog registration for the whole sweep, renewed by each evaluation:
    # every exact value and quotient still has its own evaluate_seconds budget.
    with per_call_budgets(limits):
        # mp mode: computed once for the most demanding quotient, it serves all the others
        demand = max((_expected_loss(st, s) for st in request.stencils for s in request.steps), default=0)
        exact = exact_at(request.dps + (demand if mp else 0))
        exact_value(f, request.point, request.dps, limits)  # f itself must be defined at the point
        advance = Progress(progress, len(request.stencils) * len(request.steps), "study")
        if mp:
            parts = _mp_sweep(request, f, exact_at, exact, advance, limits)
        else:
            parts = _float64_sweep(request, f, exact, advance, models)
    columns = TABLE_COLUMNS + ([] if mp else ["predicted_error"])
    table = pd.DataFrame({c: [v for part in parts for v in part[c]] for c in columns}, columns=columns)
    table.attrs.update(_attrs(request))
    # reports show what the user typed beside the canonical form
    table.attrs["formula_typed"] = formula.strip() if isinstance(formula, str) else table.attrs["formula"]
    table.attrs["point_typed"] = {str(k): str(v).strip() for k, v in (at or {}).items()}
    if not mp:
        table.attrs["error_model"] = models
    return table


def _attrs(request: _Request) -> dict:
    exact_expr = request.exact_expr
    return {
        "formula": _formatted(request.expr),
        "wrt": ",".join(v.name for v in request.wrt_list) if request.wrt_list is not None else request.var.name,
        "point": {s.name: str(v) for s, v in request.point.items()},
        "derivative": request.order,
        "exact_derivative": _formatted(exact_expr) if not exact_expr.has(sp.Heaviside, sp.sign,
                                                                          sp.DiracDelta) else str(exact_expr),
        "precision": request.precision,
        "dps": request.dps,
    }


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
