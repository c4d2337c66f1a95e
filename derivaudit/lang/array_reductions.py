"""Reductions of the array language besides sum, mean, max, min, var and std: cumsum, trace and norm.

Each follows NumPy's shape rules (``axis=None`` flattens, negative axes
count from the end, ``keepdims`` keeps reduced axes as length 1) and builds
every sum as one flat ``sympy.Add``, as :func:`~derivaudit.lang.arrays.reduce_axis` does.
``np.linalg.norm`` is the 2-norm of vectors and the Frobenius norm of
matrices (of the flattened array when no ``ord`` and no ``axis`` is given);
its other orders are refused with the spelling that writes them out, because
the 1- and max-norms are sums and maxima of ``abs`` the language already has,
and the spectral and nuclear norms need singular values it does not.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from derivaudit.errors import ShapeError
from derivaudit.lang.arrays import Array, Value, as_data, normalise_axes, reduce_axis, wrap

__all__ = ["cumsum", "cumsum_terms", "trace", "norm", "norm_order_problem"]


def cumsum(value: Value, axis: int | None = None) -> Value:
    """``np.cumsum``: running sums along ``axis`` (of the flattened array for None).

    >>> from derivaudit.lang.arrays import symbol_array
    >>> cumsum(symbol_array("v", (3,)))
    Array(shape=(3,), [v[0], v[0] + v[1], v[0] + v[1] + v[2]])
    """
    data = as_data(value)
    if axis is None:
        data, axis = data.reshape(-1), 0
    (ax,) = normalise_axes(axis, data.ndim, "cumsum")
    moved = np.moveaxis(data, ax, -1)
    out = np.empty(moved.shape, dtype=object)
    for index in np.ndindex(*moved.shape[:-1]):
        row = list(moved[index])
        for k in range(len(row)):
            out[index + (k,)] = sp.Add(*row[:k + 1])
    return Array(np.moveaxis(out, -1, ax))


def cumsum_terms(shape: tuple[int, ...], axis: int | None) -> int:
    """Scalar terms ``cumsum`` builds: each running sum is built whole, so n(n+1)/2 per line.

    >>> cumsum_terms((4, 3), 1), cumsum_terms((4, 3), None)
    (24, 78)
    """
    size = int(np.prod(shape))
    length = size if axis is None or not shape else shape[axis % len(shape)] if -len(shape) <= axis < len(shape) else 1
    return size * (length + 1) // 2


def trace(value: Value, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """``np.trace``: the sum of diagonal ``offset`` over axes ``axis1`` and ``axis2`` (0 if it is empty).

    >>> from derivaudit.lang.arrays import symbol_array
    >>> trace(symbol_array("A", (2, 2)))
    A[0,0] + A[1,1]
    """
    data = as_data(value)
    if data.ndim < 2:
        raise ShapeError(f"trace needs an array of at least 2 dimensions, not shape {data.shape}")
    try:
        picked = np.diagonal(data, offset, axis1, axis2)
    except ValueError:
        raise ShapeError(f"trace: axes {axis1} and {axis2} do not fit shape {data.shape}") from None
    out = np.empty(picked.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = sp.Add(*picked[index])
    return wrap(out)


def norm(value: Value, axis=None, keepdims: bool = False) -> Value:
    """``np.linalg.norm(x, axis=axis, keepdims=keepdims)``: the square root of the sum of squares.

    Over every entry for ``axis=None`` (the Frobenius norm of a matrix, the
    2-norm of a vector), the 2-norm along one axis, the Frobenius norm over
    two.

    >>> from derivaudit.lang.arrays import symbol_array
    >>> norm(symbol_array("v", (2,)))
    sqrt(v[0]**2 + v[1]**2)
    """
    if axis is not None and len(axis if isinstance(axis, tuple) else (axis,)) > 2:
        raise ShapeError(f"norm: axis {axis} has more than 2 axes (a vector or a matrix norm)")
    return reduce_axis(value, axis, keepdims, lambda vs: sp.sqrt(sp.Add(*(v ** 2 for v in vs))), "norm")


def norm_order_problem(order, ndim: int, axis) -> tuple[str, str] | None:
    """Why ``np.linalg.norm(x, ord=order, axis=axis)`` of an ``ndim``-D array is refused, and a hint; None if it is not.

    ``order`` is None, a number (``np.inf`` is ``math.inf``) or a string.
    Accepted: None; 2 for a vector norm; ``'fro'`` for a matrix norm.

    >>> norm_order_problem(2, 1, None) is None, norm_order_problem("fro", 3, (1, 2)) is None
    (True, True)
    >>> norm_order_problem(1, 1, None)
    ('np.linalg.norm: ord=1 is not supported for a vector norm; only ord=None or 2', 'for the 1-norm write np.sum(np.abs(x))')
    """
    if order is None:
        return None
    shown = {math.inf: "np.inf", -math.inf: "-np.inf"}.get(order, repr(order)) \
        if isinstance(order, (int, float)) else repr(order)
    if axis is None and ndim > 2:
        return (f"np.linalg.norm: ord={shown} needs a 1-D or 2-D array (or axis=), not {ndim}-D",
                "without ord= it is the 2-norm of every entry")
    vector = (ndim if axis is None else len(axis) if isinstance(axis, tuple) else 1) <= 1
    if (vector and order == 2 and not isinstance(order, str)) or (not vector and order == "fro"):
        return None
    if not vector:
        return (f"np.linalg.norm: ord={shown} is not supported for a matrix norm; only ord=None or 'fro'",
                "leave ord out (or write ord='fro') for the Frobenius norm")
    hint = {1: "for the 1-norm write np.sum(np.abs(x))", math.inf: "for the max-norm write np.max(np.abs(x))"}
    return (f"np.linalg.norm: ord={shown} is not supported for a vector norm; only ord=None or 2",
            hint.get(order, "") if isinstance(order, (int, float)) else "")
