"""Run-time guards: numeric budgets and bounded magnitudes in numeric evaluation.

The parser bounds what a formula *says*; these guards bound what computing
with it *costs*.  Two mechanisms, both raising
:class:`~derivaudit.errors.LimitExceeded`:

* :class:`~derivaudit.budgets.time_budget` (in :mod:`derivaudit.budgets`)
  stops a block that runs longer than its budget; :class:`evaluation_limits`
  and :func:`under_limits` put numeric work under ``Limits.evaluate_seconds``.
  Every guarded call below is a budget checkpoint
  (:func:`~derivaudit.budgets.checkpoint`), so a slow evaluation stops in its
  own code.  One huge C-level operation cannot be interrupted, which is why
  the magnitude guard keeps every operand small.

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
import functools
import gc
import inspect
import math
from typing import Callable

import mpmath
import sympy as sp
from sympy.printing.pycode import MpmathPrinter

from derivaudit.budgets import MAX_REFIRE_SECONDS, checkpoint, time_budget
from derivaudit.errors import LimitExceeded
from derivaudit.limits import DEFAULT_LIMITS, Limits

# time_budget and MAX_REFIRE_SECONDS live in derivaudit.budgets (the bottom floor, so lang may use
# them); they are re-exported here for code written against this module
__all__ = ["time_budget", "evaluation_limits", "active_limits", "per_call_budgets", "under_limits", "lambdify_mpmath", "GUARDED_FUNCTIONS",
           "gc_paused", "MAX_REFIRE_SECONDS"]


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
            frame = budget.block_frame
            try:
                budget.__exit__(type(exc), exc, exc.__traceback__)  # LimitExceeded if it was ours
            finally:
                budget.arm(frame)
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
        checkpoint()
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
    checkpoint()
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
