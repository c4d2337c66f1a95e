"""Exact derivatives with sympy: any order, partials, gradients.

Variables may be given as sympy symbols or by name; names are turned into
the same real symbols the parser creates (:func:`~derivaudit.parse.make_symbol`).
"""

from __future__ import annotations

from functools import lru_cache

from collections.abc import Sequence

import sympy as sp

from derivaudit.errors import DerivauditError, LimitExceeded, ParseError
from derivaudit.budgets import time_budget
from derivaudit.core.piecewise import piecewise_diff
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.lang.parse import free_variables, make_symbol

__all__ = ["closed_form", "as_symbol", "derivative", "partial", "gradient", "default_variable"]


def as_symbol(var: str | sp.Symbol) -> sp.Symbol:
    """The derivaudit symbol for a variable given by name or as a symbol."""
    if isinstance(var, sp.Symbol):
        return _symbol(var.name)
    if not isinstance(var, str) or not var.isidentifier():
        raise ParseError(f"{var!r} is not a variable name")
    return _symbol(var)


@lru_cache(maxsize=4096)
def _symbol(name: str) -> sp.Symbol:
    """:func:`make_symbol`, memoised: building a symbol with assumptions costs sympy a
    cache lookup through its assumption machinery, and a study names its variables
    several times."""
    return make_symbol(name)


def default_variable(expr: sp.Expr) -> sp.Symbol:
    """The variable to differentiate by when the user named none: the only one."""
    variables = free_variables(expr)
    if len(variables) != 1:
        names = ", ".join(v.name for v in variables) or "none"
        raise DerivauditError(f"the formula has {len(variables)} variables ({names}); "
                              "say which one to differentiate by (--wrt NAME)")
    return variables[0]


def _tree_size(expr: sp.Basic) -> int:
    return sum(1 for _ in sp.preorder_traversal(expr))


def _derivative_size(expr: sp.Basic, var: sp.Symbol) -> int:
    """An estimate, in tree nodes, of the size of ``d expr/d var`` — without computing it.

    Sum rule: sizes add.  Product rule: the term for factor i carries every
    other factor, so a product of k factors in ``var`` costs about k times
    its size.  Chain rule: ``f(g)'`` costs about ``|f(g)| + |g'|``.
    """
    sizes: dict[sp.Basic, tuple[int, int]] = {}  # node -> (size, derivative size)

    def visit(node):
        if node in sizes:
            return sizes[node]
        if not node.args:
            result = (1, 1 if node == var else 0)
        else:
            parts = [visit(arg) for arg in node.args]
            size = 1 + sum(p[0] for p in parts)
            if not any(d for _, d in parts):
                result = (size, 0)
            elif isinstance(node, sp.Add):
                result = (size, 1 + sum(d for _, d in parts))
            elif isinstance(node, sp.Mul):
                result = (size, sum(size + d for _, d in parts if d))
            else:
                result = (size, size + sum(size + d for _, d in parts if d))
        sizes[node] = result
        return result

    return visit(expr)[1]


def _differentiate(expr: sp.Expr, steps: Sequence[sp.Symbol], limits: Limits) -> sp.Expr:
    """:func:`_differentiated` of ``steps`` as a tuple (memoised: studies and checks ask for
    the same derivative repeatedly, and sympy's diff costs more than a short sweep)."""
    return _differentiated(expr, tuple(steps), limits)


@lru_cache(maxsize=1024)
def _differentiated(expr: sp.Expr, steps: tuple, limits: Limits) -> sp.Expr:
    """``expr`` differentiated once by each of ``steps`` in turn, within ``limits``.

    Non-smooth primitives (max, abs, comparisons, …) are differentiated by
    :func:`~derivaudit.core.piecewise.piecewise_diff`, never by sympy's
    Heaviside(0) = ½ convention: per region the piece's derivative, on a
    switching set the common one-sided value or undefined.

    The product rule multiplies the size of a product of n factors by n at
    each step, so the size is checked after every step, and the whole under
    ``limits.symbolic_seconds``: a hostile formula is refused rather than
    differentiated into gigabytes.
    """
    if len(steps) > limits.max_derivative_order:
        raise LimitExceeded(f"derivative of order {len(steps)} is above the limit of "
                            f"{limits.max_derivative_order} (Limits.max_derivative_order)")
    with time_budget(limits.symbolic_seconds, "differentiating the formula", "symbolic_seconds"):
        for var in steps:
            if limits.max_expression_size and _derivative_size(expr, var) > limits.max_expression_size:
                raise LimitExceeded(f"the derivative would grow beyond about {limits.max_expression_size} "
                                    "terms and symbols (Limits.max_expression_size)")
            expr = piecewise_diff(expr, var)
            if limits.max_expression_size and _tree_size(expr) > limits.max_expression_size:
                raise LimitExceeded(f"the derivative grows beyond {limits.max_expression_size} "
                                    "terms and symbols (Limits.max_expression_size)")
    return closed_form(expr)


def closed_form(derivative: sp.Expr) -> sp.Expr:
    """``derivative`` itself, unless sympy left a part of it unevaluated (a function it
    has no rule for in that argument): then DerivauditError, which says so.

    >>> s = sp.Symbol("s", real=True)
    >>> closed_form(sp.diff(sp.zeta(3, s), s))
    -3*zeta(4, s)
    >>> closed_form(sp.diff(sp.zeta(s), s))
    Traceback (most recent call last):
    ...
    derivaudit.errors.DerivauditError: the derivative of zeta(s, a) in s has no closed form \
derivaudit can evaluate (it differentiates zeta in a only, as PyTorch does); keep the variables out of s
    """
    for left in derivative.atoms(sp.Derivative):
        raise DerivauditError(_no_closed_form(left))
    return derivative


#: why a function has no derivative in one of its arguments, by name
_ONE_SIDED_FUNCTIONS = {"zeta": "zeta(s, a) in s has no closed form derivaudit can evaluate (it "
                                "differentiates zeta in a only, as PyTorch does); keep the variables out of s"}


def _no_closed_form(left: sp.Derivative) -> str:
    """The message for a derivative sympy left unevaluated (``Derivative(zeta(x), x)``)."""
    function = left.expr.func.__name__ if isinstance(left.expr, sp.Function) else str(left.expr)
    what = _ONE_SIDED_FUNCTIONS.get(function, f"{left.expr} in {', '.join(map(str, left.variables))} has no "
                                    "closed form derivaudit can evaluate; rewrite the formula without it")
    return f"the derivative of {what}"


def derivative(expr: sp.Expr, wrt: str | sp.Symbol, order: int = 1,
               limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """The exact ``order``-th derivative ``dⁿ expr / d wrtⁿ``.

    Differentiating by a variable the formula does not contain is allowed
    (the result is 0) but usually a typo, so callers that take user input
    check membership first (see :func:`require_variables`).  Raises
    LimitExceeded past ``limits.max_derivative_order``,
    ``limits.max_expression_size`` or ``limits.symbolic_seconds``.
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise DerivauditError(f"derivative order must be a whole number ≥ 0, not {order!r}")
    return _differentiate(expr, [as_symbol(wrt)] * order, limits)


def partial(expr: sp.Expr, wrt: Sequence[str | sp.Symbol],
            limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """The mixed partial ``∂ⁿ expr / ∂v₁ ∂v₂ … ∂vₙ`` (one variable per step)."""
    return _differentiate(expr, [as_symbol(v) for v in wrt], limits)


def gradient(expr: sp.Expr, variables: Sequence[str | sp.Symbol],
             limits: Limits = DEFAULT_LIMITS) -> list[sp.Expr]:
    """``[∂expr/∂v for v in variables]``."""
    return [_differentiate(expr, [as_symbol(v)], limits) for v in variables]


def require_variables(expr: sp.Expr, variables: Sequence[str | sp.Symbol], what: str = "formula"):
    """Raise a clear error if a variable is not one of ``expr``'s."""
    present = _variable_names(expr)
    for var in variables:
        name = as_symbol(var).name
        if name not in present:
            listed = ", ".join(sorted(present)) or "none"
            raise DerivauditError(f"'{name}' is not a variable of the {what} (its variables: {listed})")


@lru_cache(maxsize=1024)
def _variable_names(expr: sp.Expr) -> frozenset[str]:
    """The names of ``expr``'s free symbols (sympy walks the tree for them on every call)."""
    return frozenset(s.name for s in expr.free_symbols)
