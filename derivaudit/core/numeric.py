"""Numeric evaluation of formulas: exact values, and difference quotients in float64.

Expressions are compiled once with :func:`sympy.lambdify` (to mpmath, and to
numpy for IEEE doubles) and then evaluated without re-entering sympy.
Arbitrary-precision values are certified by ball arithmetic
(:mod:`derivaudit.core.balls`, :mod:`derivaudit.core.certify`): the
exact value of a formula at a point is a ball whose radius proves its
digits; the certified difference quotients of studies live in
:mod:`derivaudit.core.quotients`.  The float64 quotients here round as user
code does, on purpose: their error is what a float64 study measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable

import mpmath
import numpy as np
import sympy as sp
from mpmath.libmp import dps_to_prec, mpf_abs, mpf_le, mpf_mul, mpf_sub

from derivaudit.core.balls import UnsupportedFunction, compile_balls
from derivaudit.core.certify import certified_value
from derivaudit.core.numpy_special import NUMPY_SPECIAL
from derivaudit.errors import DomainError
from derivaudit.core.guards import lambdify_mpmath, under_limits
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.stencils import Stencil

__all__ = [
    "GUARD_DIGITS",
    "CompiledFormula",
    "compile_formula",
    "to_mpf",
    "exact_value",
    "difference_quotient_float64",
    "complex_step_float64",
    "require_analytic",
    "resolved_difference",
]

#: extra decimal digits carried beyond the requested precision
GUARD_DIGITS = 15


@dataclass(frozen=True)
class CompiledFormula:
    """A sympy expression compiled for mpmath and numpy, with its argument order.

    Each target is lambdified on first use and kept: an arbitrary-precision
    study never pays for the numpy function, nor a float64 study for the
    mpmath one of its samples.
    """

    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]

    @cached_property
    def mp(self) -> Callable:
        return lambdify_mpmath(self.variables, self.expr)  # magnitudes guarded, see guards.py

    @cached_property
    def np(self) -> Callable:
        return sp.lambdify(self.variables, self.expr, modules=[NUMPY_SPECIAL, "numpy"])

    def arguments(self, point: Mapping[sp.Symbol, object]) -> list:
        return [point[v] for v in self.variables]


@lru_cache(maxsize=1024)
def compile_formula(expr: sp.Expr, variables: tuple[sp.Symbol, ...]) -> CompiledFormula:
    """Compile ``expr`` as a function of ``variables`` (cached by both)."""
    return CompiledFormula(expr, tuple(variables))


def to_mpf(value: sp.Expr, dps: int) -> mpmath.mpf:
    """An exact sympy constant as an mpmath number at ``dps`` digits."""
    with mpmath.workdps(dps):
        if isinstance(value, sp.Rational):
            return mpmath.mpf(value.p) / value.q
        return mpmath.mpf(sp.Float(value.evalf(dps + 5), dps + 5))


def _real(value, where: str) -> mpmath.mpf:
    """``value`` as a real mpf, or DomainError if it is complex, infinite or NaN."""
    if isinstance(value, _MPF) and (value._mpf_[1] or not value._mpf_[2]):
        return value  # non-zero mantissa, or exactly zero: finite (inf and NaN have neither)
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise DomainError(f"the formula is not real {where}")
        value = value.real
    if not isinstance(value, mpmath.mpf):
        value = mpmath.mpf(value)
    if not mpmath.isfinite(value):
        raise DomainError(f"the formula is undefined (infinite or NaN) {where}")
    return value


_MPF = mpmath.mpf


def evaluate_real(compiled: CompiledFormula, args: Sequence, where: str) -> mpmath.mpf:
    """``compiled`` at mpmath ``args`` (current precision) as a finite real number, or DomainError."""
    try:
        return _real(compiled.mp(*args), where)
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        if isinstance(exc, DomainError):
            raise
        raise DomainError(f"the formula is undefined {where} ({exc})") from None


def _describe(point: Mapping[sp.Symbol, sp.Expr]) -> str:
    return "at " + ", ".join(f"{s.name}={v}" for s, v in point.items())


@under_limits("evaluating the formula's exact value")
def exact_value(compiled: CompiledFormula, point: Mapping[sp.Symbol, sp.Expr], dps: int,
                limits: Limits = DEFAULT_LIMITS) -> mpmath.mpf:
    """``compiled.expr`` at the exact ``point``, certified to ``dps + GUARD_DIGITS`` digits.

    Evaluated in ball arithmetic (:func:`~derivaudit.core.certify.certified_value`):
    the precision rises until the ball's radius proves the digits, so
    cancellation inside the expression and large arguments are handled by
    construction.  The result carries the guard digits, so that differences
    with it (errors) can be rounded to ``dps`` digits afterwards.  A value
    that is exactly zero through irrational steps (``sin(pi*x)`` at ``x = 2``)
    never excludes 0 at any precision, so sympy is asked once whether it is zero.
    """
    where = _describe(point)
    is_zero = (lambda: bool(compiled.expr.xreplace(dict(point)).is_zero))
    try:
        ball = certified_value(compile_balls(compiled.expr, compiled.variables), point, dps + GUARD_DIGITS,
                               limits=limits, what=f"the value {where}", is_zero=is_zero)
    except UnsupportedFunction:  # a function with no certified evaluation: mpmath as before
        with mpmath.workdps(dps + 2 * GUARD_DIGITS):
            return evaluate_real(compiled, [to_mpf(point[v], dps + 2 * GUARD_DIGITS)
                                            for v in compiled.variables], where)
    return ball.mid


_LOG10_2 = math.log10(2)


#: The one cache of stencil terms, (id(stencil), ε) → (stencil, terms): a sweep asks
#: for the same stencil and step once per precision, exact rational arithmetic in
#: sympy costs more than the lookup, and hashing a Stencil (tuples of sympy numbers)
#: costs more than a 50-digit quotient's arithmetic; the stencil is kept in the
#: entry, so its id cannot be reused while the entry exists
_TERMS: dict[tuple[int, int, int], tuple[Stencil, tuple]] = {}


def _float64_call(compiled, args):
    """The formula's float64 function on ``args``; an exact constant beyond the doubles
    (``1e400``: Python's int-to-float conversion raises where a double would overflow) is
    refused in one line."""
    try:
        return compiled.np(*args)
    except OverflowError:
        raise DomainError("a number in the formula is beyond the range of float64 (about 1.8e308), so "
                          "float64 cannot evaluate it; study it in arbitrary precision (without --float64)"
                          ) from None


def difference_quotient_float64(compiled: CompiledFormula, stencil: Stencil, wrt: sp.Symbol,
                                point: Mapping[sp.Symbol, sp.Expr], eps: np.ndarray) -> np.ndarray:
    """The same quotient in IEEE double precision, vectorised over ``eps``.

    Every operation is a float64 operation, as in user code: ``x + oᵢε``
    rounds, ``f`` rounds, the weighted sum cancels.  This is the computation
    whose error shows the V-shaped curve (truncation ∝ εᵖ, roundoff ∝ u/εᵈ).
    For a tensor stencil ``wrt`` is the tuple of its directions' variables.
    """
    eps = np.asarray(eps, dtype=np.float64)
    if stencil.complex_samples:
        return complex_step_float64(compiled, wrt, point, eps)
    terms = stencil.terms()
    directions = tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)
    offsets = np.array([[float(c) for c in (o if isinstance(o, tuple) else (o,))] for o, _ in terms])
    weights = np.array([float(w) for _, w in terms])
    args = []
    for v in compiled.variables:
        x = float(point[v])
        if v in directions:
            k = directions.index(v)
            args.append(x + offsets[:, k:k + 1] * eps[None, :])
        else:
            args.append(np.full((len(terms), eps.size), x))
    with np.errstate(all="ignore"):
        values = np.asarray(_float64_call(compiled, args), dtype=np.float64)
        values = np.broadcast_to(values, (len(terms), eps.size))
        quotient = weights @ values / eps ** stencil.derivative
    if not np.all(np.isfinite(values)):
        bad = eps[~np.all(np.isfinite(values), axis=0)]
        raise DomainError(f"the formula is undefined in float64 at a stencil point for step(s) "
                          f"{', '.join(f'{e:g}' for e in bad[:3])}; use smaller steps or another point")
    return quotient


#: sympy heads that are not complex-analytic along the real axis
_NOT_ANALYTIC = {sp.Abs: "abs", sp.Max: "max/relu", sp.Min: "min", sp.Heaviside: "Heaviside",
                 sp.sign: "sign", sp.Piecewise: "a piecewise definition", sp.floor: "floor",
                 sp.ceiling: "ceiling", sp.re: "re", sp.im: "im", sp.arg: "arg",
                 sp.conjugate: "conjugate"}


def require_analytic(expr: sp.Expr) -> None:
    """Raise unless ``expr`` is analytic along the real axis (the complex step's premise).

    ``abs``, ``relu``/``max``, ``min`` and the like are real-differentiable
    almost everywhere but have no complex derivative: ``Im |x + iε|/ε`` is
    ``0``, not ``sign(x)``, so the complex step would be silently wrong.
    """
    found = sorted({label for head, label in _NOT_ANALYTIC.items() if expr.has(head)})
    if found:
        raise DomainError(f"the complex step needs a formula analytic along the real axis, and "
                          f"{', '.join(found)} is not; use centered or richardson-centered instead")


def complex_step_float64(compiled: CompiledFormula, wrt: sp.Symbol, point: Mapping[sp.Symbol, sp.Expr],
                         eps: np.ndarray) -> np.ndarray:
    """``Im f(x + iε)/ε`` in complex128, vectorised over ``eps``.

    The error is truncation ``ε²/6·|f⁽³⁾|`` plus rounding ``≈ u·|f'|``, with
    no ``1/ε`` growth: steps down to 1e-200 (and below) work.
    """
    eps = np.asarray(eps, dtype=np.float64)
    args = []
    for v in compiled.variables:
        x = float(point[v])
        args.append(x + 1j * eps if v == wrt else np.full(eps.size, x))
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(_float64_call(compiled, args))
        except TypeError as exc:
            raise DomainError(f"the formula cannot be evaluated at complex points in float64 ({exc})") from None
    values = np.broadcast_to(values, eps.shape).astype(np.complex128)
    if not np.all(np.isfinite(values)):
        bad = eps[~np.isfinite(values)]
        raise DomainError(f"the formula is undefined in float64 at x + iε for step(s) "
                          f"{', '.join(f'{e:g}' for e in bad[:3])}; use smaller steps or another point")
    return values.imag / eps


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
