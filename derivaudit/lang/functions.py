"""The names of the formula language: its functions, constants and symbols.

One table, :data:`FUNCTIONS`, says which functions a formula may call and
how each is built in sympy; :data:`CONSTANTS` says which names are
constants.  The walkers (:mod:`derivaudit.lang.walker`,
:mod:`derivaudit.lang.array_walker`) look names up here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

__all__ = ["FunctionSpec", "FUNCTIONS", "CONSTANTS", "make_symbol", "arity_text"]


def make_symbol(name: str) -> sp.Symbol:
    """The sympy symbol derivaudit uses for the variable ``name``.

    Variables are real: every formula is a real function of real inputs, and
    the assumption lets sympy simplify ``Abs``, ``sqrt(x**2)`` and friends.
    All modules build symbols through this function so that a formula and a
    claim parsed separately share the same symbols.

    >>> make_symbol("x").is_real
    True
    """
    return sp.Symbol(name, real=True)


def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def _softplus(z):
    return sp.log(1 + sp.exp(z))


@dataclass(frozen=True)
class FunctionSpec:
    """A callable name of the formula language: its sympy builder and arity."""

    build: Callable[..., sp.Expr]
    min_args: int
    max_args: int
    #: analytic along the real axis (complex step applies to it)
    analytic: bool = True


def arity_text(spec: FunctionSpec) -> str:
    """``"1 argument"``, ``"2 arguments"`` or ``"1 to 2 arguments"``: what a call must pass."""
    if spec.min_args == spec.max_args:
        n = spec.min_args
        return f"{n} argument" + ("s" if n != 1 else "")
    return f"{spec.min_args} to {spec.max_args} arguments"


def _unary(f, analytic=True):
    return FunctionSpec(f, 1, 1, analytic)


#: Functions a formula may call, by name.
FUNCTIONS: dict[str, FunctionSpec] = {
    "exp": _unary(sp.exp),
    "expm1": _unary(lambda z: sp.exp(z) - 1),
    "log": FunctionSpec(lambda z, base=None: sp.log(z) if base is None else sp.log(z) / sp.log(base), 1, 2),
    "log1p": _unary(lambda z: sp.log(1 + z)),
    "log2": _unary(lambda z: sp.log(z) / sp.log(2)),
    "log10": _unary(lambda z: sp.log(z) / sp.log(10)),
    "sqrt": _unary(sp.sqrt),
    "sin": _unary(sp.sin),
    "cos": _unary(sp.cos),
    "tan": _unary(sp.tan),
    "sinh": _unary(sp.sinh),
    "cosh": _unary(sp.cosh),
    "tanh": _unary(sp.tanh),
    "asin": _unary(sp.asin),
    "acos": _unary(sp.acos),
    "atan": _unary(sp.atan),
    "asinh": _unary(sp.asinh),
    "acosh": _unary(sp.acosh),
    "atanh": _unary(sp.atanh),
    "arcsin": _unary(sp.asin),
    "arccos": _unary(sp.acos),
    "arctan": _unary(sp.atan),
    "arcsinh": _unary(sp.asinh),
    "arccosh": _unary(sp.acosh),
    "arctanh": _unary(sp.atanh),
    "erf": _unary(sp.erf),
    "sigmoid": _unary(_sigmoid),
    "softplus": _unary(_softplus),
    "abs": _unary(sp.Abs, analytic=False),
    "relu": _unary(lambda z: sp.Max(0, z), analytic=False),
    # doit(): sympy's Max/Min may leave an unevaluated Min(1, 69) inside; printing and
    # parsing again would evaluate it, so the tree is made canonical once, here
    "max": FunctionSpec(lambda a, b: sp.Max(a, b).doit(), 2, 2, analytic=False),
    "min": FunctionSpec(lambda a, b: sp.Min(a, b).doit(), 2, 2, analytic=False),
}

#: Names that stand for constants rather than variables.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}
