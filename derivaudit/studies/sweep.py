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
from flint import arb, ctx
from mpmath.libmp import dps_to_prec, fnan, from_man_exp, fzero, mpf_abs, mpf_div, round_nearest, to_float
import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks
import sympy as sp

from derivaudit.core.ball_steps import to_mpf
from derivaudit.core.balls import ball_precision, compile_balls, digits_to_bits
from derivaudit.core.rounding import rounded_raw
from derivaudit.core.certify import explain_failure
from derivaudit.core.guards import gc_paused, per_call_budgets
from derivaudit.core.numeric import compile_formula, difference_quotient_float64, require_analytic
from derivaudit.core.numeric import to_mpf as to_mpf_exact
from derivaudit.core.quotients import BallSamples, StepCertifier, float_errors, step_bits
from derivaudit.core.custom_stencils import resolve_schemes
from derivaudit.core.symbolic import as_symbol, default_variable, derivative, partial, require_variables
from derivaudit.echo import escape_controls
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.lang.parse import format_formula
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.progress import Progress, ProgressArg
from derivaudit.studies.error_model import float64_error_model
from derivaudit.studies.inputs import DEFAULT_STEPS, PRECISIONS, as_expr, check_dps, parse_eps, resolve_point
from derivaudit.studies.kinks import one_sided_derivatives
from derivaudit.core.piecewise import value_on_switch
from derivaudit.lang.parse import typed_domain
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


#: precision raises (each doubling the bits) a cell gets for a ball that does not decide its
#: rounding; past them the midpoint's rounding is kept (the value is then within a
#: 10^-(dps+4)-th of a unit of a rounding tie, as close to one neighbour as to the other)
_ROUNDING_RAISES = 3


def _cell_numbers(cell, dps: int, refine, j: int, memo: list) -> tuple:
    """The cell (possibly recomputed at more precision) and the raw mpf tuples of its
    approximation, exact value, error and relative error (the last from the balls of the
    error and the exact value), each the correctly rounded ``dps``-digit decimal of its
    ball; None where the column reads 0 or NaN.  ``memo`` is ``[ball, raw]`` of the last
    exact value (one exact ball serves most cells)."""
    prec, rel_bits = dps_to_prec(dps), digits_to_bits(dps) + 64
    approx, exact, error, below, approx_below, _ = cell
    if exact is memo[0] and memo[1] is not None and not below and not approx_below and not exact.is_zero():
        # the common cell, inlined: an exact value already rounded, an error to print
        saved, ctx.prec = ctx.prec, rel_bits  # the division's rounding: far below a unit
        rel = abs(error) / abs(exact)
        ctx.prec = saved
        numbers = (rounded_raw(approx, dps, prec), memo[1], rounded_raw(error, dps, prec),
                   rounded_raw(rel, dps, prec))
        if None not in numbers:
            return cell, numbers
    for attempt in range(_ROUNDING_RAISES + 1):
        approx, exact, error, below, approx_below, _ = cell
        balls = [None if approx_below else approx]
        if exact is not None:
            balls.append(exact)
            if not below:
                balls.append(error)
                if not exact.is_zero():
                    saved, ctx.prec = ctx.prec, rel_bits  # the division's rounding: far below a unit
                    balls.append(abs(error) / abs(exact))
                    ctx.prec = saved
        numbers = []
        for ball in balls:
            if ball is None:
                numbers.append(None)
                continue
            if ball is exact and ball is memo[0]:
                numbers.append(memo[1])
                continue
            raw = rounded_raw(ball, dps, prec)
            if raw is None:
                if attempt < _ROUNDING_RAISES:
                    break
                raw = _rounded(ball, prec, round_nearest)
            if ball is exact:
                memo[:] = exact, raw
            numbers.append(raw)
        else:
            return cell, numbers
        cell = refine(j, cell)
    raise AssertionError("unreachable")  # pragma: no cover


def _cell_columns(st, steps, step_floats, cells, dps: int, refine=None) -> dict[str, list]:
    """The table's columns for one scheme from its certified cells: each number the
    correctly rounded ``dps``-digit decimal of its ball (:mod:`derivaudit.core.rounding`),
    held as an ``mpf`` that prints back to exactly those digits.

    An error proved below the resolution reads 0 (so does a quotient of an
    exact derivative 0 below its own resolution); ``error_radius`` bounds
    the distance from each error's ball midpoint to the true error.  A ball
    that does not decide its rounding is computed again at more precision by
    ``refine(j, cell)`` (``j`` the step's index).  Numbers equal by
    construction (the exact value, zeros, NaN) are one shared ``mpf``: fewer
    objects for the garbage collector to walk afterwards.
    """
    values, exacts, errs, sizes, rels, radii, size_floats = [], [], [], [], [], [], []
    make, new, mpf, ldexp = mpmath.mp.make_mpf, _NEW, _MPF, math.ldexp
    rnd = round_nearest
    nan, zero = make(fnan), make(fzero)
    last_raw, exact, memo = None, None, [None, None]
    for j, cell in enumerate(cells):
        cell, numbers = _cell_numbers(cell, dps, refine, j, memo)
        approx_raw = numbers[0]
        if approx_raw is None:
            values.append(zero)
        else:
            value = new(mpf)
            value._mpf_ = approx_raw
            values.append(value)
        error_ball, below = cell[2], cell[3]
        if cell[1] is None:  # no derivative at the point: nothing to compare with
            for column in (exacts, errs, sizes, rels, radii):
                column.append(nan)
            size_floats.append(math.nan)
            continue
        raw_exact = numbers[1]
        if raw_exact != last_raw:  # one exact value serves most cells: one mpf for it
            last_raw, exact = raw_exact, make(raw_exact)
        exacts.append(exact)
        if below:
            errs.append(zero)
            sizes.append(zero)
            rels.append(zero if raw_exact != fzero else nan)
            radii.append(to_mpf(abs(error_ball).abs_upper()))
            size_floats.append(0.0)
            continue
        error = numbers[2]
        value = new(mpf)
        value._mpf_ = error
        errs.append(value)
        sign, man, exp, bc = error
        if sign:  # correctly rounded: |error| is the same tuple with the sign cleared
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
            value._mpf_ = numbers[3]
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
        # the exact value correctly rounded (its midpoint's rounding if the ball does not decide it)
        raw_exact = (rounded_raw(exact, dps, prec) or _rounded(exact, prec, rnd)) if exact.is_finite() else fnan
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
    _require_typed_domain(formula, point, limits)
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
    try:
        _require_defined(exact, request.point, f"the derivative {_formatted(request.exact_expr)}")
    except DomainError:
        # on a switch whose pieces the ball cannot tell apart: the exact common one-sided value
        common = None if request.wrt_list is not None else value_on_switch(
            request.expr, request.var, request.point, request.order)
        if common is None:
            raise
        exact = compile_balls(common, variables)
    return f, exact


def _require_typed_domain(formula, point, limits: Limits) -> None:
    """DomainError when the point is outside the domain of the formula *as typed*:
    ``sqrt(x)**2`` is built as ``x``, but at x = −8 what was typed is not real."""
    for piece in typed_domain(formula, limits=limits):
        if piece.free_symbols <= set(point):
            _require_defined(compile_balls(piece, tuple(point)), point, f"the formula (its part {piece})")


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

    def refine(st):
        # a ball that does not decide its rounding: the cell again at twice the bits
        return lambda j, cell: certifier.cell(st, steps[j], limits, bits=2 * cell.bits)
    return [_cell_columns(st, eps_values, step_floats, column, dps, refine(st))
            for st, column in zip(stencils, cells)]


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
                         formula_typed=(escape_controls(formula.strip()) if isinstance(formula, str)
                                        else meta["formula"]),
                         point_typed={escape_controls(k): escape_controls(str(v).strip())
                                      for k, v in (at or {}).items()},
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

    An mp table is built from its blocks (pandas' ``create_dataframe_from_blocks``):
    one 2-D array per dtype of :data:`_MP_DTYPES` and the schemes' strings, the
    blocks pandas itself would make, without its inspection of every value (half
    the cost of a short study's table).  A float64 table goes through the constructor.
    """
    if not mp:
        data = {c: [v for part in parts for v in part[c]] for c in columns}
        return pd.DataFrame(data, copy=False)
    n = sum(len(part["scheme"]) for part in parts)
    blocks = []
    for dtype, names in _mp_blocks(tuple(columns)):
        block = np.empty((len(names), n), dtype=dtype)
        for row, c in enumerate(names):
            block[row] = [v for part in parts for v in part[c]]
        blocks.append((block, np.array([columns.index(c) for c in names], dtype=np.intp)))
    blocks.append((_strings([v for part in parts for v in part["scheme"]]),
                   np.array([columns.index("scheme")], dtype=np.intp)))
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(n), _index(tuple(columns)))


#: the string array pandas makes of a column of text (its default ``str`` dtype)
_STRINGS = pd.array([""], dtype="str")


def _strings(values: list):
    """``values`` as the string array pandas would infer for them (its python-storage
    array straight from an object array, without the type inspection of ``pd.array``)."""
    if isinstance(_STRINGS, pd.arrays.StringArray):
        return pd.arrays.StringArray(np.array(values, dtype=object), dtype=_STRINGS.dtype)
    return pd.array(values, dtype="str")


@lru_cache(maxsize=16)
def _index(columns: tuple) -> pd.Index:
    """The columns' index (an immutable object: one per column list serves every table)."""
    return pd.Index(columns)


@lru_cache(maxsize=16)
def _mp_blocks(columns: tuple) -> list[tuple[object, list[str]]]:
    """``(dtype, column names)`` of each numeric block of an mp table (:data:`_MP_DTYPES`)."""
    blocks: dict = {}
    for c in columns:
        if c in _MP_DTYPES:
            blocks.setdefault(_MP_DTYPES[c], []).append(c)
    return list(blocks.items())


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
