"""Wall-clock budgets that cannot leak: ``with time_budget(seconds, what, setting):``.

The bottom floor beside :mod:`derivaudit.limits` (it imports only ``errors``
and ``limits``), so every package, ``lang`` included, may use it.

A budget stops its block in one of two ways, both raising
:class:`~derivaudit.errors.LimitExceeded` from the ``with`` statement:

* **cooperatively**: the engine calls :func:`checkpoint` in its own loops
  (every guarded mpmath call of a compiled formula, every round of the
  rising-precision loops of certified values and cells).  A checkpoint past
  the deadline raises right there, in the block's own code.

* **by the watchdog**, for work that has no checkpoint (sympy on untrusted
  text, a plain Python loop): one daemon thread raises the budget's
  exception in the running thread (CPython's ``PyThreadState_SetAsyncExc``),
  and repeats it every 20 ms until the block is left, because library code
  that catches ``Exception`` broadly would otherwise swallow it (after a few
  tries the exception is a BaseException, which such code does not catch).

An asynchronous exception lands wherever the thread runs next, which could be
a garbage-collector or weakref callback that happens to run inside the block
(its exception would then be "unraisable": printed and lost), or code after
the block.  So the watchdog raises only into a thread that is *at a safe
place*: holding the GIL itself, it reads the thread's stack
(``sys._current_frames``), and fires only when every frame from the top down
to the frame of the ``with`` statement is that frame itself or engine code
(sympy, mpmath, numpy, derivaudit and a few lock-free standard modules; never
``importlib``, ``threading`` or ``weakref``) and no garbage collection is running in that thread; otherwise it looks
again 2 ms later.  A thread that gave up the GIL at an eval-loop check (how
a busy Python thread yields) resumes in that very frame and takes the
exception there, before running anything else.  When the block's frame is no
longer on the thread's stack, or its budget object is gone, the watchdog
drops the budget: nothing fires after a block.  ``__exit__`` disarms under
the watchdog's lock and clears a raise still pending.
"""

from __future__ import annotations

import contextvars
import ctypes
import functools
import gc
import heapq
import itertools
import math
import os
import sys
import threading
import time
import weakref
from typing import Callable

import mpmath

from derivaudit.errors import LimitExceeded

__all__ = ["time_budget", "checkpoint", "expired", "MAX_REFIRE_SECONDS"]


class _Expired(LimitExceeded):
    """Raised in a thread whose budget ran out (by a checkpoint or the watchdog).

    Each message gets its own subclass carrying it (see :func:`_expired_class`),
    because the watchdog injects the exception as a class, instantiated without arguments.
    """

    message = "the computation ran past its time budget"

    def __str__(self) -> str:
        return self.message


class _Spent(LimitExceeded):
    """What a budget's ``with`` statement raises once the budget has run out (with its message):
    kept apart from the other LimitExceeded (sizes, digits) so that :func:`expired` knows it."""


class _Stubborn(BaseException):
    """Raised instead of :class:`_Expired` once a block has swallowed it a few
    times (``except Exception`` in a loop); :class:`time_budget` turns it into
    LimitExceeded."""

    message = _Expired.message

    def __str__(self) -> str:
        return self.message


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int
_NO_EXCEPTION = ctypes.py_object()  # NULL: clears a pending asynchronous exception

#: after a budget expires, the exception is raised again this often until the block is left
_REPEAT_SECONDS = 0.02
#: the watchdog waits this long past a deadline before it looks (0: a checkpoint and the
#: watchdog race, and raise the same exception either way)
_GRACE_SECONDS = 0.0
#: how soon the watchdog looks again at a thread that was not at a safe place
_UNSAFE_RETRY_SECONDS = 0.002
#: polite (Exception) raises before the stubborn (BaseException) ones
_POLITE_TRIES = 3
#: an expired budget's exception is raised again for at most this long; a block that has not
#: left by then swallows everything, and the budget gives up on it
MAX_REFIRE_SECONDS = 2.0

#: top-level modules whose frames are engine code or plain helpers it calls: a budget's
#: exception may land there.  Nothing that holds a lock or runs callbacks: an exception
#: inside importlib's module lock (sympy imports inside functions) deadlocks the next import,
#: one inside ``threading`` leaves a lock held, one inside ``weakref`` is unraisable.
_ENGINE_MODULES = frozenset({"sympy", "mpmath", "numpy", "flint", "derivaudit", "functools", "collections",
                             "contextlib", "fractions", "numbers", "typing", "abc", "enum", "dataclasses",
                             "copy", "inspect", "ast", "re", "math", "operator", "itertools", "string",
                             "textwrap", "keyword", "tokenize", "decimal", "heapq", "bisect", "random"})


class _Token:
    __slots__ = ("thread_id", "exc_class", "stubborn_class", "active", "fired", "deadline", "owner",
                 "first_fired", "frame", "parent")

    def __init__(self, thread_id: int, exc_class: type, stubborn_class: type, deadline: float,
                 owner: Callable[[], object] | None, frame, parent):
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
        #: the frame running the ``with`` statement (cleared on exit)
        self.frame = frame
        #: the enclosing budget of the same thread and context, for :func:`checkpoint`
        self.parent = parent

    def abandoned(self, now: float) -> bool:
        """Has the block surely been left without disarming (its budget object is gone, or
        it swallowed the watchdog's raises for :data:`MAX_REFIRE_SECONDS`)?"""
        if self.frame is None or (self.owner is not None and self.owner() is None):
            return True
        return self.fired > 0 and now - self.first_fired > MAX_REFIRE_SECONDS


#: threads collecting garbage right now (their gc callbacks and finalizers run then)
_COLLECTING: set[int] = set()


def _note_collection(phase: str, info: dict) -> None:
    if phase == "start":
        _COLLECTING.add(threading.get_ident())
    else:
        _COLLECTING.discard(threading.get_ident())


gc.callbacks.insert(0, _note_collection)


@functools.lru_cache(maxsize=1024)
def _is_engine_module(name: str) -> bool:
    return name != __name__ and name.partition(".")[0] in _ENGINE_MODULES


def _is_engine_frame(frame) -> bool:
    name = frame.f_globals.get("__name__")
    if name is None:  # code the engine generated: sympy's lambdify, derivaudit's ball compiler
        return frame.f_code.co_filename.startswith(_GENERATED_FILES)
    return _is_engine_module(name)


_GENERATED_FILES = ("<lambdifygenerated", "<derivaudit")


def _place(token: _Token, frames: dict) -> str:
    """``"safe"`` when the token's thread may take its exception now, ``"later"`` when
    it is in a callback or foreign code inside the block, ``"gone"`` when the block's
    frame is not on the thread's stack (or the thread is gone)."""
    frame = frames.get(token.thread_id)
    if frame is None:
        return "gone"
    safe = token.thread_id not in _COLLECTING
    while frame is not None and frame is not token.frame:
        if safe and not _is_engine_frame(frame):
            safe = False
        frame = frame.f_back
    if frame is None:
        return "gone"
    return "safe" if safe else "later"


class _Watchdog:
    """One daemon thread that raises expired budgets' exceptions in their threads, at safe places."""

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Token]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, exc_class: type, stubborn_class: type, owner, frame, parent) -> _Token:
        token = _Token(threading.get_ident(), exc_class, stubborn_class, time.monotonic() + seconds, owner,
                       frame, parent)
        with self._cond:
            heapq.heappush(self._heap, (token.deadline + _GRACE_SECONDS, next(self._order), token))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="derivaudit-budget", daemon=True)
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
            token.frame = None
            # drop the disarmed tokens at the front now: the watchdog sleeps until the first
            # deadline, and a process running many short budgets would otherwise keep every
            # token (and what it refers to) until its deadline had passed
            heap = self._heap
            while heap and not heap[0][2].active:
                heapq.heappop(heap)
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
                try:
                    self._visit(token, now)
                except Exception:  # noqa: BLE001 - the watchdog must outlive any one budget
                    token.active = False

    def _visit(self, token: _Token, now: float) -> None:
        """Fire at ``token``'s thread if it is at a safe place; requeue or drop it otherwise."""
        if token.abandoned(now):
            token.active = False
            return
        if not token.fired and token.deadline + _GRACE_SECONDS > now:  # renewed since it was queued
            heapq.heappush(self._heap, (token.deadline + _GRACE_SECONDS, next(self._order), token))
            return
        place = _place(token, sys._current_frames())
        if place == "gone":
            token.active = False
            return
        if place == "later":
            heapq.heappush(self._heap, (now + _UNSAFE_RETRY_SECONDS, next(self._order), token))
            return
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

#: the innermost armed budget of this thread and context (tokens link to their parents)
_INNERMOST: contextvars.ContextVar[_Token | None] = contextvars.ContextVar("derivaudit_budget", default=None)


def checkpoint() -> None:
    """Raise the budget's LimitExceeded here if a budget around this call has run out.

    Costs a context-variable read and, inside a budget, a clock read: the engine's
    loops call it once per guarded operation.  The exception is raised in the
    caller's own code, so it never lands anywhere else.
    """
    token = _INNERMOST.get()
    if token is None:
        return
    now = time.monotonic()
    while token is not None:
        if token.active and now > token.deadline:
            if not token.fired:
                token.first_fired = now
            token.fired += 1
            raise token.exc_class()
        token = token.parent


def expired(exc: BaseException) -> bool:
    """True when ``exc`` says a time budget ran out (inside its block, or raised by its ``with``).

    Time is no property of the input: code that turns the errors of one item
    into that item's result (one claim of an audit is *invalid*) lets these go
    on up, so that a verdict never depends on how busy the machine is.  Other
    :class:`~derivaudit.errors.LimitExceeded` (a size, a number of digits) are
    the input's own.

    >>> expired(LimitExceeded("formula is too long")), expired(_expired_class("adding took too long")())
    (False, True)
    >>> try:
    ...     with time_budget(0.01, "waiting"):
    ...         time.sleep(0.05)
    ...         checkpoint()
    ... except LimitExceeded as exc:
    ...     print(expired(exc), exc)
    True waiting took longer than 0.01 s
    """
    return isinstance(exc, (_Expired, _Stubborn, _Spent))


@functools.lru_cache(maxsize=256)
def _expired_class(message: str) -> type:
    """The exception a budget raises, one class per message: creating a class costs
    more than the difference quotient the budget guards.  Nested budgets with one
    message share it and report the same text either way."""
    return type("BudgetExpired", (_Expired,), {"message": message})


@functools.lru_cache(maxsize=256)
def _stubborn_class(message: str) -> type:
    return type("BudgetExpired", (_Stubborn,), {"message": message})


@functools.lru_cache(maxsize=256)
def _budget_message(seconds, what: str, setting: str) -> str:
    return (f"{what} took longer than {seconds:g} s"
            + (f" (limit Limits.{setting})" if setting else "")) if seconds else ""


def _with_frame(frame):
    """The frame running the ``with`` statement: past the ``__enter__`` methods of the
    budget wrappers (``evaluation_limits`` and its kin) that armed this budget."""
    while frame is not None and frame.f_code.co_name == "__enter__" and \
            (frame.f_globals.get("__name__") or "").startswith("derivaudit."):
        frame = frame.f_back
    return frame


class time_budget:
    """``with time_budget(seconds, what, setting):`` — LimitExceeded past ``seconds``.

    ``what`` names the work in the message ("differentiating the formula");
    ``setting`` names the :class:`~derivaudit.limits.Limits` field that raises
    it.  ``seconds`` of None, 0 or infinity means no budget.  Budgets nest;
    the innermost one that expires is reported.  mpmath's working precision
    is restored if the block is stopped.

    >>> with time_budget(5, "adding"):
    ...     sum(range(10))
    45
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
    def block_frame(self):
        """The frame running this budget's ``with`` statement while it is armed, else None."""
        return self._token.frame if self._token is not None else None

    @property
    def fired(self) -> bool:
        """True once this budget has expired inside its block."""
        return self._token is not None and self._token.fired > 0

    def __enter__(self):
        return self.arm(_with_frame(sys._getframe(1)))

    def arm(self, frame):
        """Arm the budget for a block run by ``frame`` (what ``__enter__`` does)."""
        seconds = self.seconds
        if seconds is None or seconds <= 0 or math.isinf(seconds):
            return self
        self._prec = mpmath.mp.prec
        parent = _INNERMOST.get()
        # the weak reference lets the watchdog drop a budget whose with statement failed
        # between arming and entering its block (so __exit__ never runs)
        self._token = _WATCHDOG.arm(seconds, _expired_class(self.message), _stubborn_class(self.message),
                                    weakref.ref(self), frame, parent)
        self._reset = _INNERMOST.set(self._token)
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
        try:
            _INNERMOST.reset(self._reset)
        except ValueError:  # exited in another context than entered: unlink by hand
            _INNERMOST.set(token.parent)
        if fired:
            mpmath.mp.prec = self._prec
        if exc_type is not None and issubclass(exc_type, (token.exc_class, token.stubborn_class)):
            raise _Spent(self.message) from None
        return False
