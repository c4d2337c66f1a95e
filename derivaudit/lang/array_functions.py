"""The functions of the array language, by name: one table, one handler per function.

Every elementwise function of the scalar language
(:data:`~derivaudit.lang.functions.FUNCTIONS`) applies entry by entry; the
functions here are the ones that are not elementwise scalar functions:
reductions ``sum mean max min logsumexp(x, axis=None, keepdims=False)``,
``softmax`` and ``log_softmax(x, axis=None)`` (``axis=None`` means over every
entry, as in NumPy and :func:`scipy.special.softmax`), constructors
``ones/zeros(shape)``, ``ones_like/zeros_like(x)``, ``step(x)`` (1 where
x > 0, else 0: the derivative of ``relu``), ``maximum/minimum(a, b)`` and
``transpose(x)``.

A handler receives the walker (for errors and literal arguments), the call
node, the evaluated positional arguments and the keyword values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy as sp

from derivaudit.lang.arrays import Array, Value, binary, elementwise, reduce_axis, shape_of
from derivaudit.lang.functions import FunctionSpec

__all__ = ["ArrayFunction", "ARRAY_FUNCTIONS", "REDUCTION_KEYWORDS"]


@dataclass(frozen=True)
class ArrayFunction(FunctionSpec):
    """A function of the array language: its handler, arity and keyword arguments with defaults.

    ``build(walker, node, args, keywords)`` returns the value.  With
    ``shape_args`` the positional arguments are a shape, read as literals
    by the walker instead of evaluated.
    """

    keywords: dict = field(default_factory=dict)
    shape_args: bool = False


#: keyword arguments of a reduction, with defaults
REDUCTION_KEYWORDS = {"axis": None, "keepdims": False}


def _logsumexp(values):
    return sp.log(sp.Add(*[sp.exp(v) for v in values]))


def _step(z):
    # 1 for z > 0, 0 for z <= 0: relu's derivative as NumPy code writes it, (z > 0)
    return sp.Heaviside(z, 0)


def _reduction(combine) -> Callable:
    def apply(walker, node, args, kw):
        axis, keepdims = kw["axis"], kw["keepdims"]
        if walker.force_keepdims and axis is not None:
            keepdims = True
        return reduce_axis(args[0], axis, keepdims, combine, node.func.id)
    return apply


def _softmax(walker, node, args, kw):
    exp = elementwise(sp.exp, args[0])
    total = reduce_axis(exp, kw["axis"], True, lambda vs: sp.Add(*vs), "softmax")
    return binary(lambda a, b: a / b, exp, total)


def _log_softmax(walker, node, args, kw):
    lse = reduce_axis(args[0], kw["axis"], True, _logsumexp, "log_softmax")
    return binary(lambda a, b: a - b, args[0], lse)


def _filled(fill: int) -> Callable:
    def apply(walker, node, args, kw):
        return Array(np.full(args, sp.Integer(fill), dtype=object))
    return apply


def _filled_like(fill: int) -> Callable:
    def apply(walker, node, args, kw):
        x = args[0]
        return Array(np.full(shape_of(x), sp.Integer(fill), dtype=object)) if isinstance(x, Array) \
            else sp.Integer(fill)
    return apply


def _pairwise(build) -> Callable:
    def apply(walker, node, args, kw):
        return binary(build, *args)
    return apply


def _transpose(walker, node, args, kw):
    x = args[0]
    return x.T if isinstance(x, Array) else x


def _max_or_min(combine, build) -> Callable:
    """``max(x, axis=...)`` reduces; ``max(a, b)`` is the elementwise maximum of two values."""
    reduce = _reduction(combine)
    pairwise = _pairwise(build)

    def apply(walker, node, args, kw):
        return pairwise(walker, node, args, kw) if len(args) == 2 else reduce(walker, node, args, kw)
    return apply


def _function(build, arity=1, keywords=None, shape_args=False) -> ArrayFunction:
    low, high = (arity, arity) if isinstance(arity, int) else arity
    return ArrayFunction(build, low, high, False, dict(keywords or {}), shape_args)


#: functions of the array language that are not elementwise scalar functions
ARRAY_FUNCTIONS: dict[str, ArrayFunction] = {
    "sum": _function(_reduction(lambda vs: sp.Add(*vs)), 1, REDUCTION_KEYWORDS),
    "mean": _function(_reduction(lambda vs: sp.Add(*vs) / len(vs)), 1, REDUCTION_KEYWORDS),
    "max": _function(_max_or_min(lambda vs: sp.Max(*vs), sp.Max), (1, 2), REDUCTION_KEYWORDS),
    "min": _function(_max_or_min(lambda vs: sp.Min(*vs), sp.Min), (1, 2), REDUCTION_KEYWORDS),
    "logsumexp": _function(_reduction(_logsumexp), 1, REDUCTION_KEYWORDS),
    "softmax": _function(_softmax, 1, {"axis": None}),
    "log_softmax": _function(_log_softmax, 1, {"axis": None}),
    "ones": _function(_filled(1), (1, 2), shape_args=True),
    "zeros": _function(_filled(0), (1, 2), shape_args=True),
    "ones_like": _function(_filled_like(1)),
    "zeros_like": _function(_filled_like(0)),
    "step": _function(lambda walker, node, args, kw: elementwise(_step, args[0])),
    "maximum": _function(_pairwise(sp.Max), 2),
    "minimum": _function(_pairwise(sp.Min), 2),
    "transpose": _function(_transpose),
}
