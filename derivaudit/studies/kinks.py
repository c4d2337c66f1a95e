"""Kinks at the study's point: where one-sided derivatives differ, a study says so.

``abs``, ``max``/``min`` (so ``relu``), ``sign``, ``Heaviside`` and
``Piecewise`` are smooth except where their argument (for ``max``/``min``
the difference of their arguments, for ``Piecewise`` a condition's two sides)
is zero.  When such an argument vanishes *exactly* at the point, the one-sided
limits of each derivative up to the study's order are computed by sympy; the
first order whose left and right limits differ (or do not exist) makes the
derivative undefined there, and the study reports it instead of pretending
its orders mean something.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import sympy as sp

from derivaudit.core.guards import time_budget
from derivaudit.errors import LimitExceeded
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.piecewise import Branch, one_sided_values
from derivaudit.lang.functions import Step

__all__ = ["kink_arguments", "one_sided_derivatives"]

_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth"}


def kink_arguments(expr: sp.Expr) -> list[sp.Expr]:
    """The expressions whose zeros are kinks (or jumps) of ``expr``."""
    return list(_kink_arguments(expr))


@lru_cache(maxsize=1024)
def _kink_arguments(expr: sp.Expr) -> tuple[sp.Expr, ...]:
    """:func:`kink_arguments`, memoised: every study walks its formula for them."""
    found = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, Branch, Step)):
            found.append(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):
            first, *rest = node.args
            found.extend(first - other for other in rest)
        elif isinstance(node, sp.Piecewise):
            for _, condition in node.args:
                for relation in condition.atoms(sp.core.relational.Relational):
                    found.append(relation.lhs - relation.rhs)
    return tuple(found)


def one_sided_derivatives(expr: sp.Expr, var: sp.Symbol, point: Mapping[sp.Symbol, sp.Expr],
                          order: int, limits: Limits = DEFAULT_LIMITS) -> dict | None:
    """Where the point is on a kink of ``expr`` along ``var``: what is undefined, and why.

    Returns None when no kink argument vanishes exactly at the point, or when
    every derivative up to ``order`` has equal one-sided limits there.  Else
    a dict with ``order`` (the first derivative order whose sides differ; 0
    for a jump of the formula itself), ``left``, ``right`` (text) and
    ``message``, e.g. ``"not differentiable at x=0: left derivative -1, right 1"``.

    >>> x = sp.Symbol("x", real=True)
    >>> one_sided_derivatives(sp.Abs(x), x, {x: sp.Integer(0)}, 1)["message"]
    'not differentiable at x=0: left derivative -1, right 1'
    """
    x0 = point[var]
    on_kink = [u for u in kink_arguments(expr)
               if var in u.free_symbols and u.xreplace(dict(point)).is_zero]
    if not on_kink:
        return None
    where = f"{var.name}={x0}"
    try:
        with time_budget(limits.symbolic_seconds, "finding the one-sided derivatives", "symbolic_seconds"):
            for k in range(order + 1):
                # our piecewise-exact one-sided values, not sympy's limit of its Heaviside(0) = ½ form
                left, right = one_sided_values(expr, var, dict(point), k)
                if left != right or not (left.is_finite and right.is_finite):
                    return {"order": k, "left": str(left), "right": str(right),
                            "message": _message(k, where, left, right)}
    except (LimitExceeded, NotImplementedError, ValueError, TypeError):  # sympy's limit gave up
        return {"order": order, "left": "?", "right": "?",
                "message": f"the point {where} is on a kink; its one-sided derivatives could not be found"}
    return None


def _message(k: int, where: str, left, right) -> str:
    if k == 0:
        return f"not continuous at {where}: left limit {left}, right {right}"
    if k == 1:
        return f"not differentiable at {where}: left derivative {left}, right {right}"
    name = _ORDINALS.get(k, f"order-{k}")
    return f"no {name} derivative at {where}: left {name} derivative {left}, right {right}"
