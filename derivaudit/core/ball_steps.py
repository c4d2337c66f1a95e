"""The steps of compiled ball formulas: arithmetic, functions, kinks and mpmath fallbacks.

Each builder takes a sympy node and the registers of its operands and returns
a closure ``step(registers) -> ball`` (see :mod:`derivaudit.core.balls`).
Every step is sound: its ball encloses the exact value for every point of
its argument balls.  Kinks (``abs``, ``max``/``min``, ``sign``, ``Heaviside``, lang's ``step``,
``floor``/``ceiling``, ``Piecewise``) cover every branch an argument ball
touches; ``DiracDelta`` is 0 off its kink, undefined on it.  Functions arb
lacks (:data:`MPMATH_FALLBACKS`) are evaluated by mpmath at the midpoint and
widened by the mean value theorem (see :func:`mean_value_ball`).
"""

from __future__ import annotations

import math
from typing import Callable

import mpmath
from mpmath.libmp import from_man_exp
import sympy as sp
from flint import acb, arb, ctx, fmpq

from derivaudit.core.ball_special import SPECIAL_STEPS
from derivaudit.core.guards import active_limits
from derivaudit.errors import DerivauditError, DomainError, LimitExceeded
from derivaudit.core.piecewise import Branch
from derivaudit.lang.functions import Step

__all__ = ["to_mpf", "radius_mpf", "arb_from_raw", "special_exponent", "sum_step", "product_step",
           "power_step", "KINKS", "METHODS", "GROWS", "MPMATH_FALLBACKS", "SUPPORTED_FUNCTIONS",
           "fallback_step", "mean_value_ball", "relational_operands", "UnsupportedFunction",
           "magnitude_guarded", "magnitude_bounds", "magnitude_exceeded", "guard_name"]


_MAKE_MPF = mpmath.mp.make_mpf


class UnsupportedFunction(DerivauditError, ValueError):
    """A formula calls a function the ball engine can neither compute nor bound."""


def relational_operands(condition) -> list:
    """The balls a Piecewise condition needs: ``lhs - rhs`` of each comparison in it."""
    if condition in (sp.true, sp.false):
        return []
    if isinstance(condition, sp.core.relational.Relational):
        return [condition.lhs - condition.rhs]
    if isinstance(condition, (sp.And, sp.Or, sp.Not)):
        out = []
        for c in condition.args:
            out.extend(relational_operands(c))
        return out
    raise UnsupportedFunction(f"the ball engine cannot decide the condition {condition}")


def to_mpf(ball) -> mpmath.mpf:
    """The midpoint of an ``arb`` as an exact mpmath number (no rounding)."""
    man, exp = ball.mid().man_exp()
    return _MAKE_MPF(from_man_exp(int(man), int(exp)))  # not mpf((man, exp)): that rounds


def radius_mpf(ball) -> mpmath.mpf:
    man, exp = ball.rad().man_exp()
    return _MAKE_MPF(from_man_exp(int(man), int(exp)))


def arb_from_raw(raw: tuple):
    sign, man, exp, _ = raw
    if not man:
        if exp:
            raise DomainError("an infinite or NaN value cannot be a point")
        return arb(0)
    return arb((-int(man) if sign else int(man), int(exp)))


def special_exponent(exponent):
    if exponent.is_Integer or exponent in (sp.S.Half, -sp.S.Half):
        return exponent
    return None


def sum_step(regs):
    if len(regs) == 2:
        i, j = regs
        return lambda r: r[i] + r[j]
    first, rest = regs[0], regs[1:]

    def add(r):
        total = r[first]
        for k in rest:
            total = total + r[k]
        return total
    return add


def product_step(regs):
    if len(regs) == 2:
        i, j = regs
        return lambda r: r[i] * r[j]
    first, rest = regs[0], regs[1:]

    def multiply(r):
        total = r[first]
        for k in rest:
            total = total * r[k]
        return total
    return multiply


def power_step(node, regs):
    exponent = special_exponent(node.exp)
    if exponent is None:
        i, j = regs
        return lambda r: _general_power(r[i], r[j])
    (i,) = regs
    if exponent == sp.S.Half:
        return lambda r: r[i].sqrt()
    if exponent == -sp.S.Half:
        return lambda r: r[i].rsqrt()
    n = int(exponent)
    if n == -1:
        return lambda r: 1 / r[i]
    if n < 0:
        return lambda r: 1 / int_power(r[i], -n)
    return lambda r: int_power(r[i], n)


def int_power(base, n: int):
    """``base ** n`` for a whole ``n ≥ 0`` by repeated squaring.

    python-flint's ``arb ** int`` is NaN for a ball that contains 0 without
    being 0 (``[0 ± 1e-90] ** 2``): it goes through ``exp(n·log(base))``.
    Products are defined everywhere, so ``1 − tanh(z)**2`` at a ``z`` whose
    ball touches 0 stays a finite ball.

    >>> from flint import arb
    >>> int_power(arb("0 +/- 1e-5"), 2).is_finite(), int_power(arb(3), 5)
    (True, 243.000000000000)
    """
    if base == 0 or not base.contains(0):
        return base ** n  # python-flint's own power where it is defined: the same balls as before
    result = None
    square = base
    while n:
        if n & 1:
            result = square if result is None else result * square
        n >>= 1
        if n:
            square = square * square
    return base ** 0 if result is None else result


def _general_power(base, exponent):
    return base ** exponent


# -- kinks ------------------------------------------------------------------------

def _kink_abs(node, regs):
    (i,) = regs
    return lambda r: abs(r[i])


def _kink_extremum(pick):
    def build(node, regs):
        first, rest = regs[0], regs[1:]

        def extremum(r):
            out = r[first]
            for k in rest:
                out = pick(out, r[k])
            return out
        return extremum
    return build


def _kink_sign(node, regs):
    (i,) = regs
    return lambda r: r[i].sgn()


def _heaviside(value, at_zero):
    if value > 0:
        return arb(1)
    if value < 0:
        return arb(0)
    if value.is_zero():  # exactly zero: the defined value H(0)
        return at_zero()
    return arb(0.5, 0.5)  # straddles 0: covers both branches [0, 1]


def _kink_heaviside(node, regs):
    (i,) = regs
    h0 = node.args[1] if len(node.args) > 1 else sp.Heaviside(0)
    if h0.is_Rational:
        p, q = int(h0.p), int(h0.q)
        at_zero = lambda: arb(fmpq(p, q))  # noqa: E731
    else:
        at_zero = lambda: arb.nan()  # noqa: E731
    return lambda r: _heaviside(r[i], at_zero)


def _kink_step(node, regs):
    # lang's step(z), the value of a comparison z > 0: 0 at its switching point
    (i,) = regs
    return lambda r: _heaviside(r[i], lambda: arb(0))


def _dirac(value, where):
    if value > 0 or value < 0:
        return arb(0)
    if value.is_zero():
        raise DomainError(f"{where} is undefined (a Dirac delta at its kink)")
    return arb.nan()  # straddles 0: unresolved at this precision


def _kink_dirac(node, regs):
    (i,) = regs
    where = str(node)
    return lambda r: _dirac(r[i], where)


def _kink_rounding(method):
    def build(node, regs):
        (i,) = regs
        return lambda r: method(r[i])
    return build


def _kink_piecewise(node, regs):
    """Branches are tried in order; a condition the ball cannot decide unites the branches."""
    plan = []
    k = 0
    for value, condition in node.args:
        value_reg = regs[k]
        k += 1
        n = len(relational_operands(condition))
        plan.append((value_reg, condition, regs[k:k + n]))
        k += n

    def piecewise(r):
        undecided = None
        for value_reg, condition, cond_regs in plan:
            truth = _decide(condition, iter([r[c] for c in cond_regs]))
            if truth is False:
                continue
            value = r[value_reg]
            undecided = value if undecided is None else undecided.union(value)
            if truth is True:
                return undecided
        return undecided if undecided is not None else arb.nan()
    return piecewise


def _branch_value(d, values, where):
    """A Branch's ball: the side ``d`` (the switch's ball) decides; at an exact 0 the pieces of
    every pair must agree (else the point is not differentiable: DomainError); a ball
    straddling 0 unites the two last pieces (more precision will decide)."""
    p, n = values[-2], values[-1]
    if d > 0:
        return p
    if d < 0:
        return n
    if d.is_zero():
        for k in range(0, len(values), 2):
            a, b = values[k], values[k + 1]
            if not (a.is_finite() and b.is_finite()) or not (a - b).contains(0):
                raise DomainError(f"{where} is undefined: the one-sided values at its switch differ "
                                  "or do not exist (not differentiable at the point)")
    if not (p.is_finite() and n.is_finite()):
        return arb.nan()
    return p.union(n)


def _kink_branch(node, regs):
    """lang's piecewise-exact derivative (:class:`~derivaudit.core.piecewise.Branch`)."""
    switch, pieces = regs[0], regs[1:]
    where = f"where({node.args[0]} > 0, ...)"
    return lambda r: _branch_value(r[switch], [r[k] for k in pieces], where)


def _decide(condition, values):
    """True / False / None (the ball cannot tell) for a condition on ``lhs - rhs`` balls."""
    if condition is sp.true:
        return True
    if condition is sp.false:
        return False
    if isinstance(condition, sp.core.relational.Relational):
        d = next(values)
        if isinstance(condition, sp.StrictLessThan):
            return True if d < 0 else False if d >= 0 else None
        if isinstance(condition, sp.LessThan):
            return True if d <= 0 else False if d > 0 else None
        if isinstance(condition, sp.StrictGreaterThan):
            return True if d > 0 else False if d <= 0 else None
        if isinstance(condition, sp.GreaterThan):
            return True if d >= 0 else False if d < 0 else None
        if isinstance(condition, sp.Eq):
            return True if d == 0 else False if not d.contains(0) else None
        if isinstance(condition, sp.Ne):
            return False if d == 0 else True if not d.contains(0) else None
    parts = [_decide(c, values) for c in condition.args]
    if isinstance(condition, sp.Not):
        return None if parts[0] is None else not parts[0]
    if isinstance(condition, sp.And):
        return False if False in parts else None if None in parts else True
    return True if True in parts else None if None in parts else False


KINKS = {
    sp.Abs: _kink_abs,
    sp.Max: _kink_extremum(arb.max),
    sp.Min: _kink_extremum(arb.min),
    sp.sign: _kink_sign,
    sp.Heaviside: _kink_heaviside,
    Step: _kink_step,
    sp.DiracDelta: _kink_dirac,
    sp.floor: _kink_rounding(arb.floor),
    sp.ceiling: _kink_rounding(arb.ceil),
    sp.Piecewise: _kink_piecewise,
    Branch: _kink_branch,
}


# -- functions arb has ------------------------------------------------------------

#: sympy head → the methods of ``arb`` (real) and ``acb`` (complex) computing it
METHODS: dict[type, tuple[Callable, Callable]] = {
    head: (arb_method, acb_method) for head, arb_method, acb_method in [
        (sp.exp, arb.exp, acb.exp), (sp.log, arb.log, acb.log), (sp.sin, arb.sin, acb.sin),
        (sp.cos, arb.cos, acb.cos), (sp.tan, arb.tan, acb.tan), (sp.cot, arb.cot, acb.cot),
        (sp.sec, arb.sec, acb.sec), (sp.csc, arb.csc, acb.csc), (sp.sinh, arb.sinh, acb.sinh),
        (sp.cosh, arb.cosh, acb.cosh), (sp.tanh, arb.tanh, acb.tanh), (sp.coth, arb.coth, acb.coth),
        (sp.sech, arb.sech, acb.sech), (sp.csch, arb.csch, acb.csch), (sp.asin, arb.asin, acb.asin),
        (sp.acos, arb.acos, acb.acos), (sp.atan, arb.atan, acb.atan), (sp.asinh, arb.asinh, acb.asinh),
        (sp.acosh, arb.acosh, acb.acosh), (sp.atanh, arb.atanh, acb.atanh), (sp.erf, arb.erf, acb.erf),
        (sp.erfc, arb.erfc, acb.erfc), (sp.gamma, arb.gamma, acb.gamma),
        (sp.loggamma, arb.lgamma, acb.lgamma), (sp.LambertW, arb.lambertw, acb.lambertw),
    ]
}

#: heads whose value grows exponentially (arb turns an overflow into an infinite ball)
GROWS = {sp.exp, sp.sinh, sp.cosh}


# -- mpmath fallbacks ---------------------------------------------------------------

#: functions arb lacks, evaluated by mpmath at the midpoint with a mean-value radius
MPMATH_FALLBACKS: dict[type, Callable] = {
    sp.acot: mpmath.acot, sp.asec: mpmath.asec, sp.acsc: mpmath.acsc,
    sp.acoth: mpmath.acoth, sp.asech: mpmath.asech, sp.acsch: mpmath.acsch,
}

#: every sympy head the engine evaluates, by name (for messages and docs)
SUPPORTED_FUNCTIONS = frozenset(
    h.__name__ for h in (*METHODS, *KINKS, *MPMATH_FALLBACKS, *SPECIAL_STEPS)) | {"Add", "Mul", "Pow"}


def fallback_step(node, regs, compile_balls):
    (i,) = regs
    function = MPMATH_FALLBACKS[type(node)]
    u = sp.Dummy("u", real=True)
    slope = compile_balls(sp.diff(type(node)(u), u), (u,))
    return lambda r: mean_value_ball(function, slope, r[i])


def mean_value_ball(function, slope, value):
    """``function`` over the ball ``value``: mpmath at the midpoint, widened by
    ``sup|f'| · rad`` (mean value theorem) and by mpmath's rounding."""
    if not value.is_finite():
        return arb.nan()
    prec = ctx.prec
    with mpmath.workprec(prec + 16):
        try:
            mid = function(to_mpf(value))
        except (ValueError, ZeroDivisionError):
            return arb.nan()
        if not isinstance(mid, mpmath.mpf) or not mpmath.isfinite(mid):
            return arb.nan()
    center = arb_from_raw(mid._mpf_)
    rounding = abs(center) * arb(2) ** (12 - prec)
    if value.is_exact():
        spread = arb(0)
    else:
        bound = slope(value)
        if not bound.is_finite():
            return arb.nan()
        spread = bound.abs_upper() * value.rad()
    radius = (rounding + spread).abs_upper()
    return center + arb(0, radius)




#: max_value_digits → (2^(⌊L⌋+1), 2^-(⌊L⌋+1)) with L = max_value_digits·log2(10): the bounds
#: mpmath's guards used (a value passes while 2^(bits-1) ≤ 10^max_value_digits)
_BOUNDS: dict[int, tuple] = {}


def magnitude_bounds(limit: int) -> tuple:
    """``(big, tiny)`` as balls: a value is refused when ``|v| ≥ big``, or ``|v| < tiny``
    and ``v ≠ 0`` is proved (see :func:`magnitude_guarded`)."""
    hit = _BOUNDS.get(limit)
    if hit is None:
        k = int(math.floor(limit * math.log2(10))) + 1
        hit = _BOUNDS[limit] = (arb(2) ** k, arb(2) ** -k)
    return hit


def guard_name(node) -> str:
    """How a magnitude guard names its node: the node, or its head when that is long."""
    name = str(node)
    return type(node).__name__ if len(name) > 40 else name


def magnitude_exceeded(name: str, limit: int):
    """Raise the LimitExceeded of a value outside ``10^±limit`` at the node ``name``."""
    raise LimitExceeded(f"{name} is outside 10^-{limit} … 10^{limit} "
                        "(limit Limits.max_value_digits)")


def magnitude_guarded(step: Callable, node) -> Callable:
    """``step``, refusing a value proved beyond ``10^±max_value_digits`` of the active
    limits (:func:`~derivaudit.core.guards.active_limits`).

    Ball arithmetic stores exponents as big integers, so a huge value costs nothing
    to hold, but a function of it (``sin(10**1000001)``) needs as many bits as its
    exponent has: the magnitude is checked where values grow (products, powers,
    exponentials), as the mpmath guards did.
    """
    name = guard_name(node)

    def guarded(r):
        value = step(r)
        limit = active_limits().max_value_digits
        big, tiny = magnitude_bounds(limit)
        size = abs(value)
        if size >= big or (size < tiny and not value.contains(0)):
            magnitude_exceeded(name, limit)
        return value
    return guarded
