"""Every resource limit at its boundary: just under passes, just over fails."""

import dataclasses
import gc
import time

import mpmath
import pytest
import sympy as sp

from derivaudit.cli import main
from derivaudit.errors import LimitExceeded
from derivaudit.budgets import time_budget
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.numeric import compile_formula, exact_value
from derivaudit.lang.parse import make_symbol, parse_formula
from derivaudit.studies.sweep import study
from derivaudit.core.symbolic import _derivative_size, derivative

x = make_symbol("x")


@pytest.mark.parametrize("passes, fails, setting", [
    ("x" * 10_000, "x" * 10_001, "max_formula_length"),
    ("(" * 100 + "x" + ")" * 100, "(" * 101 + "x" + ")" * 101, "max_depth (brackets)"),
    ("-" * 99 + "x", "-" * 100 + "x", "max_depth (syntax tree)"),
    ("1" + "0" * 100, "1" + "0" * 99 + "1", "max_literal_digits"),
    ("0x" + "f" * 83, "0x" + "f" * 84, "max_literal_digits (hex)"),
    ("2**3318", "2**3319", "max_constant_digits (power)"),
    ("1e1000", "1e1001", "max_constant_digits (literal exponent)"),
    ("x**1000", "x**1001", "max_exponent"),
    ("x**-1000", "x**-1001", "max_exponent (negative)"),
    ("(x**100)**10", "(x**100)**11", "max_exponent (combined)"),
    ("x**500*x**500", "x**500*x**501", "max_exponent (product)"),
    ("0.9**(1/1000)", "0.9**(1/1001)", "max_exponent (root degree)"),
])
def test_parse_limits_at_their_boundary(passes, fails, setting):
    assert parse_formula(passes) is not None
    with pytest.raises(LimitExceeded):
        parse_formula(fails)


def test_limits_are_configurable():
    small = Limits(max_formula_length=5, max_exponent=3)
    assert parse_formula("x**3", limits=small) == x**3
    with pytest.raises(LimitExceeded, match="6 characters"):
        parse_formula("x**3+1", limits=small)
    assert parse_formula("x**1000+1") == x**1000 + 1
    with pytest.raises(LimitExceeded):
        parse_formula("x**4", limits=small)


def test_limits_reject_nonsense_settings():
    with pytest.raises(ValueError, match="max_dps"):
        Limits(max_dps=-1)
    with pytest.raises(ValueError, match="evaluate_seconds"):
        Limits(evaluate_seconds="soon")


def test_precision_limit():
    table = study("x**2", at={"x": 1}, eps=["0.5"], schemes=["centered"], dps=DEFAULT_LIMITS.max_dps)
    assert table.table["abs_error"].iloc[0] == 0  # centered differences are exact on quadratics
    with pytest.raises(LimitExceeded, match="10000"):
        study("x**2", at={"x": 1}, eps=["0.5"], dps=DEFAULT_LIMITS.max_dps + 1)


def test_derivative_order_limit():
    top = DEFAULT_LIMITS.max_derivative_order
    assert derivative(parse_formula("sin(x)"), "x", top) == sp.sin(x)  # order 20 ≡ 0 mod 4
    with pytest.raises(LimitExceeded, match="max_derivative_order"):
        derivative(parse_formula("sin(x)"), "x", top + 1)
    assert main(["study", "sin(x)", "--at", "x=1", "--order", str(top + 1)]) == 2


def test_expression_size_limit_at_its_boundary():
    expr = parse_formula("*".join(f"sin(x+{i})" for i in range(12)))
    estimate = _derivative_size(expr, x)
    exact = sp.diff(expr, x)
    assert derivative(expr, "x", limits=Limits(max_expression_size=estimate)) == exact
    with pytest.raises(LimitExceeded, match="max_expression_size"):
        derivative(expr, "x", limits=Limits(max_expression_size=estimate - 1))


@pytest.mark.parametrize("formula, passes, fails", [
    ("exp(x)", "2302585", "2302586"),          # e**t stays within 10**±10**6 iff |t| ≤ 10**6·ln 10
    ("exp(-x)", "2302585", "2302586"),
    ("10**x", "1000000", "1000001"),
    ("x**1000", "1e1000", "1e1001"),
])
def test_value_magnitude_limit_at_its_boundary(formula, passes, fails):
    expr = parse_formula(formula)
    f = compile_formula(expr, (x,))
    value = exact_value(f, {x: sp.Integer(passes) if "e" not in passes else sp.Rational(passes)}, 20)
    assert mpmath.isfinite(value) and value != 0
    with pytest.raises(LimitExceeded, match="max_value_digits"):
        exact_value(f, {x: sp.Integer(fails) if "e" not in fails else sp.Rational(fails)}, 20)


def test_magnitude_limit_is_configurable():
    f = compile_formula(parse_formula("exp(x)"), (x,))
    with pytest.raises(LimitExceeded, match="10\\^-10 … 10\\^10"):
        exact_value(f, {x: sp.Integer(24)}, 20, limits=Limits(max_value_digits=10))
    assert exact_value(f, {x: sp.Integer(23)}, 20, limits=Limits(max_value_digits=10)) > 10**9


def test_time_budget_stops_python_loops_and_restores_precision():
    start = time.perf_counter()
    with pytest.raises(LimitExceeded, match="spinning took longer than 0.05 s"):
        with time_budget(0.05, "spinning"):
            with mpmath.workdps(1000):
                while True:
                    pass
    assert time.perf_counter() - start < 1.5
    assert mpmath.mp.dps == 15
    with time_budget(5, "quick work"):
        total = sum(range(1000))
    assert total == 499500
    time.sleep(0.1)  # a disarmed budget never fires later


def test_time_budget_survives_code_that_swallows_exceptions():
    start = time.perf_counter()
    with pytest.raises(LimitExceeded):
        with time_budget(0.05, "stubborn"):
            while True:
                try:
                    sum(range(100))
                except Exception:  # what some library code does
                    pass
    assert time.perf_counter() - start < 1.5


def test_symbolic_and_numeric_budgets():
    # the tiny budget first: sympy caches derivatives, so a second run would be instant
    slow = parse_formula("sigmoid(x)*atan(x)*erf(x)")
    with pytest.raises(LimitExceeded, match="symbolic_seconds"):
        derivative(slow, "x", 6, limits=Limits(symbolic_seconds=0.001))
    assert derivative(slow, "x", 6) != 0
    f = compile_formula(parse_formula("+".join(f"sin(x+{i})" for i in range(1, 20))), (x,))
    with pytest.raises(LimitExceeded, match="evaluate_seconds"):  # balls need 10,000 digits to take 1 ms
        exact_value(f, {x: sp.Integer(1)}, 10000, limits=Limits(evaluate_seconds=0.001))
    assert exact_value(f, {x: sp.Integer(1)}, 1000) != 0


def test_digits_argument_limit(capsys):
    assert main(["study", "x**2", "--at", "x=1", "--eps", "0.1", "--digits", "10000", "-q"]) == 0
    assert main(["study", "x**2", "--at", "x=1", "--eps", "0.1", "--digits", "10001"]) == 2
    assert "between 1 and 10000" in capsys.readouterr().err


def test_every_limit_field_is_documented_and_tested():
    names = {f.name for f in dataclasses.fields(Limits)}
    covered = {"max_formula_length", "max_depth", "max_literal_digits", "max_constant_digits",
               "max_exponent", "max_dps", "max_derivative_order", "max_expression_size",
               "max_value_digits", "symbolic_seconds", "evaluate_seconds",
               "simplify_seconds",  # simplify_seconds: tests/test_check*.py
               "diagnosis_seconds",  # diagnosis_seconds: tests/test_soundness_audit.py
               "check_seconds",  # check_seconds: tests/test_soundness_check.py
               "audit_seconds", "max_graph_nodes", "max_proof_nodes"}  # tests/test_audit_scale.py
    assert names == covered


def _busy(seconds: float) -> None:
    """Plain Python work for ``seconds``: where an asynchronous exception would land."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))


def test_a_budget_whose_block_never_ran_stops_firing():
    # An exception landing inside time_budget.__enter__, after the watchdog armed the budget
    # but before the with block began, means __exit__ never runs. The watchdog used to raise the
    # budget's exception into the thread every 20 ms forever after (in a notebook: a
    # LimitExceeded-like error hitting unrelated code long after the audit ended).
    budget = time_budget(0.05, "a block interrupted while entering")
    budget.__enter__()        # armed, and never exited: as if interrupted right after arming
    del budget
    gc.collect()
    _busy(0.5)                # would raise the leaked budget's exception within 0.05 s


def test_a_budget_kept_alive_but_never_exited_stops_after_a_while():
    # the same leak with the budget object kept alive (a traceback holding it): the watchdog
    # raises only inside the frame that armed it, and gives up after MAX_REFIRE_SECONDS
    from derivaudit.budgets import MAX_REFIRE_SECONDS

    budget = time_budget(0.01, "a block whose exit was lost")
    budget.__enter__()
    strays = 0
    end = time.monotonic() + MAX_REFIRE_SECONDS + 1.0
    while True:
        try:
            while time.monotonic() < end:  # this frame's own code: where its raises may land
                sum(range(100))
            break
        except BaseException as exc:  # noqa: BLE001 - counting the watchdog's raises
            assert "a block whose exit was lost" in str(exc)
            strays += 1
    assert strays > 0                     # it did fire while it could still be a live block
    quiet_since = time.monotonic()
    _busy(0.5)                            # and then not again
    assert time.monotonic() - quiet_since >= 0.5
    budget.__exit__(None, None, None)


def test_a_budget_whose_frame_returned_never_fires_after_it():
    # armed in a frame that returned without exiting: code after it is never hit
    def arm_and_return():
        budget = time_budget(0.01, "a block whose frame is gone")
        budget.__enter__()
        return budget

    budget = arm_and_return()             # kept alive: only its frame is gone
    _busy(0.5)                            # would raise within 0.01 s if the watchdog fired here
    assert not budget.fired
    budget.__exit__(None, None, None)
