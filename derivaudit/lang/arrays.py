"""Array formulas: the formula language over matrices, with NumPy semantics.

Backprop formulas are written with matrices (``dW2 = dZ2 @ A1.T / m``).  This
module extends the safe scalar parser (:mod:`derivaudit.parse`) with

- values that are arrays of sympy expressions (0-D: a plain sympy scalar;
  1-D and 2-D: :class:`Array`), every entry an exact scalar expression in
  the instantiated symbols (``W1[0,1]``, ...);
- ``@`` (matrix product), ``.T`` (transpose) and elementwise ``+ - * / **``
  with NumPy's broadcasting rules: shapes are aligned on the right and a
  dimension of 1 stretches; anything else is a :class:`~derivaudit.errors.ShapeError`
  naming both shapes;
- reductions ``sum mean max min(x, axis=None, keepdims=False)``,
  ``logsumexp(x, axis=None, keepdims=False)``, ``softmax(x, axis=None)`` and
  ``log_softmax(x, axis=None)`` (``axis=None`` means over every entry, as in
  NumPy and :func:`scipy.special.softmax`), constructors ``ones/zeros(shape)``,
  ``ones_like/zeros_like(x)``, ``step(x)`` (1 where x > 0, else 0: the
  derivative of ``relu``), ``maximum/minimum(a, b)`` and every elementwise
  function of the scalar language.

A reduction without ``keepdims=True`` drops its axis exactly as NumPy does,
so ``sum(dZ, axis=1)`` of a (5, 8) array has shape (5,), which broadcasts as
a *row*: the classic missing-``keepdims`` bug is reproduced, not hidden.

The safety layer (whitelist of syntax, identifiers, exact numbers, depth and
size limits) is the scalar parser's: :class:`ArrayBuilder` subclasses
:class:`~derivaudit.parse.FormulaBuilder` and only adds array semantics.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Mapping
from typing import Union

import numpy as np
import sympy as sp

from derivaudit.errors import LimitExceeded, ParseError, ShapeError, UnsafeExpressionError
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.lang.parse import CONSTANTS, FUNCTIONS, FormulaBuilder, make_symbol, prepare

__all__ = [
    "Array",
    "Value",
    "ARRAY_FUNCTIONS",
    "shape_of",
    "symbol_array",
    "constant_array",
    "entries",
    "entry_label",
    "parse_array_formula",
    "formula_names",
    "broadcast_shape",
]

#: the largest number of entries an array may have (the audit instantiates each one)
MAX_ENTRIES = 100_000


class Array:
    """An immutable 1-D or 2-D array of sympy expressions.

    ``Array(x) == 0`` is True only when every entry is exactly zero, so the
    parser's division-by-zero check works for arrays too.
    """

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray):
        data = np.asarray(data, dtype=object)
        if data.ndim not in (1, 2):
            raise ValueError(f"arrays are 1-D or 2-D, not {data.ndim}-D")
        data.flags.writeable = False
        self.data = data

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> "Array":
        return Array(self.data.T)

    def __neg__(self) -> "Array":
        return Array(_map(lambda v: -v, self.data))

    def __eq__(self, other) -> bool:
        if isinstance(other, Array):
            return self.shape == other.shape and all(a == b for a, b in zip(self.flat, other.flat))
        if other == 0:
            return all(v == 0 for v in self.flat)
        return False

    __hash__ = None

    @property
    def flat(self) -> list:
        return list(self.data.flat)

    def matrix(self) -> sp.ImmutableMatrix:
        """The entries as a sympy matrix (a 1-D array as a column)."""
        data = self.data if self.data.ndim == 2 else self.data[:, None]
        return sp.ImmutableMatrix(data.tolist())

    def __repr__(self) -> str:
        return f"Array(shape={self.shape}, {self.data.tolist()!r})"


Value = Union[Array, sp.Expr]


def shape_of(value: Value) -> tuple[int, ...]:
    """The NumPy shape of a value: ``()`` for a scalar."""
    return value.shape if isinstance(value, Array) else ()


def entries(value: Value) -> list[sp.Expr]:
    """The entries of a value in C (row-major) order."""
    return value.flat if isinstance(value, Array) else [value]


def entry_label(name: str, index: tuple[int, ...]) -> str:
    """``W1[0,3]``: how entry ``index`` of ``name`` is named in symbols and reports."""
    return f"{name}[{','.join(map(str, index))}]" if index else name


def _map(f, *arrays) -> np.ndarray:
    return np.frompyfunc(f, len(arrays), 1)(*arrays)


def _as_data(value: Value) -> np.ndarray:
    return value.data if isinstance(value, Array) else np.array(value, dtype=object)


def _wrap(data: np.ndarray) -> Value:
    data = np.asarray(data, dtype=object)
    if data.ndim == 0:
        return data[()]
    return Array(data)


def symbol_array(name: str, shape: tuple[int, ...]) -> Value:
    """An array of fresh real symbols ``name[i,j]`` (a scalar symbol for shape ())."""
    if not shape:
        return make_symbol(name)
    data = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        data[index] = make_symbol(entry_label(name, index))
    return Array(data)


def constant_array(values, shape: tuple[int, ...]) -> Value:
    """An array of exact constants of the given shape (nested lists or a scalar)."""
    data = np.empty(shape, dtype=object)
    flat = np.asarray(values, dtype=object)
    if flat.shape != tuple(shape):
        raise ShapeError(f"values have shape {flat.shape}, expected {tuple(shape)}")
    for index in np.ndindex(*shape):
        data[index] = sp.nsimplify(flat[index]) if not isinstance(flat[index], sp.Basic) else flat[index]
    return _wrap(data)


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``, or :class:`ShapeError` naming them."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"shapes {listed} do not broadcast") from None


def _normalise_axis(axis, ndim: int, fname: str):
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{fname}: axis {axis} is out of range for a {ndim}-D array")
    return axis % ndim


def _reduce(value: Value, axis, keepdims: bool, combine, fname: str) -> Value:
    """Reduce along ``axis`` (None: all entries) with ``combine(list_of_entries)``."""
    if not isinstance(value, Array):
        if axis not in (None, 0, -1):
            raise ShapeError(f"{fname}: axis {axis} is out of range for a scalar")
        return combine([value])
    data = value.data
    axis = _normalise_axis(axis, data.ndim, fname)
    if axis is None:
        result = combine(list(data.flat))
        if keepdims:
            return Array(np.full((1,) * data.ndim, result, dtype=object))
        return result
    moved = np.moveaxis(data, axis, -1)
    out = np.empty(moved.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = combine(list(moved[index]))
    if keepdims:
        out = np.expand_dims(out, axis)
    return _wrap(out)


def _logsumexp(values):
    return sp.log(sp.Add(*[sp.exp(v) for v in values]))


def _softmax(value: Value, axis) -> Value:
    exp = _elementwise(sp.exp, value)
    total = _reduce(exp, axis, True, lambda vs: sp.Add(*vs), "softmax")
    return _binary(lambda a, b: a / b, exp, total)


def _elementwise(f, value: Value) -> Value:
    if isinstance(value, Array):
        return Array(_map(f, value.data))
    return f(value)


def _binary(f, a: Value, b: Value) -> Value:
    if not isinstance(a, Array) and not isinstance(b, Array):
        return f(a, b)
    shape = broadcast_shape(shape_of(a), shape_of(b))
    return _wrap(_map(f, np.broadcast_to(_as_data(a), shape), np.broadcast_to(_as_data(b), shape)))


def _nary(combine, values: list) -> Value:
    """Elementwise ``combine(*entries)`` of broadcast operands (flat sums and products)."""
    if not any(isinstance(v, Array) for v in values):
        return combine(*values)
    shape = broadcast_shape(*(shape_of(v) for v in values))
    stacked = [np.broadcast_to(_as_data(v), shape) for v in values]
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = combine(*(s[index] for s in stacked))
    return Array(out)


def _operands(what: str, apply, *args):
    try:
        return apply(*args)
    except ShapeError as exc:
        raise ShapeError(f"operands of {what}: {exc}") from None


def matmul(a: Value, b: Value) -> Value:
    """``a @ b`` with NumPy's rules for 1-D operands; scalars are refused, as in NumPy."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"'@' needs arrays on both sides, got shapes {sa} and {sb}; "
                         "use '*' to scale by a scalar")
    left = a.data if len(sa) == 2 else a.data[None, :]
    right = b.data if len(sb) == 2 else b.data[:, None]
    if left.shape[1] != right.shape[0]:
        raise ShapeError(f"'@' of shapes {sa} and {sb}: inner dimensions {left.shape[1]} and "
                         f"{right.shape[0]} differ")
    out = np.empty((left.shape[0], right.shape[1]), dtype=object)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = sp.Add(*[left[i, k] * right[k, j] for k in range(left.shape[1])])
    if len(sa) == 1:
        out = out[0]
    if len(sb) == 1:
        out = out[..., 0]
    return _wrap(out)


def _step(z):
    # 1 for z > 0, 0 for z <= 0: relu's derivative as NumPy code writes it, (z > 0)
    return sp.Heaviside(z, 0)


#: keyword arguments each array function accepts, with defaults
_KEYWORDS = {
    "sum": {"axis": None, "keepdims": False},
    "mean": {"axis": None, "keepdims": False},
    "max": {"axis": None, "keepdims": False},
    "min": {"axis": None, "keepdims": False},
    "logsumexp": {"axis": None, "keepdims": False},
    "softmax": {"axis": None},
    "log_softmax": {"axis": None},
}

#: functions of the array language that are not elementwise scalar functions
ARRAY_FUNCTIONS = ("sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax", "ones",
                   "zeros", "ones_like", "zeros_like", "step", "maximum", "minimum", "transpose")


class ArrayBuilder(FormulaBuilder):
    """Builds array values from a whitelisted syntax tree.

    ``env`` maps every name a formula may use to its value (an :class:`Array`
    or a sympy scalar).  Unknown names are errors: in an audit every name is
    declared.
    """

    def __init__(self, source, limits: Limits, env: Mapping[str, Value], keepdims: bool = False):
        super().__init__(source, limits)
        self.env = env
        #: reduce with keepdims=True whenever an axis is given (a diagnosis' "what if")
        self.force_keepdims = keepdims

    def shape_error(self, message: str, node: ast.AST) -> ShapeError:
        line, column = self.source.position(node.lineno, node.col_offset)
        where = f"column {column}" if "\n" not in self.source.original else f"line {line}, column {column}"
        return ShapeError(f"{message} at {where}")

    def visit(self, node: ast.AST, depth: int):
        # '.T' is the one attribute of the language; every other one is refused by the base class
        if isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
            value = self.visit(node.value, depth + 1)
            return value.T if isinstance(value, Array) else value
        try:
            return super().visit(node, depth)
        except ShapeError as exc:
            if " at column " in str(exc) or " at line " in str(exc):
                raise
            raise self.shape_error(str(exc), node) from None

    # -- operators -----------------------------------------------------------
    def add(self, terms):
        return _operands("'+'/'-'", _nary, sp.Add, terms)

    def multiply(self, factors):
        return _operands("'*'/'/'", _nary, sp.Mul, factors)

    def reciprocal(self, value):
        return _elementwise(lambda v: 1 / v, value)

    def power(self, base, exponent, node: ast.AST):
        def pow_checked(b, x):
            self.check_power(b, x, node)
            result = b ** x
            if result.has(sp.zoo, sp.nan):
                raise self.error("division by zero", node)
            return result

        return _binary(pow_checked, base, exponent)

    def other_operator(self, node: ast.BinOp, depth: int):
        if isinstance(node.op, ast.MatMult):
            left = self.visit(node.left, depth + 1)
            right = self.visit(node.right, depth + 1)
            return matmul(left, right)
        return super().other_operator(node, depth)

    # -- names and calls -------------------------------------------------------
    def name(self, ident: str, node: ast.Name):
        if ident in self.env:
            return self.env[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS or ident in ARRAY_FUNCTIONS:
            raise self.error(f"'{ident}' is a function; call it as {ident}(...)", node)
        close = difflib.get_close_matches(ident, list(self.env), n=1)
        raise self.error(f"unknown name '{ident}'", node,
                         hint=f"did you mean '{close[0]}'?" if close else
                         "declare it in [shapes] or define it before use")

    def call(self, node: ast.Call, depth: int):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        keywords = self.keyword_values(node, fname)
        # keywords are checked above; the base class looks the function up and checks the name
        plain = ast.copy_location(ast.Call(func=node.func, args=node.args, keywords=[]), node)
        if fname in ARRAY_FUNCTIONS:
            self.function(plain, {fname: None})
            return self.array_call(fname, node, keywords, depth)
        spec, fname = self.function(plain)
        if len(node.args) < spec.min_args or len(node.args) > spec.max_args:
            raise self.error(f"{fname}() takes {self._arity(spec)}, got {len(node.args)}", node)
        args = [self.visit(arg, depth + 1) for arg in node.args]
        if len(args) == 1:
            return _elementwise(spec.build, args[0])
        return _binary(spec.build, *args)

    def keyword_values(self, node: ast.Call, fname: str | None) -> dict:
        """The literal keyword arguments of ``node``, checked against the function's."""
        allowed = _KEYWORDS.get(fname, {})
        values = dict(allowed)
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error("'**' arguments are not allowed in a formula", kw.value,
                                 UnsafeExpressionError)
            if kw.arg not in allowed:
                takes = ", ".join(f"{k}=" for k in allowed) or "no keyword arguments"
                raise self.error(f"{fname}() got an unexpected keyword '{kw.arg}' "
                                 f"(it takes {takes})", kw.value)
            values[kw.arg] = self.literal(kw.value, f"{kw.arg}=")
        for key in ("keepdims",):
            if key in values and not isinstance(values[key], bool):
                raise self.error(f"{key}= must be True or False", node)
        if "axis" in values and (isinstance(values["axis"], bool) or
                                 not (values["axis"] is None or isinstance(values["axis"], int))):
            raise self.error("axis= must be a whole number or None", node)
        return values

    def literal(self, node: ast.AST, what: str):
        """A keyword value or shape: an int (possibly negative), True, False or None."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.literal(node.operand, what)
            if isinstance(value, int) and not isinstance(value, bool):
                return -value
        elif isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int))):
            if isinstance(node.value, int) and abs(node.value) > MAX_ENTRIES:
                raise self.limit(f"{what} value {node.value} is too large", node)
            return node.value
        raise self.error(f"{what} must be a literal whole number, True, False or None", node)

    def shape_argument(self, node: ast.Call, fname: str) -> tuple[int, ...]:
        items = node.args
        if len(items) == 1 and isinstance(items[0], ast.Tuple):
            items = items[0].elts
        shape = tuple(self.literal(item, f"{fname}() shape") for item in items)
        if not 1 <= len(shape) <= 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                           for n in shape):
            raise self.error(f"{fname}() needs a shape of one or two positive whole numbers, "
                             f"e.g. {fname}(3, 1) or {fname}((3, 1))", node)
        if math.prod(shape) > MAX_ENTRIES:
            raise self.limit(f"{fname}() shape {shape} has more than {MAX_ENTRIES} entries", node)
        return shape

    def array_call(self, fname: str, node: ast.Call, kw: dict, depth: int):
        if fname in ("ones", "zeros"):
            shape = self.shape_argument(node, fname)
            return Array(np.full(shape, sp.Integer(1 if fname == "ones" else 0), dtype=object))
        arity = {"maximum": 2, "minimum": 2}.get(fname, 1)
        if fname in ("max", "min") and len(node.args) == 2 and not node.keywords:
            second = node.args[1]
            if isinstance(second, ast.Constant) or (isinstance(second, ast.UnaryOp)
                                                    and isinstance(second.operand, ast.Constant)):
                # NumPy reads max(x, 1) as axis=1, the scalar language as max of x and 1
                raise self.error(f"{fname}(x, N) is ambiguous; write {fname}(x, axis=N) to "
                                 f"reduce, or {fname}imum(x, N) for the elementwise "
                                 f"{fname}imum", node)
            arity = 2
        if len(node.args) != arity:
            raise self.error(f"{fname}() takes {arity} positional argument"
                             f"{'s' if arity != 1 else ''}, got {len(node.args)}", node)
        args = [self.visit(arg, depth + 1) for arg in node.args]
        x = args[0]
        if fname in ("ones_like", "zeros_like"):
            fill = sp.Integer(1 if fname == "ones_like" else 0)
            return Array(np.full(shape_of(x), fill, dtype=object)) if isinstance(x, Array) else fill
        if fname == "transpose":
            return x.T if isinstance(x, Array) else x
        if fname == "step":
            return _elementwise(_step, x)
        if arity == 2:
            build = sp.Max if fname in ("max", "maximum") else sp.Min
            return _binary(build, *args)
        axis, keepdims = kw.get("axis"), kw.get("keepdims", False)
        if self.force_keepdims and axis is not None:
            keepdims = True
        try:
            if fname == "sum":
                return _reduce(x, axis, keepdims, lambda vs: sp.Add(*vs), fname)
            if fname == "mean":
                return _reduce(x, axis, keepdims, lambda vs: sp.Add(*vs) / len(vs), fname)
            if fname == "max":
                return _reduce(x, axis, keepdims, lambda vs: sp.Max(*vs), fname)
            if fname == "min":
                return _reduce(x, axis, keepdims, lambda vs: sp.Min(*vs), fname)
            if fname == "logsumexp":
                return _reduce(x, axis, keepdims, _logsumexp, fname)
            if fname == "softmax":
                return _softmax(x, axis)
            if fname == "log_softmax":
                lse = _reduce(x, axis, True, _logsumexp, fname)
                return _binary(lambda a, b: a - b, x, lse)
        except ShapeError as exc:
            raise self.shape_error(str(exc), node) from None
        raise AssertionError(fname)  # every name of ARRAY_FUNCTIONS is handled above


def parse_array_formula(text: str, env: Mapping[str, Value], *,
                        limits: Limits = DEFAULT_LIMITS, keepdims: bool = False) -> Value:
    """Parse an array formula whose names are the keys of ``env``.

    Returns a sympy scalar or an :class:`Array`.  Raises
    :class:`~derivaudit.errors.ParseError` (unknown names, syntax; with the
    column), :class:`~derivaudit.errors.ShapeError` (operands that do not
    fit, naming both shapes) and the parser's safety errors.  ``keepdims=True``
    makes every reduction over an axis keep it.
    """
    source, tree = prepare(text, limits)
    try:
        value = ArrayBuilder(source, limits, env, keepdims).build(tree)
    except RecursionError:
        raise LimitExceeded("formula is too deeply nested to build") from None
    if any(v.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for v in entries(value)):
        raise ParseError("formula is undefined (it divides by zero)", source=text)
    return value


def formula_names(text: str, *, limits: Limits = DEFAULT_LIMITS) -> set[str]:
    """The names a formula refers to (not the functions it calls): its dependencies."""
    _, tree = prepare(text, limits)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
            and n.id not in CONSTANTS}
