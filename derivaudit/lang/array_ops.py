"""Products, structure and indexing of array values, with NumPy's shapes.

``einsum`` is the one product: ``@`` (with NumPy's batched broadcasting and
1-D promotion), ``dot`` and ``outer`` are written with it, and every sum it
builds is one flat ``sympy.Add``.  The structural functions (reshape,
transpose, swapaxes, stack, concatenate, pad, eye, arange, full,
expand_dims, squeeze, diag, tile, repeat, triu, tril) and indexing act on
the object arrays of entries with NumPy's own functions where they exist,
so their shapes are NumPy's by construction; every entry NumPy would fill
with a 0 is an exact ``sympy.Integer(0)``.
"""

from __future__ import annotations

import math
import string

import numpy as np
import sympy as sp

from derivaudit.errors import ShapeError
from derivaudit.lang.terms import product_ufunc, total
from derivaudit.lang.arrays import (MAX_ENTRIES, Array, Value, as_data, broadcast_shape, check_entries, is_boolean,
                                    shape_of, wrap)

__all__ = ["einsum", "einsum_terms", "matmul", "matmul_terms", "dot", "outer", "transpose",
           "swapaxes", "reshape", "stack", "concatenate", "pad", "eye", "arange", "full", "index", "expand_dims",
           "squeeze", "diag", "tile", "repeat", "triangle"]


def _parse_subscripts(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit letters per operand and for the output; ``...`` expanded to spare capital letters."""
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' has {len(terms)} operand(s), got {len(shapes)}")
    letters = set(text) - set(",->.")
    if not all(ch in string.ascii_letters for ch in letters):
        raise ShapeError(f"einsum: subscripts are letters, not {sorted(letters - set(string.ascii_letters))}")
    spare = [ch for ch in reversed(string.ascii_uppercase) if ch not in letters]
    widest = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    if widest > len(spare):
        raise ShapeError("einsum: too many dimensions under '...'")
    ellipsis = "".join(spare[:widest][::-1])
    expanded = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            extra = len(shape) - len(term.replace("...", ""))
            if extra < 0:
                raise ShapeError(f"einsum: operand '{term}' has more letters than its {len(shape)} dimensions")
            term = term.replace("...", ellipsis[len(ellipsis) - extra:])
        if len(term) != len(shape) or "." in term:
            raise ShapeError(f"einsum: operand '{term}' does not fit shape {shape}")
        expanded.append(term)
    if arrow:
        output = output.replace("...", ellipsis)
        if "." in output or len(set(output)) != len(output) or not set(output) <= set("".join(expanded)):
            raise ShapeError(f"einsum: output '{output}' is not made of the operands' letters")
    else:
        counts = {ch: "".join(expanded).count(ch) for ch in set("".join(expanded))}
        output = ellipsis + "".join(sorted(ch for ch, n in counts.items() if n == 1 and ch not in ellipsis))
    return expanded, output


def _sizes(terms: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for ch, n in zip(term, shape):
            if ch in sizes and n != sizes[ch] and 1 not in (n, sizes[ch]):
                raise ShapeError(f"einsum: index '{ch}' has sizes {sizes[ch]} and {n} "
                                 f"(operand shapes {' and '.join(map(str, shapes))})")
            sizes[ch] = max(n, sizes.get(ch, 1))
    return sizes


def einsum_terms(subscripts: str, shapes: list[tuple[int, ...]]) -> int:
    """Scalar products ``einsum`` builds (checked against the work limit before it builds them)."""
    terms, _ = _parse_subscripts(subscripts, shapes)
    return math.prod(_sizes(terms, shapes).values()) * len(shapes)


def einsum(subscripts: str, *operands: Value) -> Value:
    """NumPy's ``einsum`` with explicit or implicit output, ``...`` and repeated letters (diagonals)."""
    shapes = [shape_of(v) for v in operands]
    terms, output = _parse_subscripts(subscripts, shapes)
    sizes = _sizes(terms, shapes)
    space = list(dict.fromkeys(output + "".join(terms)))  # output letters first
    grids = np.ogrid[tuple(slice(0, sizes[ch]) for ch in space)] if space else []
    grid = dict(zip(space, grids))
    product = None
    for term, value in zip(terms, operands):
        data = as_data(value)
        # indexed by open grids over the whole letter space, the entries come out with an axis
        # per letter (length 1 for letters the operand lacks); a dimension of 1 broadcasts
        picked = data[tuple(grid[ch] if n != 1 else 0 * grid[ch] for ch, n in zip(term, data.shape))] \
            if term else data
        product = picked if product is None else product_ufunc(product, picked)
    product = np.broadcast_to(np.asarray(product, dtype=object), [sizes[ch] for ch in space])
    summed = product.reshape([sizes[ch] for ch in output] + [-1])
    out = np.empty(summed.shape[:-1], dtype=object)
    for idx in np.ndindex(*out.shape):
        out[idx] = total(summed[idx])
    return wrap(out)


def matmul_terms(sa: tuple[int, ...], sb: tuple[int, ...]) -> int:
    """Scalar products ``a @ b`` builds for operands of shapes ``sa`` and ``sb`` (before checking them)."""
    rows = math.prod(sa[:-1]) if sa else 1
    cols = math.prod(sb[:-2]) * sb[-1] if len(sb) >= 2 else 1
    return rows * cols * (sa[-1] if sa else 1)


def matmul(a: Value, b: Value) -> Value:
    """``a @ b`` with NumPy's rules: 1-D operands promoted, batch dimensions broadcast, scalars refused."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"'@' needs arrays on both sides, got shapes {sa} and {sb}; "
                         "use '*' to scale by a scalar")
    inner_a, inner_b = sa[-1], sb[0] if len(sb) == 1 else sb[-2]
    if inner_a != inner_b:
        raise ShapeError(f"'@' of shapes {sa} and {sb}: inner dimensions {inner_a} and {inner_b} differ")
    left = "...ij" if len(sa) >= 2 else "j"
    right = "...jk" if len(sb) >= 2 else "j"
    out = ("..." if len(sa) > 2 or len(sb) > 2 else "") + ("i" if len(sa) >= 2 else "") + \
        ("k" if len(sb) >= 2 else "")
    broadcast_shape(sa[:-2], sb[:-2])  # the batch dimensions must broadcast
    return einsum(f"{left},{right}->{out}", a, b)


def dot(a: Value, b: Value) -> Value:
    """``np.dot``: a product by a scalar, the inner product of 1-D arrays, ``@`` for 2-D."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return wrap(as_data(a) * as_data(b))
    if len(sa) > 2 or len(sb) > 2:
        raise ShapeError(f"dot of shapes {sa} and {sb}: for arrays over 2-D write '@' or einsum")
    return matmul(a, b)


def outer(a: Value, b: Value) -> Value:
    """``np.outer``: every entry of ``a`` (flattened) times every entry of ``b``."""
    x, y = as_data(a).reshape(-1), as_data(b).reshape(-1)
    check_entries((x.size, y.size), "outer")
    return Array(x[:, None] * y[None, :])


def transpose(value: Value, axes=None) -> Value:
    if not isinstance(value, Array):
        return value
    if axes is not None and sorted(a % value.ndim if -value.ndim <= a < value.ndim else a
                                   for a in axes) != list(range(value.ndim)):
        raise ShapeError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                         f"{value.ndim} axes of shape {value.shape}")
    return Array(np.transpose(value.data, None if axes is None else [a % value.ndim for a in axes]),
                 value.boolean)


def swapaxes(value: Value, a: int, b: int) -> Value:
    n = len(shape_of(value))
    if not (-n <= a < n and -n <= b < n):
        raise ShapeError(f"swapaxes: axes {a} and {b} do not fit shape {shape_of(value)}")
    return Array(np.swapaxes(value.data, a, b), value.boolean)


def reshape(value: Value, shape: tuple[int, ...]) -> Value:
    data = as_data(value)
    try:
        return wrap(data.reshape(shape), is_boolean(value))
    except ValueError:
        raise ShapeError(f"cannot reshape shape {data.shape} ({data.size} entries) into {tuple(shape)}") from None


def stack(values: list[Value], axis: int = 0) -> Value:
    if not values:
        raise ShapeError("stack needs at least one array")
    shapes = {shape_of(v) for v in values}
    if len(shapes) != 1:
        raise ShapeError(f"stack needs equal shapes, got {' and '.join(map(str, sorted(shapes)))}")
    ndim = len(next(iter(shapes))) + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(f"stack: axis {axis} is out of range for the {ndim}-D result")
    return Array(np.stack([as_data(v) for v in values], axis=axis))


def concatenate(values: list[Value], axis: int | None = 0) -> Value:
    if not values:
        raise ShapeError("concatenate needs at least one array")
    datas = [as_data(v) for v in values]
    if any(d.ndim == 0 for d in datas):
        raise ShapeError("concatenate needs arrays, not scalars")
    try:
        return Array(np.concatenate(datas, axis=axis))
    except (ValueError, np.exceptions.AxisError):
        raise ShapeError(f"concatenate along axis {axis}: shapes "
                         f"{' and '.join(str(d.shape) for d in datas)} do not fit") from None


def pad(value: Value, widths, fill: sp.Expr) -> Value:
    """``np.pad(x, widths, mode="constant", constant_values=fill)``."""
    data = as_data(value)
    try:
        spec = np.broadcast_to(np.asarray(widths, dtype=int).reshape(-1, 2) if np.ndim(widths) else
                               np.asarray([[widths, widths]]), (data.ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: widths {widths} do not fit shape {data.shape}") from None
    if (spec < 0).any():
        raise ShapeError("pad: widths must not be negative")
    check_entries(tuple(int(n + lo + hi) for n, (lo, hi) in zip(data.shape, spec)), "pad")
    out = np.full([n + lo + hi for n, (lo, hi) in zip(data.shape, spec)], fill, dtype=object)
    out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(data.shape, spec))] = data
    return wrap(out)


def eye(n: int, m: int | None = None, k: int = 0) -> Array:
    if n < 1 or (m is not None and m < 1):
        raise ShapeError(f"eye: sizes must be positive, not {n} and {m}")
    check_entries((n, n if m is None else m), "eye")
    data = np.eye(n, n if m is None else m, k, dtype=int)
    return Array(np.vectorize(sp.Integer, otypes=[object])(data))


def arange(start: int, stop: int | None = None, step: int = 1) -> Array:
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ShapeError("arange: step must not be 0")
    values = range(start, stop, step)
    if not values:
        raise ShapeError(f"arange({start}, {stop}, {step}) is empty")
    check_entries((len(values),), "arange")
    return Array(np.array([sp.Integer(v) for v in values], dtype=object))


def full(shape: tuple[int, ...], fill: sp.Expr) -> Value:
    if isinstance(fill, Array):
        raise ShapeError(f"full: fill_value must be one number, not an array of shape {fill.shape}")
    check_entries(shape, "the array")
    return wrap(np.full(shape, fill, dtype=object))


def expand_dims(value: Value, axis) -> Value:
    """``np.expand_dims``: a new axis of length 1 at each position of ``axis`` (an int or a tuple).

    >>> from derivaudit.lang.arrays import symbol_array
    >>> expand_dims(symbol_array("v", (3,)), (0, 2)).shape
    (1, 3, 1)
    """
    data = as_data(value)
    try:
        return Array(np.expand_dims(data, axis), is_boolean(value))
    except (ValueError, np.exceptions.AxisError):
        raise ShapeError(f"expand_dims: axis {axis} is out of range for the "
                         f"{data.ndim + len(np.atleast_1d(axis))}-D result") from None


def squeeze(value: Value, axis=None) -> Value:
    """``np.squeeze``: drop the axes of length 1 (all of them, or those of ``axis``, which must have length 1).

    >>> from derivaudit.lang.arrays import symbol_array
    >>> squeeze(symbol_array("x", (1, 3, 1)), axis=0).shape
    (3, 1)
    """
    data = as_data(value)
    try:
        return wrap(np.squeeze(data, axis), is_boolean(value))
    except (ValueError, np.exceptions.AxisError):
        raise ShapeError(f"squeeze: axis {axis} of shape {data.shape} is not of length 1") from None


def diag(value: Value, k: int = 0) -> Value:
    """``np.diag``: a 1-D array as the diagonal ``k`` of a square array, or diagonal ``k`` of a 2-D one.

    >>> from derivaudit.lang.arrays import symbol_array
    >>> diag(symbol_array("v", (2,)), 1)
    Array(shape=(3, 3), [[0, v[0], 0], [0, 0, v[1]], [0, 0, 0]])
    >>> diag(symbol_array("x", (2, 3)))
    Array(shape=(2,), [x[0,0], x[1,1]])
    """
    data = as_data(value)
    if data.ndim == 1:
        n = data.size + abs(k)
        check_entries((n, n), "diag")
        out = np.full((n, n), sp.Integer(0), dtype=object)
        rows = np.arange(data.size) + max(-k, 0)
        out[rows, rows + k] = data
        return Array(out, is_boolean(value))
    if data.ndim != 2:
        raise ShapeError(f"diag needs a 1-D or 2-D array, not shape {data.shape}")
    picked = np.diagonal(data, k)
    if picked.size == 0:
        raise ShapeError(f"diag: diagonal {k} of shape {data.shape} is empty")
    return Array(picked.copy(), is_boolean(value))


def tile(value: Value, reps: tuple[int, ...]) -> Value:
    """``np.tile``: the array repeated ``reps`` times along each axis (``reps`` aligned on the right).

    >>> from derivaudit.lang.arrays import symbol_array
    >>> tile(symbol_array("v", (2,)), (2, 2)).shape
    (2, 4)
    """
    data = as_data(value)
    if any(r < 1 for r in reps):
        raise ShapeError(f"tile: repetitions must be positive whole numbers, not {reps}")
    ndim = max(data.ndim, len(reps))
    shape = (1,) * (ndim - data.ndim) + data.shape
    full_reps = (1,) * (ndim - len(reps)) + tuple(reps)
    check_entries(tuple(n * r for n, r in zip(shape, full_reps)), "tile")
    return wrap(np.tile(data, reps), is_boolean(value))


def repeat(value: Value, repeats, axis: int | None = None) -> Value:
    """``np.repeat``: each entry (along ``axis``, or of the flattened array) ``repeats`` times.

    ``repeats`` is a whole number or a tuple of one per entry along ``axis``.

    >>> from derivaudit.lang.arrays import symbol_array
    >>> repeat(symbol_array("v", (2,)), 2)
    Array(shape=(4,), [v[0], v[0], v[1], v[1]])
    >>> repeat(symbol_array("x", (2, 3)), (1, 0, 2), axis=1).shape
    (2, 3)
    """
    data = as_data(value)
    counts = repeats if isinstance(repeats, tuple) else (repeats,)
    if any(r < 0 for r in counts):
        raise ShapeError(f"repeat: repetitions must not be negative, not {repeats}")
    if axis is not None and not -data.ndim <= axis < data.ndim:
        raise ShapeError(f"repeat: axis {axis} is out of range for shape {data.shape}")
    length = data.size if axis is None else data.shape[axis]
    rest = 1 if axis is None else data.size // max(length, 1)
    total = (sum(counts) if len(counts) > 1 else counts[0] * length) * rest
    check_entries((total,), "repeat")
    try:
        out = np.repeat(data, repeats if isinstance(repeats, int) else list(repeats), axis)
    except ValueError:
        raise ShapeError(f"repeat: {len(counts)} repetitions do not fit the {length} entries "
                         f"along axis {axis}") from None
    if out.size == 0:
        raise ShapeError("repeat: the result is empty")
    return Array(out, is_boolean(value))


def triangle(value: Value, k: int, upper: bool) -> Value:
    """``np.triu`` (``upper``) or ``np.tril``: entries above (below) diagonal ``k`` of the last two axes, others 0.

    As in NumPy, a 1-D array is read as the rows of a square array.

    >>> from derivaudit.lang.arrays import symbol_array
    >>> triangle(symbol_array("v", (2,)), 0, upper=True)
    Array(shape=(2, 2), [[v[0], v[1]], [0, v[1]]])
    """
    data = as_data(value)
    if data.ndim == 0:
        raise ShapeError(f"{'triu' if upper else 'tril'} needs an array, not a scalar")
    square = data.shape[-2:] if data.ndim >= 2 else (data.size, data.size)
    check_entries(np.broadcast_shapes(square, data.shape), "the triangle")
    keep = ~np.tri(*square, k=k - 1, dtype=bool) if upper else np.tri(*square, k=k, dtype=bool)
    return Array(np.where(keep, data, sp.Integer(0)), is_boolean(value))


def index(value: Value, key: tuple) -> Value:
    """``value[key]`` with NumPy's rules; ``key`` holds ints, slices, None, Ellipsis and int/bool ndarrays."""
    data = as_data(value)
    arrays = [k.shape for k in key if isinstance(k, np.ndarray) and k.dtype != bool]
    if arrays:
        check_entries(broadcast_shape(*arrays), "the index")
    try:
        result = data[key]
    except IndexError as exc:
        shown = ", ".join(_key_text(k) for k in key)
        raise ShapeError(f"index [{shown}] does not fit shape {data.shape}: {exc}") from None
    return wrap(result, is_boolean(value)) if isinstance(result, np.ndarray) else result


def _key_text(k) -> str:
    if k is None:
        return "None"
    if k is Ellipsis:
        return "..."
    if isinstance(k, slice):
        return ":".join("" if v is None else str(v) for v in (k.start, k.stop)) + \
            (f":{k.step}" if k.step is not None else "")
    if isinstance(k, np.ndarray):
        return f"<{k.dtype.name} array of shape {k.shape}>"
    return str(k)
