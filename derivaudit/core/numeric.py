"""Numeric evaluation of formulas and stencils, in mpmath or float64.

Expressions are compiled once with :func:`sympy.lambdify` (to mpmath for
arbitrary precision, to numpy for IEEE doubles) and then evaluated without
re-entering sympy.

Precision contract of the mpmath path: a value returned "at ``dps`` digits"
has ``dps`` correct significant digits.  A difference quotient
``ε⁻ᵈ Σ wᵢ f(x + oᵢ ε)`` cancels about ``log10(Σ|wᵢ fᵢ| / |Σ wᵢ fᵢ|)`` digits,
so it is computed at ``dps`` plus those digits plus :data:`GUARD_DIGITS`,
raised again if the measured cancellation turns out larger.  The reported
approximation is therefore the *exact* difference quotient to ``dps``
digits, and its error against the exact derivative is pure truncation error.
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
from mpmath.libmp import dps_to_prec, fzero, mpf_abs, mpf_div, mpf_le, mpf_mul, mpf_sub, mpf_sum

from derivaudit.core.balls import UnsupportedFunction, compile_balls
from derivaudit.core.certify import certified_value
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.core.guards import lambdify_mpmath, under_limits
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.stencils import Stencil

__all__ = [
    "GUARD_DIGITS",
    "CompiledFormula",
    "compile_formula",
    "to_mpf",
    "exact_value",
    "Samples",
    "difference_quotient",
    "difference_quotient_float64",
    "cancelled_digits",
    "complex_step_quotient",
    "complex_step_float64",
    "require_analytic",
    "resolved_difference",
]

#: extra decimal digits carried beyond the requested precision
GUARD_DIGITS = 15


def _numpy_erf(z):
    """erf on arrays: sympy's numpy printer maps erf to ``math.erf``, which takes scalars only.

    Complex input (the complex step) goes through mpmath, element by element.
    """
    z = np.asarray(z)
    if np.iscomplexobj(z):
        return np.vectorize(lambda v: complex(mpmath.erf(v)), otypes=[complex])(z)
    return np.vectorize(math.erf, otypes=[float])(z)


_NUMPY_EXTRAS = {"erf": _numpy_erf}


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
        return sp.lambdify(self.variables, self.expr, modules=[_NUMPY_EXTRAS, "numpy"])

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


class Samples:
    """Values of one formula along one variable near one point, memoised.

    ``value(shift, wp)`` is ``f(point with wrt = x + shift)`` correct to at
    least ``wp`` digits.  Schemes and step sizes that share a sample
    (``f(x)``, ``f(x + ε)``) pay for it once: a sample computed at higher
    precision serves every later request at lower precision (extra correct
    digits never hurt a difference quotient), so a sweep that asks for the
    most demanding precision first evaluates each point once.
    """

    def __init__(self, compiled: CompiledFormula, wrt, point: Mapping[sp.Symbol, sp.Expr]):
        # For mixed partials ``wrt`` is a tuple of variables and a shift a tuple of shifts.
        directions = tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)
        for v in directions:
            if v not in compiled.variables:
                raise DomainError(f"'{v}' is not an argument of the compiled formula")
        self.compiled = compiled
        self.wrt = wrt
        self.directions = directions
        self.point = dict(point)
        #: positions of the directions among the compiled formula's arguments
        self.indices = tuple(compiled.variables.index(v) for v in directions)
        #: the point's coordinates at the highest precision asked for so far
        self._base: list[mpmath.mpf] = []
        self._base_digits = 0
        #: shift → (digits, value) at the highest precision computed so far; a scalar
        #: shift is keyed by its integers (hashing a sympy Rational costs more)
        self._memo: dict[object, tuple[int, mpmath.mpf]] = {}
        self.evaluations = 0

    def value(self, shift: sp.Rational, wp: int) -> mpmath.mpf:
        key = (shift.p, shift.q) if isinstance(shift, sp.Rational) else shift
        cached = self._memo.get(key)
        if cached is not None and cached[0] >= wp:
            return cached[1]
        if mpmath.mp.prec == dps_to_prec(wp):  # already inside workdps(wp): a difference quotient
            result = self._evaluate(shift, wp)
        else:
            with mpmath.workdps(wp):
                result = self._evaluate(shift, wp)
        self.evaluations += 1
        self._memo[key] = (wp, result)
        return result

    def _evaluate(self, shift, wp: int) -> mpmath.mpf:
        """The sample at ``shift``, at the working precision ``wp`` (already set)."""
        if self._base_digits < wp:
            self._base = [to_mpf(self.point[v], wp) for v in self.compiled.variables]
            self._base_digits = wp
        base = self._base
        args = list(base)
        shifts = shift if isinstance(shift, tuple) else (shift,)
        for i, s in zip(self.indices, shifts):
            if s:
                args[i] = base[i] + mpmath.mpf(s.p) / s.q
        try:
            result = evaluate_real(self.compiled, args, "")
        except DomainError:
            moved = {**self.point, **{v: self.point[v] + s for v, s in zip(self.directions, shifts)}}
            raise DomainError(f"the formula is undefined or not real {_describe(moved)}, "
                              "a point the stencil needs; use a smaller step or another point"
                              ) from None
        return result


def _scaled(offset, eps):
    """``offset · ε`` for a scalar offset or a tuple of them (tensor stencils)."""
    return tuple(o * eps for o in offset) if isinstance(offset, tuple) else offset * eps


def cancelled_digits(whole: mpmath.mpf, part: mpmath.mpf) -> int:
    """An upper bound of ``log10(|whole| / |part|)``, at least 0 (``part ≠ 0``).

    The decimal digits lost when ``part`` is what remains of ``whole``.  Read
    from the binary exponents (``2^(mag−1) ≤ |v| < 2^mag``), so it costs no
    logarithm and overestimates by under one digit — the safe direction.
    """
    bits = mpmath.mag(whole) - mpmath.mag(part) + 1
    return max(0, math.ceil(bits * _LOG10_2))


_LOG10_2 = math.log10(2)


def _raw_cancelled_digits(whole: tuple, part: tuple) -> int:
    """:func:`cancelled_digits` of two raw non-zero finite mpf tuples (``mag = exp + bc``)."""
    bits = (whole[2] + whole[3]) - (part[2] + part[3]) + 1
    return max(0, math.ceil(bits * _LOG10_2))


def _shifted_terms(stencil: Stencil, eps: sp.Rational) -> tuple:
    """``(oᵢ·ε, weight numerator, weight denominator)`` of the stencil's non-zero terms."""
    return tuple((_scaled(o, eps), int(w.p), int(w.q)) for o, w in stencil.terms())


@under_limits("evaluating a difference quotient")
def difference_quotient(samples: Samples, stencil: Stencil, eps: sp.Rational, dps: int,
                        limits: Limits = DEFAULT_LIMITS) -> mpmath.mpf:
    """``ε⁻ᵈ Σ wᵢ f(x + oᵢ ε)`` correct to ``dps`` significant digits.

    The working precision starts at ``dps + d·log10(1/ε) + GUARD_DIGITS`` and
    is raised by the cancellation actually measured in the sum.  The result
    carries at least ``GUARD_DIGITS/2`` digits beyond ``dps``.
    A scheme with ``complex_samples`` (:class:`~derivaudit.core.stencils.ComplexStep`)
    is evaluated by :func:`complex_step_quotient`; a :class:`~derivaudit.core.stencils.TensorStencil`
    needs ``samples`` along all its directions.
    """
    if not isinstance(eps, sp.Rational):
        eps = sp.Rational(eps)
    if stencil.complex_samples:
        return complex_step_quotient(samples, eps, dps, limits)
    terms = _terms_at(stencil, eps)
    # log10(1/ε) from the integers of ε = p/q: no float underflow for tiny steps
    cancellation = (max(0, math.ceil(stencil.derivative * (math.log10(eps.q) - math.log10(eps.p))))
                    if eps.p < eps.q else 0)
    wp = dps + cancellation + GUARD_DIGITS
    resolved_steps = False
    for _ in range(6):
        with mpmath.workdps(wp):
            # mpmath's own operations on the raw (sign, man, exp, bc) tuples, with the
            # context's precision and rounding: the same numbers as ``w * f`` and
            # ``fsum`` give, without an mpf object per intermediate.
            prec, rnd = mpmath.mp._prec_rounding
            parts = [mpf_mul(_weight(p, q, wp)._mpf_, samples.value(shift, wp)._mpf_, prec, rnd)
                     for shift, p, q in terms]
            total = mpf_sum(parts, prec, rnd)
            magnitude = mpf_sum(parts, prec, rnd, True)
            if magnitude == fzero or total != fzero and (
                    wp - _raw_cancelled_digits(magnitude, total) >= dps + GUARD_DIGITS // 2):
                step_power = _step_power(eps.p, eps.q, stencil.derivative, wp)._mpf_
                return mpmath.mp.make_mpf(mpf_div(total, step_power, prec, rnd))
        if total != fzero:
            wp = _raw_cancelled_digits(magnitude, total) + dps + GUARD_DIGITS
        elif not resolved_steps:
            # Every sample is equal: either f does not vary over the stencil, or the
            # steps vanished in x + oε (|x| ≫ ε).  Give the steps their digits once.
            resolved_steps = True
            wp += _position_digits(samples, eps)
        else:
            # The steps are resolved and the samples still agree to every digit:
            # the quotient is below the precision's resolution.
            return mpmath.mpf(0)
        if wp > limits.max_dps + cancellation + 4 * GUARD_DIGITS:
            break
    raise LimitExceeded(f"the difference quotient at step {eps} cannot be resolved to {dps} digits "
                        f"within the precision limit of {limits.max_dps} digits")


#: The one cache of stencil terms, (id(stencil), ε) → (stencil, terms): a sweep asks
#: for the same stencil and step once per precision, exact rational arithmetic in
#: sympy costs more than the lookup, and hashing a Stencil (tuples of sympy numbers)
#: costs more than a 50-digit quotient's arithmetic; the stencil is kept in the
#: entry, so its id cannot be reused while the entry exists
_TERMS: dict[tuple[int, int, int], tuple[Stencil, tuple]] = {}


def _terms_at(stencil: Stencil, eps: sp.Rational) -> tuple:
    """:func:`_shifted_terms`, cached by the stencil's identity and the step."""
    key = (id(stencil), eps.p, eps.q)
    hit = _TERMS.get(key)
    if hit is not None and hit[0] is stencil:
        return hit[1]
    terms = _shifted_terms(stencil, eps)
    if len(_TERMS) >= 4096:
        _TERMS.clear()
    _TERMS[key] = (stencil, terms)
    return terms


@lru_cache(maxsize=4096)
def _step_power(p: int, q: int, d: int, wp: int) -> mpmath.mpf:
    """``(p/q)^d`` as a difference quotient divides by it at ``wp`` digits."""
    with mpmath.workdps(wp):
        return (mpmath.mpf(p) / q) ** d


@lru_cache(maxsize=4096)
def _weight(p: int, q: int, wp: int) -> mpmath.mpf:
    """The stencil weight ``p/q`` rounded to ``wp`` digits (the same number at every call)."""
    with mpmath.workdps(wp):
        return mpmath.mpf(p) if q == 1 else mpmath.mpf(p) / q


def _position_digits(samples: Samples, eps: sp.Rational) -> int:
    """Digits for ``x + oε`` to differ from ``x``: about ``log10(|x|/ε)``, plus guard digits."""
    digits = 0
    step = mpmath.mpf(eps.p) / eps.q
    for v in samples.directions:
        x = samples.point[v]
        if x != 0:
            digits = max(digits, cancelled_digits(abs(to_mpf(x, 20)), step))
    return digits + GUARD_DIGITS


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
        values = np.asarray(compiled.np(*args), dtype=np.float64)
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


@under_limits("evaluating a complex-step quotient")
def complex_step_quotient(samples: Samples, eps: sp.Rational, dps: int,
                          limits: Limits = DEFAULT_LIMITS) -> mpmath.mpf:
    """``Im f(x + iε)/ε`` with mpmath complex numbers, correct to ``dps`` digits.

    No subtraction cancels in the imaginary part, but intermediate complex
    operations may, so the value is computed at two working precisions and
    the precision raised until they agree to ``dps + 2`` digits.
    """
    eps = sp.Rational(eps)
    compiled, point = samples.compiled, samples.point
    if len(samples.directions) != 1:
        raise DomainError("the complex step takes derivatives along one variable only")
    var, index = samples.directions[0], samples.indices[0]
    where = f"at {var.name} = {point[var]} + {eps}·i"
    wp = dps + GUARD_DIGITS
    previous = None
    while True:
        with mpmath.workdps(wp):
            args = [to_mpf(point[v], wp) for v in compiled.variables]
            step = mpmath.mpf(eps.p) / eps.q
            args[index] = mpmath.mpc(args[index], step)
            try:
                value = compiled.mp(*args)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError) as exc:
                raise DomainError(f"the formula cannot be evaluated {where} ({exc})") from None
            quotient = mpmath.im(value) / step
            if not mpmath.isfinite(quotient):
                raise DomainError(f"the formula is undefined {where}")
            if previous is not None and (quotient == previous or abs(quotient - previous)
                                         <= abs(quotient) * mpmath.mpf(10) ** (-dps - 2)):
                return quotient
        wp = wp + GUARD_DIGITS if previous is None else 2 * wp
        previous = quotient
        if wp > limits.max_dps + 4 * GUARD_DIGITS:
            raise LimitExceeded(f"the complex step {where} cannot be resolved to {dps} digits "
                                f"within the precision limit of {limits.max_dps} digits")


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
            values = np.asarray(compiled.np(*args))
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
