"""Likely mistakes in a wrong claim: sign, factor, term, variable, chain rule, order.

Each candidate mistake is turned into the derivative it would produce and
confirmed numerically on the domain (:func:`diagnose`); the verdict never
depends on it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from fractions import Fraction

import mpmath
import sympy as sp

from derivaudit.core.piecewise import vanishes_off_switches
from derivaudit.checks.equivalence import Comparison, compare_expressions, off_switches
from derivaudit.checks.proof import safe_expand
from derivaudit.checks.results import Diagnosis, Mistake
from derivaudit.core.numeric import GUARD_DIGITS, to_mpf
from derivaudit.core.symbolic import derivative
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.lang.parse import format_formula
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["diagnose"]


def _same(a: sp.Expr, b: sp.Expr, domain: Sequence[sp.Expr], limits: Limits, seed: int,
          deadline: float | None) -> bool:
    """Numerically the same function (30 digits, the witness search, no symbolic work);
    False past the check's deadline (a diagnosis never outlives the check's budget)."""
    if deadline is not None and time.monotonic() > deadline:
        return False
    try:
        return compare_expressions(a, b, domain=domain, dps=30, points=12, seed=seed, deadline=deadline,
                                   limits=dataclasses.replace(limits, simplify_seconds=0)).equal
    except (DomainError, LimitExceeded):
        return False


#: constants a mistaken factor is tried as (times a small fraction): log10/log2 and
#: degrees-vs-radians mistakes give log(10), log(2) and pi/180
_FACTOR_CONSTANTS = (sp.Integer(1), sp.pi, sp.E, sp.log(2), sp.log(10), sp.sqrt(2))


def _constant_ratio(comparison: Comparison) -> sp.Expr | None:
    """``claim/exact`` at the counterexample as ``fraction · K^±1`` for a known constant K.

    The fraction has a denominator of at most 1000 and must match to half the
    working digits; the caller confirms the factor on the whole domain.
    """
    c, e = comparison.claim_value, comparison.exact_value
    if c is None or e is None or e == 0 or c == 0:
        return None
    dps = comparison.dps
    with mpmath.workdps(dps + GUARD_DIGITS):
        ratio = c / e
        for constant in _FACTOR_CONSTANTS:
            for power in ((1,) if constant == 1 else (1, -1)):
                k = to_mpf(constant ** power, dps + GUARD_DIGITS)
                rest = ratio / k
                fraction = Fraction(mpmath.nstr(rest, dps)).limit_denominator(1000)
                approx = mpmath.mpf(fraction.numerator) / fraction.denominator
                if fraction and abs(rest - approx) <= abs(rest) * mpmath.mpf(10) ** (-(dps // 2)):
                    return sp.Rational(fraction.numerator, fraction.denominator) * constant ** power
    return None


def _terms(expr: sp.Expr) -> list[sp.Expr]:
    """The additive terms of ``expr`` as written and of its expansion."""
    terms = list(sp.Add.make_args(expr))
    for term in sp.Add.make_args(safe_expand(expr)):
        if term not in terms:
            terms.append(term)
    return terms if len(terms) > 1 else []


def _inner_arguments(f: sp.Expr, var: sp.Symbol, limit: int = 12) -> list[sp.Expr]:
    """Arguments of functions and powers in ``f`` that depend on ``var`` non-trivially."""
    found: list[sp.Expr] = []
    for node in sp.preorder_traversal(f):
        if isinstance(node, sp.Function) or isinstance(node, sp.Pow):
            args = node.args if isinstance(node, sp.Function) else (node.base,)
            if isinstance(node, sp.Pow) and node.base == sp.E:
                args = (node.exp,)
            for arg in args:
                if arg.has(var) and arg != var and arg not in found and sp.diff(arg, var) != 1:
                    found.append(arg)
        if len(found) >= limit:
            break
    return found


def _without_inner(f: sp.Expr, var: sp.Symbol, inner: sp.Expr) -> sp.Expr | None:
    """``df/dvar`` with the factor ``d inner/dvar`` of the chain rule left out."""
    t = sp.Dummy("t", real=True)
    outer = f.subs(inner, t)
    if not outer.has(t):
        return None
    return (sp.diff(outer, var) + sp.diff(outer, t)).subs(t, inner)


def _derivative_or_none(f: sp.Expr, var: sp.Symbol, order: int, limits: Limits) -> sp.Expr | None:
    """A derivative for a diagnosis candidate, or None past the limits (the
    diagnosis is a best effort; the verdict does not depend on it)."""
    try:
        return derivative(f, var, order, limits)
    except LimitExceeded:
        return None


def diagnose(f: sp.Expr, var: sp.Symbol, order: int, claim: sp.Expr, exact: sp.Expr,
             comparison: Comparison, limits: Limits = DEFAULT_LIMITS, seed: int = 0,
             deadline: float | None = None) -> tuple[Diagnosis, ...]:
    """Likely mistakes that turn ``exact`` into ``claim``, most specific first.

    Each candidate is confirmed numerically on the domain (the claim must
    *equal* the mistaken derivative as a function, not just at one point):

    - ``claim = f'(g)`` with the factor ``g'`` of an inner argument g left out: chain rule
      (tried first: it also explains a constant factor or a "wrong variable" in ``w·x + b``);
    - ``claim = c·exact``: sign flipped (c = −1) or constant factor c;
    - ``claim = ∂ⁿf/∂uⁿ`` for another variable u: wrong variable;
    - ``claim = dᵏf/dvarᵏ`` with k ≠ n: wrong order;
    - only when none of these fits: ``claim − exact = −t`` (``+t``) for a term t of
      exact (of claim), or a difference that is a single term: missing (extra) term.

    Past ``deadline`` (``time.monotonic()``) no candidate is confirmed: the
    diagnosis is a best effort and never delays or changes the verdict.
    """
    domain = [f]

    def same(a: sp.Expr, b: sp.Expr) -> bool:
        return _same(a, b, domain, limits, seed, deadline)

    found: list[Diagnosis] = []
    difference = claim - exact

    if order == 1:
        for inner in _inner_arguments(f, var):
            candidate = _without_inner(f, var, inner)
            if candidate is not None and candidate != exact and \
                    same(claim, candidate):
                inner_derivative = sp.diff(inner, var)
                found.append(Diagnosis(Mistake.CHAIN_RULE, f"the factor d({format_formula(inner)})"
                                       f"/d{var.name} = {format_formula(inner_derivative)} is "
                                       "missing", inner_derivative))
                break

    factor = _constant_ratio(comparison)
    if factor is not None and factor != 1 and same(claim, factor * exact):
        if factor == -1:
            found.append(Diagnosis(Mistake.SIGN, "claim = −exact", sp.Integer(-1)))
        else:
            found.append(Diagnosis(Mistake.FACTOR, f"claim = {format_formula(factor)}·exact",
                                   factor))

    for other in sorted(f.free_symbols - {var}, key=lambda s: s.name):
        wrong = _derivative_or_none(f, other, order, limits)
        if wrong is not None and not vanishes_off_switches(off_switches(wrong)) and same(claim, wrong):
            found.append(Diagnosis(Mistake.WRONG_VARIABLE, f"the claim is the derivative with "
                                   f"respect to {other.name}, not {var.name}", other.name))

    for k in range(0, min(order + 2, limits.max_derivative_order) + 1):
        if k != order:
            other_order = _derivative_or_none(f, var, k, limits)
            if other_order is not None and not vanishes_off_switches(off_switches(other_order)) and \
                    same(claim, other_order):
                what = "the formula itself" if k == 0 else f"the derivative of order {k}"
                found.append(Diagnosis(Mistake.WRONG_ORDER, f"the claim is {what}, not the "
                                       f"derivative of order {order}", k))

    if not found:
        for term in _terms(exact):
            if same(difference, -term):
                found.append(Diagnosis(Mistake.MISSING_TERM, f"the exact derivative's term "
                                       f"{format_formula(term)} is not in the claim", term))
                break
        else:
            for term in _terms(claim):
                if same(difference, term):
                    found.append(Diagnosis(Mistake.EXTRA_TERM, f"the claim's term "
                                           f"{format_formula(term)} does not belong", term))
                    break
            else:
                shown = comparison.difference
                if len(sp.Add.make_args(safe_expand(shown))) == 1 and not shown.is_number:
                    # claim = exact + shown: the side with more terms has the odd one
                    if _term_count(claim) > _term_count(exact):
                        found.append(Diagnosis(Mistake.EXTRA_TERM, f"the claim has the extra "
                                               f"term {format_formula(shown)}", shown))
                    else:
                        found.append(Diagnosis(Mistake.MISSING_TERM, f"the claim lacks the "
                                               f"term {format_formula(-shown)}", -shown))
    return tuple(found)


def _term_count(expr: sp.Expr) -> int:
    return 0 if expr == 0 else len(sp.Add.make_args(safe_expand(expr)))

