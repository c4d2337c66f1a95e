"""The functions of the array language, by name: one table of signatures and handlers.

Every elementwise function of the scalar language
(:data:`~derivaudit.lang.functions.FUNCTIONS`: exp, log, sqrt, tanh,
sigmoid, relu, abs, ...) applies entry by entry.  The functions here are
NumPy's (``np.`` / ``numpy.`` prefixes are optional, and the ones NumPy has
as methods are methods too: ``x.sum(axis=0)``, ``X.dot(W)``), with NumPy's
signatures: arguments bind by position or by keyword in NumPy's order, so
``np.sum(x, 0)`` and ``np.sum(x, axis=0)`` are the same call.

- reductions ``sum mean max min var std logsumexp(a, axis=None, keepdims=False)``
  (``axis`` an int or a tuple; ``var``/``std`` take ``ddof=``), ``softmax``
  and ``log_softmax(x, axis=None)`` (``axis=None``: over every entry, as in
  NumPy and :func:`scipy.special.softmax`);
- elementwise ``maximum minimum(a, b)``, ``clip(a, a_min, a_max)``,
  ``where(condition, x, y)``, ``step(x)`` (1 where x > 0, else 0), ``square``;
- products ``einsum(subscripts, *operands)``, ``dot``, ``matmul``, ``outer``;
- structure ``reshape transpose(axes) swapaxes stack concatenate pad``
  (constant mode), ``copy``, ``astype(float)``;
- constructors ``ones zeros full(shape[, fill_value])``, ``ones_like
  zeros_like``, ``eye(N, M=None, k=0)``, ``arange(start[, stop[, step]])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from derivaudit.errors import ShapeError
from derivaudit.lang import array_ops as ops
from derivaudit.lang.arrays import Array, Value, binary, elementwise, nary, reduce_axis, shape_of, wrap
from derivaudit.lang.functions import Step

__all__ = ["Param", "ArrayFunction", "ARRAY_FUNCTIONS", "METHODS", "REQUIRED"]

#: default of a parameter that must be given
REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """A parameter of an array function: its name, kind and default.

    Kinds (how the walker reads the argument): ``value`` (any formula),
    ``opt_value`` (a formula or None),
    ``values`` (a list or tuple of formulas), ``axis`` (None, an int or a
    tuple of ints), ``int``, ``opt_int`` (None or an int), ``shape`` (an int
    or a tuple of ints; ``dims`` positive ones), ``axes`` (None or a tuple of ints), ``widths``
    (pad widths), ``bool``, ``text`` (a string literal), ``dtype`` (float).
    Integers are static: literals or names of integer data (``N``).
    """

    name: str
    kind: str = "value"
    default: object = REQUIRED
    #: may be passed by position (else only as name=...)
    positional: bool = True


@dataclass(frozen=True)
class ArrayFunction:
    """A function of the array language: ``build(args, walker)`` from its bound arguments."""

    build: Callable[[dict, object], Value]
    params: tuple[Param, ...]
    #: the parameter that takes every further positional argument (einsum's operands)
    varargs: str | None = None
    #: the parameter that collects further positional integers as a tuple: x.reshape(2, -1), ones(2, 3)
    rest: str | None = None

    def describe(self) -> str:
        names = [p.name if p.default is REQUIRED else f"{p.name}=" for p in self.params]
        return ", ".join(names + ([f"*{self.varargs}"] if self.varargs else []))


def _reducer(combine) -> Callable:
    def build(a, walker):
        keepdims = a["keepdims"] or (walker.force_keepdims and a["axis"] is not None)
        return reduce_axis(a["a"], a["axis"], keepdims, combine, walker.current_function)
    return build


def _logsumexp(values):
    return sp.log(sp.Add(*[sp.exp(v) for v in values]))


def _variance(a, walker, root: bool = False):
    """``mean((x - mean(x))**2) * n / (n - ddof)``, as NumPy computes it."""
    x, axis = a["a"], a["axis"]
    mean = reduce_axis(x, axis, True, lambda vs: sp.Add(*vs) / len(vs), walker.current_function)
    ddof = a["ddof"]

    def combine(vs):
        if len(vs) - ddof <= 0:
            raise ShapeError(f"{walker.current_function}: ddof={ddof} leaves no degrees of freedom")
        total = sp.Add(*vs) / (len(vs) - ddof)
        return sp.sqrt(total) if root else total

    squares = binary(lambda u, m: (u - m) ** 2, x, mean)
    keepdims = a["keepdims"] or (walker.force_keepdims and axis is not None)
    return reduce_axis(squares, axis, keepdims, combine, walker.current_function)


def _softmax(a, walker):
    exp = elementwise(sp.exp, a["x"])
    total = reduce_axis(exp, a["axis"], True, lambda vs: sp.Add(*vs), "softmax")
    return binary(lambda u, s: u / s, exp, total)


def _log_softmax(a, walker):
    lse = reduce_axis(a["x"], a["axis"], True, _logsumexp, "log_softmax")
    return binary(lambda u, s: u - s, a["x"], lse)


def _where(a, walker):
    def pick(c, x, y):
        if c == 1:
            return x
        if c == 0:
            return y
        return c * x + (1 - c) * y  # a symbolic condition: a step, 0 or 1 on each side

    return _broadcast3(pick, a["condition"], a["x"], a["y"])


def _broadcast3(f, *values) -> Value:
    if not any(isinstance(v, Array) for v in values):
        return f(*values)
    return nary(f, list(values))


def _clip(a, walker):
    low, high = a["a_min"], a["a_max"]
    x = a["a"]
    if low is not None:
        x = binary(lambda u, v: sp.Max(u, v), x, low)
    if high is not None:
        x = binary(lambda u, v: sp.Min(u, v), x, high)
    return x


def _filled_like(fill: int) -> Callable:
    def build(a, walker):
        return wrap(np.full(shape_of(a["a"]), sp.Integer(fill), dtype=object))
    return build


def _astype(a, walker):
    x = a["a"]
    return Array(x.data) if isinstance(x, Array) else x


def _pad(a, walker):
    if a["mode"] != "constant":
        raise ShapeError(f"pad: mode {a['mode']!r} is not supported; use mode=\"constant\"")
    fill = a["constant_values"]
    if isinstance(fill, Array):
        raise ShapeError("pad: constant_values must be one number")
    return ops.pad(a["array"], a["pad_width"], fill)


A = Param("a")
AXIS = Param("axis", "axis", None)
KEEPDIMS = Param("keepdims", "bool", False, positional=False)
DDOF = Param("ddof", "int", 0, positional=False)


def _f(build, *params, varargs=None, rest=None) -> ArrayFunction:
    return ArrayFunction(build, tuple(params), varargs, rest)


#: NumPy functions of the array language (the scalar functions apply entry by entry besides)
ARRAY_FUNCTIONS: dict[str, ArrayFunction] = {
    "sum": _f(_reducer(lambda vs: sp.Add(*vs)), A, AXIS, KEEPDIMS),
    "mean": _f(_reducer(lambda vs: sp.Add(*vs) / len(vs)), A, AXIS, KEEPDIMS),
    "max": _f(_reducer(lambda vs: sp.Max(*vs)), A, AXIS, KEEPDIMS),
    "min": _f(_reducer(lambda vs: sp.Min(*vs)), A, AXIS, KEEPDIMS),
    "var": _f(_variance, A, AXIS, DDOF, KEEPDIMS),
    "std": _f(lambda a, w: _variance(a, w, root=True), A, AXIS, DDOF, KEEPDIMS),
    "logsumexp": _f(_reducer(_logsumexp), A, AXIS, KEEPDIMS),
    "softmax": _f(_softmax, Param("x"), AXIS),
    "log_softmax": _f(_log_softmax, Param("x"), AXIS),
    "maximum": _f(lambda a, w: binary(sp.Max, a["x1"], a["x2"]), Param("x1"), Param("x2")),
    "minimum": _f(lambda a, w: binary(sp.Min, a["x1"], a["x2"]), Param("x1"), Param("x2")),
    "clip": _f(_clip, A, Param("a_min", "opt_value"), Param("a_max", "opt_value")),
    "where": _f(_where, Param("condition"), Param("x"), Param("y")),
    "step": _f(lambda a, w: elementwise(Step, a["x"]), Param("x")),
    "square": _f(lambda a, w: elementwise(lambda v: v ** 2, a["x"]), Param("x")),
    "einsum": _f(lambda a, w: ops.einsum(a["subscripts"], *a["operands"]), Param("subscripts", "text"),
                 varargs="operands"),
    "dot": _f(lambda a, w: ops.dot(a["a"], a["b"]), A, Param("b")),
    "matmul": _f(lambda a, w: ops.matmul(a["x1"], a["x2"]), Param("x1"), Param("x2")),
    "outer": _f(lambda a, w: ops.outer(a["a"], a["b"]), A, Param("b")),
    "reshape": _f(lambda a, w: ops.reshape(a["a"], a["newshape"]), A, Param("newshape", "shape"),
                  rest="newshape"),
    "transpose": _f(lambda a, w: ops.transpose(a["a"], a["axes"]), A, Param("axes", "axes", None),
                    rest="axes"),
    "swapaxes": _f(lambda a, w: ops.swapaxes(a["a"], a["axis1"], a["axis2"]), A, Param("axis1", "int"),
                   Param("axis2", "int")),
    "stack": _f(lambda a, w: ops.stack(a["arrays"], a["axis"]), Param("arrays", "values"),
                Param("axis", "int", 0)),
    "concatenate": _f(lambda a, w: ops.concatenate(a["arrays"], a["axis"]), Param("arrays", "values"),
                      Param("axis", "opt_int", 0)),
    "pad": _f(_pad, Param("array"), Param("pad_width", "widths"), Param("mode", "text", "constant"),
              Param("constant_values", "value", sp.Integer(0), positional=False)),
    "copy": _f(lambda a, w: a["a"], A),
    "astype": _f(_astype, A, Param("dtype", "dtype")),
    "ones": _f(lambda a, w: ops.full(a["shape"], sp.Integer(1)), Param("shape", "dims"), rest="shape"),
    "zeros": _f(lambda a, w: ops.full(a["shape"], sp.Integer(0)), Param("shape", "dims"), rest="shape"),
    "full": _f(lambda a, w: ops.full(a["shape"], a["fill_value"]), Param("shape", "dims"),
               Param("fill_value")),
    "ones_like": _f(_filled_like(1), A),
    "zeros_like": _f(_filled_like(0), A),
    "eye": _f(lambda a, w: ops.eye(a["N"], a["M"], a["k"]), Param("N", "int"), Param("M", "opt_int", None),
              Param("k", "int", 0)),
    "arange": _f(lambda a, w: ops.arange(a["start"], a["stop"], a["step"]), Param("start", "int"),
                 Param("stop", "opt_int", None), Param("step", "int", 1)),
}

#: methods of an array (``x.sum(axis=0)``): the function of the same name with ``x`` first
METHODS = ("dot", "reshape", "transpose", "swapaxes", "sum", "mean", "max", "min", "var", "std", "copy",
           "astype")
