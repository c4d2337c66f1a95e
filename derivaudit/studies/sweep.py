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

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import mpmath
from flint import arb
from mpmath.libmp import dps_to_prec, fnan, from_man_exp, fzero, mpf_abs, mpf_div, round_nearest, to_float
import numpy as np
import pandas as pd
import sympy as sp

from derivaudit.core.ball_steps import to_mpf
from derivaudit.core.balls import ball_precision, compile_balls
from derivaudit.core.certify import explain_failure
from derivaudit.core.guards import gc_paused, per_call_budgets
from derivaudit.core.numeric import compile_formula, difference_quotient_float64, require_analytic
from derivaudit.core.numeric import to_mpf as to_mpf_exact
from derivaudit.core.quotients import BallSamples, StepCertifier, float_errors, step_bits
from derivaudit.core.custom_stencils import resolve_schemes
from derivaudit.core.symbolic import as_symbol, default_variable, derivative, partial, require_variables
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.lang.parse import format_formula
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.progress import Progress, ProgressArg
from derivaudit.studies.error_model import float64_error_model
from derivaudit.studies.inputs import DEFAULT_STEPS, PRECISIONS, as_expr, check_dps, parse_eps, resolve_point
from derivaudit.studies.kinks import one_sided_derivatives
from derivaudit.studies.orders import observed_order, order_notes
from derivaudit.studies.result import StudyResult
from derivaudit.studies.stencil_verdicts import check_claimed_order, stencil_verdicts

__all__ = ["TABLE_COLUMNS", "study"]

TABLE_COLUMNS = ["scheme", "derivative", "eps", "approx", "exact", "error", "abs_error",
                 "rel_error", "observed_order", "theoretical_order", "error_radius"]


def _rounded(ball, prec: int, rnd) -> tuple:
    """The ball's midpoint rounded to ``prec`` bits, as a raw mpf tuple (one rounding)."""
    man, exp = ball.mid().man_exp()
    return from_man_exp(int(man), int(exp), prec, rnd)


_MPF = mpmath.mp.mpf
_NEW = object.__new__


def _cell_columns(st, steps, step_floats, cells, dps: int) -> dict[str, list]:
    """The table's columns for one scheme from its certified cells, rounded to ``dps`` digits.

    An error proved below the resolution reads 0 (so does a quotient of an
    exact derivative 0 below its own resolution); ``error_radius`` bounds
    the distance from each reported error to the true one.  Numbers equal
    by construction (the exact value, zeros, NaN) are one shared ``mpf``:
    fewer objects for the garbage collector to walk afterwards.

    This loop makes most of a table's numbers, so it is written flat: an
    ``mpf`` is made as ``mpmath.mp.make_mpf`` makes it (a bare instance given
    its raw tuple), the rounding is mpmath's own ``from_man_exp`` on the
    midpoint's exact mantissa and exponent, and a radius (an exact ball) is
    read without a rounding.
    """
    values, exacts, errs, sizes, rels, radii, size_floats = [], [], [], [], [], [], []
    make, new, mpf, ldexp = mpmath.mp.make_mpf, _NEW, _MPF, math.ldexp
    prec, rnd = dps_to_prec(dps), round_nearest  # what mpmath.workdps(dps) sets
    nan, zero = make(fnan), make(fzero)
    last_ball, exact = None, None
    for approx, exact_ball, error_ball, below, approx_below, _ in cells:
        if approx_below:
            values.append(zero)
        else:
            man, exp = approx.mid().man_exp()
            value = new(mpf)
            value._mpf_ = from_man_exp(int(man), int(exp), prec, rnd)
            values.append(value)
        if exact_ball is None:  # no derivative at the point: nothing to compare with
            for column in (exacts, errs, sizes, rels, radii):
                column.append(nan)
            size_floats.append(math.nan)
            continue
        if exact_ball is not last_ball:  # one exact ball serves most cells: convert it once
            last_ball, raw_exact = exact_ball, _rounded(exact_ball, prec, rnd)
            exact, abs_exact = make(raw_exact), mpf_abs(raw_exact, prec, rnd)
        exacts.append(exact)
        if below:
            errs.append(zero)
            sizes.append(zero)
            rels.append(zero if raw_exact != fzero else nan)
            radii.append(to_mpf(abs(error_ball).abs_upper()))
            size_floats.append(0.0)
            continue
        man, exp = error_ball.mid().man_exp()
        error = from_man_exp(int(man), int(exp), prec, rnd)
        value = new(mpf)
        value._mpf_ = error
        errs.append(value)
        sign, man, exp, bc = error
        if sign:  # already rounded to prec: |error| is the same tuple with the sign cleared
            size = (0, man, exp, bc)
            value = new(mpf)
            value._mpf_ = size
        else:
            size = error
        sizes.append(value)
        # float(|error|), as observed_order takes it: to_float rounds the mantissa to 53 bits
        # (to nearest, as float() of an integer does) and scales it; outside the range where
        # that cannot overflow, to_float itself
        size_floats.append(ldexp(float(man), exp) if bc < 1000 and -1000 < exp + bc < 1000
                           else to_float(size, rnd=rnd))
        if raw_exact != fzero:
            value = new(mpf)
            value._mpf_ = mpf_div(size, abs_exact, prec, rnd)
            rels.append(value)
        else:
            rels.append(nan)
        man, exp = error_ball.rad().man_exp()  # the radius is exact: no rounding
        value = new(mpf)
        value._mpf_ = from_man_exp(int(man), int(exp))
        radii.append(value)
    orders = observed_order(sizes, steps, size_floats, step_floats)
    return _columns(st, steps, values, exacts, errs, sizes, rels, radii, orders)


def _columns(st, steps, values, exacts, errs, sizes, rels, radii, orders=None) -> dict[str, list]:
    n = len(values)
    if orders is None:
        orders = observed_order(sizes, steps)
    return {"scheme": [st.name] * n, "derivative": [st.derivative] * n, "eps": list(steps),
            "approx": values, "exact": exacts, "error": errs, "abs_error": sizes,
            "rel_error": rels, "observed_order": orders,
            "theoretical_order": [st.accuracy] * n, "error_radius": radii}


def _float64_columns(st, steps, approx, exact, errors, dps: int) -> dict[str, list]:
    """The columns of one float64 scheme: the doubles, and their certified errors rounded
    to ``dps`` digits and then to doubles."""
    values, errs, sizes, rels, radii = [], [], [], [], []
    with mpmath.workdps(dps):
        prec, rnd = mpmath.mp._prec_rounding
        raw_exact = _rounded(exact, prec, rnd) if exact.is_finite() else fnan
        exact_value_ = mpmath.mp.make_mpf(raw_exact)
        for value, (error, radius) in zip(approx, errors):
            if raw_exact == fnan:  # no derivative at the point
                error = fnan
            else:
                error = fzero if error is None else _rounded(error, prec, rnd)
            size = mpf_abs(error, prec, rnd)
            rel = mpf_div(size, mpf_abs(raw_exact, prec, rnd), prec, rnd) if raw_exact != fzero else fnan
            values.append(float(value))
            errs.append(to_float(error, rnd=rnd))
            sizes.append(to_float(size, rnd=rnd))
            rels.append(to_float(rel, rnd=rnd))
            radii.append(float(to_mpf(radius)))
    return _columns(st, steps, values, [exact_value_] * len(values), errs, sizes, rels, radii)


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
    stencils = resolve_schemes(schemes, order, counts if wrt_list is not None else None)
    exact_expr = partial(expr, wrt_list) if wrt_list is not None else derivative(expr, var, order)
    if any(st.complex_samples for st in stencils):
        require_analytic(expr)
    return _Request(expr, exact_expr, var, wrt_list, sum(counts) if wrt_list is not None else order,
                    point, steps, stencils, precision, dps)


def _ball_formulas(request: _Request, kink: dict | None):
    """The formula and its exact derivative compiled to balls (no derivative at a kink),
    each checked to be defined at the point."""
    variables = tuple(request.point)
    f = compile_balls(request.expr, variables)
    _require_defined(f, request.point, "the formula")
    if kink is not None:
        return f, None
    exact = compile_balls(request.exact_expr, variables)
    _require_defined(exact, request.point, f"the derivative {_formatted(request.exact_expr)}")
    return f, exact


def _require_defined(formula, point, what: str) -> None:
    """DomainError when ``formula`` is surely undefined at the exact ``point``."""
    with ball_precision(128):
        args = formula.arguments(point)
        value = formula(*args)
        if value.is_finite():
            return
        where = "at " + ", ".join(f"{v.name}={p}" for v, p in point.items())
        try:
            explain_failure(formula, args, where, DEFAULT_LIMITS)
        except DomainError:
            raise DomainError(f"{what} is undefined or not real {where}") from None
    exact = formula.expr.xreplace(dict(point))
    if exact.has(sp.zoo, sp.oo, -sp.oo, sp.nan, sp.I):
        raise DomainError(f"{what} is undefined or not real at "
                          + ", ".join(f"{v.name}={p}" for v, p in point.items()))


def _is_zero_by_sympy(expr: sp.Expr, point) -> object:
    """A callable asking sympy once whether ``expr`` is exactly 0 at the point."""
    return lambda: bool(expr.xreplace(dict(point)).is_zero)


@lru_cache(maxsize=4096)
def _step_value(p: int, q: int, dps: int) -> mpmath.mpf:
    """The step ``p/q`` rounded to ``dps`` digits, as the table shows it."""
    with mpmath.workdps(dps):
        return +to_mpf_exact(sp.Rational(p, q), dps)


def _mp_sweep(request: _Request, f, exact, advance, limits: Limits) -> list[dict]:
    """Every scheme's columns in arbitrary precision, each cell certified (see
    :mod:`derivaudit.core.quotients`)."""
    steps, stencils, dps = request.steps, request.stencils, request.dps
    directions = request.var if isinstance(request.var, tuple) else (request.var,)
    samples = BallSamples(f, directions, request.point, limits)
    certifier = StepCertifier(samples, exact, request.point, dps, limits,
                              exact_is_zero=_is_zero_by_sympy(request.exact_expr, request.point))
    eps_values = [_step_value(int(s.p), int(s.q), dps) for s in steps]
    # Most demanding step first: the exact value computed for it serves every other cell.
    bits = [step_bits(dps, stencils, eps, certifier.magnitude_bits) for eps in steps]
    cells = [[None] * len(steps) for _ in stencils]  # per scheme, in the order of the steps
    for j in sorted(range(len(steps)), key=bits.__getitem__, reverse=True):
        for column, cell in zip(cells, certifier.step_cells(stencils, steps[j], limits, bits[j])):
            column[j] = cell
            advance()
    step_floats = [abs(float(e)) for e in eps_values]
    return [_cell_columns(st, eps_values, step_floats, column, dps) for st, column in zip(stencils, cells)]


def _float64_sweep(request: _Request, exact, advance, models: dict, limits: Limits) -> list[dict]:
    """Every scheme's columns in IEEE doubles, errors certified against the exact value,
    with the error model's predictions."""
    eps_values = np.array([float(s) for s in request.steps])
    if np.any(eps_values == 0):
        raise DerivauditError("a step underflows to 0 in float64; use steps above 1e-308")
    dps, var, point = request.dps, request.var, request.point
    f = compile_formula(request.expr, tuple(point))
    model_values: dict = {}  # derivatives at the point, shared by the schemes' models
    out = []
    for st in request.stencils:
        approx = list(difference_quotient_float64(f, st, var, point, eps_values))
        if exact is None:
            errors = [(None, arb(0))] * len(approx)
            exact_ball = arb.nan()
        else:
            exact_ball, errors = float_errors(exact, point, approx, dps, limits,
                                              exact_is_zero=_is_zero_by_sympy(request.exact_expr, point))
        columns = _float64_columns(st, list(eps_values), approx, exact_ball, errors, dps)
        columns["predicted_error"] = _predicted_errors(request.expr, var, point, st, eps_values,
                                                       models, model_values)
        out.append(columns)
        advance(len(request.steps))
    return out


def study(formula, wrt=None, at: Mapping[str, object] | None = None, eps=DEFAULT_STEPS,
          schemes: Sequence = ("forward", "centered"), order: int = 1, dps: int = 50,
          precision: str = "mp", limits: Limits = DEFAULT_LIMITS,
          progress: ProgressArg = None, claimed_order: int | None = None) -> StudyResult:
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
        ``richardson-centered``, ``complex-step``, ...) or Stencil objects
        (e.g. a user's own, from :func:`~derivaudit.core.custom_stencils.custom_stencil`).
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
    claimed_order : int, optional
        The order claimed for the user stencils (for every scheme when there
        are none), judged against the fitted order
        (:mod:`derivaudit.studies.stencil_verdicts`).

    Returns
    -------
    StudyResult
        ``.table`` is a DataFrame with columns ``scheme, derivative, eps,
        approx, exact, error, abs_error, rel_error, observed_order,
        theoretical_order``: one row per scheme × step, in the order given.
        ``eps``, ``exact`` and (in mp mode) ``approx`` and the errors are
        mpmath numbers carrying ``dps`` digits.  The result's attributes
        record the formula, variable, point, derivative, precision and
        ``dps``; with user stencils or a claimed order, ``.stencils`` maps
        scheme names to their
        :class:`~derivaudit.studies.stencil_verdicts.StencilVerdict`.  In
        float64 mode the table also has the column ``predicted_error`` of the
        error model (:mod:`derivaudit.studies.error_model`), and
        ``.error_model`` holds each scheme's predicted best step and least
        error (see :func:`~derivaudit.studies.orders.predicted_best_steps`).
    """
    check_claimed_order(claimed_order)
    request = _request(formula, wrt, at, eps, schemes, order, dps, precision, limits)
    kink = None
    if request.wrt_list is None:
        kink = one_sided_derivatives(request.expr, request.var, request.point, request.order, limits)
    mp = precision == "mp"
    models: dict[str, dict] = {}
    # One watchdog registration for the whole sweep, renewed by each evaluation:
    # every exact value and quotient still has its own evaluate_seconds budget.
    with per_call_budgets(limits), gc_paused():
        f, exact = _ball_formulas(request, kink)
        advance = Progress(progress, len(request.stencils) * len(request.steps), "study")
        if mp:
            parts = _mp_sweep(request, f, exact, advance, limits)
        else:
            parts = _float64_sweep(request, exact, advance, models, limits)
    table = _frame(parts, TABLE_COLUMNS + ([] if mp else ["predicted_error"]), mp)
    meta = _attrs(request)
    notes = {}
    if kink is not None:
        table["observed_order"] = math.nan  # no derivative: no order to observe
    else:
        observed = {part["scheme"][0]: part["observed_order"] for part in parts if part["scheme"]}
        notes = order_notes(observed, request.expr, request.var, request.point, request.stencils)
    # reports show what the user typed beside the canonical form
    result = StudyResult(table, **meta,
                         formula_typed=formula.strip() if isinstance(formula, str) else meta["formula"],
                         point_typed={str(k): str(v).strip() for k, v in (at or {}).items()},
                         error_model=None if mp else models, not_differentiable=kink, order_notes=notes)
    verdicts = stencil_verdicts(result, request.stencils, claimed_order)
    return dataclasses.replace(result, stencils=verdicts) if verdicts else result


#: the dtype of each column of an mp table whose values have one known type: mpmath numbers
#: (object), the orders of the stencils (integers) and the observed orders (floats)
_MP_DTYPES = {**dict.fromkeys(["eps", "approx", "exact", "error", "abs_error", "rel_error", "error_radius"],
                              object),
              "derivative": np.int64, "theoretical_order": np.int64, "observed_order": np.float64}


def _frame(parts: list[dict], columns: list[str], mp: bool) -> pd.DataFrame:
    """The table of the schemes' columns, in the order of ``columns``.

    The columns of an mp table are handed to pandas as arrays of the dtype it would
    infer (:data:`_MP_DTYPES`): it keeps them as they are instead of inspecting every
    value for a type.  No ``columns=`` argument: the dict's order is the columns'
    order, and pandas would otherwise reindex (three times the cost of the frame itself).
    """
    data = {}
    for c in columns:
        values = [v for part in parts for v in part[c]]
        dtype = _MP_DTYPES.get(c) if mp else None
        data[c] = values if dtype is None else np.fromiter(values, dtype=dtype, count=len(values))
    return pd.DataFrame(data, copy=False)  # the arrays are the table's own


def _attrs(request: _Request) -> dict:
    exact_expr = request.exact_expr
    return {
        "formula": _formatted(request.expr),
        "wrt": ",".join(v.name for v in request.wrt_list) if request.wrt_list is not None else request.var.name,
        "point": {s.name: _text(v) for s, v in request.point.items()},
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


@lru_cache(maxsize=4096)
def _text(value: sp.Expr) -> str:
    """``str(value)``, memoised (sympy's printer is slow even for a rational)."""
    return str(value)


@lru_cache(maxsize=1024)
def _formatted(expr: sp.Expr) -> str:
    """:func:`format_formula`, memoised: printing a derivative can cost more than a short sweep."""
    return format_formula(expr)
