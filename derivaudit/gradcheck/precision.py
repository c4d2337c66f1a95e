"""Running the user's code lifted: working precision, NumPy's creation functions routed, drops recorded.

Inside :func:`lifted`, the user's ``np.zeros``, ``np.ones``, ``np.empty``, ``np.full``,
``np.eye``, ``np.identity`` make ball arrays when they would make float
arrays, and ``np.array`` / ``np.asarray`` keep ball arrays ball arrays (a
plain object array would take ``dx[mask] = 1`` as a Python int and
``dx /= 5`` would then make it the float 0.2).  Integer and boolean arrays
are left alone: labels, indices and masks stay what they are.  An object
dtype asks for balls too (``np.zeros(shape, dtype=dout.dtype)`` on a ball
``dout``: object arrays made from a ball array's dtype are ball arrays).

Threads: the names are swapped in the user's modules, which every thread
shares, so each replacement makes balls only on a thread inside
:func:`lifted` (its :class:`~derivaudit.gradcheck.drops.LiftSession` is
thread-local) and is NumPy's own function on any other thread.  Lifted
blocks of different threads take turns (one lock): python-flint's working
precision is one setting for the whole process.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import threading
import types

import numpy as np
from flint import arb, ctx

from derivaudit.gradcheck import drops
from derivaudit.core.ball_special import polygamma_ball
from derivaudit.gradcheck.lifted import ORIGINAL, BallArray, as_balls, ball_zeros, mid_float, mid_floats, to_ball, \
    working_bits, wrap, wrap_coerced

__all__ = ["lifted", "probe_lifted", "one_lifted_check_at_a_time"]


def _floating(dtype) -> bool:
    return dtype is None or np.dtype(dtype).kind == "f"


def _wants_balls(dtype) -> bool:
    # dtype=object too: lifted code writes np.zeros(shape, dtype=dout.dtype) where dout is a
    # ball array, meaning "an array of dout's numbers", so the object array it makes is a ball array
    return _floating(dtype) or np.dtype(dtype) == object


def _filled(fill):
    def create(shape, dtype=None, order="C", **kwargs):
        if _wants_balls(dtype):
            return ball_zeros(shape, fill)
        return (ORIGINAL.zeros if fill == 0 else ORIGINAL.ones)(shape, dtype=dtype, order=order, **kwargs)
    return create


def _empty(shape, dtype=None, order="C", **kwargs):
    return ball_zeros(shape) if _wants_balls(dtype) else ORIGINAL.empty(shape, dtype=dtype, order=order, **kwargs)


def _full(shape, fill_value, dtype=None, order="C", **kwargs):
    plain = ORIGINAL.asarray(fill_value.view(np.ndarray) if type(fill_value) is BallArray else fill_value)
    if (dtype is None and plain.dtype.kind in "fO") or (dtype is not None and _floating(dtype)):
        return ball_zeros(shape) + fill_value
    return ORIGINAL.full(shape, fill_value, dtype=dtype, order=order, **kwargs)


def _eye(N, M=None, k=0, dtype=None, **kwargs):
    plain = ORIGINAL.eye(N, M, k, dtype=float if dtype is None else dtype, **kwargs)
    return as_balls(plain).view(BallArray) if _wants_balls(dtype) else plain


def _identity(n, dtype=None, **kwargs):
    plain = ORIGINAL.identity(n, dtype=float if dtype is None else dtype, **kwargs)
    return as_balls(plain).view(BallArray) if _wants_balls(dtype) else plain


def _converter(name: str, copies: bool):
    original = vars(ORIGINAL)[name]

    def convert(a, dtype=None, *args, **kwargs):
        if type(a) is BallArray:
            if dtype is not None and np.dtype(dtype).kind in "fc":
                drops.record_drop(f"np.{name}(..., dtype={np.dtype(dtype).name})")
                return mid_floats(a).astype(dtype)
            if dtype is None or np.dtype(dtype) == object:
                return a.copy() if copies and kwargs.get("copy", True) is not False else a
        result = original(a, dtype, *args, **kwargs)
        if isinstance(result, np.ndarray) and result.dtype == object and isinstance(a, (list, tuple)):
            return wrap_coerced(result)
        if isinstance(result, np.ndarray) and result.dtype.kind in "fc" and _holds_balls(a):
            drops.record_drop(f"np.{name}(...) of balls with dtype={result.dtype.name}")
        return result
    return convert


def _holds_balls(value) -> bool:
    if type(value) in (arb, BallArray):
        return True
    return isinstance(value, (list, tuple)) and any(_holds_balls(v) for v in value[:8])


def _like(name: str, fill):
    original = vars(ORIGINAL)[name]

    def like(a, *args, dtype=None, **kwargs):
        # a fresh array shaped like a float one: balls (a ball prototype dispatches to BallArray already)
        plain = a if isinstance(a, np.ndarray) else ORIGINAL.asarray(a)
        if type(a) is not BallArray and (dtype is None and plain.dtype.kind == "f" or
                                         dtype is not None and _floating(dtype)):
            values = ball_zeros(plain.shape, 0 if fill is None else fill)
            return values + args[0] if name == "full_like" else values
        return original(a, *args, dtype=dtype, **kwargs)
    return like


_PATCHES = {
    "zeros": _filled(0), "ones": _filled(1), "empty": _empty, "full": _full, "eye": _eye, "identity": _identity,
    "array": _converter("array", True), "asarray": _converter("asarray", False),
    "asanyarray": _converter("asanyarray", False), "ascontiguousarray": _converter("ascontiguousarray", False),
    "zeros_like": _like("zeros_like", 0), "ones_like": _like("ones_like", 1), "empty_like": _like("empty_like", 0),
    "full_like": _like("full_like", None),
}


def _special_ball(function, *args):
    """``function`` of scipy.special on balls when an argument is a ball array, else SciPy's own."""
    original = vars(sys.modules["scipy.special"])[function]
    if not any(type(a) in (BallArray, arb) for a in args):
        return original(*args)
    if function == "polygamma":
        ball = lambda n, z: polygamma_ball(int(mid_float(n)) if type(n) is not int else n, to_ball(z))  # noqa: E731
    else:
        ball = lambda s, a=1: to_ball(s).zeta(to_ball(a))  # noqa: E731
    return wrap(np.frompyfunc(ball, len(args), 1)(*[as_balls(a) for a in args]))


def _special_patches() -> dict:
    """scipy.special's Python-level functions (not ufuncs, so not routed by BallArray) on balls."""
    special = sys.modules.get("scipy.special")
    if special is None:
        return {}
    return {id(special.__dict__[name]): functools.partial(_special_ball, name) for name in ("polygamma", "zeta")
            if name in special.__dict__}


class _LiftedSpecial(types.ModuleType):
    """``scipy.special`` as the user's code sees it inside :func:`lifted`: polygamma and zeta take balls."""

    def __getattr__(self, name):
        if name in ("polygamma", "zeta"):
            return functools.partial(_special_ball, name)
        try:
            return sys.modules["scipy.special"].__dict__[name]
        except KeyError:
            raise AttributeError(name) from None


class _LiftedNumpy(types.ModuleType):
    """``numpy`` as the user's code sees it inside :func:`lifted`: the creation functions make balls."""

    def __getattr__(self, name):
        try:
            return np.__dict__[name]
        except KeyError:                      # NumPy's lazily loaded submodules
            return np.__getattr__(name)


def _on_lifted_threads(name: str, patch):
    """``patch`` on a thread inside :func:`lifted`, NumPy's ``name`` on every other thread."""
    original = vars(ORIGINAL)[name]

    @functools.wraps(original)
    def dispatch(*args, **kwargs):
        if drops.active_session() is None:
            return original(*args, **kwargs)
        return patch(*args, **kwargs)
    return dispatch


_DISPATCH = {name: _on_lifted_threads(name, patch) for name, patch in _PATCHES.items()}
_PROXY = _LiftedNumpy("numpy")
_SPECIAL_PROXY = _LiftedSpecial("scipy.special")
_PROXY.__dict__.update(_DISPATCH)
_REPLACEMENT = {id(vars(ORIGINAL)[name]): patch for name, patch in _DISPATCH.items()}
#: lifted blocks take turns: flint's ``ctx.prec`` and the swapped names are process-wide
_LIFT_LOCK = threading.RLock()


def _namespaces(functions) -> list[dict]:
    """The global namespaces of the user's code: user modules and the given functions' globals."""
    spaces = {id(m.__dict__): m.__dict__ for m in list(sys.modules.values())
              if isinstance(m.__dict__.get("__file__"), str) and drops.is_user_file(m.__file__)}
    for fn in functions:
        fn = fn.func if isinstance(fn, functools.partial) else fn
        fn = fn.__func__ if inspect.ismethod(fn) else fn
        code_globals = fn.__globals__ if inspect.isfunction(fn) else None
        if isinstance(code_globals, dict):
            spaces[id(code_globals)] = code_globals
    return list(spaces.values())


@contextlib.contextmanager
def patched_numpy(functions=()):
    """In the user's namespaces, ``np`` (and ``from numpy import zeros``-style names) make balls.

    ``scipy.special`` (and ``from scipy.special import polygamma``) is swapped too, if
    loaded: its ufuncs are routed by the ball arrays, its ``polygamma`` and ``zeta`` here.

    Only the user's code is redirected: NumPy itself, ``numpy.random`` and C
    extensions create float buffers and write doubles into them, so theirs
    must stay float arrays.
    """
    swapped = []
    special, special_patches = sys.modules.get("scipy.special"), _special_patches()
    for space in _namespaces(functions):
        for key, value in list(space.items()):
            replacement = _PROXY if value is np else _REPLACEMENT.get(id(value)) or special_patches.get(id(value))
            if value is special and special is not None:
                replacement = _SPECIAL_PROXY
            if replacement is not None:
                swapped.append((space, key, value))
                space[key] = replacement
    try:
        yield
    finally:
        for space, key, value in reversed(swapped):
            space[key] = value


def one_lifted_check_at_a_time(check):
    """Decorator: ``check`` runs while no other thread is lifted, so the ball arithmetic it
    does between its lifted blocks (judging the balls) sees flint's precision as it is
    outside them, not another thread's working precision."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        with _LIFT_LOCK:
            return check(*args, **kwargs)
    return run


@contextlib.contextmanager
def lifted(dps: int, functions=()):
    """Run a block with ball arithmetic at :func:`~derivaudit.gradcheck.lifted.working_bits` ``(dps)``.

    Yields the :class:`~derivaudit.gradcheck.drops.LiftSession` recording
    drops.  ``functions`` are the user's callables (their modules' ``np`` is
    swapped for the block, as is every user module's).  Safe with threads:
    lifted blocks of different threads take turns, and code running on other
    threads meanwhile gets NumPy's own functions.
    """
    session = drops.LiftSession()
    with _LIFT_LOCK:
        previous_prec, previous_session = ctx.prec, drops.active_session()
        ctx.prec = working_bits(dps)
        drops.set_session(session)
        try:
            with patched_numpy(functions):
                yield session
        finally:
            ctx.prec = previous_prec
            drops.set_session(previous_session)


def probe_lifted(run, dps: int, is_result_ok, functions=()) -> tuple[object, str]:
    """Run ``run()`` lifted once; ``(value, "")``, or ``(None, why)`` when the code cannot stay in balls.

    ``why`` names the drop (file:line and source) or the exception the
    lifted run raised (a C extension that takes only doubles, say).
    """
    try:
        with lifted(dps, functions) as session:
            value = run()
    except drops.DroppedToFloat64 as exc:
        return None, str(exc)
    except Exception as exc:  # the user's code on balls may fail anywhere; the check falls back and says why
        where = _raising_line(exc)
        return None, f"the code failed on balls ({type(exc).__name__}: {exc}){where}"
    if session.drops:
        return None, "the code dropped to float64: " + "; ".join(session.drops[:3])
    if not is_result_ok(value):
        return None, "the code dropped to float64 (its result holds float64 numbers, not balls)"
    return value, ""


def _raising_line(exc: BaseException) -> str:
    tb, last = exc.__traceback__, ""
    while tb is not None:
        if drops.is_user_file(tb.tb_frame.f_code.co_filename):
            last = drops.describe(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return f" at {last}" if last else ""
