"""The model as a graph of small scalar definitions, its exact gradient by
reverse mode, and compiled evaluation of any outputs over that graph.

The spec is instantiated layer by layer (:func:`~derivaudit.audits.spec.build`):
every entry of every forward definition is a small scalar expression in the
symbols of the layer below.  Reverse-mode differentiation over that graph
(the chain rule, applied with :func:`sympy.diff` to each small expression)
gives ``∂loss/∂P[i,j]`` exactly, as a graph too; the nested expression of
the loss in the parameters is never expanded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derivaudit.core.guards import lambdify_mpmath
from derivaudit.core.numpy_special import NUMPY_SPECIAL
from derivaudit.core.reverse import local_partials
from derivaudit.lang.arrays import Array, Value, entries, shape_of
from derivaudit.audits.spec import Model

__all__ = ["ModelGraph", "forward_chain", "model_graph", "exact_gradient", "compile_outputs",
           "is_adjoint", "expand_adjoints", "needed_definitions"]

#: prefix of the adjoint symbols ``d[Z[0,1]]`` (never a user name: ``[`` is not an identifier character)
_ADJOINT_PREFIX = "d["


@dataclass
class ModelGraph:
    """The model as scalar definitions.

    ``forward`` holds the forward layers ``(symbol, expression)`` in
    evaluation order, ``chain`` the forward layers followed by the adjoints,
    ``adjoint`` the adjoint symbol of each layer symbol the loss depends on,
    and ``gradient`` the exact ``∂loss/∂P`` of each parameter asked for.
    """

    forward: list[tuple[sp.Symbol, sp.Expr]]
    chain: list[tuple[sp.Symbol, sp.Expr]]
    adjoint: dict[sp.Symbol, sp.Symbol]
    gradient: dict[str, Value]

    @property
    def definitions(self) -> dict[sp.Symbol, sp.Expr]:
        """What each forward layer symbol stands for."""
        return dict(self.forward)


def forward_chain(model: Model) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Every forward layer entry ``(symbol, expression)`` of ``model`` in evaluation order."""
    chain: list[tuple[sp.Symbol, sp.Expr]] = []
    for d in model.spec.forward:
        # a constant definition (N = X.shape[0]) is its own value: no symbol, no layer
        chain += [(s, e) for s, e in zip(entries(model.values[d.name]), entries(model.local[d.name]))
                  if isinstance(s, sp.Symbol)]
    return chain


def exact_gradient(model: Model, parameters=None) -> dict[str, Value]:
    """``∂loss/∂P`` for each parameter, exact, as expressions in the model's layer symbols.

    Reverse-mode differentiation: the adjoint ``ū = Σ_v v̄ · ∂v/∂u`` of each
    symbol ``u`` is accumulated from the definitions ``v`` that use it, last
    layer first.  The result is exact (it is the chain rule); evaluate it
    with the layers' definitions (see :func:`model_graph`).
    """
    return model_graph(model, parameters).gradient


def model_graph(model: Model, parameters=None) -> ModelGraph:
    """The forward layers, their adjoints and the exact gradient of ``parameters`` (default: all)."""
    spec = model.spec
    parameters = list(spec.params if parameters is None else parameters)
    chain = forward_chain(model)
    contributions: dict[sp.Symbol, list] = defaultdict(list)
    contributions[model.values["loss"]].append(sp.Integer(1))
    wanted = {s for p in parameters for s in entries(model.param_symbols[p])}
    layer_symbols = {s for s, _ in chain}
    adjoint: dict[sp.Symbol, sp.Symbol] = {}
    adjoint_chain = []
    templates: dict = {}  # entries built alike share one sympy.diff per partial
    for symbol, expr in reversed(chain):
        terms = contributions.pop(symbol, None)
        if not terms:
            continue
        bar = sp.Symbol(f"{_ADJOINT_PREFIX}{symbol.name}]", real=True)
        adjoint[symbol] = bar
        adjoint_chain.append((bar, sp.Add(*terms)))
        for u, partial in local_partials(expr, templates).items():
            if u in layer_symbols or u in wanted:
                contributions[u].append(bar * partial)
    gradient = {}
    for p in parameters:
        value = model.param_symbols[p]
        grads = [sp.Add(*contributions.get(s, [])) for s in entries(value)]
        gradient[p] = Array(np.array(grads, dtype=object).reshape(shape_of(value))) \
            if isinstance(value, Array) else grads[0]
    return ModelGraph(chain, chain + adjoint_chain, adjoint, gradient)


def is_adjoint(symbol: sp.Symbol) -> bool:
    """Is ``symbol`` one of the adjoints ``d[...]`` of :func:`model_graph`?"""
    return symbol.name.startswith(_ADJOINT_PREFIX)


def expand_adjoints(expr: sp.Expr, graph: ModelGraph) -> sp.Expr:
    """``expr`` with every adjoint symbol written out in the forward layer symbols."""
    adjoint_defs = {bar: e for bar, e in graph.chain if is_adjoint(bar)}
    for _ in range(10_000):
        targets = {s: adjoint_defs[s] for s in expr.free_symbols if s in adjoint_defs}
        if not targets:
            return expr
        expr = expr.xreplace(targets)
    return expr


def needed_definitions(chain, outputs) -> list[tuple[sp.Symbol, sp.Expr]]:
    """The definitions of ``chain`` that ``outputs`` depend on, in evaluation order."""
    needed = set().union(*(o.free_symbols for o in outputs)) if outputs else set()
    used = []
    for symbol, expr in reversed(chain):
        if symbol in needed:
            used.append((symbol, expr))
            needed |= expr.free_symbols
    used.reverse()
    return used


def compile_outputs(inputs, outputs, chain, module: str):
    """One function of ``inputs`` returning ``outputs``, the chain as its common subexpressions.

    ``module`` is ``"mpmath"`` (magnitude-guarded) or ``"numpy"``; only the
    definitions of ``chain`` the outputs need are kept.
    """
    used = needed_definitions(chain, outputs)
    names = {}
    for k, s in enumerate(list(inputs) + [s for s, _ in used]):
        names[s] = sp.Symbol(f"_v{k}", real=True)
    reps = [(names[s], e.xreplace(names)) for s, e in used]
    body = [o.xreplace(names) for o in outputs]
    arguments = [names[s] for s in inputs]
    layers = lambda exprs: (reps, list(exprs))  # noqa: E731 - the layers as common subexpressions
    if module == "mpmath":
        # magnitude-guarded: exp(exp(exp(x))) must not ask gmp for a number with billions of digits
        return lambdify_mpmath(arguments, body, cse=layers)
    # the special functions (erf, gamma, ...) by elementwise functions: NumPy has none of them
    return sp.lambdify(arguments, body, modules=[NUMPY_SPECIAL, module], cse=layers)
