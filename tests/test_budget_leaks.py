"""A budget's exception never surfaces outside its ``with`` block, nor in a callback inside it.

The watchdog raises asynchronously, so the test fills budgeted blocks with what
used to catch stray raises: garbage-collector callbacks and weakref callbacks
that run Python code in the middle of the block, several threads at once, and
plain code right after each block.  Every callback records any exception that
reaches it; an unraisable exception (one escaping a callback) is recorded by
``sys.unraisablehook``.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings, strategies as st

from derivaudit.budgets import checkpoint, time_budget
from derivaudit.errors import LimitExceeded

CAUGHT: list[str] = []


def _callback_work(where: str) -> None:
    """Python work inside a callback: where an asynchronous raise used to land."""
    try:
        total = 0
        for i in range(200):
            total += i * i
    except BaseException as exc:  # noqa: BLE001 - the test's whole point is to see it
        CAUGHT.append(f"{where}: {type(exc).__name__}: {exc}")
        raise


def _on_gc(phase, info):
    _callback_work(f"gc callback ({phase})")


class _Finalized:
    pass


def _on_death(ref):
    _callback_work("weakref callback")


def _cycle() -> None:
    a, b = [], []
    a.append(b)
    b.append(a)


def _budgeted_work(seconds: float, engine_work: bool, results: list) -> None:
    x = sp.Symbol("x")
    refs = []
    try:
        with time_budget(seconds, "the leak test's work"):
            for i in range(2000):
                obj = _Finalized()
                refs.append(weakref.ref(obj, _on_death))
                del obj                       # the weakref callback runs here, inside the block
                for _ in range(50):
                    _cycle()                  # garbage for the collector (and its callbacks)
                if engine_work:
                    sp.expand((x + i) ** 12)  # sympy: where the watchdog may stop the block
                else:
                    checkpoint()
        results.append("finished")
    except LimitExceeded as exc:
        assert "the leak test's work took longer than" in str(exc)
        results.append("stopped")
    try:
        end = time.monotonic() + 0.03         # code after the block: nothing may land here
        while time.monotonic() < end:
            _callback_work("after the block")
    except BaseException as exc:  # noqa: BLE001
        results.append(f"after the block: {type(exc).__name__}: {exc}")


@pytest.fixture
def watched():
    unraisable = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(f"{info.exc_type.__name__}: {info.exc_value}")
    gc.callbacks.append(_on_gc)
    threshold = gc.get_threshold()
    gc.set_threshold(50, 2, 2)                # collections often, inside every block
    CAUGHT.clear()
    try:
        yield unraisable
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(_on_gc)
        sys.unraisablehook = previous_hook


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.sampled_from([0.001, 0.003, 0.01, 0.03]), threads=st.integers(1, 3),
       engine_work=st.booleans())
def test_no_budget_exception_escapes_its_block(watched, seconds, threads, engine_work):
    results: list = []
    workers = [threading.Thread(target=_budgeted_work, args=(seconds, engine_work, results))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    _budgeted_work(seconds, engine_work, results)
    for worker in workers:
        worker.join()
    assert set(results) <= {"finished", "stopped"}, results
    assert len(results) == threads + 1
    assert CAUGHT == []
    assert watched == []


def test_the_leak_test_does_stop_blocks(watched):
    """The blocks above do run past their budgets (the test is not vacuous)."""
    results: list = []
    _budgeted_work(0.001, True, results)
    _budgeted_work(0.001, False, results)
    assert results == ["stopped", "stopped"]
    assert CAUGHT == [] and watched == []


def test_finished_budgets_are_not_kept():
    """A process running many short budgets keeps none of them once they are left: the
    watchdog's queue drops disarmed budgets instead of holding each until its deadline."""
    for _ in range(3000):
        with time_budget(600, "a short block"):
            with time_budget(600, "a shorter block inside it"):
                pass
    live = [o for o in gc.get_objects() if type(o).__name__ == "_Token"]
    assert len(live) < 20
