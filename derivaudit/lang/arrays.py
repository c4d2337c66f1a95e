"""Array values of the formula language: arrays of sympy expressions with NumPy's semantics.

Backprop formulas are written with arrays (``dW2 = dZ2 @ A1.T / m``).  A
value of the array language is a sympy scalar (0-D) or an :class:`Array` of
any number of dimensions whose entries are exact scalar expressions in the
instantiated symbols (``W1[0,1]``, ...).  This module holds the values and
NumPy's rules on them: broadcasting (shapes aligned on the right, a
dimension of 1 stretches; anything else is a :class:`~derivaudit.errors.ShapeError`
naming both shapes), elementwise maps and reductions along axes (dropping
them unless ``keepdims``, exactly as NumPy: the classic missing-``keepdims``
bug is reproduced, not hidden).

Comparisons give 0/1 arrays marked *boolean* (usable as masks when their
entries are known numbers); in arithmetic they are numbers.  Products,
indexing and the structural functions are in :mod:`derivaudit.lang.array_ops`;
the functions a formula may call in :mod:`derivaudit.lang.array_functions`;
the walk over the text in :mod:`derivaudit.lang.array_walker`.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import sympy as sp

from derivaudit.errors import LimitExceeded, ShapeError
from derivaudit.lang.functions import Step, make_symbol

__all__ = [
    "Array", "Value", "MAX_ENTRIES", "MAX_TERMS", "shape_of", "size_of", "symbol_array", "constant_array",
    "entries", "entry_label", "broadcast_shape", "check_entries", "map_entries", "as_data", "wrap", "normalise_axes",
    "reduce_axis", "elementwise", "binary", "nary", "operands", "compare", "is_boolean", "Sizes",
]

#: the largest number of entries an array may have (the audit instantiates each one)
MAX_ENTRIES = 100_000
#: the most scalar operations one formula may build (a 100×100 @ 100×100 product needs 10**6;
#: sympy builds about 20,000 a second)
MAX_TERMS = 100_000


class Array:
    """An immutable N-D array (N ≥ 1) of sympy expressions.

    ``Array(x) == 0`` is True only when every entry is exactly zero, so the
    parser's division-by-zero check works for arrays too.  ``boolean`` marks
    the 0/1 result of a comparison (NumPy's bool dtype).
    """

    __slots__ = ("data", "boolean")

    def __init__(self, data: np.ndarray, boolean: bool = False):
        data = np.asarray(data, dtype=object)
        if data.ndim < 1:
            raise ValueError("a 0-D value is a scalar, not an Array")
        data.flags.writeable = False
        self.data = data
        self.boolean = boolean

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def T(self) -> "Array":
        return Array(self.data.T, self.boolean)

    def __neg__(self) -> "Array":
        return Array(map_entries(lambda v: -v, self.data))

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

    def __repr__(self) -> str:
        return f"Array(shape={self.shape}, {self.data.tolist()!r})"


Value = Union[Array, sp.Expr]


class Sizes(tuple):
    """A shape read in a formula (``x.shape``): a tuple of static whole numbers.

    Not a value of the language: it may only be indexed (``x.shape[0]``),
    passed where NumPy takes a shape (``np.zeros(x.shape)``) or measured
    (``len(x.shape)``).

    >>> Sizes((4, 3))[0]
    4
    """

    __slots__ = ()


def shape_of(value: Value) -> tuple[int, ...]:
    """The NumPy shape of a value: ``()`` for a scalar."""
    return value.shape if isinstance(value, Array) else ()


def size_of(value: Value) -> int:
    """The number of entries of a value (1 for a scalar)."""
    return value.size if isinstance(value, Array) else 1


def is_boolean(value: Value) -> bool:
    """Is ``value`` the result of a comparison (NumPy's bool dtype)?"""
    return isinstance(value, Array) and value.boolean


def entries(value: Value) -> list[sp.Expr]:
    """The entries of a value in C (row-major) order."""
    return value.flat if isinstance(value, Array) else [value]


def entry_label(name: str, index: tuple[int, ...]) -> str:
    """``W1[0,3]``: how entry ``index`` of ``name`` is named in symbols and reports."""
    return f"{name}[{','.join(map(str, index))}]" if index else name


def map_entries(f, *arrays) -> np.ndarray:
    return np.frompyfunc(f, len(arrays), 1)(*arrays)


def as_data(value: Value) -> np.ndarray:
    """The entries as an object ndarray (0-D for a scalar)."""
    return value.data if isinstance(value, Array) else np.array(value, dtype=object)


def wrap(data: np.ndarray, boolean: bool = False) -> Value:
    """An object ndarray as a value: a scalar when it is 0-D."""
    data = np.asarray(data, dtype=object)
    if data.ndim == 0:
        return data[()]
    return Array(data, boolean)


def symbol_array(name: str, shape: tuple[int, ...]) -> Value:
    """An array of fresh real symbols ``name[i,j,...]`` (a scalar symbol for shape ())."""
    if not shape:
        return make_symbol(name)
    data = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        data[index] = make_symbol(entry_label(name, index))
    return Array(data)


def constant_array(values, shape: tuple[int, ...]) -> Value:
    """An array of exact constants of the given shape (nested lists of numbers or a scalar)."""
    flat = np.asarray(values, dtype=object)
    if flat.shape != tuple(shape):
        raise ShapeError(f"values have shape {flat.shape}, expected {tuple(shape)}")
    data = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        v = flat[index]
        data[index] = v if isinstance(v, sp.Basic) else (
            sp.Integer(v) if isinstance(v, (int, np.integer)) else sp.Rational(repr(float(v))))
    return wrap(data)


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``, or :class:`ShapeError` naming them (LimitExceeded past MAX_ENTRIES)."""
    try:
        shape = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"shapes {listed} do not broadcast") from None
    check_entries(shape, "the broadcast result")
    return shape


def check_entries(shape: tuple[int, ...], what: str) -> None:
    """Refuse a result of ``shape`` with more than :data:`MAX_ENTRIES` entries, before it is built."""
    if math.prod(shape) > MAX_ENTRIES:
        raise LimitExceeded(f"{what} would have shape {tuple(shape)}, more than {MAX_ENTRIES} entries")


def normalise_axes(axis, ndim: int, fname: str) -> tuple[int, ...] | None:
    """``axis`` (None, an int or a tuple of ints; negatives count from the end) as sorted axes."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{fname}: axis {a} is out of range for a {ndim}-D array")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{fname}: axis {axis} repeats an axis")
    return tuple(sorted(out))


def reduce_axis(value: Value, axis, keepdims: bool, combine, fname: str) -> Value:
    """Reduce along ``axis`` (None: all entries; an int or a tuple) with ``combine(list_of_entries)``."""
    if not isinstance(value, Array):
        if axis not in (None, 0, -1):
            raise ShapeError(f"{fname}: axis {axis} is out of range for a scalar")
        return combine([value])
    data = value.data
    axes = normalise_axes(axis, data.ndim, fname)
    if axes is None:
        axes = tuple(range(data.ndim))
    kept = [a for a in range(data.ndim) if a not in axes]
    moved = np.transpose(data, kept + list(axes)).reshape([data.shape[a] for a in kept] + [-1])
    out = np.empty(moved.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = combine(list(moved[index]))
    if keepdims:
        out = out.reshape([1 if a in axes else n for a, n in enumerate(data.shape)])
    return wrap(out)


def elementwise(f, value: Value) -> Value:
    if isinstance(value, Array):
        return Array(map_entries(f, value.data))
    return f(value)


def binary(f, a: Value, b: Value, boolean: bool = False) -> Value:
    if not isinstance(a, Array) and not isinstance(b, Array):
        return f(a, b)
    shape = broadcast_shape(shape_of(a), shape_of(b))
    return wrap(map_entries(f, np.broadcast_to(as_data(a), shape), np.broadcast_to(as_data(b), shape)),
                boolean)


def nary(combine, values: list) -> Value:
    """Elementwise ``combine(*entries)`` of broadcast operands (flat sums and products)."""
    if not any(isinstance(v, Array) for v in values):
        return combine(*values)
    shape = broadcast_shape(*(shape_of(v) for v in values))
    stacked = [np.broadcast_to(as_data(v), shape) for v in values]
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = combine(*(s[index] for s in stacked))
    return Array(out)


def operands(what: str, apply, *args):
    try:
        return apply(*args)
    except ShapeError as exc:
        raise ShapeError(f"operands of {what}: {exc}") from None


def _greater(a, b):
    return Step(a - b)


#: a comparison ``a op b`` as 0/1 built from Step (1 where its argument is > 0, else 0):
#: exact at the switching point too, derivative 0 everywhere else
_COMPARISONS = {
    ">": lambda a, b: _greater(a, b),
    "<": lambda a, b: _greater(b, a),
    ">=": lambda a, b: 1 - _greater(b, a),
    "<=": lambda a, b: 1 - _greater(a, b),
    "==": lambda a, b: 1 - _greater(a, b) - _greater(b, a),
    "!=": lambda a, b: _greater(a, b) + _greater(b, a),
}


def compare(op: str, a: Value, b: Value) -> Value:
    """``a op b`` (op one of ``< <= > >= == !=``) as a 0/1 value, broadcast; an Array is boolean."""
    return binary(_COMPARISONS[op], a, b, boolean=True)
