"""The functions of the array language, by name: one table of signatures and handlers.

Every elementwise function of the scalar language
(:data:`~derivaudit.lang.functions.FUNCTIONS`: exp, log, sqrt, tanh,
sigmoid, relu, abs, ...) applies entry by entry.  The functions here are
NumPy's (``np.`` / ``numpy.`` prefixes are optional, and the ones NumPy has
as methods are methods too: ``x.sum(axis=0)``, ``X.dot(W)``), with NumPy's
signatures: arguments bind by position or by keyword in NumPy's order, so
``np.sum(x, 0)`` and ``np.sum(x, axis=0)`` are the same call.

- reductions ``sum mean max min prod var std logsumexp(a, axis=None, keepdims=False)``
  (``axis`` an int or a tuple; ``var``/``std`` take ``ddof=``), ``softmax``
  and ``log_softmax(x, axis=None)`` (``axis=None``: over every entry, as in
  NumPy and :func:`scipy.special.softmax`), ``cumsum(a, axis=None)``,
  ``trace``, ``linalg.norm(x, ord=None, axis=None, keepdims=False)`` (the
  2-norm and the Frobenius norm; :mod:`~derivaudit.lang.array_reductions`);
- elementwise ``maximum minimum(a, b)``, ``clip(a, a_min, a_max)``,
  ``where(condition, x, y)``, ``step(x)`` (1 where x > 0, else 0), ``sign``
  (built of steps, so its switching point is a kink like theirs), ``square``,
  ``power``;
- products ``einsum(subscripts, *operands)``, ``dot``, ``matmul``, ``outer``;
- structure ``reshape ravel transpose(axes) swapaxes expand_dims squeeze
  stack concatenate tile repeat pad`` (constant mode), ``diag triu tril``,
  ``copy``, ``astype(float)``, the method ``flatten``, ``array``/``asarray`` of nested
  lists of values (``np.array([np.sum(a), np.sum(b)])``);
- constructors ``ones zeros full(shape[, fill_value])``, ``ones_like
  zeros_like full_like``, ``eye(N, M=None, k=0)``, ``arange(start[, stop[, step]])``.

``argmax`` and ``argmin`` are refused on purpose (:data:`REFUSED`): they
give positions, constant between the points where they jump, so no loss
has a gradient through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from derivaudit.errors import ShapeError
from derivaudit.lang import array_ops as ops
from derivaudit.lang import array_reductions as reductions
from derivaudit.lang.arrays import (Array, Value, binary, elementwise, is_boolean, nary, reduce_axis,
                                    shape_of, wrap)
from derivaudit.lang.functions import Step

__all__ = ["Param", "ArrayFunction", "ARRAY_FUNCTIONS", "METHODS", "METHOD_ONLY", "REFUSED", "REQUIRED"]

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
    (pad widths), ``bool``, ``text`` (a string literal), ``dtype`` (float), ``ord`` (a norm's
    order: None, a number, ``np.inf`` or a string).
    ``nested`` (a value, or nested lists/tuples of values: ``np.array``'s object).
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
    # x.clip(min=, max=) and NumPy 2's np.clip(x, min=, max=) name the bounds differently
    low = a["a_min"] if a["a_min"] is not None else a["min"]
    high = a["a_max"] if a["a_max"] is not None else a["max"]
    x = a["a"]
    if low is not None:
        x = binary(lambda u, v: sp.Max(u, v), x, low)
    if high is not None:
        x = binary(lambda u, v: sp.Min(u, v), x, high)
    return x


def _filled_like(fill: int | None) -> Callable:
    def build(a, walker):
        value = sp.Integer(fill) if fill is not None else a["fill_value"]
        if isinstance(value, Array):
            raise ShapeError(f"full_like: fill_value must be one number, not an array of shape {value.shape}")
        boolean = is_boolean(a["a"])
        if boolean:
            # NumPy keeps the dtype: like a comparison, the result is True or False (and adds as 'or')
            if not value.is_number:
                raise ShapeError(f"{walker.current_function} of a comparison takes a constant fill_value")
            value = sp.Integer(value != 0)
        return wrap(np.full(shape_of(a["a"]), value, dtype=object), boolean)
    return build


def _sign(v):
    # of steps, so that its switching point v = 0 is a kink like a comparison's, and sign(0) = 0
    return Step(v) - Step(-v)


def _power(a, walker):
    return binary(lambda b, e: walker.scalar_power(b, e, walker.current_call), a["x1"], a["x2"])


def _norm(a, walker):
    x, axis = a["x"], a["axis"]
    problem = reductions.norm_order_problem(a["ord"], len(shape_of(x)), axis)
    if problem:
        raise walker.error(problem[0], walker.current_call, hint=problem[1])
    keepdims = a["keepdims"] or (walker.force_keepdims and axis is not None)
    return reductions.norm(x, axis, keepdims)


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


def _array_literal(a, walker):
    """``np.array([...])``: nested lists of values stacked as NumPy stacks them (equal shapes only)."""
    def build(item):
        if not isinstance(item, list):
            return item
        if not item:
            raise ShapeError(f"{walker.current_function}: an empty list has no values to check")
        parts = [build(part) for part in item]
        shapes = {shape_of(p) for p in parts}
        if len(shapes) != 1:
            raise ShapeError(f"np.{walker.current_function}: the items have different shapes "
                             f"({' and '.join(map(str, sorted(shapes)))}); NumPy would make a ragged array")
        return ops.stack(parts, 0)
    return build(a["object"])


A = Param("a")
AXIS = Param("axis", "axis", None)
OPT_AXIS = Param("axis", "opt_int", None)
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
    "prod": _f(_reducer(lambda vs: sp.Mul(*vs)), A, AXIS, KEEPDIMS),
    "var": _f(_variance, A, AXIS, DDOF, KEEPDIMS),
    "std": _f(lambda a, w: _variance(a, w, root=True), A, AXIS, DDOF, KEEPDIMS),
    "logsumexp": _f(_reducer(_logsumexp), A, AXIS, KEEPDIMS),
    "softmax": _f(_softmax, Param("x"), AXIS),
    "log_softmax": _f(_log_softmax, Param("x"), AXIS),
    "cumsum": _f(lambda a, w: reductions.cumsum(a["a"], a["axis"]), A, OPT_AXIS),
    "trace": _f(lambda a, w: reductions.trace(a["a"], a["offset"], a["axis1"], a["axis2"]), A,
                Param("offset", "int", 0), Param("axis1", "int", 0), Param("axis2", "int", 1)),
    "linalg.norm": _f(_norm, Param("x"), Param("ord", "ord", None), AXIS, Param("keepdims", "bool", False)),
    "maximum": _f(lambda a, w: binary(sp.Max, a["x1"], a["x2"]), Param("x1"), Param("x2")),
    "minimum": _f(lambda a, w: binary(sp.Min, a["x1"], a["x2"]), Param("x1"), Param("x2")),
    "clip": _f(_clip, A, Param("a_min", "opt_value", None), Param("a_max", "opt_value", None),
               Param("min", "opt_value", None, positional=False), Param("max", "opt_value", None, positional=False)),
    "where": _f(_where, Param("condition"), Param("x"), Param("y")),
    "step": _f(lambda a, w: elementwise(Step, a["x"]), Param("x")),
    "square": _f(lambda a, w: elementwise(lambda v: v ** 2, a["x"]), Param("x")),
    "sign": _f(lambda a, w: elementwise(_sign, a["x"]), Param("x")),
    "power": _f(_power, Param("x1"), Param("x2")),
    "einsum": _f(lambda a, w: ops.einsum(a["subscripts"], *a["operands"]), Param("subscripts", "text"),
                 varargs="operands"),
    "dot": _f(lambda a, w: ops.dot(a["a"], a["b"]), A, Param("b")),
    "matmul": _f(lambda a, w: ops.matmul(a["x1"], a["x2"]), Param("x1"), Param("x2")),
    "outer": _f(lambda a, w: ops.outer(a["a"], a["b"]), A, Param("b")),
    "reshape": _f(lambda a, w: ops.reshape(a["a"], a["newshape"]), A, Param("newshape", "shape"),
                  rest="newshape"),
    "ravel": _f(lambda a, w: ops.reshape(a["a"], (-1,)), A),
    "flatten": _f(lambda a, w: ops.reshape(a["a"], (-1,)), A),
    "expand_dims": _f(lambda a, w: ops.expand_dims(a["a"], a["axis"]), A, Param("axis", "axis")),
    "squeeze": _f(lambda a, w: ops.squeeze(a["a"], a["axis"]), A, AXIS),
    "diag": _f(lambda a, w: ops.diag(a["v"], a["k"]), Param("v"), Param("k", "int", 0)),
    "triu": _f(lambda a, w: ops.triangle(a["m"], a["k"], upper=True), Param("m"), Param("k", "int", 0)),
    "tril": _f(lambda a, w: ops.triangle(a["m"], a["k"], upper=False), Param("m"), Param("k", "int", 0)),
    "tile": _f(lambda a, w: ops.tile(a["A"], a["reps"]), Param("A"), Param("reps", "shape")),
    "repeat": _f(lambda a, w: ops.repeat(a["a"], a["repeats"], a["axis"]), A, Param("repeats", "shape"),
                 OPT_AXIS),
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
    "array": _f(_array_literal, Param("object", "nested"), Param("dtype", "dtype", None)),
    "asarray": _f(_array_literal, Param("object", "nested"), Param("dtype", "dtype", None)),
    "astype": _f(_astype, A, Param("dtype", "dtype")),
    "ones": _f(lambda a, w: ops.full(a["shape"], sp.Integer(1)), Param("shape", "dims"), rest="shape"),
    "zeros": _f(lambda a, w: ops.full(a["shape"], sp.Integer(0)), Param("shape", "dims"), rest="shape"),
    "full": _f(lambda a, w: ops.full(a["shape"], a["fill_value"]), Param("shape", "dims"),
               Param("fill_value")),
    "ones_like": _f(_filled_like(1), A),
    "zeros_like": _f(_filled_like(0), A),
    "full_like": _f(_filled_like(None), A, Param("fill_value")),
    "eye": _f(lambda a, w: ops.eye(a["N"], a["M"], a["k"]), Param("N", "int"), Param("M", "opt_int", None),
              Param("k", "int", 0)),
    "arange": _f(lambda a, w: ops.arange(a["start"], a["stop"], a["step"]), Param("start", "int"),
                 Param("stop", "opt_int", None), Param("step", "int", 1)),
}

#: methods of an array (``x.sum(axis=0)``): the function of the same name with ``x`` first
METHODS = ("dot", "reshape", "transpose", "swapaxes", "sum", "mean", "max", "min", "var", "std", "copy",
           "astype", "flatten", "ravel", "clip", "squeeze", "prod", "cumsum", "trace", "repeat")

#: methods that NumPy has as methods only (``np.flatten`` does not exist)
METHOD_ONLY = ("flatten",)

#: NumPy functions (and methods) refused on purpose: why, and the spelling to write instead
REFUSED = {
    name: (f"the position of the {word} entry is an integer, constant between the points where it jumps, "
           "so no loss has a gradient through it",
           f"for a mask of each row's {word} entry write (x == np.{name[3:]}(x, axis=1, keepdims=True))")
    for name, word in (("argmax", "largest"), ("argmin", "smallest"))
}
