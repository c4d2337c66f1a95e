"""Reverse accumulation on balls over a graph of small scalar definitions.

A model instantiated layer by layer is a *chain* of definitions
``(s, e)``: the symbol ``s`` stands for the small sympy expression ``e`` of
earlier symbols (``Z1[0,1] = W1[0,0]·X[0,1] + … + b1[0,0]``).  One
:meth:`ReverseGraph.evaluate` at a point computes, at the current python-flint
precision,

1. every definition's value as an ``arb`` ball, first to last (the forward
   pass), each shared node once;
2. the adjoint ``s̄ = ∂loss/∂s`` of every symbol, last to first (the
   reverse pass): ``ū += s̄ · ∂e/∂u`` for each symbol ``u`` of ``e``, the local
   partials by the adjoint table below, evaluated on the balls of the forward
   pass;
3. any further expressions over the symbols (claims, backward
   intermediates), each node of their shared DAG once (values cached by node).

The cost is a small multiple of one forward pass; nothing is differentiated
symbolically per entry.  Every value is a ball, so every gradient entry is
certified: the exact ``∂loss/∂P`` lies inside its ball.

Adjoint table (``v`` is the node's value, ``v̄`` its adjoint):

=====================  =============================================
node                   contribution to the adjoint of each argument
=====================  =============================================
``a₁ + … + aₙ``        ``āᵢ += v̄``
``a₁ · … · aₙ``        ``āᵢ += v̄ · Πⱼ≠ᵢ aⱼ`` (prefix/suffix products)
``f(a₁, …, aₙ)``       ``āᵢ += v̄ · (∂f/∂xᵢ)(a)``, ``∂f/∂xᵢ`` by sympy once
                       per head (``tanh``: ``1 − tanh²``; ``Pow(x, c)``:
                       ``c·x^(c−1)``; ``Abs``: ``sign``; ``Max``: ``Heaviside``)
anything else          the node's value and partials in its free symbols,
(``Piecewise``, …)     compiled once per structure
=====================  =============================================

The partials of one head are compiled to balls once, on a template
``f(x₀, …, xₙ)`` of fresh symbols, and shared by every node with that head.
Non-smooth heads follow the one-sided rule: on a region the piece's
derivative; a ball touching a switching point covers both one-sided
derivatives, so it is wide (never certified) there, and an evidence point on
a switching set is avoided upstream (:mod:`derivaudit.audits.switching`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from flint import arb

from derivaudit.core.balls import compile_balls, exact_ball

__all__ = ["ReverseGraph", "graph_nodes", "renamed", "local_partials"]

#: placeholder symbols by (position, assumptions), shared by every template
_PLACEHOLDERS: dict = {}


def renamed(expr: sp.Expr) -> tuple[sp.Expr, list, list]:
    """``expr`` with its free symbols (sorted by name) renamed to positional placeholders.

    Returns the renamed expression, the symbols and their placeholders.
    Entries built alike (``Z1[0,1]`` and ``Z1[2,3]``) rename to the same
    template, so work on one (a derivative, a proof) serves all: an identity
    stays one under an injective renaming of its variables.

    >>> a, b = sp.symbols("a b", real=True)
    >>> renamed(sp.tanh(a) * b)[0] == renamed(sp.tanh(b) * a)[0]
    False
    >>> renamed(sp.tanh(a) + 1)[0] == renamed(sp.tanh(b) + 1)[0]
    True
    """
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    holders = [_placeholder(k, s) for k, s in enumerate(symbols)]
    return expr.xreplace(dict(zip(symbols, holders))), symbols, holders


def _placeholder(k: int, like) -> sp.Symbol:
    assumptions = tuple(sorted(like.assumptions0.items())) if like is not None else (("real", True),)
    found = _PLACEHOLDERS.get((k, assumptions))
    if found is None:
        found = _PLACEHOLDERS[(k, assumptions)] = sp.Symbol(f"_rev{k}", **dict(assumptions))
    return found


def local_partials(expr: sp.Expr, cache: dict) -> dict:
    """``{u: ∂expr/∂u}`` for each free symbol ``u``, symbolically, one :func:`sympy.diff` per template.

    ``cache`` maps templates (:func:`renamed`) to their partials; the
    derivative of a renamed expression is the renamed derivative.

    >>> x, y = sp.symbols("x y", real=True)
    >>> cache = {}
    >>> local_partials(x * sp.tanh(y), cache)[y]
    x*(1 - tanh(y)**2)
    >>> a, b = sp.symbols("a b", real=True)
    >>> local_partials(a * sp.tanh(b), cache)[b], len(cache)
    (a*(1 - tanh(b)**2), 1)
    """
    template, symbols, holders = renamed(expr)
    partials = cache.get(template)
    if partials is None:
        partials = cache[template] = [sp.diff(template, h) for h in holders]
    back = dict(zip(holders, symbols))
    return {u: d.xreplace(back) for u, d in zip(symbols, partials)}


def graph_nodes(exprs) -> int:
    """Distinct nodes of the DAG of ``exprs`` (shared subtrees counted once): a work unit.

    >>> x, y = sp.symbols("x y")
    >>> graph_nodes([x * y + 1, sp.tanh(x * y)])  # x*y+1, x*y, x, y, 1, tanh(x*y)
    6
    """
    seen: set = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(a for a in node.args if isinstance(a, sp.Basic))
    return len(seen)


class _Template:
    """A head's value and partials compiled once to balls, on fresh symbols."""

    __slots__ = ("value", "partials")

    def __init__(self, expr: sp.Expr, variables: tuple):
        self.value = compile_balls(expr, variables)
        self.partials = [compile_balls(sp.diff(expr, v), variables) for v in variables]


class ReverseGraph:
    """A chain of scalar definitions with a reverse pass on balls.

    Parameters
    ----------
    chain : sequence of (Symbol, Expr)
        Definitions in evaluation order; each expression reads inputs and
        earlier symbols only.
    inputs : sequence of Symbol
        The free inputs (parameters, data), given a ball each at evaluation.
    loss : Symbol or Expr
        What is differentiated: a symbol of the chain (or an expression).

    Examples
    --------
    >>> w, x, z, loss = sp.symbols("w x z loss", real=True)
    >>> graph = ReverseGraph([(z, w * x), (loss, sp.tanh(z) ** 2)], [w, x], loss)
    >>> from derivaudit.core.balls import ball_precision
    >>> with ball_precision(64):
    ...     state = graph.evaluate({w: arb(1) / 2, x: arb(2)})
    ...     exact = 2 * arb(1).tanh() * (1 - arb(1).tanh() ** 2) * 2
    ...     bool((state.adjoint(w) - exact).contains(0)), bool(state.adjoint(x).is_finite())
    (True, True)
    """

    def __init__(self, chain: Sequence, inputs: Sequence, loss):
        self.chain = list(chain)
        self.inputs = tuple(inputs)
        self.loss = loss
        self._templates: dict = {}

    def evaluate(self, env: dict) -> "_State":
        """Forward and reverse pass from ``env`` (input symbol → ball) at the current precision."""
        state = _State(self, dict(env))
        for symbol, expr in self.chain:
            state.values[symbol] = state.value(expr)
        state.backward()
        return state

    def loss_value(self, env: dict, bound=None):
        """The loss's ball from ``env`` (input symbol → ball): the forward pass alone.

        With ``bound`` (an ``arb``), a value of the pass larger in magnitude
        gives an infinite ball: how float64 arithmetic, whose largest number
        is about 1.8e308, would end.
        """
        state = _State(self, dict(env))
        for symbol, expr in self.chain:
            state.values[symbol] = state.value(expr)
        loss = state.value(self.loss)
        if bound is not None and any(abs(v.mid()) > bound for v in (*state.values.values(), *state.nodes.values())
                                     if v.is_finite()):
            return arb("inf")
        return loss

    # -- templates ---------------------------------------------------------------

    def template(self, node) -> tuple[_Template, list]:
        """The compiled template of ``node`` and the argument expressions it is applied to."""
        if isinstance(node, sp.Function) and all(isinstance(a, sp.Expr) for a in node.args) and node.args:
            # numeric arguments belong to the head (polygamma's order 0 in polygamma(0, u), a
            # constant of Max): a placeholder there would ask for the function at a ball order
            fixed = tuple(a if a.is_Number else None for a in node.args)
            arguments = [a for a in node.args if not a.is_Number]
            variables = self._fresh(len(arguments))
            places = iter(variables)
            key = (node.func, fixed)
            expr = node.func(*[next(places) if a is None else a for a in fixed])
        elif isinstance(node, sp.Pow) and node.exp.is_Number:
            variables = self._fresh(1)
            key = (sp.Pow, node.exp)
            arguments = [node.base]
            expr = sp.Pow(variables[0], node.exp, evaluate=False) if node.exp != 1 else variables[0]
        else:  # a Piecewise, a general power: the node itself, over its free symbols
            expr, arguments, variables = renamed(node)
            key = expr
        found = self._templates.get(key)
        if found is None:
            found = self._templates[key] = _Template(expr, variables)
        return found, arguments

    @staticmethod
    def _fresh(n: int) -> tuple:
        """``n`` placeholder real symbols."""
        return tuple(_placeholder(i, None) for i in range(n))


class _State:
    """The balls of one evaluation: node values and symbol adjoints."""

    def __init__(self, graph: ReverseGraph, values: dict):
        self.graph = graph
        self.values = values
        self.nodes: dict = {}
        self.adjoints: dict = {}

    def adjoint(self, symbol) -> arb:
        """``∂loss/∂symbol`` as a ball (0 when the loss does not depend on it)."""
        return self.adjoints.get(symbol, arb(0))

    def value(self, node):
        """The ball of ``node`` (any expression over the inputs and the chain's symbols)."""
        found = self.values.get(node)
        if found is not None:
            return found
        found = self.nodes.get(node)
        if found is not None:
            return found
        if node.is_Symbol:
            raise KeyError(f"no value for {node}")
        if node.is_Number or not node.free_symbols:
            result = exact_ball(node)
        elif node.is_Add:
            result = arb(0)
            for a in node.args:
                result += self.value(a)
        elif node.is_Mul:
            result = arb(1)
            for a in node.args:
                result *= self.value(a)
        else:
            template, arguments = self.graph.template(node)
            result = template.value(*[self.value(a) for a in arguments])
        self.nodes[node] = result
        return result

    def backward(self) -> None:
        """Adjoints of every symbol, from ``loss̄ = 1``, last definition first."""
        adjoints = self.adjoints
        loss = self.graph.loss
        if loss.is_Symbol:
            adjoints[loss] = arb(1)
            chain = self.graph.chain
        else:
            chain = self.graph.chain + [(None, loss)]
        for symbol, expr in reversed(chain):
            bar = arb(1) if symbol is None else adjoints.get(symbol)
            if bar is not None:
                self._propagate(expr, bar)

    def _propagate(self, node, bar) -> None:
        """Push ``bar`` (the adjoint of ``node``) down the tree of one definition to its symbols."""
        if node.is_Symbol:
            previous = self.adjoints.get(node)
            self.adjoints[node] = bar if previous is None else previous + bar
            return
        if node.is_Number or not node.free_symbols:
            return
        if node.is_Add:
            for a in node.args:
                self._propagate(a, bar)
            return
        if node.is_Mul:
            values = [self.value(a) for a in node.args]
            prefix = [arb(1)]
            for v in values[:-1]:
                prefix.append(prefix[-1] * v)
            suffix = arb(1)
            for i in range(len(values) - 1, -1, -1):
                if node.args[i].free_symbols:
                    self._propagate(node.args[i], bar * prefix[i] * suffix)
                suffix = suffix * values[i]
            return
        template, arguments = self.graph.template(node)
        balls = [self.value(a) for a in arguments]
        for a, partial in zip(arguments, template.partials):
            if a.free_symbols:
                self._propagate(a, bar * partial(*balls))

