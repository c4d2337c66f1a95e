"""Certified ball arithmetic: sympy trees compiled to python-flint ``arb``/``acb``.

A *ball* is a midpoint and a radius that together enclose the true value:
every operation of python-flint widens the radius by the rounding errors it
makes, so a ball computed at any precision is a proof that the exact value
lies inside it.  Raising the precision until the radius is small enough
relative to the midpoint *certifies* digits; nothing is guessed from guard
digits or from agreement between two precisions.

Compilation (:func:`compile_balls`) walks the sympy tree once and flattens it
into a list of closures over register numbers (a small register machine).
Identical subtrees are compiled once (hash-consing on sympy's structural
equality), so common subexpressions are shared.  The same program is then
written as one straight-line Python function (:mod:`derivaudit.core.ball_code`),
which is what a call runs; the closures remain for :meth:`BallFormula.failing_node`.
That generated source is built from the tree's structure only — register
numbers, template names, operators — never from the formula's text: user
variables are positional parameters and numbers and functions are objects in
closure cells, so a variable called ``mpf``, ``_derivaudit_power`` or ``r0``
cannot collide with anything (see the safety argument in that module).

Kinks are sound on balls: ``abs``, ``max``/``min`` (and so ``relu``),
``sign``, ``Heaviside``, ``floor``/``ceiling`` and ``Piecewise`` return a ball
covering every branch the argument ball touches.  ``DiracDelta`` is 0 on a
ball that excludes 0, undefined (:class:`~derivaudit.errors.DomainError`) at
exactly 0, and unresolved (more precision) on a ball straddling 0.

Special functions (``erfinv``, ``lgamma``, ``polygamma``, ``zeta``, ``atan2``, ``sinc``,
``xlogy``, ``cbrt``) have their own steps (:mod:`derivaudit.core.ball_special`).
Functions arb lacks (:data:`MPMATH_FALLBACKS`: ``acot``, ``asec``, ``acsc``,
``acoth``, ``asech``, ``acsch``) are evaluated by mpmath at the midpoint, at
the ball's precision plus 16 bits, and given the radius the mean value theorem
justifies: ``sup|f'(ball)| · rad + |f(mid)| · 2^(12-prec)`` (the second term
covers mpmath's own rounding, which is below one unit in its last place for
these elementary inverse functions).  ``f'`` is compiled to balls itself, so
the bound is certified.  Any other function (an undefined ``f(x)``, a special
function with neither an arb method nor a fallback) raises
:class:`UnsupportedFunction` when the formula is compiled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import mpmath
import sympy as sp
from flint import acb, arb, ctx, fmpq

from derivaudit.core.ball_code import generate
from derivaudit.core.ball_special import SPECIAL_STEPS, complex_refused
from derivaudit.core.ball_steps import (GROWS, KINKS, METHODS, MPMATH_FALLBACKS, SUPPORTED_FUNCTIONS,
                                        UnsupportedFunction, arb_from_raw, fallback_step,
                                        power_step, product_step, relational_operands,
                                        magnitude_guarded, special_exponent, sum_step)
from derivaudit.errors import DomainError

__all__ = [
    "BallFormula",
    "UnsupportedFunction",
    "MPMATH_FALLBACKS",
    "compile_balls",
    "ball_precision",
    "exact_ball",
    "digits_to_bits",
    "bits_to_digits",
]

_LOG2_10 = math.log2(10)


def digits_to_bits(digits: int) -> int:
    """Binary precision carrying ``digits`` significant decimal digits."""
    return int(math.ceil(digits * _LOG2_10))


def bits_to_digits(bits: int) -> int:
    """Whole decimal digits carried by ``bits`` bits (rounded down)."""
    return int(bits / _LOG2_10)


class ball_precision:
    """``with ball_precision(bits):`` — python-flint works at ``bits`` bits inside.

    flint's precision is one process-wide setting, restored on exit; studies run
    one evaluation at a time per process (see ``studies.parallel``).
    """

    __slots__ = ("bits", "_saved")

    def __init__(self, bits: int):
        self.bits = int(bits)

    def __enter__(self):
        self._saved = ctx.prec
        ctx.prec = self.bits
        return self

    def __exit__(self, *exc):
        ctx.prec = self._saved
        return False


def exact_ball(value):
    """``value`` as an ``arb`` at the current precision.

    Integers, binary floats (``float``, ``mpf``, sympy ``Float``) and ``arb``
    are exact; a Rational is rounded to the current precision (a ball of
    radius below one unit of its last place); any other sympy constant
    (``pi/4``, ``sqrt(2)``) is evaluated as a ball.
    """
    if isinstance(value, (arb, acb)):
        return value
    if isinstance(value, (int, float)):
        return arb(value)
    if isinstance(value, mpmath.mpf):
        return arb_from_raw(value._mpf_)
    if isinstance(value, sp.Integer):
        return arb(int(value))
    if isinstance(value, sp.Rational):
        return arb(fmpq(int(value.p), int(value.q)))
    if isinstance(value, sp.Float):
        return arb_from_raw(value._mpf_)
    if isinstance(value, sp.Expr) and not value.free_symbols:
        return compile_balls(value, ())()
    raise DomainError(f"{value!r} is not an exact real number")


# -- the compiled program -------------------------------------------------------

@dataclass(frozen=True, eq=False)
class BallFormula:
    """A sympy expression compiled to python-flint balls.

    ``formula(*args)`` evaluates at the current flint precision, arguments
    (``arb``, or ``acb`` for a complex formula) in the order of ``variables``;
    :meth:`at` takes an exact point and a precision.

    >>> x = sp.Symbol("x", real=True)
    >>> f = compile_balls(sp.sin(x)**2 + sp.cos(x)**2, (x,))
    >>> f.at({x: sp.Rational(1, 3)}, 64).contains(1)
    True
    """

    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    complex: bool = False
    #: constants of the program: callables building each at the current precision
    constants: tuple[Callable, ...] = field(repr=False, default=())
    #: one closure per node, each reading earlier registers and returning a ball
    steps: tuple[Callable, ...] = field(repr=False, default=())
    #: the sympy node each step computes, and the registers it reads (for messages)
    nodes: tuple[sp.Expr, ...] = field(repr=False, default=())
    inputs: tuple[tuple[int, ...], ...] = field(repr=False, default=())
    #: register of the result
    result: int = 0
    _constant_cache: dict = field(repr=False, default_factory=dict, compare=False)
    #: the same program as one generated function of the arguments (see :mod:`~derivaudit.core.ball_code`)
    run: Callable = field(repr=False, default=None, compare=False)

    def __call__(self, *args):
        return self.run(*args)

    def _constants_at(self, prec: int) -> list:
        cached = self._constant_cache.get(prec)
        if cached is None:
            if len(self._constant_cache) > 64:
                self._constant_cache.clear()
            cached = self._constant_cache[prec] = [make() for make in self.constants]
        return cached

    def arguments(self, point) -> list:
        """The point's coordinates as exact balls, in the order of ``variables``."""
        if isinstance(point, Mapping):
            point = [point[v] for v in self.variables]
        return [exact_ball(v) for v in point]

    def at(self, point, bits: int):
        """The ball of the formula at an exact ``point`` (mapping or sequence) at ``bits`` bits."""
        with ball_precision(bits):
            return self(*self.arguments(point))

    def failing_node(self, args) -> tuple[sp.Expr, list, object] | None:
        """The first node whose ball is not finite, the balls it read, and its ball.

        Run only after a non-finite result: it re-evaluates step by step.
        """
        registers = list(args) + self._constants_at(ctx.prec)
        for node, step, reads in zip(self.nodes, self.steps, self.inputs):
            value = step(registers)
            if not value.is_finite():
                return node, [registers[k] for k in reads], value
            registers.append(value)
        return None


# -- compilation ----------------------------------------------------------------

class _Compiler:
    """Walks a sympy tree once, appending a closure per distinct node."""

    def __init__(self, variables: Sequence[sp.Symbol], complex_: bool):
        self.complex = complex_
        self.registers: dict[sp.Basic, int] = {v: i for i, v in enumerate(variables)}
        self.n_args = len(variables)
        self.constants: list[Callable] = []
        #: per constant: exact at every precision (an integer, a binary float), so built once
        self.fixed: list[bool] = []
        self.steps: list[Callable] = []
        self.nodes: list[sp.Expr] = []
        self.inputs: list[tuple[int, ...]] = []

    def flatten(self, expr: sp.Expr) -> int:
        """The register of ``expr``'s value.  Registers: the arguments, then the
        constants (collected in a first pass), then one per step."""
        self._collect_constants(expr)
        return self.visit(expr)

    def _collect_constants(self, expr):
        seen = set()
        stack = [expr]
        while stack:
            node = stack.pop()
            if node in seen or node in self.registers:
                continue
            seen.add(node)
            make = _constant_maker(node, self.complex)
            if make is not None:
                self.registers[node] = self.n_args + len(self.constants)
                self.constants.append(_as_complex(make) if self.complex else make)
                self.fixed.append(isinstance(node, (sp.Integer, sp.Float)) or node is sp.I)
                continue
            if not isinstance(node, sp.Symbol):
                stack.extend(_operands(node))

    def visit(self, node) -> int:
        stack = [(node, False)]
        while stack:
            current, expanded = stack.pop()
            if current in self.registers:
                continue
            if isinstance(current, sp.Symbol):
                raise DomainError(f"the formula uses '{current.name}', which is not one of its variables")
            children = _operands(current)
            if not expanded:
                stack.append((current, True))
                stack.extend((c, False) for c in children if c not in self.registers)
                continue
            reads = [self.registers[c] for c in children]
            step = _step_for(current, reads, self.complex)
            self.registers[current] = self.n_args + len(self.constants) + len(self.steps)
            self.steps.append(step)
            self.nodes.append(current)
            self.inputs.append(tuple(reads))
        return self.registers[node]


def _operands(node) -> tuple:
    """The sub-expressions a node's step reads (Piecewise conditions included)."""
    if isinstance(node, sp.Piecewise):
        out = []
        for value, condition in node.args:
            out.append(value)
            out.extend(relational_operands(condition))
        return tuple(out)
    if isinstance(node, (sp.Heaviside, sp.DiracDelta)):
        return (node.args[0],)
    if isinstance(node, sp.Pow) and special_exponent(node.exp) is not None:
        return (node.base,)
    if isinstance(node, sp.Mul) and node.args[0].is_Rational:
        return node.args  # the coefficient is a constant register like any other
    return node.args


def _constant_maker(node, complex_: bool):
    """A callable building ``node`` as a ball at the current precision, or None."""
    if isinstance(node, sp.Integer):
        value = int(node)
        exact = arb(value)
        return lambda: exact
    if isinstance(node, sp.Rational):
        p, q = int(node.p), int(node.q)
        return lambda: arb(fmpq(p, q))
    if isinstance(node, sp.Float):
        exact = arb_from_raw(node._mpf_)
        return lambda: exact
    if node is sp.pi:
        return arb.pi
    if node is sp.E:
        return arb.const_e
    if node is sp.EulerGamma:
        return arb.const_euler
    if node is sp.Catalan:
        return arb.const_catalan
    if node is sp.GoldenRatio:
        return lambda: (1 + arb(5).sqrt()) / 2
    if node is sp.I:
        if not complex_:
            raise DomainError("the formula is not real (it contains the imaginary unit)")
        return lambda: acb(0, 1)
    if node in (sp.oo, -sp.oo, sp.zoo, sp.nan):
        raise DomainError(f"the formula is undefined (it contains {node})")
    return None


def _as_complex(make):
    return lambda: acb(make())


def _step_for(node, regs: list[int], complex_: bool) -> Callable:
    if isinstance(node, sp.Add):
        return sum_step(regs)
    if isinstance(node, sp.Mul):
        return magnitude_guarded(product_step(regs), node)
    if isinstance(node, sp.Pow):
        step = power_step(node, regs)
        return step if node.exp in (sp.S.Half, -1) else magnitude_guarded(step, node)
    head = type(node)
    if head in GROWS:
        (i,) = regs
        call = METHODS[head][1 if complex_ else 0]
        return magnitude_guarded(lambda r: call(r[i]), node)
    if complex_ and head in KINKS:
        raise DomainError(f"the complex step needs a formula analytic along the real axis, and "
                          f"{head.__name__} is not")
    if head in KINKS:
        return KINKS[head](node, regs)
    method = METHODS.get(head)
    if method is not None:
        (i,) = regs
        call = method[1] if complex_ else method[0]
        return lambda r: call(r[i])
    if head in SPECIAL_STEPS:
        if complex_:
            raise complex_refused(node)
        return SPECIAL_STEPS[head](node, regs)
    if head in MPMATH_FALLBACKS and not complex_:
        return fallback_step(node, regs, compile_balls)
    raise UnsupportedFunction(f"the ball engine has no certified evaluation of {head.__name__}"
                              f" (in {node}); supported: {', '.join(sorted(SUPPORTED_FUNCTIONS))}")


@lru_cache(maxsize=2048)
def _compile(expr: sp.Expr, variables: tuple, complex_: bool) -> BallFormula:
    compiler = _Compiler(variables, complex_)
    result = compiler.flatten(expr)
    formula = BallFormula(expr, variables, complex_, tuple(compiler.constants), tuple(compiler.steps),
                          tuple(compiler.nodes), tuple(compiler.inputs), result)
    run = generate(len(variables), list(zip(compiler.constants, compiler.fixed)), compiler.nodes,
                   compiler.inputs, result, complex_,
                   lambda node, k: _step_for(node, list(range(k)), complex_),
                   formula._constant_cache, formula._constants_at)
    # the generated function reads the formula's own cache of constants, so it is made
    # after the (frozen) formula and set the way a frozen dataclass sets a field
    object.__setattr__(formula, "run", run)
    return formula


def compile_balls(expr: sp.Expr, variables: Sequence[sp.Symbol], *, complex: bool = False) -> BallFormula:
    """Compile ``expr`` as a function of ``variables`` to python-flint balls (cached).

    ``complex=True`` compiles for ``acb`` arguments (the complex step); kinks
    (abs, max, sign, ...) are refused there, since they have no complex
    derivative.  Raises :class:`UnsupportedFunction` for a function the
    engine cannot certify.

    >>> x, mpf = sp.symbols("x mpf", real=True)
    >>> f = compile_balls(mpf**2 + x, (mpf, x))
    >>> print(f.at([3, sp.Rational(1, 2)], 53))
    9.50000000000000
    """
    if isinstance(expr, (int, float)):
        expr = sp.Integer(expr) if isinstance(expr, int) else sp.Float(expr)
    return _compile(expr, tuple(variables), bool(complex))


