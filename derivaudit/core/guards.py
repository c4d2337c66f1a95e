"""Run-time guards: wall-clock budgets and bounded magnitudes in numeric evaluation.

The parser bounds what a formula *says*; these guards bound what computing
with it *costs*.  Two mechanisms, both raising
:class:`~derivaudit.errors.LimitExceeded`:

* :class:`time_budget` stops a block of Python code (sympy, mpmath) that runs
  longer than its budget.  A watchdog thread raises an exception inside the
  running thread (CPython's ``PyThreadState_SetAsyncExc``), so it works in any
  thread, not only the main one as ``signal.alarm`` would, and it repeats the
  exception until the block is left, because library code that catches
  ``Exception`` broadly would otherwise swallow it (after a few tries the
  exception raised is a BaseException, which such code does not catch).  Pure-Python loops stop
  within milliseconds; one huge C-level operation cannot be interrupted,
  which is why the magnitude guard below keeps every operand small.

* :func:`lambdify_mpmath` compiles an expression for mpmath with every
  function call and power routed through checks: a value whose magnitude
  passes ``10^±max_value_digits`` is refused, and so is an ``exp``/``sinh``/
  ``cosh`` or a power whose result would.  Without this, ``exp(exp(exp(exp(x))))``
  at ``x = 10`` or a power tower asks mpmath for numbers whose *exponents*
  have billions of digits: hours of work or gigabytes of memory in a single
  uninterruptible step.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import gc
import functools
import heapq
import inspect
import itertools
import math
import os
import threading
import time
import weakref
from typing import Callable

import mpmath
import sympy as sp
from sympy.printing.pycode import MpmathPrinter

from derivaudit.errors import LimitExceeded
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["time_budget", "evaluation_limits", "active_limits", "per_call_budgets", "under_limits", "lambdify_mpmath", "GUARDED_FUNCTIONS",
           "gc_paused", "MAX_REFIRE_SECONDS"]


# -- wall-clock budgets --------------------------------------------------------

class _Expired(LimitExceeded):
    """Raised asynchronously in a thread whose budget ran out.

    Each message gets its own subclass carrying it (see :func:`_expired_class`),
    because the exception is injected as a class, instantiated without arguments.
    """

    message = "the computation ran past its time budget"

    def __str__(self) -> str:
        return self.message


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int
_NO_EXCEPTION = ctypes.py_object()  # NULL: clears a pending asynchronous exception

#: after a budget expires, the exception is raised again this often until the block is left
_REPEAT_SECONDS = 0.02


class _Stubborn(BaseException):
    """Raised instead of :class:`_Expired` once a block has swallowed it a few
    times (``except Exception`` in a loop); :class:`time_budget` turns it into
    LimitExceeded."""

    message = _Expired.message

    def __str__(self) -> str:
        return self.message


#: polite (Exception) raises before the stubborn (BaseException) ones
_POLITE_TRIES = 3
#: an expired budget's exception is raised again for at most this long: a block that has not
#: left by then lost its exit (an exception landed in ``__enter__`` after the budget was armed),
#: and raising on would hit whatever code the thread runs next
MAX_REFIRE_SECONDS = 2.0


class _Token:
    __slots__ = ("thread_id", "exc_class", "stubborn_class", "active", "fired", "deadline", "owner",
                 "first_fired")

    def __init__(self, thread_id: int, exc_class: type, stubborn_class: type, deadline: float,
                 owner: Callable[[], object] | None = None):
        self.thread_id = thread_id
        #: may be moved later by the owning thread (:meth:`time_budget.renew`) without the lock
        self.deadline = deadline
        self.exc_class = exc_class
        self.stubborn_class = stubborn_class
        self.active = True
        self.fired = 0
        #: a weak reference to the budget object: dead once its ``with`` statement is gone
        self.owner = owner
        self.first_fired = 0.0

    def abandoned(self, now: float) -> bool:
        """Has the block surely been left without disarming (its budget object is gone, or
        it was fired at for :data:`MAX_REFIRE_SECONDS`)?"""
        if self.owner is not None and self.owner() is None:
            return True
        return self.fired > 0 and now - self.first_fired > MAX_REFIRE_SECONDS


class _Watchdog:
    """One daemon thread that raises expired budgets' exceptions in their threads."""

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Token]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, exc_class: type, stubborn_class: type, owner=None) -> _Token:
        token = _Token(threading.get_ident(), exc_class, stubborn_class, time.monotonic() + seconds, owner)
        with self._cond:
            heapq.heappush(self._heap, (token.deadline, next(self._order), token))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="derivaudit-budget",
                                                daemon=True)
                self._thread.start()
            # Wake the watchdog only when this deadline comes first: it sleeps until the
            # earliest one and re-reads the heap then.  Waking it for every budget costs
            # a thread switch per study, more than a short sweep's arithmetic.
            if self._heap[0][2] is token:
                self._cond.notify()
        return token

    def disarm(self, token: _Token) -> bool:
        """Stop watching ``token``; True if its budget had expired."""
        with self._cond:
            token.active = False
            return token.fired > 0

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                when, _, token = self._heap[0]
                now = time.monotonic()
                if when > now:
                    self._cond.wait(when - now)
                    continue
                heapq.heappop(self._heap)
                if token.abandoned(now):
                    token.active = False
                    continue
                if not token.fired and token.deadline > now:  # renewed since it was queued
                    heapq.heappush(self._heap, (token.deadline, next(self._order), token))
                    continue
                if not token.fired:
                    token.first_fired = now
                token.fired += 1
                _set_async_exc(token.thread_id, token.exc_class if token.fired <= _POLITE_TRIES
                               else token.stubborn_class)
                heapq.heappush(self._heap, (now + _REPEAT_SECONDS, next(self._order), token))

    def reset_after_fork(self) -> None:
        self.__init__()


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.reset_after_fork)


@functools.lru_cache(maxsize=256)
def _expired_class(message: str) -> type:
    """The exception a budget's watchdog raises, one class per message: creating a
    class costs more than the difference quotient the budget guards.  Nested
    budgets with one message share it and report the same text either way."""
    return type("BudgetExpired", (_Expired,), {"message": message})


@functools.lru_cache(maxsize=256)
def _stubborn_class(message: str) -> type:
    return type("BudgetExpired", (_Stubborn,), {"message": message})


@functools.lru_cache(maxsize=256)
def _budget_message(seconds, what: str, setting: str) -> str:
    return (f"{what} took longer than {seconds:g} s"
            + (f" (limit Limits.{setting})" if setting else "")) if seconds else ""


class time_budget:
    """``with time_budget(seconds, what, setting):`` — LimitExceeded past ``seconds``.

    ``what`` names the work in the message ("differentiating the formula");
    ``setting`` names the :class:`~derivaudit.limits.Limits` field that raises
    it.  ``seconds`` of None, 0 or infinity means no budget.  Budgets nest;
    the innermost one that expires is reported.  mpmath's working precision
    is restored if the block is stopped.
    """

    def __init__(self, seconds: float | None, what: str, setting: str = ""):
        self.seconds = seconds
        self.setting = setting
        self.message = _budget_message(seconds, what, setting)
        self._token: _Token | None = None

    def renew(self, what: str) -> None:
        """Start the budget afresh for a new piece of work named ``what``.

        Costs a clock read and two attribute stores (no lock, no thread
        switch), so a loop of many small evaluations can give each its own
        full budget: the watchdog re-reads the deadline before it fires.
        """
        token = self._token
        if token is not None:
            self.message = _budget_message(self.seconds, what, self.setting)
            token.deadline = time.monotonic() + self.seconds

    @property
    def fired(self) -> bool:
        """True once this budget has expired inside its block."""
        return self._token is not None and self._token.fired > 0

    def __enter__(self):
        seconds = self.seconds
        if seconds is None or seconds <= 0 or math.isinf(seconds):
            return self
        self._prec = mpmath.mp.prec
        # the weak reference lets the watchdog drop a budget whose with statement failed
        # between arming and entering its block (so __exit__ never runs)
        self._token = _WATCHDOG.arm(seconds, _expired_class(self.message),
                                    _stubborn_class(self.message), weakref.ref(self))
        return self

    def __exit__(self, exc_type, exc, tb):
        token = self._token
        if token is None:
            return False
        try:
            fired = _WATCHDOG.disarm(token)
            if fired:
                _set_async_exc(token.thread_id, _NO_EXCEPTION)  # drop a raise still pending
        except (_Expired, _Stubborn):  # delivered while disarming
            fired = _WATCHDOG.disarm(token)
            _set_async_exc(token.thread_id, _NO_EXCEPTION)
            exc_type = exc_type or token.exc_class
        if fired:
            mpmath.mp.prec = self._prec
        if exc_type is not None and issubclass(exc_type, (token.exc_class, token.stubborn_class)):
            raise LimitExceeded(self.message) from None
        return False


# -- bounded magnitudes in mpmath evaluation ----------------------------------

_LIMITS: contextvars.ContextVar[Limits] = contextvars.ContextVar("derivaudit_limits",
                                                                 default=DEFAULT_LIMITS)


#: ``active_limits()`` — the limits of the innermost :class:`evaluation_limits` or
#: :class:`per_call_budgets` block (the defaults outside one): what compiled formulas
#: check magnitudes against.  The context variable's own ``get``: compiled formulas
#: call it at every product, power and exponential, where a Python frame costs more
#: than the check.
active_limits: Callable[[], Limits] = _LIMITS.get


class evaluation_limits:
    """``with evaluation_limits(limits, what):`` — the guards of compiled formulas use
    ``limits`` inside the block, which also runs under ``limits.evaluate_seconds``."""

    def __init__(self, limits: Limits, what: str = "evaluating the formula"):
        self.limits = limits
        self._budget = time_budget(limits.evaluate_seconds, what, "evaluate_seconds")

    def __enter__(self):
        self._reset = _LIMITS.set(self.limits)
        self._budget.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            return self._budget.__exit__(exc_type, exc, tb)
        finally:
            _LIMITS.reset(self._reset)


class per_call_budgets(evaluation_limits):
    """``with per_call_budgets(limits):`` — the :func:`under_limits` functions called
    inside the block with these ``limits`` each get a full ``evaluate_seconds``
    budget, as outside it, but from one watchdog registration renewed per call
    instead of one armed and disarmed per call (a lock and a wake-up of the
    watchdog thread each, which cost more than a 50-digit difference quotient).

    The budget is renewed when a guarded call starts; the block's own code
    between calls runs on the remainder of the last one's budget.
    """

    def call(self, what: str, function, args, kwargs):
        """``function(*args, **kwargs)`` under a fresh budget named ``what``.

        When the budget runs out inside the call, LimitExceeded leaves the call
        (as it would leave a budget of its own) and the rest of the block gets
        a newly armed budget, so a caller that handles the error goes on unharmed.
        """
        budget = self._budget
        budget.renew(what)
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            if not budget.fired:
                raise
            try:
                budget.__exit__(type(exc), exc, exc.__traceback__)  # LimitExceeded if it was ours
            finally:
                budget.__enter__()
            raise

    def __enter__(self):
        self._session = _SESSION.set(self)
        return super().__enter__()

    def __exit__(self, exc_type, exc, tb):
        try:
            return super().__exit__(exc_type, exc, tb)
        finally:
            _SESSION.reset(self._session)


_SESSION: contextvars.ContextVar[per_call_budgets | None] = contextvars.ContextVar(
    "derivaudit_budget_session", default=None)


_LN10 = math.log(10)
_MPF = mpmath.mpf
_LOG2_10 = math.log2(10)


def _too_large(where: str, digits: int, limit: int) -> LimitExceeded:
    return LimitExceeded(f"{where} gives a number of about 10^{digits} in magnitude, beyond "
                         f"10^±{limit} (limit Limits.max_value_digits)")


def _check_value(value, where: str):
    """``value`` itself if its magnitude is within ``10^±max_value_digits``.

    A real mpf is read from its raw ``(sign, mantissa, exponent, bitcount)``:
    this runs on every operand of every guarded call, and ``mag``/``isfinite``
    cost more than the operation they guard.  Zero, infinities and NaN have
    mantissa 0 and pass, as before.
    """
    if isinstance(value, _MPF):
        raw = value._mpf_
        if raw[1]:
            bits = raw[2] + raw[3]  # mpmath.mag: 2**(bits-1) <= |value| < 2**bits
            limit = _LIMITS.get().max_value_digits
            if bits - 1 > limit * _LOG2_10 or -bits > limit * _LOG2_10:
                raise _too_large(where, _digits(bits), limit)
        return value
    if isinstance(value, mpmath.mpc) and value and mpmath.isfinite(value):
        limit = _LIMITS.get().max_value_digits
        bits = mpmath.mag(value)  # 2**(bits-1) <= |value| < 2**bits
        if bits - 1 > limit * _LOG2_10 or -bits > limit * _LOG2_10:
            raise _too_large(where, _digits(bits), limit)
    return value


def _digits(bits: int) -> int:
    return int(bits * 0.30102999566398120)


def _small(value, bound: float) -> bool:
    """True when ``value`` is an mpf surely below ``bound`` in magnitude (read from its
    exponent, no arithmetic); False means "look closer", not "too large"."""
    if not isinstance(value, _MPF):
        return False
    raw = value._mpf_
    return not raw[1] or raw[2] + raw[3] < math.log2(bound)


def _guarded(name: str, function, exponential: bool):
    argument, result = f"an argument of {name}", f"{name}(...)"

    def guarded(*args):
        for arg in args:
            _check_value(arg, argument)
        if exponential:
            limit = _LIMITS.get().max_value_digits
            t = args[0]
            if not _small(t, limit * _LN10) and mpmath.isfinite(t) and abs(t) > limit * _LN10:
                raise LimitExceeded(f"{name}({mpmath.nstr(t, 5)}) is outside 10^-{limit} … 10^{limit} "
                                    "(limit Limits.max_value_digits)")
        return _check_value(function(*args), result)

    guarded.__name__ = name
    return guarded


def _power(base, exponent):
    """``base ** exponent``, refused when the result's magnitude would pass the limit."""
    _check_value(base, "the base of a power")
    _check_value(exponent, "an exponent")
    limit = _LIMITS.get().max_value_digits
    if _modest_power(base, exponent, limit):
        return _check_value(base ** exponent, "a power")
    b, x = (v if isinstance(v, (mpmath.mpf, mpmath.mpc)) else mpmath.mpf(v) for v in (base, exponent))
    if b and x and mpmath.isfinite(b) and mpmath.isfinite(x):
        with mpmath.workprec(53):  # |log10 result| ≈ |x|·|log10 b|; cheap at any magnitude
            too_large = abs(x) * abs(mpmath.log10(abs(b))) > limit + 1
        if too_large:
            raise LimitExceeded(f"a power in the formula gives a number beyond 10^±{limit} "
                                "(limit Limits.max_value_digits)")
    return _check_value(base ** exponent, "a power")


def _modest_power(base, exponent, limit: int) -> bool:
    """True when ``|x|·|log10 |b||`` is surely at most half of ``limit + 1``, read from the
    binary exponents of a real base and a real or integer exponent; the exact test
    in :func:`_power` then cannot refuse the power, so it is skipped."""
    if not isinstance(base, _MPF) or not base._mpf_[1]:
        return False
    raw = base._mpf_
    bits = raw[2] + raw[3]  # 2**(bits-1) <= |b| < 2**bits, so |log2 |b|| <= max(|bits|, |bits-1|)
    if isinstance(exponent, int):
        size = abs(exponent)
    else:
        if not isinstance(exponent, _MPF) or not exponent._mpf_[1]:
            return False
        raw_x = exponent._mpf_
        size = 2.0 ** (raw_x[2] + raw_x[3]) if raw_x[2] + raw_x[3] < 1024 else math.inf  # |x| < size
    return size * max(abs(bits), abs(bits - 1)) * _LOG10_2 <= (limit + 1) / 2


_LOG10_2 = math.log10(2)


#: mpmath functions compiled formulas may call, and whether they grow exponentially
GUARDED_FUNCTIONS: dict[str, bool] = {
    **{name: True for name in ("exp", "expm1", "sinh", "cosh")},
    **{name: False for name in (
        "log", "log1p", "log10", "sqrt", "cbrt", "root", "sin", "cos", "tan", "cot", "sec", "csc",
        "tanh", "coth", "sech", "csch", "asin", "acos", "atan", "atan2", "acot", "asec", "acsc",
        "asinh", "acosh", "atanh", "acoth", "asech", "acsch", "erf", "erfc", "sign", "fabs",
        "power", "sigmoid")},
}


class _GuardedPrinter(MpmathPrinter):
    """mpmath code printer that routes ``a**b`` through :func:`_power`."""

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sp.S.Half or expr.exp == -1:
            return super()._print_Pow(expr, rational)  # sqrt and 1/x cannot grow past their operand
        return f"_derivaudit_power({self._print(expr.base)}, {self._print(expr.exp)})"


def _namespace() -> dict:
    names = {name: _guarded(name, vars(mpmath)[name], grows)
             for name, grows in GUARDED_FUNCTIONS.items()}
    names["_derivaudit_power"] = _power
    return names


_NAMESPACE = _namespace()


def lambdify_mpmath(variables, expr, cse=False):
    """``sympy.lambdify(variables, expr, "mpmath", cse=cse)`` with magnitude guards.

    Calls of the compiled function raise LimitExceeded when a value passes
    ``10^±max_value_digits`` of the limits active in :class:`evaluation_limits`
    (the defaults outside one).  ``cse`` is passed to :func:`sympy.lambdify`
    (the audit hands in its layers as common subexpressions).
    """
    printer = _GuardedPrinter({"fully_qualified_modules": False, "inline": True,
                               "allow_unknown_functions": True,
                               "user_functions": {name: name for name in _NAMESPACE}})
    return sp.lambdify(variables, expr, modules=[_NAMESPACE, "mpmath"], printer=printer, cse=cse)


def under_limits(what: str):
    """Decorator: run the function inside :class:`evaluation_limits` of its ``limits`` argument.

    The function must take a ``limits`` parameter (positional or keyword);
    nested guarded calls share the outermost budget's deadline as well as
    their own.  Inside :class:`per_call_budgets` of the same limits the call
    renews that block's budget instead.
    """
    def decorate(function):
        signature = inspect.signature(function)
        position = list(signature.parameters).index("limits")
        default = signature.parameters["limits"].default

        @functools.wraps(function)
        def run(*args, **kwargs):
            limits = (args[position] if len(args) > position else kwargs.get("limits", default))
            session = _SESSION.get()
            if session is not None and session.limits is limits:
                return session.call(what, function, args, kwargs)
            with evaluation_limits(limits, what):
                return function(*args, **kwargs)

        return run

    return decorate


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector inside the block (restored after it).

    A sweep allocates tens of thousands of short-lived numbers that form no
    cycles; each allocation burst triggers collections that walk every object
    sympy keeps cached, which cost a third of a certified sweep's time.
    Reference counting still frees everything; the collector catches up after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
