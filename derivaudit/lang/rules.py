"""The safety rules every formula walker applies: identifiers, numbers, constants, powers, arity.

A formula is untrusted text.  The walkers build sympy objects straight from
the syntax tree; before a name, a literal or a power becomes a sympy object
it passes one of these rules, each of which either returns the value or
raises a :class:`~derivaudit.errors.ParseError` (with the column) or a
:class:`~derivaudit.errors.LimitExceeded` naming the limit.
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata
from fractions import Fraction

import sympy as sp

from derivaudit.errors import LimitExceeded, ParseError, UnsafeExpressionError
from derivaudit.lang.functions import FunctionSpec, arity_text
from derivaudit.lang.source import SourceText
from derivaudit.limits import Limits

__all__ = ["SafetyRules"]

_FLOAT_EXPONENT = re.compile(r"[eE]([+-]?[\d_]+)")


def _is_greek(ch: str) -> bool:
    return "GREEK" in unicodedata.name(ch, "")


def _digits(n: int) -> int:
    return int(abs(n).bit_length() * 0.30102999566398120) + 1


class SafetyRules:
    """The checks a walker applies to names, literals and powers of ``source``, under ``limits``."""

    def __init__(self, source: SourceText, limits: Limits):
        self.source = source
        self.limits = limits

    # -- errors ---------------------------------------------------------
    def error(self, message: str, node: ast.AST | None = None, cls=ParseError, hint: str = ""):
        """A ``cls`` error for ``message``, pointing at ``node``'s column in the text as typed."""
        line = column = None
        if node is not None and hasattr(node, "lineno"):
            line, column = self.source.position(node.lineno, node.col_offset)
        return cls(message, source=self.source.original, line=line, column=column, hint=hint)

    def limit(self, message: str, node: ast.AST | None = None) -> LimitExceeded:
        err = self.error(message, node)
        return LimitExceeded(str(err))

    # -- rules ----------------------------------------------------------
    def check_arity(self, spec: FunctionSpec, fname: str, node: ast.Call) -> None:
        """Refuse a call of ``fname`` with a number of positional arguments ``spec`` does not take."""
        if not spec.min_args <= len(node.args) <= spec.max_args:
            raise self.error(f"{fname}() takes {arity_text(spec)}, got {len(node.args)}", node)

    def identifier(self, node: ast.Name) -> str:
        """The variable or function name of ``node``, checked for safety.

        Python folds identifiers to NFKC (``ｅｘｐ`` reads as ``exp``); a name
        must be typed in its folded form, be ASCII or Greek (not a mix, which
        is how look-alikes are made), and not be a dunder.
        """
        ident = node.id
        typed = self.source.segment(node)
        if typed and typed != ident:
            raise self.error(f"identifier '{typed}' is not in plain form (it reads as '{ident}'); "
                             "type it in plain letters", node, UnsafeExpressionError)
        if ident.startswith("__") or ident.endswith("__"):
            raise self.error(f"name '{ident}' is not allowed (dunder names are reserved)", node,
                             UnsafeExpressionError)
        letters = [ch for ch in ident if ch.isalpha()]
        ascii_letters = sum(ch.isascii() for ch in letters)
        greek = sum(_is_greek(ch) for ch in letters)
        if ascii_letters + greek != len(letters) or (ascii_letters and greek):
            raise self.error(f"identifier '{ident}' mixes scripts or uses letters outside ASCII "
                             "and Greek; rename it", node, UnsafeExpressionError)
        if not all(ch.isascii() or ch.isalpha() for ch in ident):
            raise self.error(f"identifier '{ident}' has non-ASCII digits or marks", node,
                             UnsafeExpressionError)
        return ident

    def number(self, node: ast.Constant):
        """An exact sympy number from a literal's text: ``0.01`` is 1/100."""
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, complex):
                raise self.error("complex literals are not supported", node)
            kind = {str: "string", bytes: "bytes"}.get(type(value), repr(value))
            raise self.error(f"{kind} literal is not allowed in a formula", node, UnsafeExpressionError)
        text = self.source.segment(node).replace("_", "")
        if isinstance(value, int):
            # exact bound 10**(digits-1), which also catches hex, octal and binary
            # literals that the decimal digit scan of prepare() cannot see
            if value > 10 ** (self.limits.max_literal_digits - 1):
                shown = text if len(text) <= 24 else f"{text[:20]}..."
                raise self.limit(f"integer {shown} is above 10**{self.limits.max_literal_digits - 1} "
                                 "(limit Limits.max_literal_digits)", node)
            return sp.Integer(value)
        exponent = _FLOAT_EXPONENT.search(text)
        if exponent and abs(int(exponent.group(1))) > self.limits.max_constant_digits:
            raise self.limit(f"number {text} has an exponent beyond "
                             f"{self.limits.max_constant_digits}", node)
        fraction = Fraction(text)
        return sp.Rational(fraction.numerator, fraction.denominator)

    def check_constant(self, value, node: ast.AST):
        """Refuse exact constants with more digits than the limit allows, and
        powers that combined past the exponent limit (``x**1000*x**1000``).

        A sum or product combines the constants of its operands (and sympy
        distributes numbers over sums), so the result and two levels of its
        arguments are checked; deeper parts were checked when they were built.
        """
        if not isinstance(value, sp.Basic):
            return value
        for term in (value, *value.args, *(a for arg in value.args for a in arg.args)):
            if isinstance(term, sp.Rational):
                digits = max(_digits(term.p), _digits(term.q))
                if digits > self.limits.max_constant_digits:
                    raise self.limit(f"constant has about {digits} digits (limit "
                                     f"{self.limits.max_constant_digits})", node)
            elif (term.is_Pow and term.exp.is_Rational and not term.base.is_Rational
                    and abs(term.exp.p) > self.limits.max_exponent):
                raise self.limit(f"the formula combines to the power {term.exp}, beyond the "
                                 f"limit of {self.limits.max_exponent}", node)
        return value

    def scalar_power(self, base, exponent, node: ast.AST):
        """``base ** exponent`` of two scalars, after :meth:`check_power`; 0**-1 is refused."""
        self.check_power(base, exponent, node)
        result = base ** exponent
        if result.has(sp.zoo, sp.nan):
            raise self.error("division by zero", node)
        return result

    def check_power(self, base, exponent, node: ast.AST) -> None:
        """Refuse powers whose exact value or expansion would be enormous.

        ``b**n`` with rational ``b`` has about ``|n|·log10|b|`` digits; sympy
        would compute them eagerly, so the size is estimated first.
        """
        if not (isinstance(exponent, sp.Rational) and exponent.is_Rational):
            return
        if isinstance(base, sp.Pow) and base.exp.is_Rational and not base.base.is_Rational:
            # (x**a)**b is x**(a*b) for the integer exponents sympy combines
            base, exponent = base.base, base.exp * exponent
        if isinstance(base, sp.Rational):
            if base == 0 and exponent < 0:
                raise self.error("division by zero", node)
            if exponent.q > self.limits.max_exponent and abs(base) != 1 and base != 0:
                # sympy extracts exact roots of rational bases: cost grows with the degree
                degree = exponent.q if exponent.q < 10**12 else f"about 10**{len(str(exponent.q)) - 1}"
                raise self.limit(f"root of degree {degree} of a number is beyond the limit of "
                                 f"{self.limits.max_exponent}", node)
            # digits of the result: |n|·log10(base) + 1, estimated before sympy computes it
            size = max(math.log10(abs(base.p)) if base.p else 0, math.log10(base.q)) * abs(exponent.p) / exponent.q + 1
            if size > self.limits.max_constant_digits:
                raise self.limit(f"power has about {int(size)} digits (limit "
                                 f"{self.limits.max_constant_digits})", node)
        elif abs(exponent.p) > self.limits.max_exponent:
            raise self.limit(f"exponent {exponent} is beyond the limit of "
                             f"{self.limits.max_exponent}", node)
