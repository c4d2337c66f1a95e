"""Exact derivatives with sympy: any order, partials, gradients.

Variables may be given as sympy symbols or by name; names are turned into
the same real symbols the parser creates (:func:`~derivaudit.parse.make_symbol`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from .errors import DerivauditError, ParseError
from .parse import free_variables, make_symbol

__all__ = ["as_symbol", "derivative", "partial", "gradient", "default_variable"]


def as_symbol(var: str | sp.Symbol) -> sp.Symbol:
    """The derivaudit symbol for a variable given by name or as a symbol."""
    if isinstance(var, sp.Symbol):
        return make_symbol(var.name)
    if not isinstance(var, str) or not var.isidentifier():
        raise ParseError(f"{var!r} is not a variable name")
    return make_symbol(var)


def default_variable(expr: sp.Expr) -> sp.Symbol:
    """The variable to differentiate by when the user named none: the only one."""
    variables = free_variables(expr)
    if len(variables) != 1:
        names = ", ".join(v.name for v in variables) or "none"
        raise DerivauditError(f"the formula has {len(variables)} variables ({names}); "
                              "say which one to differentiate by (--wrt NAME)")
    return variables[0]


def derivative(expr: sp.Expr, wrt: str | sp.Symbol, order: int = 1) -> sp.Expr:
    """The exact ``order``-th derivative ``dⁿ expr / d wrtⁿ``.

    Differentiating by a variable the formula does not contain is allowed
    (the result is 0) but usually a typo, so callers that take user input
    check membership first (see :func:`require_variables`).
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise DerivauditError(f"derivative order must be a whole number ≥ 0, not {order!r}")
    return sp.diff(expr, as_symbol(wrt), order)


def partial(expr: sp.Expr, wrt: Sequence[str | sp.Symbol]) -> sp.Expr:
    """The mixed partial ``∂ⁿ expr / ∂v₁ ∂v₂ … ∂vₙ`` (one variable per step)."""
    return sp.diff(expr, *(as_symbol(v) for v in wrt))


def gradient(expr: sp.Expr, variables: Sequence[str | sp.Symbol]) -> list[sp.Expr]:
    """``[∂expr/∂v for v in variables]``."""
    return [sp.diff(expr, as_symbol(v)) for v in variables]


def require_variables(expr: sp.Expr, variables: Sequence[str | sp.Symbol], what: str = "formula"):
    """Raise a clear error if a variable is not one of ``expr``'s."""
    present = {s.name for s in expr.free_symbols}
    for var in variables:
        name = as_symbol(var).name
        if name not in present:
            listed = ", ".join(sorted(present)) or "none"
            raise DerivauditError(f"'{name}' is not a variable of the {what} (its variables: {listed})")
