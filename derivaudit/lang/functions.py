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

from derivaudit.lang import special

__all__ = ["FunctionSpec", "FUNCTIONS", "ALSO_VARIABLES", "CONSTANTS", "Step", "make_symbol", "arity_text", "switching_functions"]


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


class Step(sp.Function):
    """``step(z)``: 1 where ``z > 0``, else 0 — a comparison as a number.

    Its derivative is 0 (it is constant on each side of its switching point
    ``z = 0``, where it has none); comparisons ``a > b`` are ``step(a - b)``,
    and relu's derivative as NumPy code writes it, ``(z > 0)``, is
    ``step(z)``.  Evaluated (mpmath, NumPy) as the piecewise function.

    >>> z = make_symbol("z")
    >>> Step(2), Step(0), Step(z).diff(z)
    (1, 0, 0)
    """

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, arg):
        if arg.is_extended_positive:
            return sp.S.One
        if arg.is_extended_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_rewrite_as_Piecewise(self, arg, **kwargs):
        return sp.Piecewise((sp.S.One, arg > 0), (sp.S.Zero, True))

    def _code(self, printer):
        # code printers (mpmath, NumPy, math) evaluate the piecewise form
        return printer._print(self.rewrite(sp.Piecewise))

    _mpmathcode = _numpycode = _pythoncode = _code

    def _sympystr(self, printer):
        return f"step({printer._print(self.args[0])})"


def switching_functions(exprs) -> list[sp.Expr]:
    """Expressions ``g`` such that every expression of ``exprs`` is smooth where no ``g`` is 0.

    The switching points of comparisons and steps (their argument), of
    ``abs``, ``sign`` and ``Heaviside`` (their argument), and of ``max``/``min``
    (the difference of each pair of arguments): the kinks and jumps a
    numerical check must not sample on or step across.  Duplicates (also up
    to sign) are listed once.

    >>> x, y = make_symbol("x"), make_symbol("y")
    >>> switching_functions([Step(x - 1) * y, sp.Max(x, y)])
    [x - 1, x - y]
    """
    seen: dict[sp.Expr, None] = {}
    visited: set = set()  # the DAG is walked once: layers share their subtrees
    stack = [e for e in exprs if isinstance(e, sp.Basic)][::-1]
    while stack:
        node = stack.pop()
        if node in visited:
            continue
        visited.add(node)
        stack.extend(reversed(node.args))
        if isinstance(node, (Step, sp.Abs, sp.sign, sp.Heaviside)):
            found = [node.args[0]]
        elif isinstance(node, (sp.Max, sp.Min)):
            args = node.args
            found = [a - b for i, a in enumerate(args) for b in args[i + 1:]]
        else:
            continue
        for g in found:
            g = -g if g.could_extract_minus_sign() else g
            if g.free_symbols and g not in seen:
                seen[g] = None
    return list(seen)


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


def _abs(z):
    """``|z|``, canonical: sympy leaves ``Abs(-Abs(x))`` as ``Abs(Abs(x))``, which prints as
    ``abs(abs(x))`` and reads back as ``Abs(x)``; taking the sign out first avoids it."""
    return sp.Abs(-z if z.could_extract_minus_sign() else z)


def _canonical(extremum):
    """``extremum.doit()``, except over a special function left unevaluated on purpose
    (``gamma(1000000)``: doit would compute 999999! exactly, past every time budget)."""
    if extremum.has(sp.gamma, sp.polygamma, sp.zeta):
        return extremum
    return extremum.doit()


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
    "abs": _unary(_abs, analytic=False),
    "relu": _unary(lambda z: sp.Max(0, z), analytic=False),
    # doit(): sympy's Max/Min may leave an unevaluated Min(1, 69) inside; printing and
    # parsing again would evaluate it, so the tree is made canonical once, here
    "max": FunctionSpec(lambda a, b: _canonical(sp.Max(a, b)), 2, 2, analytic=False),
    "min": FunctionSpec(lambda a, b: _canonical(sp.Min(a, b)), 2, 2, analytic=False),
    # non-smooth primitives as the tool prints them (derivatives: core/piecewise.py)
    "sign": _unary(sp.sign, analytic=False),
    # piecewise constant: derivative 0 between their jumps, none at an integer (core/piecewise.py)
    "floor": _unary(sp.floor, analytic=False),
    "ceil": _unary(sp.ceiling, analytic=False),
    "ceiling": _unary(sp.ceiling, analytic=False),
    "Heaviside": FunctionSpec(lambda z, h0=None: sp.Heaviside(z) if h0 is None else sp.Heaviside(z, h0),
                              1, 2, analytic=False),
    "heaviside": FunctionSpec(lambda z, h0=None: sp.Heaviside(z) if h0 is None else sp.Heaviside(z, h0),
                              1, 2, analytic=False),
    "step": _unary(lambda z: Step(z), analytic=False),
    "where": FunctionSpec(lambda c, a, b: b + (a - b) * c, 3, 3, analytic=False),
    "clip": FunctionSpec(lambda z, lo, hi: sp.Min(sp.Max(z, lo), hi).doit(), 3, 3, analytic=False),
}

#: functions of the language before the special functions came; every other name is a function only
#: where it is called, so ``gamma * x`` (batchnorm's scale, a discount factor) keeps meaning a variable
_FIRST_FUNCTIONS = frozenset(FUNCTIONS)

# special functions and activations (see derivaudit.lang.special for the real forms and conventions)
FUNCTIONS.update({
    "erfc": _unary(sp.erfc),
    "erfinv": _unary(sp.erfinv),
    "gamma": _unary(special.gamma),
    "lgamma": _unary(special.lgamma),
    "gammaln": _unary(special.lgamma),
    "digamma": _unary(special.digamma),
    "psi": _unary(special.digamma),
    "polygamma": FunctionSpec(special.polygamma, 2, 2),
    "zeta": FunctionSpec(special.zeta, 1, 2),
    "atan2": FunctionSpec(sp.atan2, 2, 2, analytic=False),
    "arctan2": FunctionSpec(sp.atan2, 2, 2, analytic=False),
    "hypot": FunctionSpec(special.hypot, 2, 2),
    "sinc": _unary(special.sinc),
    "xlogy": FunctionSpec(special.xlogy, 2, 2),
    "logaddexp": FunctionSpec(special.logaddexp, 2, 2),
    "logit": _unary(special.logit),
    "expit": _unary(_sigmoid),
    "cbrt": _unary(special.cbrt),
    "exp2": _unary(special.exp2),
    "gelu": _unary(special.gelu),
    "gelu_tanh": _unary(special.gelu_tanh),
    "silu": _unary(special.silu),
    "softsign": _unary(special.softsign, analytic=False),
    "elu": FunctionSpec(special.elu, 1, 2, analytic=False),
    "selu": _unary(special.selu, analytic=False),
    "leaky_relu": FunctionSpec(special.leaky_relu, 1, 2, analytic=False),
})

#: names that are functions where called and variables elsewhere (``gamma(x)`` and ``gamma * x``)
ALSO_VARIABLES = frozenset(FUNCTIONS) - _FIRST_FUNCTIONS

#: Names that stand for constants rather than variables.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}
