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
import numpy as np
import sympy as sp

from derivaudit.core.balls import ball_precision, compile_balls
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
from derivaudit.studies.columns import float64_columns, mp_columns, round_rows, table_frame
from derivaudit.studies.orders import order_notes
from derivaudit.studies.result import StudyResult
from derivaudit.studies.stencil_verdicts import check_claimed_order, stencil_verdicts

__all__ = ["TABLE_COLUMNS", "study"]

TABLE_COLUMNS = ["scheme", "derivative", "eps", "approx", "exact", "error", "abs_error",
                 "rel_error", "observed_order", "theoretical_order", "error_radius"]


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


#: the precision of the checks that a formula is defined at the point
_CHECK_BITS = 128


def _require_defined(formula, point, what: str) -> None:
    """DomainError when ``formula`` is surely undefined at the exact ``point``."""
    if _finite_at(formula.expr, formula.variables, tuple(point[v] for v in formula.variables)):
        return
    with ball_precision(_CHECK_BITS):
        args = formula.arguments(point)
        where = "at " + ", ".join(f"{v.name}={p}" for v, p in point.items())
        try:
            explain_failure(formula, args, where, DEFAULT_LIMITS)
        except DomainError:
            raise DomainError(f"{what} is undefined or not real {where}") from None
    exact = formula.expr.xreplace(dict(point))
    if exact.has(sp.zoo, sp.oo, -sp.oo, sp.nan, sp.I):
        raise DomainError(f"{what} is undefined or not real at "
                          + ", ".join(f"{v.name}={p}" for v, p in point.items()))


@lru_cache(maxsize=4096)
def _finite_at(expr: sp.Expr, variables: tuple, values: tuple) -> bool:
    """Is the ball of ``expr`` at the exact point ``values`` finite at :data:`_CHECK_BITS`?
    (Memoised: it depends on nothing else, and studies of one formula at one point, such
    as a sweep of step ranges, ask it again.)"""
    formula = compile_balls(expr, variables)
    with ball_precision(_CHECK_BITS):
        return formula(*formula.arguments(values)).is_finite()


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
    memo = [None, None]  # the exact ball and its rounding: the same for every scheme
    rounded = round_rows(cells, dps, memo)
    return [mp_columns(st, eps_values, step_floats, column, dps, refine(st), memo, numbers)
            for st, column, numbers in zip(stencils, cells, rounded)]


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
        columns = float64_columns(st, list(eps_values), approx, exact_ball, errors, dps)
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
    table = table_frame(parts, TABLE_COLUMNS + ([] if mp else ["predicted_error"]), mp)
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


def _attrs(request: _Request) -> dict:
    return {
        "formula": _formatted(request.expr),
        "wrt": ",".join(v.name for v in request.wrt_list) if request.wrt_list is not None else request.var.name,
        "point": {s.name: _text(v) for s, v in request.point.items()},
        "derivative": request.order,
        "exact_derivative": _derivative_text(request.exact_expr),
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
def _derivative_text(expr: sp.Expr) -> str:
    """The exact derivative as text: its formatted form, or sympy's own where it holds
    Heaviside, sign or DiracDelta (memoised: ``has`` walks the whole tree)."""
    return str(expr) if expr.has(sp.Heaviside, sp.sign, sp.DiracDelta) else _formatted(expr)


@lru_cache(maxsize=1024)
def _formatted(expr: sp.Expr) -> str:
    """:func:`format_formula`, memoised: printing a derivative can cost more than a short sweep."""
    return format_formula(expr)
