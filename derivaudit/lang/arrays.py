"""Array values of the formula language: arrays of sympy expressions with NumPy's semantics.

Backprop formulas are written with arrays (``dW2 = dZ2 @ A1.T / m``).  A
value of the array language is a sympy scalar (0-D) or an :class:`Array`
whose entries are exact scalar expressions in the instantiated symbols
(``W1[0,1]``, ...).  This module holds the values and NumPy's rules on them:
broadcasting (shapes aligned on the right, a dimension of 1 stretches;
anything else is a :class:`~derivaudit.errors.ShapeError` naming both
shapes), elementwise maps, reductions along an axis (dropping it unless
``keepdims``, exactly as NumPy: the classic missing-``keepdims`` bug is
reproduced, not hidden) and the matrix product.

The functions a formula may call are in :mod:`derivaudit.lang.array_functions`;
the walk over the text in :mod:`derivaudit.lang.array_walker`.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import sympy as sp

from derivaudit.errors import ShapeError
from derivaudit.lang.functions import make_symbol

__all__ = [
    "Array", "Value", "MAX_ENTRIES", "shape_of", "symbol_array", "constant_array", "entries",
    "entry_label", "broadcast_shape", "map_entries", "as_data", "wrap", "normalise_axis",
    "reduce_axis", "elementwise", "binary", "nary", "operands", "matmul", "matmul_terms", "MAX_TERMS",
]

#: the largest number of entries an array may have (the audit instantiates each one)
MAX_ENTRIES = 100_000
#: the most scalar operations one formula may build (a 100×100 @ 100×100 product needs 10**6)
MAX_TERMS = 250_000


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


def map_entries(f, *arrays) -> np.ndarray:
    return np.frompyfunc(f, len(arrays), 1)(*arrays)


def as_data(value: Value) -> np.ndarray:
    return value.data if isinstance(value, Array) else np.array(value, dtype=object)


def wrap(data: np.ndarray) -> Value:
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
    return wrap(data)


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``, or :class:`ShapeError` naming them."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"shapes {listed} do not broadcast") from None


def normalise_axis(axis, ndim: int, fname: str):
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{fname}: axis {axis} is out of range for a {ndim}-D array")
    return axis % ndim


def reduce_axis(value: Value, axis, keepdims: bool, combine, fname: str) -> Value:
    """Reduce along ``axis`` (None: all entries) with ``combine(list_of_entries)``."""
    if not isinstance(value, Array):
        if axis not in (None, 0, -1):
            raise ShapeError(f"{fname}: axis {axis} is out of range for a scalar")
        return combine([value])
    data = value.data
    axis = normalise_axis(axis, data.ndim, fname)
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
    return wrap(out)


def elementwise(f, value: Value) -> Value:
    if isinstance(value, Array):
        return Array(map_entries(f, value.data))
    return f(value)


def binary(f, a: Value, b: Value) -> Value:
    if not isinstance(a, Array) and not isinstance(b, Array):
        return f(a, b)
    shape = broadcast_shape(shape_of(a), shape_of(b))
    return wrap(map_entries(f, np.broadcast_to(as_data(a), shape), np.broadcast_to(as_data(b), shape)))


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


def matmul_terms(sa: tuple[int, ...], sb: tuple[int, ...]) -> int:
    """Scalar products ``a @ b`` builds for operands of shapes ``sa`` and ``sb`` (before checking them)."""
    rows = math.prod(sa[:-1]) if sa else 1
    cols = math.prod(sb[:-2]) * sb[-1] if len(sb) >= 2 else 1
    return rows * cols * (sa[-1] if sa else 1)


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
    return wrap(out)


