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
from derivaudit.core.symbolic import closed_form

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
        partials = cache[template] = [closed_form(sp.diff(template, h)) for h in holders]
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
        self.partials = [compile_balls(closed_form(sp.diff(expr, v)), variables) for v in variables]


class ReverseGraph:
    """A chain of scalar definitions with a reverse pass on balls.

    The chain, and every further expression asked of a state, is compiled
    once into a *tape*: one instruction per distinct node of their DAG, in an
    order where each node comes after its arguments (a node shared by many
    definitions is one instruction).  A forward pass runs the tape first to
    last, a reverse pass last to first; neither walks a sympy tree again.

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
        self._tape: _Tape | None = None

    @property
    def tape(self) -> "_Tape":
        """The compiled chain and loss (built at the first evaluation, so a bad chain fails there)."""
        if self._tape is None:
            self._tape = _Tape(self)
        return self._tape

    def evaluate(self, env: dict) -> "_State":
        """Forward and reverse pass from ``env`` (input symbol → ball) at the current precision."""
        state = _State(self, env)
        state.backward()
        return state

    def loss_value(self, env: dict, bound=None):
        """The loss's ball from ``env`` (input symbol → ball): the forward pass alone.

        With ``bound`` (an ``arb``), a value of the pass larger in magnitude
        gives an infinite ball: how float64 arithmetic, whose largest number
        is about 1.8e308, would end.
        """
        state = _State(self, env)
        loss = state.values[self.tape.loss_slot]
        if bound is not None and any(v is not None and v.is_finite() and abs(v.mid()) > bound
                                     for v in state.values):
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


# instruction kinds of the tape
_CONST, _COPY, _ADD, _MUL, _CALL = range(5)


class _Tape:
    """The chain and any expression asked of it, as instructions over numbered slots.

    Slots ``0 … len(inputs) − 1`` hold the inputs; each chain symbol has a
    slot of its own (a copy of its expression's), so its adjoint collects the
    uses of the symbol only.  An instruction is ``(kind, slot, arguments,
    payload)``; ``variable[k]`` says whether slot ``k`` depends on an input
    (constants get no adjoint; a chain symbol always has one).  Instructions past :attr:`chain_end` are the
    extra expressions (claims, backward intermediates), run on request.
    """

    def __init__(self, graph: ReverseGraph):
        self.graph = graph
        self.slots: dict = {s: k for k, s in enumerate(graph.inputs)}
        self.variable: list[bool] = [True] * len(graph.inputs)
        self.code: list[tuple] = []
        self.first = len(graph.inputs)  # the slot of the first instruction
        for symbol, expr in graph.chain:
            self._emit(_COPY, (self.slot_of(expr),), None, symbol)
        self.loss_slot = self.slot_of(graph.loss)
        self.chain_end = len(self.code)

    def slot_of(self, node) -> int:
        """The slot of ``node``, emitting the instructions of whatever of its DAG is new."""
        found = self.slots.get(node)
        if found is not None:
            return found
        if node.is_Symbol:
            raise KeyError(f"no value for {node}")
        if node.is_Number:
            return self._emit(_CONST, (), node, node)
        if node.is_Add or node.is_Mul:
            args = tuple(self.slot_of(a) for a in node.args)
            if all(self._is_constant(a) for a in args):  # a number: no symbol under it
                return self._emit(_CONST, (), node, node)
            return self._emit(_ADD if node.is_Add else _MUL, args, None, node)
        if not node.free_symbols:
            return self._emit(_CONST, (), node, node)
        template, arguments = self.graph.template(node)
        return self._emit(_CALL, tuple(self.slot_of(a) for a in arguments), template, node)

    def _is_constant(self, slot: int) -> bool:
        return slot >= self.first and self.code[slot - self.first][0] == _CONST

    def _emit(self, kind: int, args: tuple, payload, node) -> int:
        slot = len(self.variable)
        # a chain symbol has an adjoint even where its definition is a constant (∂loss/∂s is
        # the loss's sensitivity to the entry s, a backward intermediate's value)
        self.variable.append(kind == _COPY or (kind != _CONST and any(self.variable[a] for a in args)))
        self.code.append((kind, slot, args, payload))
        self.slots[node] = slot
        return slot

    def run(self, values: list, start: int, stop: int, constants: dict) -> None:
        """Fill ``values`` for instructions ``start … stop − 1`` (the forward pass)."""
        for kind, slot, args, payload in self.code[start:stop]:
            if kind == _ADD:
                result = arb(0)
                for a in args:
                    result += values[a]
            elif kind == _MUL:
                result = arb(1)
                for a in args:
                    result *= values[a]
            elif kind == _CALL:
                result = payload.value(*[values[a] for a in args])
            elif kind == _COPY:
                result = values[args[0]]
            else:
                result = constants.get(payload)
                if result is None:
                    result = constants[payload] = exact_ball(payload)
            values.append(result)

    def backward(self, values: list, adjoints: list) -> None:
        """Add each chain instruction's adjoint into its arguments', last instruction first."""
        variable = self.variable
        for kind, slot, args, payload in reversed(self.code[:self.chain_end]):
            bar = adjoints[slot]
            if bar is None or kind == _CONST:
                continue
            if kind == _ADD or kind == _COPY:
                pushed = [bar] * len(args)
            elif kind == _MUL:
                pushed = _product_partials([values[a] for a in args], bar)
            else:
                balls = [values[a] for a in args]
                pushed = [bar * partial(*balls) if variable[a] else None
                          for a, partial in zip(args, payload.partials)]
            for a, contribution in zip(args, pushed):
                if variable[a]:
                    previous = adjoints[a]
                    adjoints[a] = contribution if previous is None else previous + contribution


def _product_partials(factors: list, bar) -> list:
    """``bar · Πⱼ≠ᵢ aⱼ`` for each factor ``i``, by prefix and suffix products (no division)."""
    prefix = [arb(1)]
    for v in factors[:-1]:
        prefix.append(prefix[-1] * v)
    out = [None] * len(factors)
    suffix = arb(1)
    for i in range(len(factors) - 1, -1, -1):
        out[i] = bar * prefix[i] * suffix
        suffix = suffix * factors[i]
    return out


class _State:
    """The balls of one evaluation: a value per tape slot, and the adjoints of the reverse pass."""

    def __init__(self, graph: ReverseGraph, env: dict):
        tape = graph.tape
        self.tape = tape
        self.values: list = [env[s] for s in graph.inputs]
        self._constants: dict = {}
        tape.run(self.values, 0, tape.chain_end, self._constants)
        self.adjoints: list | None = None

    def adjoint(self, symbol) -> arb:
        """``∂loss/∂symbol`` as a ball (0 when the loss does not depend on it)."""
        slot = self.tape.slots.get(symbol)
        adjoints = self.adjoints or ()
        found = adjoints[slot] if slot is not None and slot < len(adjoints) else None
        return arb(0) if found is None else found

    def value(self, node):
        """The ball of ``node`` (any expression over the inputs and the chain's symbols).

        An expression not yet on the tape is compiled onto it (so the next
        evaluation runs it with the chain), then the instructions this state
        has not run are run.
        """
        slot = self.tape.slot_of(node)
        if slot >= len(self.values):
            self.tape.run(self.values, len(self.values) - self.tape.first, len(self.tape.code),
                          self._constants)
        return self.values[slot]

    def backward(self) -> None:
        """Adjoints of every slot, from ``loss̄ = 1``."""
        self.adjoints = [None] * len(self.values)
        self.adjoints[self.tape.loss_slot] = arb(1)
        self.tape.backward(self.values, self.adjoints)
