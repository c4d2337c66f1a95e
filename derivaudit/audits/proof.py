"""Symbolic proof that a claim equals the exact gradient, and the simplified
difference shown for a wrong one.

Entries that agree at every random point are given to a cheap symbolic proof:
the difference, with non-polynomial layers written out, expanded to 0.
Proved claims say ``proved``, the others ``numerical``.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from derivaudit.core.guards import time_budget
from derivaudit.core.reverse import renamed as rename_symbols
from derivaudit.errors import LimitExceeded
from derivaudit.lang.arrays import entries
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.audits.graph import ModelGraph, needed_definitions
from derivaudit.audits.spec import Model

__all__ = ["proved_entries", "proved_zero", "shown_difference", "expression_size"]

#: largest difference (in sympy operations) given to simplify() for display
_SIMPLIFY_OPS = 400
#: largest difference expanded in a proof attempt
_PROOF_OPS = 20_000


def proved_entries(claim_entries, exact_entries, model: Model, graph: ModelGraph, draw=None,
                   limits: Limits = DEFAULT_LIMITS) -> int:
    """How many leading entries ``claim − exact`` are proved 0 (stops at the first that is not).

    Drawn data (one-hot labels, random data) take the values of ``draw`` (the
    first evidence point's): the proof holds for every parameter value with
    those data.  The other evidence points, with other draws, are the
    witness search's (a claim right only for some labels has a witness
    there).  The attempt runs under ``Limits.symbolic_seconds``; past it, the
    entries not yet proved stay unproved (a proof not found is no verdict).
    """
    keep = _polynomial_layers(model)
    written = _WrittenOut(graph, keep)
    proved = 0
    shown: set = set()  # proved differences up to a renaming of their symbols
    try:
        with time_budget(limits.symbolic_seconds, "proving the claim", "symbolic_seconds"):
            for c, e in zip(claim_entries, exact_entries):
                difference = written(c - e).xreplace(draw or {})
                # an identity stays one under a renaming of its variables: entries built alike
                # (W1[0,0] and W1[3,2]) are proved once
                renamed = rename_symbols(difference)[0]
                if renamed not in shown:
                    if not proved_zero(difference):
                        break
                    shown.add(renamed)
                proved += 1
    except (LimitExceeded, RecursionError):  # sympy recursing through a deep expression: no proof found
        pass
    return proved


class _WrittenOut:
    """Expressions with every adjoint and every layer not in ``keep`` written out, each symbol once.

    The written-out form of each symbol is kept, so entries sharing layers
    (every entry of a claim) do not write them out again.
    """

    def __init__(self, graph: ModelGraph, keep: set):
        self.graph = graph
        self.definitions = {s: e for s, e in graph.chain if s not in keep}
        self.full: dict = {}

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        for symbol, definition in needed_definitions(self.graph.chain, [expr]):
            if symbol in self.definitions and symbol not in self.full:
                self.full[symbol] = definition.xreplace(
                    {u: self.full[u] for u in definition.free_symbols if u in self.full})
        return expr.xreplace({u: self.full[u] for u in expr.free_symbols if u in self.full})


def _polynomial_layers(model: Model) -> set[sp.Symbol]:
    """Symbols of forward layers whose entries are polynomials of the layer below (Z = W@A + b).

    They are kept as independent variables in a proof: any identity in them
    holds in particular at their actual values.
    """
    keep = set()
    for d in model.spec.forward:
        if all(v.is_polynomial() for v in entries(model.local[d.name])):
            keep.update(entries(model.values[d.name]))
    return keep


def _substitute(expr: sp.Expr, definitions: Mapping, keep: set) -> sp.Expr:
    """Write out every layer symbol of ``expr`` not in ``keep``, recursively."""
    for _ in range(1000):
        targets = {s: definitions[s] for s in expr.free_symbols if s in definitions and s not in keep}
        if not targets:
            return expr
        expr = expr.xreplace(targets)
    return expr


def _split_exp(expr: sp.Expr) -> sp.Expr:
    """``exp(2a − b)`` → ``E_a**2 · E_b**−1`` with one fresh symbol ``E_m`` per exponent term ``m``.

    Symbols, not ``exp(a)**2``: sympy would fold that back into ``exp(2a)``.
    """
    atoms: dict[sp.Expr, sp.Symbol] = {}

    def split(e):
        out = sp.Integer(1)
        for term in sp.Add.make_args(e.args[0]):
            coeff, rest = term.as_coeff_Mul()
            if rest not in atoms:
                atoms[rest] = sp.Dummy(f"E{len(atoms)}", positive=True)
            out *= atoms[rest] ** coeff
        return out

    return expr.replace(lambda e: isinstance(e, sp.exp), split)


def proved_zero(difference: sp.Expr) -> bool:
    """Is ``difference`` identically 0?  True only with a proof; False means "not shown".

    Exponentials are split into one atom per exponent term, and every sum
    ``B`` that appears in a denominator is renamed ``σ_B``; one atom ``t`` of
    ``B`` (one whose reciprocal does not occur) is then eliminated with
    ``t = σ_B − (B − t)``.  This change of variables is invertible, so the
    difference is 0 exactly when the resulting Laurent polynomial in the
    atoms and the ``σ``'s expands to 0.  Atoms that are functions of
    independent symbols (``exp(Z[0,1])``, ``tanh(Z[2,3])``) are algebraically
    independent, so the expansion decides the identity for those; anything
    else may fail to be shown (then the verdict stays numerical).

    >>> z = sp.Symbol("z")
    >>> proved_zero(sp.exp(2*z) / (1 + sp.exp(z)) - sp.exp(z) + sp.exp(z) / (1 + sp.exp(z)))
    True
    """
    if difference == 0:
        return True
    if expression_size(difference) > _PROOF_OPS:
        return False
    expr = _split_exp(difference)
    bases = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and node.base.is_Add and node.exp.is_negative and node.base not in bases:
            bases.append(node.base)
    sigmas = {base: sp.Dummy(f"sigma{k}") for k, base in enumerate(bases)}
    expr = expr.xreplace(sigmas)
    inverse = {n.base for n in sp.preorder_traversal(expr) if isinstance(n, sp.Pow) and n.exp.is_negative}
    eliminate, used = {}, set()
    for base, sigma in sigmas.items():
        for atom in sp.Add.make_args(base):
            if atom in inverse or atom in used or not (atom.is_Function or isinstance(atom, sp.Dummy)):
                continue
            if any(atom in sp.Add.make_args(other) for other in bases if other is not base):
                continue
            eliminate[atom] = sigma - (base - atom)
            used.add(atom)
            break
    expr = expr.xreplace(eliminate)
    if expression_size(expr) > _PROOF_OPS:
        return False
    return sp.expand(expr) == 0


def expression_size(expr: sp.Expr) -> int:
    """Nodes of the expression tree: a cheap measure of the work sympy will do on it."""
    return sum(1 for _ in sp.preorder_traversal(expr))


def _fold_layers(expr: sp.Expr, model: Model, graph: ModelGraph) -> sp.Expr:
    """Rewrite ``expr`` in the names of non-polynomial layers where it can.

    ``tanh(Z1[0,2])`` becomes ``A1[0,2]``; for a softmax layer
    ``A[k,n] = exp(Z[k,n]) / S_n`` every ``exp(Z[k,n])`` becomes ``A[k,n]·S_n``,
    and ``S_n`` cancels from the (degree-0) derivative expressions after
    expansion.  Whatever does not fold stays as it is.
    """
    definitions = graph.definitions
    keep = _polynomial_layers(model)
    loss = model.values["loss"]
    direct = {}
    exps, sums = {}, {}
    for symbol, local in definitions.items():
        if symbol in keep or symbol == loss:
            continue
        numerator, denominator = local.as_numer_denom()
        if isinstance(numerator, sp.exp) and denominator.is_Add and \
                all(isinstance(t, sp.exp) for t in denominator.args) and numerator in denominator.args:
            sigma = sums.setdefault(denominator, sp.Dummy("S"))
            exps[numerator] = symbol * sigma
        else:
            direct[local] = symbol
    expr = _substitute(expr, definitions, keep).xreplace(direct)
    if not sums:
        return expr

    def base_exp(e):
        return sp.exp(e.args[0].as_coeff_Mul()[1])

    # exp(2z) and exp(-z) too; as powers of symbols, which sympy does not fold back into exp(2z)
    expr = expr.xreplace(sums).replace(lambda e: isinstance(e, sp.exp) and base_exp(e) in exps,
                                       lambda e: exps[base_exp(e)] ** e.args[0].as_coeff_Mul()[0])
    expanded = sp.expand(expr)
    back = {sigma: base for base, sigma in sums.items()}
    return expanded.xreplace(back) if expanded.free_symbols & set(back) else expanded


def shown_difference(difference: sp.Expr, model: Model, graph: ModelGraph, limits: Limits) -> str:
    """The difference of one wrong entry in the layers' names, simplified within a time budget."""
    try:
        # the work is bounded by _SIMPLIFY_OPS; the clock is only a guard (a busy machine must not
        # change what is shown)
        with time_budget(limits.simplify_seconds, "simplifying a difference"):
            expr = _fold_layers(difference, model, graph)
            if expression_size(expr) <= _SIMPLIFY_OPS:
                simplified = sp.factor_terms(sp.simplify(expr))
                if expression_size(simplified) <= expression_size(expr):
                    expr = simplified
    except LimitExceeded:
        expr = difference
    text = str(expr)
    return text if len(text) <= 400 else text[:400] + " ..."
