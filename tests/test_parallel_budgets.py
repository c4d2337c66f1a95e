"""Per-call time budgets inside one sweep (guards.per_call_budgets).

A study registers one watchdog budget and renews it for every guarded
evaluation; each evaluation must still be stopped at its own
``evaluate_seconds``, and the sweep must go on unharmed after a stopped call
that its caller handles.
"""

import time

import pytest

import derivaudit as da
from derivaudit.errors import LimitExceeded
from derivaudit.budgets import checkpoint
from derivaudit.core.guards import per_call_budgets, under_limits
from derivaudit.limits import Limits


@under_limits("spinning")
def _spin(seconds: float, limits: Limits) -> float:
    # the engine's loops are budget checkpoints (guarded calls, ball steps): so is this one
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        checkpoint()
    return seconds


def test_each_call_gets_a_full_budget_of_its_own():
    limits = Limits(evaluate_seconds=0.3)
    start = time.monotonic()
    with per_call_budgets(limits):
        for _ in range(6):          # 0.6 s in all, 0.1 s per call
            assert _spin(0.1, limits) == 0.1
    assert time.monotonic() - start >= 0.6


def test_a_call_past_its_budget_is_stopped_and_the_sweep_goes_on():
    limits = Limits(evaluate_seconds=0.1)
    with per_call_budgets(limits):
        start = time.monotonic()
        with pytest.raises(LimitExceeded, match=r"spinning took longer than 0.1 s \(limit Limits.evaluate_seconds\)"):
            _spin(5, limits)
        assert time.monotonic() - start < 2
        # the budget is armed afresh: the expired one's repeated raises (every 20 ms)
        # do not leak into the block's own code or into later calls
        end = time.monotonic() + 0.06
        while time.monotonic() < end:
            pass
        assert _spin(0.05, limits) == 0.05


def test_other_limits_get_their_own_budget():
    """A call with different limits inside the block is not renewed by the block's budget."""
    with per_call_budgets(Limits(evaluate_seconds=5)):
        with pytest.raises(LimitExceeded, match="0.05 s"):
            _spin(5, Limits(evaluate_seconds=0.05))


def test_a_study_still_stops_a_slow_evaluation():
    with pytest.raises(LimitExceeded, match="evaluate_seconds"):
        da.study("exp(sin(x))*atan(x)", at={"x": "0.7"}, eps="1e-1:1e-300:4", schemes=["centered4"],
                 dps=9000, limits=Limits(evaluate_seconds=0.002))
