"""Safe parsing of formula text into sympy expressions: the entry points.

The formula language is the arithmetic subset of Python/NumPy syntax:
numbers (exact: ``0.01`` is 1/100), variables, ``+ - * / **`` (``^`` is
accepted as power), unary minus, parentheses and calls of a fixed set of
functions (:data:`FUNCTIONS`), plus the constants ``pi`` and ``e``.

The text is parsed by Python's :mod:`ast` (:mod:`derivaudit.lang.source`)
and the tree is walked node by node against a whitelist
(:mod:`derivaudit.lang.walker`, with the rules of
:mod:`derivaudit.lang.rules`); sympy objects are built directly from the
nodes.  Nothing ever reaches ``eval``, ``exec``, ``sympify`` or
``parse_expr``, so a formula cannot run code.  Sizes that could exhaust the
machine (text length, nesting depth, digits of exact constants, exponents)
are bounded by :class:`~derivaudit.limits.Limits`.  :func:`format_formula`
(:mod:`derivaudit.lang.printer`) prints an expression back.
"""

from __future__ import annotations

import sympy as sp

from derivaudit.core.guards import time_budget
from derivaudit.errors import LimitExceeded, ParseError
from derivaudit.lang.functions import CONSTANTS, FUNCTIONS, make_symbol
from derivaudit.lang.printer import format_formula
from derivaudit.lang.source import prepare
from derivaudit.lang.walker import FormulaBuilder
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "FUNCTIONS",
    "CONSTANTS",
    "make_symbol",
    "parse_formula",
    "parse_constant",
    "format_formula",
    "free_variables",
    "typed_domain",
]


def parse_formula(text: str, *, limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """Parse a scalar formula into a sympy expression.

    >>> parse_formula("theta^3 + 0.5*sigmoid(theta)")
    theta**3 + 1/(2*(1 + exp(-theta)))

    Raises :class:`~derivaudit.errors.ParseError` (with the column at fault),
    :class:`~derivaudit.errors.UnsafeExpressionError` for syntax that only code
    uses, and :class:`~derivaudit.errors.LimitExceeded` past ``limits``.
    """
    source, tree = prepare(text, limits)
    try:
        with time_budget(limits.symbolic_seconds, "building the formula", "symbolic_seconds"):
            expr = FormulaBuilder(source, limits).build(tree)
    except RecursionError:
        raise LimitExceeded("formula is too deeply nested to build") from None
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ParseError("formula is undefined (it divides by zero)", source=text)
    return expr


def typed_domain(text, *, limits: Limits = DEFAULT_LIMITS) -> list[sp.Expr]:
    """The partial sub-formulas of the text *as typed* (``log(x)``, ``sqrt(x)``, ``1/x``,
    ``x**(3/2)``), recorded while the tree is built, before sympy's automatic rewriting of an
    outer node can drop them: ``exp(log(x))`` is built as ``x``, and its domain x > 0 is kept
    here.  A value is in the typed domain where every one of them is real and finite.
    Empty for anything but text.

    >>> typed_domain("exp(log(x))"), typed_domain("sqrt(x)**2")
    ([log(x)], [sqrt(x)])
    """
    if not isinstance(text, str):
        return []
    source, tree = prepare(text, limits)
    builder = FormulaBuilder(source, limits)
    with time_budget(limits.symbolic_seconds, "building the formula", "symbolic_seconds"):
        builder.build(tree)
    return list(builder.typed_guards)


def parse_constant(text: str, *, what: str = "value", limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """Parse an exact real constant such as ``0.01``, ``1e-12`` or ``pi/4``."""
    try:
        value = parse_formula(str(text), limits=limits)
    except ParseError as exc:
        raise ParseError(f"{what} {text!r}: {exc}") from None
    if value.free_symbols:
        names = ", ".join(sorted(s.name for s in value.free_symbols))
        raise ParseError(f"{what} {text!r} must be a number, not a formula in {names}")
    if value.is_real is False:
        raise ParseError(f"{what} {text!r} is not a real number")
    return value


def free_variables(expr: sp.Expr) -> list[sp.Symbol]:
    """The variables of ``expr``, sorted by name."""
    return sorted(expr.free_symbols, key=lambda s: s.name)
