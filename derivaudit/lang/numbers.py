"""Exact numbers from user values: Python numbers, sympy numbers or text through the safe parser.

Every number a user gives (a point, a step, a stencil weight) is taken
exactly: text such as ``"1/12"`` or ``"1e-3"`` goes through
:func:`~derivaudit.lang.parse.parse_constant` (never ``eval``), and a Python
float is read by its shortest repr, so ``0.1`` is 1/10 and not the binary
double nearest it.

>>> exact_number(0.1, "step"), exact_number("pi/4", "point")
(1/10, pi/4)
>>> exact_rational("-2/3", "weight 2")
-2/3
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import mpmath
import sympy as sp

from derivaudit.errors import ParseError
from derivaudit.lang.parse import parse_constant

__all__ = ["exact_number", "exact_rational"]


@lru_cache(maxsize=4096)
def _constant(text: str, what: str) -> sp.Expr:
    """:func:`parse_constant`, memoised: studies repeat their points' text, and parsing
    (a safe AST walk under a time budget) costs more than a short sweep's arithmetic."""
    return parse_constant(text, what=what)


def exact_number(value, what: str) -> sp.Expr:
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
        return _constant(repr(value), what)
    if isinstance(value, mpmath.mpf):
        return sp.Float(value, mpmath.mp.dps)
    if isinstance(value, str):
        return _constant(value, what)
    raise ParseError(f"{what} must be a number or text, not {type(value).__name__}")


def exact_rational(value, what: str) -> sp.Rational:
    """:func:`exact_number`, which must be rational (``"sqrt(2)"`` and ``pi`` are refused).

    ``what`` names the value in errors, e.g. ``"weight 3"``.
    """
    number = exact_number(value, what)
    if not number.is_Rational:
        raise ParseError(f"{what} {str(value)[:40]!r} must be a rational number such as 1/12 or 0.5")
    return sp.Rational(number)
