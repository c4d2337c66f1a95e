"""Certified ball steps of the special functions: python-flint's arb where it has them, compositions else.

Each builder takes a sympy node and the registers of its operands and returns
``step(registers) -> ball``, like :mod:`derivaudit.core.ball_steps`; each ball
encloses the exact value for every point of its argument balls, or is NaN
(undefined, or undecided at this precision: the caller raises precision or
reports the domain).

- ``erfinv`` (arb's ``erfinv``; NaN off ``(-1, 1)``) and ``sinc`` (arb's
  ``sinc``) are one method each; ``erfinv`` has no complex ball (acb lacks it);
- ``lgamma`` = ``log|Γ(x)|``: arb's ``lgamma`` for ``x > 0``, ``log|Γ(x)|`` from
  arb's ``gamma`` for ``x < 0`` (NaN on a ball holding a pole);
- ``polygamma(n, x)``: arb's ``digamma`` for ``n = 0``, the real part of
  acb's ``polygamma`` else (the value is real, so the real part's ball holds it);
- ``zeta(s)`` and the Hurwitz ``zeta(s, a)``: arb's ``zeta``;
- ``atan2(y, x)``: arb's ``atan2`` (a ball crossing the cut ``x < 0, y = 0``
  is as wide as the jump);
- ``xlogy(x, y)``: exactly 0 where the ``x`` ball is exactly 0, ``x·log(y)`` else;
- ``cbrt``: arb's ``root(3)`` of ``|x|`` with the sign of ``x``; a ball straddling
  0 gives ``[-r, r]`` with ``r`` the root of its largest magnitude.

The complex step (``acb`` arguments) is refused for all of them
(:func:`complex_refused`): one clear line rather than a branch of acb that
might not be the real function's continuation.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp
from flint import acb, arb

from derivaudit.errors import DomainError
from derivaudit.lang import special

__all__ = ["SPECIAL_STEPS", "complex_refused", "log_abs_gamma", "polygamma_ball", "real_cbrt", "xlogy_ball"]


def log_abs_gamma(z):
    """``log|Γ(z)|`` of a real ball (NaN on a ball holding a pole)."""
    if z > 0:
        return z.lgamma()
    if z < 0:
        return abs(z.gamma()).log()
    return arb.nan()


def polygamma_ball(n: int, z):
    """``polygamma(n, z)`` of a real ball ``z``, ``n`` a whole number ≥ 0."""
    return _polygamma(n)(z)


def _polygamma(n: int):
    if n == 0:
        return arb.digamma
    return lambda z: acb(z).polygamma(n).real


def real_cbrt(z):
    """The real cube root of a real ball."""
    if z >= 0:
        return z.root(3)
    if z <= 0:
        return -((-z).root(3))
    if not z.is_finite():
        return arb.nan()
    return arb(0, abs(z).upper().root(3).upper())


def xlogy_ball(x, y):
    """``x·log(y)`` of real balls, exactly 0 where ``x`` is exactly 0."""
    if x.is_zero():
        return arb(0)
    return x * y.log()


def _unary(function: Callable) -> Callable:
    def build(node, regs):
        (i,) = regs
        return lambda r: function(r[i])
    return build


def _polygamma_step(node, regs):
    order = node.args[0]
    if not order.is_Integer or order < 0:
        raise DomainError(f"polygamma's order must be a whole number 0, 1, 2, …, not {order}")
    function = _polygamma(int(order))
    _, i = regs
    return lambda r: function(r[i])


def _zeta_step(node, regs):
    if len(regs) == 1:
        (i,) = regs
        return lambda r: r[i].zeta()
    i, j = regs
    return lambda r: r[i].zeta(r[j])


def _binary(function: Callable) -> Callable:
    def build(node, regs):
        i, j = regs
        return lambda r: function(r[i], r[j])
    return build


#: sympy head → builder of its real ball step
SPECIAL_STEPS: dict[type, Callable] = {
    sp.erfinv: _unary(arb.erfinv),
    sp.sinc: _unary(arb.sinc),
    special.lgamma: _unary(log_abs_gamma),
    special.cbrt: _unary(real_cbrt),
    sp.polygamma: _polygamma_step,
    sp.zeta: _zeta_step,
    sp.atan2: _binary(arb.atan2),
    special.xlogy: _binary(xlogy_ball),
}


def complex_refused(node) -> DomainError:
    """The error of a special function asked for a complex ball (the complex step)."""
    return DomainError(f"the complex step has no certified complex evaluation of {type(node).__name__} "
                       "(in the formula); use centered or richardson-centered instead")
