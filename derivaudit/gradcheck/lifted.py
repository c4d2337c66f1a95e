"""Lifted precision: the user's unmodified NumPy code runs on arrays of python-flint ``arb`` balls.

A :class:`BallArray` is an object ndarray whose entries are balls (a
midpoint and a certified radius, at the working precision).  Everything that
enters one becomes a ball: operands of ufuncs (Python ints, floats such as
``1/5``, ``np.float64``, bool masks), values assigned with ``x[...] = v`` or
``x[...] += v``, results of array functions (``np.pad``'s zeros,
``np.where``'s constants).  The ufuncs balls have no method for
(``arctan``, ``conjugate`` in ``np.var``, …) and the comparisons are routed
(``_ROUTED`` and :func:`apply_ufunc` below); inside :func:`lifted` the creation
functions (``np.zeros``, ``np.ones``, ``np.empty``, ``np.full``, ``np.eye``,
``np.asarray``, …) make ball arrays too, so no value silently stays in
float64.  What does leave (``float(x)``, ``astype(float)``) is recorded as a
drop (:mod:`derivaudit.gradcheck.drops`).

Indexing one entry (or ``.item()``) gives a 0-d ``BallArray``, so
``float(x[i])`` and ``math.exp(x[i])`` are seen too.

>>> import numpy as np
>>> from derivaudit.gradcheck.precision import lifted
>>> with lifted(30):
...     x = lift(np.array([1.0, 2.0]))
...     y = np.zeros_like(x)
...     y[0] = 1
...     y /= 5                          # 1/5 as a ball, not the float 0.2
...     z = np.arctan(x) + y
...     fifth = y.view(np.ndarray)[0].str(25, radius=False)
>>> fifth, type(z).__name__
('0.2000000000000000000000000', 'BallArray')
"""

from __future__ import annotations

import fractions
import functools
import math
import numbers
import types

import numpy as np
from flint import arb, ctx

from derivaudit.core.ball_special import log_abs_gamma, real_cbrt, xlogy_ball
from derivaudit.errors import DerivauditError
from derivaudit.verdicts import relative_difference
from derivaudit.gradcheck import drops

__all__ = ["BallArray", "ORIGINAL", "to_ball", "lift", "lift_point", "as_balls", "is_ball", "working_bits", "mid_float",
           "mid_floats", "ball_relative_difference", "ball_zeros", "apply_ufunc"]

#: NumPy's own creation functions, kept before :func:`~derivaudit.gradcheck.precision.lifted` swaps them
ORIGINAL = types.SimpleNamespace(
    zeros=np.zeros, ones=np.ones, empty=np.empty, full=np.full, eye=np.eye, identity=np.identity, array=np.array,
    asarray=np.asarray, asanyarray=np.asanyarray, ascontiguousarray=np.ascontiguousarray,
    zeros_like=np.zeros_like, ones_like=np.ones_like, empty_like=np.empty_like, full_like=np.full_like)


def working_bits(dps: int) -> int:
    """Bits of the working precision for a check at ``dps`` digits: twice the digits, and a margin.

    Twice, so the centered difference at step ``2^-(bits/3)`` has truncation
    and roundoff both near ``10^-(4·dps/3)``, far below the ``10^-dps`` the
    check reports.
    """
    return int(math.ceil(2 * dps * math.log2(10))) + 32


@functools.lru_cache(maxsize=1 << 16)
def _float_ball(value: float, bits: int) -> arb:
    """The ball of a float constant: the simplest fraction whose nearest double it is, else its binary value.

    Code writes ``1. / m``, ``0.2`` or ``1e-5`` meaning 1/m, 1/5 and 10⁻⁵, and
    those reach the arrays as doubles already rounded to 17 digits; taken
    at their binary value they would put a 1e-17 error into a 50-digit
    check.  The double nearest π is π.  A decimal with up to 6 significant digits, or a fraction with a
    denominator up to 10⁶, whose nearest double is ``value`` is taken
    instead (a random double is one by chance with probability ~1e-4, and is
    then changed by under one rounding unit — the same way in every call, so
    the function and its gradient still agree).  ``bits`` is the working
    precision the ball is made at (part of the cache key).
    """
    if value == 0 or not math.isfinite(value):
        return arb(value)
    if value == math.pi:
        return arb.pi()          # np.pi, math.pi: code means π (the double is π rounded)
    exponent = math.floor(math.log10(abs(value)))
    for digits in range(1, 7):
        scale = digits - 1 - exponent
        numerator = round(value * 10.0 ** scale)
        if scale >= 0 and float(fractions.Fraction(numerator, 10 ** scale)) == value:
            return arb(numerator) / arb(10) ** scale
        if scale < 0 and float(numerator * 10 ** -scale) == value:
            return arb(numerator * 10 ** -scale)
    fraction = fractions.Fraction(value).limit_denominator(10 ** 6)
    if float(fraction) == value:
        return arb(fraction.numerator) / fraction.denominator
    return arb(value)


def to_ball(value) -> arb:
    """``value`` as a ball; a float constant as :func:`_float_ball` reads it (``0.2`` is 1/5).

    >>> old, ctx.prec = ctx.prec, 200
    >>> [float(abs(to_ball(v) * k - 1).upper()) < 1e-55 for v, k in ((1 / 6, 6), (0.2, 5), (1e-5, 10 ** 5))]
    [True, True, True]
    >>> ctx.prec = old
    """
    kind = type(value)
    if kind is arb:
        return value
    if kind is BallArray:
        return to_ball(value.view(np.ndarray).reshape(()).item() if value.size == 1 else value)
    if isinstance(value, (bool, np.bool_)):
        return arb(int(value))
    if isinstance(value, numbers.Integral):
        return arb(int(value))
    if isinstance(value, (float, np.floating)):
        return _float_ball(float(value), ctx.prec)
    if isinstance(value, numbers.Rational):
        return arb(value.numerator) / value.denominator
    if isinstance(value, numbers.Complex):
        raise DerivauditError(f"precision='mp' checks real code, but a complex number ({value}) entered an array; "
                              "use precision='float64'")
    raise DerivauditError(f"precision='mp' cannot lift a {type(value).__name__} into a ball array")


_TO_BALLS = np.frompyfunc(to_ball, 1, 1)


def as_balls(value) -> np.ndarray:
    """A plain object ndarray of balls from anything array-like (a view for a BallArray)."""
    if type(value) is BallArray:
        return value.view(np.ndarray)
    array = ORIGINAL.asarray(value)
    if array.dtype.kind not in "biufO":
        if array.dtype.kind == "c":
            to_ball(complex(array.flat[0]) if array.size else 0j)
        raise DerivauditError(f"precision='mp' cannot lift an array of {array.dtype}")
    if array.ndim == 0:
        out = ORIGINAL.empty((), dtype=object)
        out[()] = to_ball(array.item())
        return out
    return _TO_BALLS(array).astype(object, copy=False) if array.size else array.astype(object)


def lift(value) -> BallArray:
    """``value`` (array-like) as a :class:`BallArray` of balls (float constants read by :func:`to_ball`)."""
    return as_balls(value).view(BallArray)


def lift_point(theta: np.ndarray) -> BallArray:
    """A float64 point θ as a BallArray of its exact binary values (the point a check perturbs)."""
    flat = ORIGINAL.asarray(theta, dtype=np.float64)
    return np.frompyfunc(lambda v: arb(float(v)), 1, 1)(flat).astype(object).view(BallArray) if flat.ndim \
        else lift(flat)


def is_ball(value) -> bool:
    """True for a ball or a ball array (what lifted code is meant to compute with)."""
    return type(value) is arb or type(value) is BallArray


def wrap(result):
    """A ufunc's or array function's result as lifted values: object arrays become BallArrays."""
    if isinstance(result, tuple):
        return tuple(wrap(r) for r in result)
    if isinstance(result, list):
        return [wrap(r) for r in result]
    if type(result) is arb:
        out = ORIGINAL.empty((), dtype=object)
        out[()] = result
        return out.view(BallArray)
    if isinstance(result, np.ndarray) and result.dtype == object:
        if type(result) is not BallArray:
            result = result.view(BallArray)
        return result
    return result


def wrap_coerced(result):
    """Like :func:`wrap`, converting every entry that is not a ball (ints from ``np.pad``, floats)."""
    if isinstance(result, np.ndarray) and result.dtype == object:
        plain = result.view(np.ndarray)
        if plain.size and not all(type(v) is arb for v in plain.flat):
            plain = as_balls(plain)
        return plain.view(BallArray)
    if isinstance(result, (tuple, list)):
        return type(result)(wrap_coerced(r) for r in result)
    return wrap(result)


class BallArray(np.ndarray):
    """An object ndarray of ``arb`` balls that keeps every value entering it a ball (see module docs)."""

    __array_priority__ = 100

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTIONS.get(func)
        if handler is not None:
            return handler(*args, **kwargs)
        return wrap_coerced(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getitem__(self, key):
        item = super().__getitem__(key)
        return wrap(item) if type(item) is arb else item

    def __setitem__(self, key, value):
        if type(key) is BallArray:
            key = key.view(np.ndarray)
        if type(value) is not arb:
            value = as_balls(value)
            if value.ndim == 0:  # an object array would store a 0-d array as the entry itself
                value = value[()]
        self.view(np.ndarray)[key] = value

    def __repr__(self):
        plain = self.view(np.ndarray)
        return "BallArray(" + repr(plain)[6:] if self.ndim else f"BallArray({plain.item()})"

    def __str__(self):
        plain = self.view(np.ndarray)
        return str(plain) if self.ndim else str(plain.item())

    def __float__(self):
        drops.record_drop("a ball made a float (float(), np.float64(), math.*)")
        return float(self.view(np.ndarray).reshape(()).item() if self.size == 1 else self.view(np.ndarray))

    def __complex__(self):
        drops.record_drop("complex(...) of a ball")
        return complex(float(self.view(np.ndarray).reshape(()).item()))

    def astype(self, dtype, *args, **kwargs):
        target = np.dtype(dtype)
        if target == object:
            return self.copy()
        if target.kind in "fc":
            drops.record_drop(f"astype({target.name})")
        plain = self.view(np.ndarray)
        return np.vectorize(float, otypes=[np.float64])(plain).astype(target) if plain.size else \
            plain.astype(target)

    def tolist(self):
        return [wrap(v) if type(v) is arb else v for v in self.view(np.ndarray).ravel()] if self.ndim == 1 \
            else [row.tolist() for row in self]

    def item(self, *args):
        # a 0-d ball array, not the bare ball: float(x.item()) is then seen like float(x)
        return wrap(self.view(np.ndarray).item(*args))

    def var(self, *args, **kwargs):
        return np.var(self, *args, **kwargs)

    def std(self, *args, **kwargs):
        return np.std(self, *args, **kwargs)

    def __hash__(self):  # a 0-d entry used as a key behaves like its number
        return hash(self.view(np.ndarray).reshape(()).item()) if self.size == 1 else object.__hash__(self)


def mid_float(value) -> float:
    """The midpoint of a ball (or a number) as the nearest float."""
    if type(value) is BallArray:
        value = value.view(np.ndarray).reshape(()).item()
    return float(value.mid()) if type(value) is arb else float(value)


_MID_FLOATS = np.frompyfunc(mid_float, 1, 1)


def mid_floats(array) -> np.ndarray:
    """Midpoints of a ball array as a float64 array (same shape)."""
    plain = as_balls(array)
    return ORIGINAL.asarray(_MID_FLOATS(plain), dtype=np.float64) if plain.size else ORIGINAL.zeros(plain.shape)


def ball_relative_difference(claimed: np.ndarray, reference: np.ndarray) -> float:
    """:func:`derivaudit.verdicts.relative_difference` with ``g − n`` taken in balls.

    ``‖g − n‖₂ / (‖g‖₂ + ‖n‖₂)``: the difference of two 50-digit gradients is
    formed before rounding, so a correct gradient shows ``1e-60``, not the
    ``1e-17`` float64 would leave.
    """
    g, n = as_balls(claimed).ravel(), as_balls(reference).ravel()
    return relative_difference([mid_float(x) for x in g], [mid_float(x) for x in n],
                               difference=[mid_float(a - b) for a, b in zip(g, n)])


def ball_zeros(shape, fill=0) -> BallArray:
    """A BallArray of ``shape`` filled with the exact ball ``fill``."""
    return ORIGINAL.full(shape, to_ball(fill), dtype=object).view(BallArray)


def _unwrap(value):
    if type(value) is BallArray:
        return value.view(np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


# --- ufuncs: the ones balls have no method for, and comparisons, decided on midpoints --------------
def _larger(a, b):
    return a if a.mid() >= b.mid() else b


def _smaller(a, b):
    return a if a.mid() <= b.mid() else b


def _heaviside(a, h0):
    m = a.mid()
    return h0 if m == 0 else (arb(1) if m > 0 else arb(0))


_ONE_ARGUMENT = {
    np.arctan: arb.atan, np.arcsin: arb.asin, np.arccos: arb.acos, np.arctanh: arb.atanh,
    np.arcsinh: arb.asinh, np.arccosh: arb.acosh, np.conjugate: lambda a: a, np.positive: lambda a: a,
    np.sign: arb.sgn, np.fabs: abs, np.log2: lambda a: a.log() / arb(2).log(),
    np.log10: lambda a: a.log() / arb(10).log(), np.exp2: lambda a: arb(2) ** a,
    np.cbrt: lambda a: a.root(3) if a.mid() >= 0 else -((-a).root(3)), np.rint: lambda a: arb(round(a.mid())),
    np.deg2rad: lambda a: a * arb.pi() / 180, np.rad2deg: lambda a: a * 180 / arb.pi(),
}
_BOOLEAN = {
    np.isfinite: arb.is_finite, np.isnan: arb.is_nan, np.signbit: lambda a: a.mid() < 0,
    np.isinf: lambda a: not a.is_finite() and not a.is_nan(),
    # comparisons decide on the midpoints, as the float64 code would: two overlapping balls
    # are neither < nor >= each other in ball arithmetic, and a ball is not even == itself
    np.greater: lambda a, b: a.mid() > b.mid(), np.greater_equal: lambda a, b: a.mid() >= b.mid(),
    np.less: lambda a, b: a.mid() < b.mid(), np.less_equal: lambda a, b: a.mid() <= b.mid(),
    np.equal: lambda a, b: a.mid() == b.mid(), np.not_equal: lambda a, b: a.mid() != b.mid(),
}
_TWO_ARGUMENTS = {
    np.arctan2: arb.atan2, np.maximum: _larger, np.minimum: _smaller, np.fmax: _larger, np.fmin: _smaller,
    np.hypot: lambda a, b: (a * a + b * b).sqrt(), np.float_power: lambda a, b: a ** b,
    np.logaddexp: lambda a, b: _larger(a, b) + (-abs(a - b)).exp().log1p(), np.heaviside: _heaviside,
    np.copysign: lambda a, b: abs(a) if b.mid() >= 0 else -abs(a),
}
#: ufuncs of other libraries (scipy.special), by name: their ball form
_FOREIGN = {
    "erf": arb.erf, "erfc": arb.erfc, "erfinv": arb.erfinv, "gamma": arb.gamma, "gammaln": log_abs_gamma,
    "psi": arb.digamma, "expit": lambda a: 1 / (1 + (-a).exp()), "logit": lambda a: (a / (1 - a)).log(),
    "exp2": lambda a: arb(2) ** a, "cbrt": real_cbrt, "log1p": arb.log1p, "expm1": arb.expm1, "xlogy": xlogy_ball,
}
_FOREIGN_ROUTED: dict = {}
_ROUTED = {u: np.frompyfunc(f, 1, 1) for u, f in _ONE_ARGUMENT.items()}
_ROUTED.update({u: np.frompyfunc(f, u.nin, 1) for u, f in _BOOLEAN.items()})
_ROUTED.update({u: np.frompyfunc(f, 2, 1) for u, f in _TWO_ARGUMENTS.items()})


def _plain_out(out):
    """``out=`` arrays as plain object views; a float64 ``out`` is a drop (balls written into doubles)."""
    plain = []
    for array in out:
        if type(array) is BallArray:
            plain.append(array.view(np.ndarray))
        else:
            drops.record_drop(f"writing balls into a {array.dtype} array (out=)")
            plain.append(None)
    return tuple(plain)


def _method(fn, method: str):
    """The ufunc method NumPy asked for (``__call__``, ``reduce``, ``accumulate``, ``reduceat``, ``outer``)."""
    return {"__call__": fn, "reduce": fn.reduce, "accumulate": fn.accumulate, "reduceat": fn.reduceat,
            "outer": fn.outer}[method]


def _reduce_axes(fn, array: np.ndarray, axis, keepdims: bool):
    """``fn.reduce`` over several axes, one at a time (a Python-level ufunc reduces one axis per call)."""
    axes = range(array.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    for a in sorted((a % array.ndim for a in axes), reverse=True):
        array = fn.reduce(array, axis=a, keepdims=True)
    if not keepdims:
        array = array.reshape(tuple(n for k, n in enumerate(array.shape) if k not in
                                    {a % max(array.ndim, 1) for a in axes}))
    return array[()] if isinstance(array, np.ndarray) and array.ndim == 0 else array


def _foreign(ufunc):
    """The ball form of another library's ufunc (``scipy.special.erfc``), or a drop saying it has none."""
    routed = _FOREIGN_ROUTED.get(ufunc)
    if routed is None:
        function = _FOREIGN.get(ufunc.__name__)
        if function is None:
            raise drops.DroppedToFloat64(f"{type(ufunc).__module__.split('.')[0]} ufunc {ufunc.__name__!r} has "
                                         "no ball evaluation", drops.user_line(3))
        routed = _FOREIGN_ROUTED[ufunc] = np.frompyfunc(function, ufunc.nin, 1)
    return routed


def apply_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict):
    """``ufunc``'s ``method`` on balls: operands lifted, routed where balls have no method."""
    routed = _ROUTED.get(ufunc)
    if routed is None and np.__dict__.get(ufunc.__name__) is not ufunc:
        routed = _foreign(ufunc)             # scipy.special's ufuncs, by name
    fn = routed if routed is not None else ufunc
    if method == "at":
        target = inputs[0]
        if type(target) is np.ndarray and target.dtype == object:
            # a plain object array (made outside the lifted creation functions): its entries
            # become balls in place, so np.add.at(dW, idx, dout) accumulates balls
            target[...] = as_balls(target)
            target = target.view(BallArray)
        if type(target) is not BallArray:
            drops.record_drop(f"np.{ufunc.__name__}.at into a {target.dtype if isinstance(target, np.ndarray) else 'float64'} array")
            return ufunc.at(target, inputs[1], *[mid_floats(v) for v in inputs[2:]])
        fn.at(target.view(np.ndarray), inputs[1], *[as_balls(v) for v in inputs[2:]])
        return None
    args = [as_balls(inputs[0]), inputs[1]] if method == "reduceat" else [as_balls(x) for x in inputs]
    if kwargs.get("initial") is not None:
        kwargs["initial"] = to_ball(kwargs["initial"])
    out = kwargs.pop("out", None)
    if out is not None and all(o is None for o in out):
        out = None
    if out is not None:
        kwargs["out"] = _plain_out(out)
        if any(o is None for o in kwargs["out"]):
            del kwargs["out"]
            result = _method(fn, method)(*args, **kwargs)
            for target, value in zip(out, result if isinstance(result, tuple) else (result,)):
                target[...] = mid_floats(value) if type(target) is not BallArray else value
            return out[0] if len(out) == 1 else out
    if routed is not None and method == "reduce":
        result = _reduce_axes(routed, args[0], kwargs.get("axis", 0), kwargs.get("keepdims", False))
    else:
        result = _method(fn, method)(*args, **kwargs)
    if ufunc in _BOOLEAN:
        result = result.astype(bool) if isinstance(result, np.ndarray) else bool(result)
    if out is not None:
        return out[0] if len(out) == 1 else out
    return wrap(result)


# --- array functions that need more than "unwrap, call, lift the result" ------------------------------
def _axes(array, axis) -> int:
    if axis is None:
        return array.size
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([array.shape[a] for a in axes]))


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **_):
    a = a if type(a) is BallArray else lift(a)
    centered = a - np.mean(a, axis=axis, keepdims=True)
    return np.sum(centered * centered, axis=axis, keepdims=keepdims) / (_axes(a, axis) - ddof)


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **_):
    return np.sqrt(_var(a, axis=axis, ddof=ddof, keepdims=keepdims))


def _reducer(ufunc):
    def reduce(a, axis=None, out=None, keepdims=False, **_):
        return apply_ufunc(ufunc, "reduce", (a,), {"axis": axis, "keepdims": keepdims})
    return reduce


def _arg(pick):
    def arg(a, axis=None, out=None, **kwargs):
        # the midpoints decide, exactly (an exact ball per entry)
        mids = ORIGINAL.asarray(_MIDS(as_balls(a)))
        return pick(mids, axis=axis, **kwargs)
    return arg


def _like(fill):
    def like(a, dtype=None, order="K", subok=True, shape=None, **_):
        plain = a.view(np.ndarray) if type(a) is BallArray else ORIGINAL.asarray(a)
        if dtype is not None and np.dtype(dtype).kind not in "fO":
            return ORIGINAL.zeros(plain.shape if shape is None else shape, dtype=dtype) + fill
        return ball_zeros(plain.shape if shape is None else shape, fill)
    return like


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **_):
    return _like(0)(a, dtype=dtype, shape=shape) + fill_value


def _clip(a, a_min=None, a_max=None, out=None, **_):
    result = a if a_min is None else np.maximum(a, a_min)
    return result if a_max is None else np.minimum(result, a_max)


_MIDS = np.frompyfunc(lambda a: a.mid(), 1, 1)
_FUNCTIONS = {
    np.var: _var, np.std: _std, np.max: _reducer(np.maximum), np.amax: _reducer(np.maximum),
    np.min: _reducer(np.minimum), np.amin: _reducer(np.minimum),
    np.argmax: _arg(np.argmax), np.argmin: _arg(np.argmin), np.argsort: _arg(np.argsort),
    np.zeros_like: _like(0), np.empty_like: _like(0), np.ones_like: _like(1), np.full_like: _full_like,
    np.clip: _clip,
    np.sinc: lambda x: wrap(np.frompyfunc(arb.sinc_pi, 1, 1)(as_balls(x))),
}
