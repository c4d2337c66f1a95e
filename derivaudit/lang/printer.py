"""Printing sympy expressions back as formula text that parses to the same tree."""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from derivaudit.errors import ParseError

__all__ = ["format_formula"]

#: digits per piece when a long integer is printed; below the default literal limit
_PIECE_DIGITS = 100


def _integer_text(n: int) -> str:
    """``n`` as formula text that parses back under the default literal limit.

    A computed constant may have up to ``max_constant_digits`` digits, more
    than a literal may; such a number is printed as a sum of exact literals of
    at most 100 digits each, ``(d₁e200 + d₂e100 + d₃)``.
    """
    digits = str(abs(n))
    if len(digits) <= _PIECE_DIGITS:
        return str(n)
    pieces = []
    for end in range(len(digits), 0, -_PIECE_DIGITS):
        piece = digits[max(0, end - _PIECE_DIGITS):end].lstrip("0")
        power = len(digits) - end
        if piece:
            pieces.append(piece if power == 0 else f"{piece}e{power}")
    text = "(" + " + ".join(reversed(pieces)) + ")"
    return "-" + text if n < 0 else text


class _FormulaPrinter(StrPrinter):
    """Prints sympy expressions back in the formula language."""

    def _as_ordered_terms(self, expr, order=None):
        # sympy orders a sum's terms by their numeric values where it can, and evaluating a
        # constant such as 1/log(erf(1000)) at 15 digits divides by zero: keep the tree's order then
        try:
            return super()._as_ordered_terms(expr, order=order)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return list(expr.args)

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return self._nary("max", expr.args)

    def _print_Min(self, expr):
        return self._nary("min", expr.args)

    def _nary(self, name, args):
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{name}({text}, {self._print(arg)})"
        return text

    def _print_Exp1(self, expr):
        return "e"

    def _print_sinc(self, expr):
        # the language's sinc is NumPy's normalised one, sympy's sinc(pi*z)
        return f"sinc({self._print(expr.args[0] / sp.pi)})"

    def _print_EulerGamma(self, expr):
        # digamma(1) = -γ: the language has no name for Euler's constant, and needs none
        return "(-digamma(1))"

    def _print_Mul(self, expr):
        # StrPrinter writes Mul(-1, a + b, c) as "-(a + b)*c", which reads back as
        # Mul(Mul(-1, a + b), c): sympy distributes a lone -1 over the sum, another tree.
        # "-1*(a + b)*c" reads back as one product of the same three factors.
        coefficient, factors = expr.as_coeff_mul()
        if coefficient == -1 and len(factors) > 1 and any(f.is_Add for f in factors):
            return "-1*" + self._print(sp.Mul(*factors, evaluate=False))
        # the same for any negative coefficient: Mul(-1/2, 1 - erf(u), u) printed "-(1 - erf(u))*u/2"
        # reads back with the minus distributed over the sum; "-1*(1 - erf(u))*u/2" does not
        if coefficient.is_negative and coefficient != -1 and any(f.is_Add for f in factors):
            return "-1*" + self._print(sp.Mul(-coefficient, *factors, evaluate=False))
        # StrPrinter writes Mul(-a/b, 1/(s + t)) as "-a/(b*(s + t))", and b*(s + t) reads back
        # distributed; "(-a/b)*1/(s + t)" reads back as the same two factors
        if coefficient.is_Rational and coefficient.q != 1 and any(
                f.is_Pow and f.base.is_Add and f.exp.is_negative for f in factors):
            rest = sp.Mul(*factors, evaluate=False) if len(factors) > 1 else factors[0]
            return f"({self._print(coefficient)})*{self._print(rest)}"
        return super()._print_Mul(expr)

    def _print_Integer(self, expr):
        return _integer_text(int(expr.p))

    def _print_Rational(self, expr):
        if expr.q == 1:
            return _integer_text(int(expr.p))
        return f"{_integer_text(int(expr.p))}/{_integer_text(expr.q)}"

    def _print_ImaginaryUnit(self, expr):
        raise ParseError("the expression is complex and has no formula form")


def format_formula(expr: sp.Expr) -> str:
    """Text of ``expr`` in the formula language; :func:`~derivaudit.lang.parse.parse_formula` reads it back.

    >>> import sympy as sp
    >>> format_formula(sp.Max(sp.Symbol("x"), 2) + sp.E)
    'max(2, x) + e'
    """
    return _FormulaPrinter().doprint(expr)
