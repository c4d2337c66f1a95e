"""Symbolic proof that ``claim − exact`` is 0: canonical forms under a time budget.

:func:`symbolic_difference` tries canonical forms of the difference
(``expand``; ``together`` + ``cancel``; hyperbolic functions rewritten as
``exp`` then ``cancel``; ``powsimp``; ``factor``; ``trigsimp``; a case split
on both sides of every kink, see :func:`_zero_on_each_side`) and then
:func:`sympy.simplify`.  All of it runs in a worker process that is killed
after the budget, because a Python thread cannot be interrupted and
``simplify`` can run for hours.  Polynomial forms whose expansion would
exceed :data:`MAX_EXPANDED_TERMS` terms are not attempted.

Inside a daemonic process (a ``multiprocessing.Pool`` worker), which may not
start children, the cheap forms run in-process, and only when their
expansion is small.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import sympy as sp

from derivaudit.core.piecewise import Branch
from derivaudit.lang.functions import Step
from derivaudit.lang.parse import free_variables

__all__ = ["Symbolic", "symbolic_difference", "kink_arguments", "expanded_terms", "safe_expand",
           "MAX_EXPANDED_TERMS", "positive_on_domain"]


def _hyperbolic_as_exp(expr: sp.Expr) -> sp.Expr:
    for function in (sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch):
        expr = expr.rewrite(function, sp.exp)
    return expr


def _candidate_forms(expr: sp.Expr, use_simplify: bool) -> list[tuple[str, object]]:
    """``(method, function)`` pairs, from cheap canonical forms to :func:`sympy.simplify`.

    The polynomial forms (expand, cancel, factor) are left out when the
    expansion would have more than :data:`MAX_EXPANDED_TERMS` terms: they
    would only spend the budget.
    """
    forms: list[tuple[str, object]] = []
    if expanded_terms(expr) <= MAX_EXPANDED_TERMS:
        forms += [("expand", sp.expand), ("cancel", lambda e: sp.cancel(sp.together(e)))]
        if expr.has(sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch):
            forms.append(("cancel after rewrite(exp)",
                          lambda e: sp.cancel(sp.together(_hyperbolic_as_exp(e)))))
        forms.append(("powsimp", lambda e: sp.powsimp(sp.expand(e), combine="exp")))
        forms.append(("factor", lambda e: sp.powsimp(sp.factor(e), deep=True)))
    if expr.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc):
        forms.append(("trigsimp", sp.trigsimp))
    if expr.has(*_KINK_FUNCTIONS):
        forms.append(("cancel on each side of every kink", _zero_on_each_side))
    if use_simplify:
        forms.append(("simplify", sp.simplify))
    return forms


def _forms(expr: sp.Expr, use_simplify: bool) -> Iterator[tuple[str, sp.Expr]]:
    """Each form of ``expr`` that could be computed (a sympy failure skips one form)."""
    for method, function in _candidate_forms(expr, use_simplify):
        try:
            form = function(expr)
        except Exception:  # noqa: BLE001 - sympy raises many kinds; the next form may work
            continue
        yield method, form


_KINK_FUNCTIONS = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min, Branch, Step)
#: deepest nesting of kink case splits (2**depth cases at most)
_MAX_KINK_SPLITS = 4


def _zero_on_each_side(expr: sp.Expr) -> sp.Expr:
    """0 if ``expr`` vanishes on both sides of every kink, else ``expr`` itself.

    A kink argument ``a = c·v + r`` linear in a variable ``v`` (``c`` a
    constant) splits the line into ``a > 0`` and ``a < 0``: substituting
    ``v = (±p − r)/c`` with ``p > 0`` turns ``abs(a)`` into ``p``, ``max(a, 0)``
    into ``p`` or 0, …, and each case is proved with the cheap forms.  The
    switch set ``a = 0`` itself has measure zero: the derivative of a kinked
    function does not exist there, and a claim is judged where it does.
    """
    return sp.Integer(0) if _cases_vanish(expr, 0) else expr


def _cases_vanish(expr: sp.Expr, depth: int) -> bool:
    arguments = kink_arguments([expr])
    if not arguments:
        return any(form == 0 for _, form in _forms(expr, False))
    if depth >= _MAX_KINK_SPLITS:
        return False
    for argument in arguments:
        for v in free_variables(argument):
            c = sp.diff(argument, v)
            rest = sp.expand(argument - c * v)
            if c.is_number and c != 0 and not rest.has(v):
                p = sp.Dummy("p", positive=True)
                return all(_cases_vanish(expr.subs(v, (sign * p - rest) / c), depth + 1)
                           for sign in (1, -1))
    return False


#: largest estimated number of terms :func:`safe_expand` lets sympy produce
MAX_EXPANDED_TERMS = 2_000


def expanded_terms(expr: sp.Expr) -> int:
    """An upper estimate of the number of terms ``sympy.expand(expr)`` produces.

    ``(a₁ + … + aₖ)ⁿ`` has at most ``C(n + k − 1, k − 1)`` monomials, a product
    the product of its factors' counts; function arguments are expanded too,
    so they count as well.  Capped at 10¹² so the estimate itself stays cheap.
    """
    cap = 10 ** 12
    if expr.is_Add:
        return min(cap, sum(expanded_terms(a) for a in expr.args))
    if expr.is_Mul:
        total = 1
        for factor in expr.args:
            total = min(cap, total * expanded_terms(factor))
        return total
    if expr.is_Pow:
        base = expanded_terms(expr.base)
        if expr.exp.is_Integer and expr.exp > 1 and base > 1:
            return min(cap, math.comb(int(expr.exp) + base - 1, base - 1))
        return max(base, expanded_terms(expr.exp))
    return max([1] + [expanded_terms(a) for a in expr.args if isinstance(a, sp.Expr)])


def safe_expand(expr: sp.Expr) -> sp.Expr:
    """``sympy.expand(expr)``, or ``expr`` itself when the expansion would be huge."""
    return expr if expanded_terms(expr) > MAX_EXPANDED_TERMS else sp.expand(expr)


def _size(expr: sp.Expr) -> int:
    return sp.count_ops(expr, visual=False)


def _all_forms(variants: Sequence[tuple[str, sp.Expr]], use_simplify: bool
               ) -> Iterator[tuple[str, sp.Expr]]:
    """The forms of each variant ``(how, expr)`` of the difference, in turn."""
    for how, expr in variants:
        for method, form in _forms(expr, use_simplify):
            yield method + how, form


def _symbolic_worker(variants, use_simplify: bool, conn) -> None:
    """Send every form found as ``(method, form)``; stop at the first zero."""
    try:
        for method, form in _all_forms(variants, use_simplify):
            conn.send((method, form))
            if form == 0:
                break
    finally:
        conn.close()


def positive_on_domain(domain: Iterable[sp.Expr]) -> list[sp.Symbol]:
    """Variables that are positive wherever every ``domain`` expression is real.

    ``log(x)`` is real only for ``x > 0`` and ``x**(p/q)`` (``sqrt(x)``) with
    non-integer ``p/q`` only for ``x ≥ 0`` (``x = 0`` is a single point), so a
    variable met as such an argument may be assumed positive in a proof.
    """
    found: set[sp.Symbol] = set()
    for expr in domain:
        for node in _unconditional_nodes(expr):
            if isinstance(node, sp.log) and isinstance(node.args[0], sp.Symbol):
                found.add(node.args[0])
            elif (isinstance(node, sp.Pow) and isinstance(node.base, sp.Symbol)
                  and node.exp.is_Rational and not node.exp.is_Integer):
                found.add(node.base)
    return sorted(found, key=lambda v: v.name)


def _unconditional_nodes(expr: sp.Expr):
    """The nodes of ``expr`` evaluated everywhere: not inside a piece of a Branch (or a
    Piecewise), which is evaluated only on its own region — the ``sqrt(x)`` of
    ``where(x > 0, 1/(2*sqrt(x)), 0)`` says nothing about x < 0."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Branch):
            stack.append(node.args[0])
        elif isinstance(node, sp.Piecewise):
            continue
        else:
            stack.extend(a for a in node.args if isinstance(a, sp.Basic))


def _variants(expr: sp.Expr, positive: Sequence[sp.Symbol]) -> list[tuple[str, sp.Expr]]:
    """The difference as it is, and with the domain's positive variables declared positive."""
    variants = [("", expr)]
    positive = [v for v in positive if expr.has(v)]
    if positive:
        names = ", ".join(v.name for v in positive)
        substituted = expr.subs({v: sp.Symbol(v.name, positive=True) for v in positive})
        variants.append((f", with {names} > 0 as on the domain", substituted))
    return variants


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


@dataclass(frozen=True)
class Symbolic:
    proved_by: str | None   # method that reduced the difference to 0
    best: sp.Expr           # shortest form seen
    finished: bool          # every form was tried within the budget


#: largest difference (sympy operation count) whose cheap forms are tried in-process first:
#: starting a worker costs about 0.15 s, which a 300-component gradient pays 300 times
INLINE_MAX_OPS = 40
#: the in-process attempt needs at least this budget (a smaller one asks for no proof effort)
INLINE_MIN_SECONDS = 0.5
_INLINE_METHODS = ("expand", "cancel", "cancel after rewrite(exp)", "powsimp")


def _inline_proof(variants) -> str | None:
    """The method that reduces a small difference to 0 in-process, or None."""
    for how, expr in variants:
        if _size(expr) > INLINE_MAX_OPS or expanded_terms(expr) > 200:
            return None
        for method, function in _candidate_forms(expr, False):
            if method not in _INLINE_METHODS:
                continue
            try:
                if function(expr) == 0:
                    return method + how
            except Exception:  # noqa: BLE001 - sympy raises many kinds; the worker will try again
                continue
    return None


def symbolic_difference(expr: sp.Expr, seconds: float, use_simplify: bool = True,
              positive: Sequence[sp.Symbol] = ()) -> Symbolic:
    """Try to reduce ``expr`` to 0 within ``seconds`` (wall clock, worker process).

    ``positive`` variables are positive on the domain: if ``expr`` as it is
    does not reduce to 0, it is tried again with them declared positive.
    """
    variants = _variants(expr, positive)
    forms: list[tuple[str, sp.Expr]] = []
    finished = False
    if seconds >= INLINE_MIN_SECONDS:
        inline = _inline_proof(variants)
        if inline is not None:
            return Symbolic(inline, sp.Integer(0), True)
    if seconds > 0:
        try:
            ctx = _mp_context()
            receiver, sender = ctx.Pipe(duplex=False)
            worker = ctx.Process(target=_symbolic_worker, args=(variants, use_simplify, sender),
                                 daemon=True)
            worker.start()
        except (AssertionError, OSError, ValueError):
            # e.g. inside a daemonic worker, which may not have children: the cheap forms
            # in-process, but only where they cannot blow up (nothing could stop them here)
            if expanded_terms(expr) <= MAX_EXPANDED_TERMS:
                forms = list(_all_forms(variants, False))
            finished = False
        else:
            sender.close()
            deadline = time.monotonic() + seconds
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not receiver.poll(remaining):
                        break
                    try:
                        forms.append(receiver.recv())
                    except EOFError:
                        finished = True
                        break
                    if forms[-1][1] == 0:
                        finished = True
                        break
            finally:
                if worker.is_alive():
                    worker.kill()
                worker.join()
                receiver.close()
    for method, form in forms:
        if form == 0:
            return Symbolic(method, sp.Integer(0), True)
    # a form with nan/zoo (e.g. a Piecewise for the kink) is true but unreadable as a difference
    readable = [f for _, f in forms if not f.has(sp.nan, sp.zoo)]
    best = min([expr] + readable, key=_size)
    return Symbolic(None, best, finished)



def kink_arguments(exprs: Iterable[sp.Expr]) -> list[sp.Expr]:
    """Expressions whose zeros are the switches (kinks, jumps) of ``exprs``.

    ``abs(a)``, ``sign(a)``, ``Heaviside(a)`` switch at ``a = 0``;
    ``max(a, b)`` and ``min(a, b)`` (``relu`` is ``max(0, a)``) at ``a = b``.
    """
    found: list[sp.Expr] = []
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, Branch, Step)):
                found.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                args = node.args
                found += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
    unique = []
    for arg in found:
        if arg.free_symbols and arg not in unique:
            unique.append(arg)
    return unique

