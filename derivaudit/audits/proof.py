"""Symbolic proof that a claim equals the exact gradient, and the simplified
difference shown for a wrong one.

Entries that agree at every random point are given to a cheap symbolic proof:
the difference, with non-polynomial layers written out, expanded to 0.
Proved claims say ``proved``, the others ``numerical``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import sympy as sp

from derivaudit.budgets import time_budget
from derivaudit.errors import LimitExceeded
from derivaudit.lang.arrays import entries, entry_label
from derivaudit.lang.functions import make_symbol
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.audits.graph import ModelGraph, needed_definitions
from derivaudit.audits.spec import Model

__all__ = ["proved_entries", "proved_zero", "shown_difference", "expression_size", "onehot_groups",
           "proved_for_every_label", "label_preserving_template"]

#: largest difference (in sympy operations) given to simplify() for display
_SIMPLIFY_OPS = 400
#: largest difference (sympy operations) reduced as a polynomial in one-hot labels
_LABEL_REDUCTION_OPS = 400
#: largest difference expanded in a proof attempt
_PROOF_OPS = 20_000


def proved_entries(claim_entries, exact_entries, model: Model, graph: ModelGraph, draw=None,
                   limits: Limits = DEFAULT_LIMITS) -> int:
    """How many leading entries ``claim − exact`` are proved 0 (stops at the first that is not).

    "Proved" holds for all data (issue 22 item 8): random data stay symbols in
    the proof, and one-hot labels are covered pattern by pattern
    (:func:`proved_for_every_label`: each sample's label is independent, so
    the identity must hold for each class of each sample).  ``draw`` (one
    evidence point's data) is not substituted: a proof for one draw is no
    proof.  The attempt runs under ``Limits.symbolic_seconds``; past it, the
    entries not yet proved stay unproved (a proof not found is no verdict).
    """
    keep = _polynomial_layers(model)
    groups = onehot_groups(model)
    group_of = {s: tuple(g) for g in groups for s in g}
    written = _WrittenOut(graph, keep)
    proved = 0
    shown: set = set()  # proved differences up to a renaming of their symbols
    try:
        with time_budget(limits.symbolic_seconds, "proving the claim", "symbolic_seconds"):
            for c, e in zip(claim_entries, exact_entries):
                difference = written(c - e)
                # an identity stays one under a renaming of its variables: entries built alike
                # (W1[0,0] and W1[3,2]) are proved once (labels renamed group for group)
                key = label_preserving_template(difference, group_of)
                if key not in shown:
                    if not proved_for_every_label(difference, groups):
                        break
                    shown.add(key)
                proved += 1
    except (LimitExceeded, RecursionError):  # sympy recursing through a deep expression: no proof found
        pass
    return proved


def onehot_groups(model: Model) -> list[list[sp.Symbol]]:
    """The symbols of each sample's one-hot label, one list per sample (the entries along the
    one-hot axis; the last is the class that has no 1 among the others)."""
    groups = []
    for name, kind in sorted(model.spec.data.items()):
        if not (isinstance(kind, tuple) and kind[0] == "onehot"):
            continue
        shape, axis = model.spec.shapes[name], kind[1]
        others = [range(n) for k, n in enumerate(shape) if k != axis]
        for rest in itertools.product(*others):
            index = [list(rest[:axis]) + [c] + list(rest[axis:]) for c in range(shape[axis])]
            groups.append([make_symbol(entry_label(name, tuple(i))) for i in index])
    return groups


def proved_for_every_label(difference: sp.Expr, groups: list[list[sp.Symbol]]) -> bool:
    """Is ``difference`` 0 for every one-hot pattern of the labels ``groups`` (and every value of
    the other symbols)?  True only with a proof.

    Per sample, the last class is ``1 − Σ others``; the others ``y`` take the patterns "all 0"
    or "one of them 1", on which ``y² = y`` and ``yᵢ·yₖ = 0``.  With those reductions the
    functions ``1, y₁, …`` of each sample are independent on its patterns (and products over
    independent samples too), so the difference vanishes on every pattern exactly when each
    coefficient of the reduced polynomial in the labels is proved 0.  A difference that is not
    polynomial in the labels is not shown (the verdict then comes from the witness search).

    >>> a, b, y0, y1 = sp.symbols("a b y0 y1")
    >>> proved_for_every_label(a * y0 + a * y1 - a, [[y0, y1]])
    True
    >>> proved_for_every_label(a * y0, [[y0, y1]])
    False
    """
    present = [g for g in groups if any(difference.has(s) for s in g)]
    if not present:
        return proved_zero(difference)
    last = {g[-1]: 1 - sp.Add(*g[:-1]) for g in present}
    substituted = difference.xreplace(last)
    # usually the identity holds for every real value of the other labels (the loss is linear in
    # them): proved at once; the reduction below is for small differences only (it expands)
    if proved_zero(substituted):
        return True
    if expression_size(substituted) > _LABEL_REDUCTION_OPS:
        return False
    free = [s for g in present for s in g[:-1]]
    sample = {s: k for k, g in enumerate(present) for s in g[:-1]}
    try:
        poly = sp.Poly(substituted, *free)
    except (sp.PolynomialError, sp.GeneratorsNeeded, ValueError, TypeError):
        return False
    reduced: dict[tuple, sp.Expr] = {}
    for monomial, coefficient in poly.terms():
        used = [free[k] for k, e in enumerate(monomial) if e]
        if len({sample[s] for s in used}) < len(used):
            continue  # two classes of one sample: 0 on every pattern
        key = tuple(sorted(used, key=str))
        reduced[key] = reduced.get(key, sp.S.Zero) + coefficient
    return all(proved_zero(c) for c in reduced.values())


def label_preserving_template(difference: sp.Expr, group_of: Mapping) -> tuple:
    """``difference`` with its symbols renamed to placeholders, and the shape of its label groups.

    Other symbols become ``_v0, _v1, …`` in the order of their names; the
    one-hot groups touched (``group_of`` maps each label to its group) are
    numbered in the order of their first label by name, and the ``i``-th label
    of the ``k``-th group becomes ``_l{k}_{i}``.  Two differences with the same
    template are images of each other under a bijection of symbols that maps
    whole groups onto whole groups of the same size, position for position;
    "0 for every one-hot pattern and every value of the other symbols"
    (:func:`proved_for_every_label`) is invariant under such a bijection, so
    one proof serves both.  A renaming that mapped a label onto a datum, or
    split a group, would not be such a bijection: it cannot give an equal template.

    >>> a, b, y0, y1, y2, y3 = sp.symbols("a b y0 y1 y2 y3")
    >>> groups = {y: g for g in [(y0, y1), (y2, y3)] for y in g}
    >>> label_preserving_template(a * y0, groups) == label_preserving_template(b * y2, groups)
    True
    >>> label_preserving_template(a * y0, groups) == label_preserving_template(b * y3, groups)
    False
    >>> label_preserving_template(a * y0, groups) == label_preserving_template(y0 * y2, {})
    False
    """
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    groups: list = []
    for s in symbols:
        if s in group_of and group_of[s] not in groups:
            groups.append(group_of[s])
    mapping = {s: sp.Symbol(f"_l{k}_{i}", **s.assumptions0) for k, g in enumerate(groups) for i, s in enumerate(g)}
    others = [s for s in symbols if s not in group_of]
    mapping.update({s: sp.Symbol(f"_v{k}", **s.assumptions0) for k, s in enumerate(others)})
    return difference.xreplace(mapping), tuple(len(g) for g in groups)


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
