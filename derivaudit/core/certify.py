"""Certified values: the precision rises until a ball proves the digits asked for.

:func:`certified_value` evaluates a compiled formula (:mod:`derivaudit.core.balls`)
at an exact point, at rising precision, until the ball certifies the digits asked
for (:func:`certifying_bits`: a radius of at most a quarter of a unit of the last
requested significant digit), or until it proves the value is
below a stated absolute resolution.  :func:`excludes_zero` proves a value is
not zero.  No guard digits, no comparison of two precisions: the radius is the
proof.  :func:`rounded_value` gives the correctly rounded decimal of a value
(:mod:`derivaudit.core.rounding`), the number a report prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Callable
from dataclasses import dataclass

import mpmath
import sympy as sp
from flint import arb

from derivaudit.budgets import checkpoint
from derivaudit.core.ball_steps import GROWS, radius_mpf, to_mpf
from derivaudit.core.balls import BallFormula, ball_precision, compile_balls, digits_to_bits, exact_ball
from derivaudit.core.guards import under_limits
from derivaudit.core.rounding import decimal_mpf, rounded_decimal
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["Ball", "certified_value", "rounded_value", "excludes_zero", "ball_digits", "as_ball", "is_resolved",
           "explain_failure", "CERTIFY_MARGIN_BITS", "certifying_bits"]

_LOG2_10 = math.log2(10)

#: The one rule of "certified to ``digits`` digits" (certified values, study cells, float64
#: errors): a ball's relative accuracy reaches ``digits·log2(10) + CERTIFY_MARGIN_BITS`` bits,
#: i.e. ``rad ≤ |x|·10^-digits / 4``.  Rounding the midpoint to ``digits`` significant digits
#: moves it by at most half a unit of the last digit (a unit is at least ``|x|·10^-digits``),
#: so the printed number is within 3/4 of a unit of the true value.
CERTIFY_MARGIN_BITS = 2


def certifying_bits(digits: float) -> float:
    """Relative accuracy, in bits, that certifies ``digits`` significant digits.

    >>> round(certifying_bits(30), 3)  # 30·log2(10) + 2
    101.658
    """
    return digits * _LOG2_10 + CERTIFY_MARGIN_BITS


@dataclass(frozen=True)
class Ball:
    """A certified enclosure ``[mid − rad, mid + rad]`` of one real number.

    ``digits`` is how many significant decimal digits the ball certifies
    (:func:`certifying_bits`: ``rad ≤ |x|·10^-digits / 4``, so ``mid`` printed to
    ``digits`` digits is within one unit of the last digit); ``math.inf`` for an exact zero or an
    exact value.  ``below_resolution`` is True when certification stopped
    because ``|x| < resolution`` was proved instead.
    """

    mid: mpmath.mpf
    rad: mpmath.mpf
    digits: float
    contains_zero: bool
    below_resolution: bool = False
    bits: int = 0

    @property
    def excludes_zero(self) -> bool:
        """True when the ball proves the value is not 0."""
        return not self.contains_zero

    @property
    def is_exact_zero(self) -> bool:
        return not self.mid and not self.rad


def ball_digits(ball) -> float:
    """Significant decimal digits ``ball`` certifies (the most ``d`` with
    ``certifying_bits(d)`` reached); inf when exact."""
    if ball.is_exact():
        return math.inf
    bits = ball.rel_accuracy_bits()
    if bits <= CERTIFY_MARGIN_BITS:
        return 0
    return max(0, math.floor((bits - CERTIFY_MARGIN_BITS) / _LOG2_10))


def as_ball(value, bits: int = 0) -> Ball:
    """An ``arb`` as a :class:`Ball` (midpoint and radius exact)."""
    return Ball(to_mpf(value), radius_mpf(value), ball_digits(value), bool(value.contains(0)),
                bits=bits)


def is_resolved(value, digits: int, resolution) -> tuple[bool, bool]:
    """(certified, below resolution) for an ``arb``."""
    if not value.is_finite():
        return False, False
    if value.is_exact():
        return True, False
    if value.rel_accuracy_bits() >= certifying_bits(digits):
        return True, False
    if resolution is not None and value.contains(0) and abs(value) < resolution:
        return True, True
    return False, False


@under_limits("certifying a value")
def certified_value(formula, point, digits: int, *, limits: Limits = DEFAULT_LIMITS,
                    resolution=None, what: str = "", start_bits: int | None = None,
                    is_zero: Callable[[], bool] | None = None) -> Ball:
    """The value of ``formula`` at the exact ``point``, certified to ``digits`` digits.

    The precision starts at ``digits`` decimal digits plus 32 bits and rises
    (doubling, or by the accuracy still missing) until the ball certifies
    ``digits`` digits (:func:`certifying_bits`), or, when
    ``resolution`` (an absolute bound) is given, until ``|value| < resolution``
    is proved.  Past ``limits.max_dps`` digits it raises LimitExceeded naming
    ``what`` (default "the value at <point>").

    ``formula`` is a :class:`BallFormula` or a sympy expression (compiled over
    the point's variables); ``point`` maps each variable to an exact number.
    A value that is exactly 0 through irrational steps (``sin(pi*x)`` at 2)
    never excludes 0 at any precision: ``is_zero`` (e.g. a sympy proof) is
    asked once, when a ball still contains 0 after the precision was raised,
    and an exact zero ball is returned when it says True.

    >>> x = sp.Symbol("x", real=True)
    >>> b = certified_value((1 - sp.cos(x)) / x**2, {x: sp.Rational(1, 10**8)}, 30)
    >>> mpmath.nstr(b.mid, 30), b.digits >= 30, b.excludes_zero
    ('0.499999999999999995833333333333', True, True)
    """
    if not isinstance(formula, BallFormula):
        formula = compile_balls(formula, tuple(point) if isinstance(point, Mapping) else ())
    where = _describe(formula, point)
    what = what or f"the value {where}"
    resolution_ball = None if resolution is None else exact_ball(resolution)
    bits = start_bits or digits_to_bits(digits) + 32
    cap = digits_to_bits(limits.max_dps) + 64
    first_bits = bits
    while True:
        checkpoint()
        with ball_precision(bits):
            args = formula.arguments(point)
            value = formula(*args)
            done, below = is_resolved(value, digits, resolution_ball)
            if done:
                _check_magnitude(value, limits, what)
                return Ball(to_mpf(value), radius_mpf(value), ball_digits(value),
                            bool(value.contains(0)), below, bits)
            if not value.is_finite():
                explain_failure(formula, args, where, limits)
            needed = _bits_missing(value, digits)
            if is_zero is not None and bits > first_bits and value.contains(0):
                if is_zero():
                    return Ball(mpmath.mpf(0), mpmath.mpf(0), math.inf, True, False, bits)
                is_zero = None
        if bits >= cap:
            raise LimitExceeded(f"{what} cannot be certified to {digits} digits within the "
                                f"precision limit of {limits.max_dps} digits (Limits.max_dps)")
        bits = min(cap, max(2 * bits, bits + needed))


#: extra digits a value is certified to before its rounding is decided, then after each
#: undecided try: a ball straddles a rounding tie only within 10^-(digits + extra) of it
_ROUNDING_EXTRA = (5, 20, 60)


def rounded_value(formula, point, digits: int, *, limits: Limits = DEFAULT_LIMITS,
                  resolution=None) -> mpmath.mpf:
    """The value of ``formula`` at the exact ``point``, correctly rounded to ``digits`` digits.

    The value is certified (:func:`certified_value`) to a few more digits than
    asked, then its ball decides the rounding to ``digits`` significant digits
    (:func:`~derivaudit.core.rounding.rounded_decimal`, half to even): every
    point of the ball rounds to the same decimal ``N·10^E``.  A ball that
    straddles a tie is certified to more digits (:data:`_ROUNDING_EXTRA`); a
    value still that close to a tie (an exact tie reached through irrational
    steps, which no precision decides) keeps its midpoint's rounding, within
    a unit.  The result is the ``mpf`` nearest ``N·10^E`` at the precision of
    ``digits`` digits, so it prints back as exactly those digits.  A value
    proved below ``resolution`` in magnitude is 0 (it is not known to differ
    from 0).

    >>> x = sp.Symbol("x", real=True)
    >>> mpmath.nstr(rounded_value(-sp.log(x), {x: 2}, 50), 50)  # -log 2 = -0.69314…36025|52…
    '-0.69314718055994530941723212145817656807550013436026'
    """
    if not isinstance(formula, BallFormula):
        formula = compile_balls(formula, tuple(point) if isinstance(point, Mapping) else ())
    for extra in _ROUNDING_EXTRA:
        more = min(extra, limits.max_dps - digits)
        ball = certified_value(formula, point, digits + max(more, 0), limits=limits, resolution=resolution)
        if ball.below_resolution:
            return mpmath.mpf(0)
        decided = rounded_decimal(arb(exact_ball(ball.mid), exact_ball(ball.rad)), digits)
        if decided is not None:
            return decimal_mpf(decided[0], decided[1], digits)
        if more < extra:
            break
    with mpmath.workdps(digits):
        return +ball.mid


def _bits_missing(value, digits: int) -> int:
    if not value.is_finite() or value.contains(0):
        return 0
    return int(certifying_bits(digits) - value.rel_accuracy_bits()) + 16


def _check_magnitude(value, limits: Limits, what: str) -> None:
    """LimitExceeded when ``value`` passes ``10^±max_value_digits`` (as the mpmath guards:
    a value passes while ``2^(bits-1) ≤ 10^max_value_digits``, ``2^bits`` its binary size)."""
    if value.is_zero():
        return
    mid = value.mid()
    bits = int(mid.man_exp()[1]) + int(mid.bits())
    bound = limits.max_value_digits * _LOG2_10
    if bits - 1 > bound or -bits > bound:
        raise LimitExceeded(f"{what} is about 10^{int(bits / _LOG2_10)} in magnitude, beyond "
                            f"10^±{limits.max_value_digits} (limit Limits.max_value_digits)")


def explain_failure(formula: BallFormula, args, where: str, limits: Limits) -> None:
    """Raise DomainError when a node fails on exact inputs (no precision can help),
    LimitExceeded when an exponential overflowed; return to let the precision rise."""
    failing = formula.failing_node(args)
    if failing is None:
        return
    node, inputs, value = failing
    grows = type(node) in GROWS or isinstance(node, (sp.Pow, sp.Mul))
    if grows and all(b.is_finite() for b in inputs) and not value.is_nan():  # an overflow
        raise LimitExceeded(f"{node} {where} is beyond the range of numbers, 10^±{limits.max_value_digits} "
                            "(limit Limits.max_value_digits)")
    # Exact inputs, or inputs known to many bits and away from 0 (where functions
    # change branch): no precision can make the value finite.
    if all(b.is_exact() or (b.is_finite() and not b.contains(0) and b.rel_accuracy_bits() > 48)
           for b in inputs):
        raise DomainError(f"the formula is undefined {where} ({node} is not a finite real number there)")


def _describe(formula: BallFormula, point) -> str:
    if isinstance(point, Mapping):
        items = [(k.name if isinstance(k, sp.Symbol) else str(k), v) for k, v in point.items()]
    else:
        items = [(v.name, p) for v, p in zip(formula.variables, point)]
    return ("at " + ", ".join(f"{n}={v}" for n, v in items)) if items else "(a constant)"


def excludes_zero(formula, point, *, limits: Limits = DEFAULT_LIMITS, max_digits: int = 100) -> bool:
    """True when balls prove ``formula ≠ 0`` at the exact ``point``.

    The precision doubles from 64 bits up to ``max_digits`` digits (capped by
    ``limits.max_dps``); False means no precision up to there excluded 0 (the
    value may be 0).  A point where the formula is undefined raises DomainError.

    >>> x = sp.Symbol("x", real=True)
    >>> excludes_zero(sp.exp(x - 2000), {x: 0}), excludes_zero(sp.sin(sp.pi * x), {x: 2})
    (True, False)
    """
    if not isinstance(formula, BallFormula):
        formula = compile_balls(formula, tuple(point) if isinstance(point, Mapping) else ())
    cap = digits_to_bits(min(max_digits, limits.max_dps)) + 32
    bits = 64
    where = _describe(formula, point)
    while True:
        checkpoint()
        with ball_precision(bits):
            args = formula.arguments(point)
            value = formula(*args)
            if value.is_finite() and not value.contains(0):
                return True
            if value.is_zero():
                return False
            if not value.is_finite():
                explain_failure(formula, args, where, limits)
        if bits >= cap:
            return False
        bits = min(cap, 2 * bits)
